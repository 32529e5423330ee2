import { describe, expect, it } from 'vitest';
import { interpret, retryAfterMs, validateBaseUrl, type HttpCall } from '../../../src/exchange/btcturk/http.js';
import { parseExchangeInfo, parseOpenOrders, parseBalances } from '../../../src/exchange/btcturk/parse.js';
import {
  AmbiguousWriteError,
  AuthenticationError,
  ExchangeConfigError,
  InsufficientFundsError,
  InvalidOrderError,
  MalformedResponseError,
  OrderNotFoundError,
  RateLimitedError,
} from '../../../src/exchange/errors.js';
import { parseLosslessJson } from '../../../src/exchange/json.js';

const data = (text: string): unknown => (parseLosslessJson(text) as { data: unknown }).data;

// Shaped like the reference §5.2 example, with a null minAmount next to the minimum (defect 21).
const EXCHANGE_INFO = `{ "success": true, "message": null, "code": 0, "data": { "timeZone": "UTC", "serverTime": 1732525200123,
  "symbols": [
    { "id": 1, "name": "BTCTRY", "nameNormalized": "BTC_TRY", "status": "TRADING", "numerator": "BTC", "denominator": "TRY",
      "numeratorScale": 8, "denominatorScale": 2, "hasFraction": false,
      "filters": [ { "filterType": "PRICE_FILTER", "minPrice": "0.0000000000001", "maxPrice": "10000000", "tickSize": "1",
                     "minExchangeValue": "99.91", "minAmount": null, "maxAmount": null } ],
      "orderMethods": ["MARKET", "LIMIT", "STOP_MARKET", "STOP_LIMIT"], "maximumLimitOrderPrice": 10000000, "minimumLimitOrderPrice": 341235 },
    { "id": 18, "name": "USDTTRY", "nameNormalized": "USDT_TRY", "status": "HALT", "numerator": "USDT", "denominator": "TRY",
      "numeratorScale": 2, "denominatorScale": 3, "hasFraction": true,
      "filters": [ { "filterType": "PRICE_FILTER", "minPrice": "0.0000000000001", "maxPrice": "10000000", "tickSize": "0.0001",
                     "minExchangeValue": "100", "minAmount": null, "maxAmount": null } ],
      "orderMethods": ["LIMIT"], "maximumLimitOrderPrice": 345, "minimumLimitOrderPrice": 3.45 } ],
  "currencies": [], "currencyOperationBlocks": [] } }`;

describe('exchange info parsing', () => {
  it('derives tick, step, min notional, band and tradability per pair', () => {
    const [btc, usdt] = parseExchangeInfo(data(EXCHANGE_INFO)).rules;
    expect(btc).toMatchObject({ symbol: 'BTCTRY', base: 'BTC', quote: 'TRY', tradable: true, pricePrecision: 2, qtyPrecision: 8 });
    expect(btc!.tickSize.toString()).toBe('1');
    expect(btc!.stepSize.toFixed()).toBe('0.00000001');
    expect(btc!.minNotional.toString()).toBe('99.91');
    expect(btc!.minPrice!.toString()).toBe('341235');
    expect(btc!.maxPrice!.toString()).toBe('10000000');
    // tick = max(tickSize 0.0001, 10^-3) = 0.001; status other than TRADING → not tradable
    expect(usdt!.tickSize.toString()).toBe('0.001');
    expect(usdt!.tradable).toBe(false);
  });

  it('a pair without fractions gets an integer tick even when the scale allows decimals', () => {
    const text = EXCHANGE_INFO.replace('"tickSize": "1"', '"tickSize": "0.01"');
    expect(parseExchangeInfo(data(text)).rules[0]!.tickSize.toString()).toBe('1');
  });

  it('a missing minimum notional makes that pair malformed, never a zero minimum; the other pairs are parsed', () => {
    const text = EXCHANGE_INFO.replace('"minExchangeValue": "99.91"', '"minExchangeValue": null');
    const { rules, malformed } = parseExchangeInfo(data(text));
    expect(rules.map((r) => r.symbol)).toEqual(['USDTTRY']);
    expect(malformed).toEqual([{ symbol: 'BTCTRY', reason: 'exchangeinfo: symbols[0]: no positive minExchangeValue' }]);
  });

  it('a payload without a symbols list is still malformed as a whole', () => {
    expect(() => parseExchangeInfo({ timeZone: 'UTC' })).toThrow(MalformedResponseError);
  });

  it('a pair whose numerator contradicts its name is malformed: BTCTRY over an ETH numerator never reads the ETH balance', () => {
    const { rules, malformed } = parseExchangeInfo(data(EXCHANGE_INFO.replace('"numerator": "BTC"', '"numerator": "ETH"')));
    expect(rules.map((r) => r.symbol)).toEqual(['USDTTRY']);
    expect(malformed).toEqual([{ symbol: 'BTCTRY', reason: 'exchangeinfo: symbols[0]: name BTCTRY does not match numerator/denominator ETH/TRY' }]);
  });

  it('a pair listed twice is malformed, both entries reported; no "last one wins"', () => {
    const root = data(EXCHANGE_INFO) as { symbols: unknown[] };
    const twice = { ...root, symbols: [...root.symbols, { ...(root.symbols[0] as object), id: 99 }] };
    const { rules, malformed } = parseExchangeInfo(twice);
    expect(rules.map((r) => r.symbol)).toEqual(['USDTTRY']);
    expect(malformed).toEqual([
      { symbol: 'BTCTRY', reason: 'exchangeinfo: BTCTRY is listed 2 times' },
      { symbol: 'BTCTRY', reason: 'exchangeinfo: BTCTRY is listed 2 times' },
    ]);
  });

  it('a pair listed once well-formed and once broken is not used either', () => {
    const root = data(EXCHANGE_INFO) as { symbols: unknown[] };
    const broken = { ...(root.symbols[0] as object), filters: [] };
    const { rules, malformed } = parseExchangeInfo({ ...root, symbols: [...root.symbols, broken] });
    expect(rules.map((r) => r.symbol)).toEqual(['USDTTRY']);
    expect(malformed.map((m) => m.symbol)).toEqual(['BTCTRY', 'BTCTRY']);
  });
});

describe('order and balance parsing', () => {
  it('open orders: bids and asks, status mapping, time 0 kept as 0, legacy casing accepted', () => {
    const text = `{"success":true,"message":null,"code":0,"data":{
      "asks":[{"id":31500000123,"price":"3450000.00","amount":"0.00500000","quantity":"0.00500000","stopPrice":"0.00",
               "pairsymbol":"BTCTRY","type":"Sell","method":"Limit","orderClientId":"bot-a1-s-000017","time":0,
               "updateTime":1732525100456,"status":"Untouched","leftAmount":"0.00500000"}],
      "bids":[{"id":31500000124,"price":"3400000.00","amount":"0.00300000","quantity":"0.00300000","stopPrice":"0.00",
               "pairSymbol":"BTCTRY","pairSymbolNormalized":"BTC_TRY","type":"buy","method":"limit","orderClientId":"bot-a1-b-000018",
               "time":0,"updateTime":1732525150789,"status":"Partial","leftAmount":"0.00120000"}]}}`;
    const orders = parseOpenOrders(data(text));
    expect(orders.map((o) => [o.exchangeOrderId, o.side, o.status, o.createdAtMs])).toEqual([
      ['31500000124', 'buy', 'partial', 0],
      ['31500000123', 'sell', 'open', 0],
    ]);
    expect(orders[0]!.leftQty.toString()).toBe('0.0012');
    expect(orders[0]!.updatedAtMs).toBe(1732525150789);
  });

  it('balances accept comma decimals and report free and locked', () => {
    const text = `{"data":[{"asset":"TRY","assetname":"Türk Lirası","balance":"27223,7283250757643288","locked":"4084,4064","free":"23139,3219250757643288"}],"success":true,"message":null,"code":0}`;
    const [b] = parseBalances(data(text));
    expect(b!.free.toString()).toBe('23139.3219250757643288');
    expect(b!.locked.toString()).toBe('4084.4064');
  });
});

const read: HttpCall = { endpoint: 'GET /api/v1/openOrders', method: 'GET', path: '/x', auth: true, operation: 'read' };
const submit: HttpCall = { endpoint: 'POST /api/v1/order', method: 'POST', path: '/x', auth: true, operation: 'submit' };
const res = (status: number, text: string, headers: Record<string, string> = {}) => ({ status, text, headers });

describe('envelope interpretation', () => {
  it('success with code as a string or a number returns data', () => {
    expect(interpret(read, res(200, '{"success":true,"message":null,"code":"0","data":[1]}'))).toHaveProperty('value');
    expect(interpret(read, res(200, '{"success":true,"message":"OK","code":0,"data":{"a":1}}'))).toHaveProperty('value');
  });

  it.each([
    [400, '{"success":false,"message":"FAILED_MIN_TOTAL_AMOUNT","code":1123}', InvalidOrderError],
    [400, '{"httpStatusCode":400,"data":null,"success":false,"message":"FAILED_INVALID_PRICE_SCALE","code":1126}', InvalidOrderError],
    [400, '{"success":false,"message":"FAILED_ORDER_WITH_OPEN_ORDERS","code":1122}', InsufficientFundsError],
    [400, '{"success":false,"message":"Order not found","code":1152}', OrderNotFoundError],
    [401, '{"success":true,"message":"Unauthorized - Invalid Nonce","code":1037}', AuthenticationError],
    [401, '', AuthenticationError],
    [429, '{"message":"TOO_MANY_REQUESTS","success":false,"code":429}', RateLimitedError],
  ])('HTTP %i %s is %o (token first, status before success)', (status, body, cls) => {
    expect(interpret(submit, res(status, body))).toBeInstanceOf(cls);
  });

  it.each([
    [500, '{"success":false,"message":"INTERNAL_ERROR","code":500}'],
    [502, '<html>502 Bad Gateway</html>'],
    [200, ''],
    [200, '<!DOCTYPE html><html></html>'],
    // A 4xx without BTCTurk's envelope (a proxy's 408/409/425, an HTML page, an empty body) says
    // nothing about whether the order was placed (reference §2.2, Q11).
    [408, ''],
    [409, '<html><body>409 Conflict</body></html>'],
    [425, '{"error":"too early"}'],
    [400, '<!DOCTYPE html><html>Bad Request</html>'],
    // Only BTCTurk's own 401 forms (an empty body, or its envelope, Q15) say "not processed"; a
    // proxy's 401 or 403 page, or an empty 403, may sit in front of a POST that was processed.
    [401, '<html><body><h1>401</h1>cloudflare</body></html>'],
    [403, '<html><body><h1>403 Forbidden</h1></body></html>'],
    [403, ''],
  ])('a submit answered %i %j is an ambiguous write', (status, body) => {
    expect(interpret(submit, res(status, body))).toBeInstanceOf(AmbiguousWriteError);
  });

  it.each([
    ['an HTML page', '<html><body><h1>429</h1>cloudflare</body></html>', { 'retry-after': '30' }],
    ['an empty body', '', { 'retry-after': '30' }],
    ['a foreign JSON body', '{"error":"rate limited"}', {}],
  ])('a submit answered 429 with %s (not BTCTurk\'s envelope) is ambiguous, never "not sent"', (_what, body, headers) => {
    expect(interpret(submit, res(429, body, headers))).toBeInstanceOf(AmbiguousWriteError);
  });

  it('BTCTurk\'s own 429 forms to a submit are a rate limit (not processed): the current envelope, and the older one with Retry-After', () => {
    expect(interpret(submit, res(429, '{"message":"TOO_MANY_REQUESTS","success":false,"code":429,"details":"Quota exceeded."}'))).toBeInstanceOf(RateLimitedError);
    const older = interpret(submit, res(429, '{"success":false,"message":"Too many requests","code":429}', { 'retry-after': '49' }));
    expect(older).toBeInstanceOf(RateLimitedError);
    expect((older as RateLimitedError).retryAfterMs).toBe(49_000);
  });

  it('on a read, any 401/403 is an authentication failure and any 429 a rate limit: nothing is at stake', () => {
    expect(interpret(read, res(401, '<html>401</html>'))).toBeInstanceOf(AuthenticationError);
    expect(interpret(read, res(403, ''))).toBeInstanceOf(AuthenticationError);
    expect(interpret(read, res(429, '<html>429</html>', { 'retry-after': '3' }))).toBeInstanceOf(RateLimitedError);
  });

  it('the same envelope-less 4xx on a read stays a plain, definitive client error', () => {
    expect(interpret(read, res(409, '<html></html>'))).not.toBeInstanceOf(AmbiguousWriteError);
  });

  it('an HTML 200 on a read is a MalformedResponseError', () => {
    expect(interpret(read, res(200, '<html></html>'))).toBeInstanceOf(MalformedResponseError);
  });

  it('Retry-After is read as seconds, as an HTTP date, or from the body', () => {
    expect(retryAfterMs('49', null)).toBe(49_000);
    expect(retryAfterMs('1.5', null)).toBe(1_500);
    expect(retryAfterMs(new Date(10_000).toUTCString(), null, 4_000)).toBe(6_000);
    expect(retryAfterMs(undefined, { details: 'Quota exceeded. Maximum allowed: 300 per 1m. Please try again in 41 second(s).' })).toBe(41_000);
    expect(retryAfterMs(undefined, null)).toBe(1_000);
  });
});

describe('safety', () => {
  it('base URLs: https anywhere, plain http only to loopback', () => {
    expect(validateBaseUrl('https://api.btcturk.com').host).toBe('api.btcturk.com');
    expect(validateBaseUrl('http://127.0.0.1:4000').port).toBe('4000');
    expect(validateBaseUrl('http://localhost:4000').hostname).toBe('localhost');
    expect(() => validateBaseUrl('http://api.btcturk.com')).toThrow(ExchangeConfigError);
    expect(() => validateBaseUrl('http://192.168.1.10')).toThrow(ExchangeConfigError);
    expect(() => validateBaseUrl('https://user:pw@api.btcturk.com')).toThrow(ExchangeConfigError);
  });
});
