// Hostile-input fuzzing of the exchange parsers (fast-check). Every payload — malformed, truncated,
// oversized or type-confused — must either yield a domain value that satisfies the domain's
// invariants (the same ones the store's CHECK constraints enforce) or throw a typed exchange error.
// A TypeError, RangeError, SyntaxError or any other untyped crash is a failure.
import fc from 'fast-check';
import { LosslessNumber } from 'lossless-json';
import { describe, expect, it } from 'vitest';
import { Decimal } from '../../../src/domain/decimal.js';
import { toPairSymbol, type BalanceReport, type ExchangeRules, type FillReport, type MarketQuote, type OrderStatusReport } from '../../../src/domain/types.js';
import { MAX_RETRY_AFTER_MS, interpret, retryAfterMs, type HttpCall } from '../../../src/exchange/btcturk/http.js';
import {
  parseAllOrders,
  parseBalances,
  parseExchangeInfo,
  parseOpenOrders,
  parseOrderBook,
  parseSingleOrder,
  parseSubmitAck,
  parseTicker,
} from '../../../src/exchange/btcturk/parse.js';
import { AmbiguousWriteError, ExchangeError, MalformedResponseError } from '../../../src/exchange/errors.js';
import { parseLosslessJson } from '../../../src/exchange/json.js';
import type { OrderBookSnapshot } from '../../../src/exchange/port.js';
import { normaliseUserTrades } from '../../../src/exchange/trades.js';

const BTCTRY = toPairSymbol('BTCTRY');
const SYMBOL = /^[A-Z0-9]{2,20}$/;
const ASSET = /^[A-Z0-9]{1,20}$/;
const DIGITS = /^\d+$/;
const STATUSES = new Set(['open', 'partial', 'filled', 'canceled']);

// ---------------------------------------------------------------------------------------------
// Payload building: raw JSON text, so number tokens (1e400, -0, 2^64, 20-decimal fractions) reach
// the parser exactly as a server would send them.

type Raw = string;
const obj = (entries: ReadonlyArray<readonly [string, Raw | undefined]>): Raw =>
  `{${entries.filter((e): e is readonly [string, Raw] => e[1] !== undefined).map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`;
const arr = (items: readonly Raw[]): Raw => `[${items.join(',')}]`;
const str = (s: string): Raw => JSON.stringify(s);
const envelope = (data: Raw): Raw => `{"success":true,"message":null,"code":0,"data":${data}}`;

/** Values that have broken parsers somewhere: wrong types, special tokens, edge numbers, prototype keys. */
const NASTY_CONSTANTS: readonly Raw[] = [
  'null', 'true', 'false', '[]', '{}', '[null]', '[[]]', '""', '"   "', '"nope"',
  '0', '-0', '"0"', '"-0"', '-1', '"-1"', '-0.00000001', '"-5.5"', '0.0', '"0,0"',
  '1e400', '-1e400', '1e-400', '1E-8', '"1e5"', '"1E-8"', '"1,5"', '"1,000.5"', '"1.000,5"', '" 12 "',
  '"0x10"', '"NaN"', '"Infinity"', '"-Infinity"', '"+1"', '"1.2.3"', '"١٢٣"',
  '9007199254740993', '9223372036854775807', '18446744073709551616', '"340282366920938463463374607431768211457"',
  '123456789012345678901234567890.123456789012345678901234567890', '0.123456789012345678901234567890123',
  '1613315997466.0', '1.613315997466e12', '-1613315997466',
  '{"toString":1}', '{"valueOf":1,"toString":1}', '{"__proto__":{"x":1}}', '["1","2"]', '[1]', '[1,2,3]',
  '"constructor"', '"__proto__"', '"toString"', '"hasOwnProperty"',
  '"BTCTRY"', '"btc_try"', '"BTC/TRY"', '"BTC TRY"', '"B"', '"BTCTRYBTCTRYBTCTRYBTCTRY"',
  '"buy"', '"SELL"', '"Buy "', '"hold"', '"closed"', '"Untouched"', '"PARTIAL"', '"cancelled"', '"TRADING"',
  '"\\u0000"', '"\\ud800"', '"<html>"',
];

/** The few values that reach prototype members or break String(): weighted up so every field meets them. */
const PROTOTYPE_POISON: readonly Raw[] = ['"constructor"', '"__proto__"', '"toString"', '{"toString":1}', '{"valueOf":1,"toString":1}'];

const nastyScalar: fc.Arbitrary<Raw> = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom(...NASTY_CONSTANTS) },
  { weight: 2, arbitrary: fc.constantFrom(...PROTOTYPE_POISON) },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }).map(str) },
  { weight: 1, arbitrary: fc.double().map((d) => (Number.isFinite(d) ? String(d) : str(String(d)))) },
  { weight: 1, arbitrary: fc.double().map((d) => str(String(d))) },
  { weight: 1, arbitrary: fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }).map(String) },
  { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: 2n ** 80n }).map((b) => str(String(b))) },
);

/** A field's plausible wire values (the corruption comes from `record`'s overrides). */
const fieldOf = (...good: Raw[]): fc.Arbitrary<Raw | undefined> => fc.constantFrom(...good);

/** Extra keys: case variants of real ones, prototype names, junk. */
const extraKeys = fc.array(
  fc.tuple(fc.constantFrom('PAIRSYMBOL', 'pairsymbol', 'ID', 'Status', '__proto__', 'constructor', 'toString', 'x'), nastyScalar),
  { maxLength: 2 },
);

/**
 * An object whose fields start plausible; then 0–3 of them are overridden with a hostile value or
 * deleted, and junk keys may be added. Corrupting a few fields at a time keeps most cases deep
 * enough to reach every field's check, instead of failing on the first one.
 */
const record = (fields: Record<string, fc.Arbitrary<Raw | undefined>>): fc.Arbitrary<Raw> => {
  const keys = Object.keys(fields);
  const overrides = fc.array(fc.tuple(fc.constantFrom(...keys), fc.option(nastyScalar, { freq: 8 })), { maxLength: 3 });
  return fc.tuple(fc.record(fields), overrides, extraKeys).map(([r, over, extra]) => {
    const merged: Record<string, Raw | undefined> = { ...r };
    for (const [k, v] of over) merged[k] = v ?? undefined;
    return obj([...Object.entries(merged), ...extra]);
  });
};

const orderRow = record({
  id: fieldOf('31500000123', '"31500000124"', '9223372036854775807', '"000123"'),
  price: fieldOf('"3400000.00"', '3300000', '"3,5"', '1E-8', '"0"'),
  amount: fieldOf('"0.00500000"', '0.003', '"1,25"'),
  quantity: fieldOf('"0.00500000"', '0.003', '"2"'),
  pairSymbol: fieldOf('"BTCTRY"', '"btc_try"', '"USDTTRY"'),
  type: fieldOf('"buy"', '"Sell"', '"BUY"'),
  method: fieldOf('"limit"', '"Limit"'),
  orderClientId: fieldOf('"bot-a1-b-000018"', 'null', '""'),
  time: fieldOf('0', '1732525100456', '"1732525100456"'),
  updateTime: fieldOf('1732525150789', '1732525150789.0'),
  status: fieldOf('"Untouched"', '"Partial"', '"Closed"', '"canceled"', '"cancelled"'),
  leftAmount: fieldOf('"0.00120000"', '"0"', '0.005', 'null'),
});

const symbolRow = record({
  name: fieldOf('"BTCTRY"', '"USDT_TRY"'),
  nameNormalized: fieldOf('"BTC_TRY"'),
  status: fieldOf('"TRADING"', '"HALT"', '"trading"'),
  numerator: fieldOf('"BTC"', '"usdt"'),
  denominator: fieldOf('"TRY"'),
  numeratorScale: fieldOf('8', '2', '"8"'),
  denominatorScale: fieldOf('2', '0', '3'),
  hasFraction: fieldOf('false', 'true'),
  filters: fc.oneof(
    { weight: 6, arbitrary: fc.array(record({
      filterType: fieldOf('"PRICE_FILTER"', '"price_filter"', '"LOT_SIZE"'),
      minPrice: fieldOf('"0.0000000000001"', 'null'),
      maxPrice: fieldOf('"10000000"', '10000000'),
      tickSize: fieldOf('"1"', '"0.0001"', '"0"'),
      minExchangeValue: fieldOf('"99.91"', '100', '"100,5"'),
      minAmount: fieldOf('null'),
    }), { maxLength: 3 }).map(arr) },
    { weight: 1, arbitrary: nastyScalar },
  ),
  maximumLimitOrderPrice: fieldOf('10000000', '345'),
  minimumLimitOrderPrice: fieldOf('341235', '3.45', '0'),
});

const tradeRow = record({
  id: fieldOf('9223372036854775807', '"100163594"', '18446744073709551617', 'null'),
  orderId: fieldOf('31500000123', '"9223372036854775807"'),
  orderClientId: fieldOf('"bot-a1-b-000018"', 'null'),
  orderType: fieldOf('"buy"', '"sell"', '"Buy"'),
  type: fieldOf('"buy"', '"sell"'),
  price: fieldOf('"3400000.00"', '3400000', '"3,4"'),
  amount: fieldOf('"0.0012"', '"-0.0012"', '-0.5'),
  preciseAmount: fieldOf('0.00123456789012345678', '-0.00123456789012345678', 'null', '1E-8'),
  fee: fieldOf('"-0.00000123"', '0', '"1,5"'),
  tax: fieldOf('"-0.00000022"', 'null'),
  timestamp: fieldOf('1732525100456', '"1732525100456"', '1732525100456.0'),
  numeratorSymbol: fieldOf('"BTC"', '"btc"'),
  denominatorSymbol: fieldOf('"TRY"'),
  feeCurrency: fieldOf('"TRY"', '"btc"', 'null'),
});

const balanceRow = record({
  asset: fieldOf('"BTC"', '"try"', '"1INCH"'),
  assetname: fieldOf('"Bitcoin"'),
  balance: fieldOf('"1.5"', '"27223,7283250757643288"'),
  locked: fieldOf('"0.5"', '"0"', '0'),
  free: fieldOf('"1.0000000000000000"', '1', 'null'),
});

const tickerRow = record({
  pair: fieldOf('"BTCTRY"', '"usdt_try"'),
  pairNormalized: fieldOf('"BTC_TRY"'),
  bid: fieldOf('3400000', '"3400000.5"', '0', 'null'),
  ask: fieldOf('3400100', '"0"'),
  timestamp: fieldOf('1732525100456', '1732525100456.0'),
});

const level = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(fieldOf('"3400000.00"', '3400000', '"1,5"'), fieldOf('"0.5"', '0.001')).map(([p, q]) => arr([p ?? 'null', q ?? 'null'])) },
  { weight: 1, arbitrary: nastyScalar },
  { weight: 1, arbitrary: fc.array(nastyScalar, { maxLength: 4 }).map(arr) },
);
const orderBook = record({
  timestamp: fieldOf('1732525100456.0', '1732525100456'),
  bids: fc.oneof({ weight: 5, arbitrary: fc.array(level, { maxLength: 6 }).map(arr) }, { weight: 1, arbitrary: nastyScalar }),
  asks: fc.oneof({ weight: 5, arbitrary: fc.array(level, { maxLength: 6 }).map(arr) }, { weight: 1, arbitrary: nastyScalar }),
});

const submitAck = record({ id: fieldOf('31500000125', '"31500000125"', '9223372036854775807'), datetime: fieldOf('1732525100456', 'null') });

/** A list payload: mostly an array of rows, sometimes something else entirely. */
const listOf = (row: fc.Arbitrary<Raw>): fc.Arbitrary<Raw> =>
  fc.oneof({ weight: 8, arbitrary: fc.array(row, { maxLength: 4 }).map(arr) }, { weight: 1, arbitrary: nastyScalar }, { weight: 1, arbitrary: row });

/** Sometimes cut the text at a random offset (a truncated body). */
const maybeTruncated = (payload: fc.Arbitrary<Raw>): fc.Arbitrary<Raw> =>
  fc.tuple(payload, fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { freq: 4 })).map(([text, cut]) =>
    cut === null ? text : text.slice(0, Math.floor(text.length * cut)),
  );

// ---------------------------------------------------------------------------------------------
// Invariants

const finite = (d: unknown): Decimal => {
  expect(d).toBeInstanceOf(Decimal);
  expect((d as Decimal).isFinite()).toBe(true);
  return d as Decimal;
};
const positive = (d: unknown): void => expect(finite(d).gt(0)).toBe(true);
const nonNegative = (d: unknown): void => expect(finite(d).gte(0)).toBe(true);
const timestamp = (n: unknown): void => {
  expect(Number.isSafeInteger(n)).toBe(true);
  expect(n as number).toBeGreaterThanOrEqual(0);
};

function checkOrder(o: OrderStatusReport): void {
  expect(o.exchangeOrderId).toMatch(DIGITS);
  expect(o.clientOrderId === null || typeof o.clientOrderId === 'string').toBe(true);
  expect(o.symbol).toMatch(SYMBOL);
  expect(['buy', 'sell']).toContain(o.side);
  expect(STATUSES.has(o.status)).toBe(true);
  nonNegative(o.price);
  positive(o.qty);
  nonNegative(o.leftQty);
  expect(o.leftQty.lte(o.qty)).toBe(true);
  timestamp(o.createdAtMs);
  timestamp(o.updatedAtMs);
}

function checkRules(r: ExchangeRules): void {
  expect(r.symbol).toMatch(SYMBOL);
  expect(r.base).toMatch(ASSET);
  expect(r.quote).toMatch(ASSET);
  expect(typeof r.tradable).toBe('boolean');
  positive(r.tickSize);
  positive(r.stepSize);
  positive(r.minNotional);
  for (const p of [r.pricePrecision, r.qtyPrecision]) {
    expect(Number.isInteger(p) && p >= 0 && p <= 16).toBe(true);
  }
  if (r.minPrice !== null) positive(r.minPrice);
  if (r.maxPrice !== null) positive(r.maxPrice);
}

function checkFill(f: FillReport): void {
  expect(typeof f.fillId).toBe('string');
  expect(f.fillId.length).toBeGreaterThan(0);
  // The order id is optional (BTCTurk's 2018 documented rows have none); when present, digits.
  if (f.exchangeOrderId !== null) expect(f.exchangeOrderId).toMatch(DIGITS);
  expect(f.symbol).toMatch(SYMBOL);
  expect(['buy', 'sell']).toContain(f.side);
  positive(f.price);
  positive(f.qty);
  nonNegative(f.fee);
  nonNegative(f.tax);
  expect(f.feeAsset).toMatch(ASSET);
  timestamp(f.tsMs);
}

function checkBalance(b: BalanceReport): void {
  expect(b.asset).toMatch(ASSET);
  nonNegative(b.free);
  nonNegative(b.locked);
}

function checkQuote(q: MarketQuote): void {
  expect(q.symbol).toMatch(SYMBOL);
  if (q.bid !== null) positive(q.bid);
  if (q.ask !== null) positive(q.ask);
  timestamp(q.tsMs);
}

function checkBook(b: OrderBookSnapshot): void {
  expect(b.symbol).toBe(BTCTRY);
  for (const l of [...b.bids, ...b.asks]) {
    positive(l.price);
    positive(l.qty);
  }
  for (let i = 1; i < b.bids.length; i++) expect(b.bids[i - 1]!.price.gte(b.bids[i]!.price)).toBe(true);
  for (let i = 1; i < b.asks.length; i++) expect(b.asks[i - 1]!.price.lte(b.asks[i]!.price)).toBe(true);
  timestamp(b.tsMs);
}

/**
 * Parse `text` as a server body and hand `data` to `parser`. Returns the value, or the error when
 * (and only when) it is a MalformedResponseError; any other throw fails the property.
 */
function decode<T>(text: string, parser: (data: unknown) => T): { value: T } | { error: MalformedResponseError } {
  let value: T;
  try {
    const body = parseLosslessJson(text);
    value = parser(body);
  } catch (err) {
    if (err instanceof MalformedResponseError) return { error: err };
    throw new Error(`untyped crash: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
  }
  return { value };
}

// FUZZ_RUNS=50000 for a long soak; the default keeps the file to a few seconds.
const RUNS = { numRuns: Number(process.env['FUZZ_RUNS'] ?? 1_000) };

describe('fuzz: every parser returns a valid domain value or a MalformedResponseError', () => {
  it('single order rows', () => {
    fc.assert(fc.property(maybeTruncated(orderRow), (text) => {
      const r = decode(text, parseSingleOrder);
      if ('value' in r) checkOrder(r.value);
    }), RUNS);
  });

  it('open orders (bids/asks object)', () => {
    const payload = fc.oneof(
      { weight: 6, arbitrary: record({ bids: fc.oneof(listOf(orderRow), fc.constant(undefined)), asks: fc.oneof(listOf(orderRow), fc.constant(undefined)) }) },
      { weight: 1, arbitrary: nastyScalar },
    );
    fc.assert(fc.property(maybeTruncated(payload), (text) => {
      const r = decode(text, parseOpenOrders);
      if ('value' in r) r.value.forEach(checkOrder);
    }), RUNS);
  });

  it('all orders (list)', () => {
    fc.assert(fc.property(maybeTruncated(listOf(orderRow)), (text) => {
      const r = decode(text, parseAllOrders);
      if ('value' in r) r.value.forEach(checkOrder);
    }), RUNS);
  });

  it('exchange info', () => {
    const payload = fc.oneof(
      { weight: 6, arbitrary: record({ timeZone: fieldOf('"UTC"'), symbols: listOf(symbolRow) }) },
      { weight: 1, arbitrary: nastyScalar },
    );
    fc.assert(fc.property(maybeTruncated(payload), (text) => {
      const r = decode(text, parseExchangeInfo);
      if ('value' in r) r.value.rules.forEach(checkRules);
    }), RUNS);
  });

  it('user trades / fills', () => {
    fc.assert(fc.property(maybeTruncated(listOf(tradeRow)), fc.boolean(), (text, filtered) => {
      const r = decode(text, (d) => normaliseUserTrades(d, filtered ? BTCTRY : null));
      if ('value' in r) {
        r.value.forEach(checkFill);
        expect(new Set(r.value.map((f) => f.fillId)).size).toBe(r.value.length);
        for (let i = 1; i < r.value.length; i++) expect(r.value[i - 1]!.tsMs).toBeLessThanOrEqual(r.value[i]!.tsMs);
      }
    }), RUNS);
  });

  it('balances', () => {
    fc.assert(fc.property(maybeTruncated(listOf(balanceRow)), (text) => {
      const r = decode(text, parseBalances);
      if ('value' in r) r.value.forEach(checkBalance);
    }), RUNS);
  });

  it('order book', () => {
    fc.assert(fc.property(maybeTruncated(fc.oneof({ weight: 6, arbitrary: orderBook }, { weight: 1, arbitrary: nastyScalar })), (text) => {
      const r = decode(text, (d) => parseOrderBook(BTCTRY, d));
      if ('value' in r) checkBook(r.value);
    }), RUNS);
  });

  it('ticker', () => {
    fc.assert(fc.property(maybeTruncated(listOf(tickerRow)), (text) => {
      const r = decode(text, parseTicker);
      if ('value' in r) r.value.forEach(checkQuote);
    }), RUNS);
  });

  it('submit ack', () => {
    fc.assert(fc.property(maybeTruncated(fc.oneof({ weight: 6, arbitrary: submitAck }, { weight: 1, arbitrary: nastyScalar })), (text) => {
      const r = decode(text, parseSubmitAck);
      if ('value' in r) {
        expect(r.value.exchangeOrderId).toMatch(DIGITS);
        if (r.value.datetime !== null) timestamp(r.value.datetime);
      }
    }), RUNS);
  });

  it('lossless JSON: arbitrary text parses or is a MalformedResponseError', () => {
    const text = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.json().chain((j) => fc.nat({ max: j.length }).map((n) => j.slice(0, n))),
      fc.constantFrom('NaN', '[Infinity]', '{"a":-Infinity}', '{"a":undefined}', "{'a':1}", '{"a":1,}', '01', '1.', '.5', '+1', '--1', '\u0000', '\ufeff{}'),
    );
    fc.assert(fc.property(text, (t) => {
      decode(t, (d) => d);
    }), RUNS);
  });
});

const CALLS: readonly HttpCall[] = [
  { endpoint: 'GET /api/v1/users/balances', method: 'GET', path: '/x', auth: true, operation: 'read' },
  { endpoint: 'GET /api/v2/server/time', method: 'GET', path: '/x', auth: false, operation: 'read', bare: true },
  { endpoint: 'POST /api/v1/order', method: 'POST', path: '/x', auth: true, operation: 'submit' },
  { endpoint: 'DELETE /api/v1/order', method: 'DELETE', path: '/x', auth: true, operation: 'cancel' },
];

describe('fuzz: the envelope interpreter never crashes and keeps reads and writes apart', () => {
  const envelopeText = fc.oneof(
    { weight: 4, arbitrary: record({
      success: fieldOf('true', 'false', '"true"'),
      message: fieldOf('null', '"OK"', '"FAILED_MIN_TOTAL_AMOUNT"', '"Order not found"', '"Unauthorized - Invalid Nonce"', '"INTERNAL_ERROR"', '"TOO_MANY_REQUESTS"'),
      code: fieldOf('0', '"0"', '1123', '{"toString":1}'),
      data: fc.oneof(listOf(balanceRow), nastyScalar),
      details: fieldOf('"Please try again in 41 second(s)."', '"try again in 99999999999999 second"'),
    }) },
    { weight: 1, arbitrary: nastyScalar },
    { weight: 1, arbitrary: fc.constantFrom('', '   ', '<!DOCTYPE html><html></html>', 'nope', '{"success":true,"data":"nope"}', '{"success":true,"data":null}') },
  );
  const statusCode = fc.constantFrom(100, 200, 201, 204, 299, 301, 304, 400, 401, 403, 404, 411, 415, 418, 429, 500, 502, 503, 599, 600, 0, -1);
  const retryAfter = fc.option(fc.constantFrom('1', '0', '-1', '1.5', 'NaN', 'Infinity', '1e308', '99999999999', 'Wed, 21 Oct 2015 07:28:00 GMT', 'garbage', ''), { freq: 2 });

  it('interpret returns a value or an ExchangeError; reads are never ambiguous, writes never "malformed"', () => {
    fc.assert(fc.property(fc.constantFrom(...CALLS), statusCode, maybeTruncated(envelopeText), retryAfter, (call, status, text, ra) => {
      let out: ReturnType<typeof interpret>;
      try {
        out = interpret(call, { status, headers: ra === null ? {} : { 'retry-after': ra }, text });
      } catch (err) {
        throw new Error(`interpret threw ${err instanceof Error ? err.name : typeof err}: ${String(err)}`);
      }
      if (out instanceof Error) {
        expect(out).toBeInstanceOf(ExchangeError);
        if (call.operation === 'read') expect(out).not.toBeInstanceOf(AmbiguousWriteError);
        else expect(out).not.toBeInstanceOf(MalformedResponseError);
        if (out.token !== undefined) expect(out.token.length).toBeLessThanOrEqual(200);
        if ('retryAfterMs' in out) {
          const ms = (out as { retryAfterMs: number }).retryAfterMs;
          expect(Number.isFinite(ms) && ms >= 0 && ms <= MAX_RETRY_AFTER_MS).toBe(true);
        }
      } else {
        expect(status >= 200 && status < 300).toBe(true);
      }
    }), RUNS);
  });

  it('Retry-After parsing always yields a bounded, finite, non-negative delay', () => {
    fc.assert(fc.property(fc.option(fc.string({ maxLength: 30 })), fc.option(fc.string({ maxLength: 60 })), (header, details) => {
      const ms = retryAfterMs(header ?? undefined, details === null ? null : { details });
      expect(Number.isFinite(ms) && ms >= 0 && ms <= MAX_RETRY_AFTER_MS).toBe(true);
    }), RUNS);
  });
});

// ---------------------------------------------------------------------------------------------
// Oversized payloads

const HUGE = 1_000_000;

describe('oversized payloads are handled without a crash or a hang', () => {
  const goodOrder: Record<string, Raw> = {
    id: '31500000123', price: '"3400000.00"', quantity: '"0.005"', pairSymbol: '"BTCTRY"', type: '"buy"', method: '"limit"',
    orderClientId: '"bot-1"', time: '0', updateTime: '1732525150789', status: '"Untouched"', leftAmount: '"0.005"',
  };

  // The row is parsed once from text; the huge value is put in as the parser would have produced it
  // (a string, or a LosslessNumber holding the digits), so each case costs the parser, not JSON.parse.
  const template = parseLosslessJson(obj(Object.entries(goodOrder))) as Record<string, unknown>;
  const hugeValues: Array<[string, unknown]> = [
    ['a string of digits', '9'.repeat(HUGE)],
    ['a JSON integer', new LosslessNumber('9'.repeat(HUGE))],
    ['a JSON fraction', new LosslessNumber(`0.${'1'.repeat(HUGE)}`)],
    ['a string of letters', 'x'.repeat(HUGE)],
  ];

  it.each(Object.keys(goodOrder))('a %s of a million characters (string or digits) is rejected or kept, never a crash', (key) => {
    for (const [what, huge] of hugeValues) {
      const r = decode('null', () => parseSingleOrder({ ...template, [key]: huge }));
      if ('value' in r) {
        checkOrder(r.value);
        // Only fields the parser does not read, or free text (the client order id), survive at that size.
        expect(['orderClientId', 'method'], what).toContain(key);
      } else {
        // The error message stays short: a megabyte of server text is not echoed into logs.
        expect(r.error.message.length).toBeLessThan(2_100);
      }
    }
  });

  it('a numeric exponent beyond any sane magnitude is rejected, not expanded', () => {
    for (const n of ['1e999', '1e29', '1e30', '-1e-31', '1e-30', '9.99e29']) {
      const r = decode(obj([['asset', '"BTC"'], ['free', n], ['locked', '0']]).replace(/^/, '[').concat(']'), parseBalances);
      const expectOk = n === '1e29' || n === '1e-30' || n === '9.99e29';
      expect('value' in r, n).toBe(expectOk);
    }
  });

  it('a million-character string inside a real body goes through the JSON parser to a typed error', () => {
    const text = envelope(obj(Object.entries({ ...goodOrder, price: str('9'.repeat(HUGE)) })));
    const out = interpret(CALLS[0]!, { status: 200, headers: {}, text });
    expect(out).not.toBeInstanceOf(Error);
    expect(() => parseSingleOrder((out as { value: unknown }).value)).toThrow(MalformedResponseError);
  });

  it('huge arrays parse completely: 20 000 balances and a 50 000-level book', () => {
    const rows = Array.from({ length: 20_000 }, (_, i) => obj([['asset', str(`A${i}`)], ['free', str(`${i}.5`)], ['locked', '"0"']]));
    const balances = decode(arr(rows), parseBalances);
    expect('value' in balances && balances.value.length).toBe(20_000);
    const levels = Array.from({ length: 50_000 }, (_, i) => arr([str(String(1_000_000 - i)), '"0.1"']));
    const book = decode(obj([['bids', arr(levels)], ['asks', '[]'], ['timestamp', '1']]), (d) => parseOrderBook(BTCTRY, d));
    expect('value' in book && book.value.bids[0]!.price.toString()).toBe('1000000');
  });

  it('JSON nested a hundred thousand deep is a MalformedResponseError (no stack overflow escapes)', () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    expect(() => parseLosslessJson(deep)).toThrow(MalformedResponseError);
    const call = CALLS[0]!;
    expect(interpret(call, { status: 200, headers: {}, text: envelope(deep) })).toBeInstanceOf(MalformedResponseError);
  });

  it('a two-megabyte error message is cut to a short token and message', () => {
    const text = obj([['success', 'false'], ['message', str('E'.repeat(2 * HUGE))], ['code', '1']]);
    const out = interpret(CALLS[2]!, { status: 400, headers: {}, text });
    expect(out).toBeInstanceOf(ExchangeError);
    const err = out as ExchangeError;
    expect(err.token!.length).toBeLessThanOrEqual(200);
    expect(err.message.length).toBeLessThan(2_100);
  });
});

// ---------------------------------------------------------------------------------------------
// Worked examples of nasty payloads

const trade = (over: Record<string, Raw | undefined>): Raw =>
  arr([
    obj(Object.entries({
      id: '100163594', orderId: '31500000123', orderClientId: '"bot-1"', orderType: '"buy"', price: '"3400000.00"',
      amount: '"0.0012"', fee: '"-1.5"', tax: '"-0.27"', timestamp: '1732525100456', numeratorSymbol: '"BTC"', denominatorSymbol: '"TRY"',
      ...over,
    })),
  ]);
const fills = (text: Raw): FillReport[] => normaliseUserTrades(parseLosslessJson(text), BTCTRY);

describe('named nasty payloads', () => {
  it('a trade id of 2^63-1 and one beyond 2^64 are preserved digit for digit', () => {
    expect(fills(trade({ id: '9223372036854775807' }))[0]!.fillId).toBe('9223372036854775807');
    expect(fills(trade({ id: '18446744073709551617' }))[0]!.fillId).toBe('18446744073709551617');
    expect(fills(trade({ orderId: '"9223372036854775807"' }))[0]!.exchangeOrderId).toBe('9223372036854775807');
  });

  it('preciseAmount with 20 decimals wins over the rounded amount and keeps every digit', () => {
    const [f] = fills(trade({ amount: '"0.0012"', preciseAmount: '0.00123456789012345678' }));
    expect(f!.qty.toFixed()).toBe('0.00123456789012345678');
    const [s] = fills(trade({ orderType: '"sell"', amount: '"-0.0012"', preciseAmount: '-0.12345678901234567891' }));
    expect(s!.qty.toFixed()).toBe('0.12345678901234567891');
  });

  it('a buy with a negative amount, a sell with a positive one, and a zero amount are malformed', () => {
    expect(() => fills(trade({ amount: '"-0.0012"' }))).toThrow(MalformedResponseError);
    expect(() => fills(trade({ orderType: '"sell"', amount: '"0.0012"' }))).toThrow(MalformedResponseError);
    expect(() => fills(trade({ amount: '"-0"' }))).toThrow(MalformedResponseError);
  });

  it('negative fee and tax become positive costs; a fee in exponent notation as a JSON number is read exactly', () => {
    const [f] = fills(trade({ fee: '-1.5E-7', tax: '"-0,27"' }));
    expect(f!.fee.toFixed()).toBe('0.00000015');
    expect(f!.tax.toFixed()).toBe('0.27');
  });

  it('exponent notation inside a string, hex and NaN text are not decimals or timestamps', () => {
    expect(() => fills(trade({ price: '"1e5"' }))).toThrow(MalformedResponseError);
    expect(() => fills(trade({ price: '"NaN"' }))).toThrow(MalformedResponseError);
    expect(() => fills(trade({ timestamp: '"0x10"' }))).toThrow(MalformedResponseError);
    expect(() => fills(trade({ timestamp: '-1732525100456' }))).toThrow(MalformedResponseError);
    expect(() => fills(trade({ timestamp: '1e400' }))).toThrow(MalformedResponseError);
  });

  it('a fee currency that is not an asset code is malformed; a lower-case one is canonicalised', () => {
    expect(() => fills(trade({ feeCurrency: '"T R Y"' }))).toThrow(MalformedResponseError);
    expect(() => fills(trade({ feeCurrency: '{"toString":1}' }))).toThrow(MalformedResponseError);
    expect(fills(trade({ feeCurrency: '"btc"' }))[0]!.feeAsset).toBe('BTC');
  });

  it('an order status of "constructor" or "__proto__" is unknown, not a prototype member', () => {
    for (const status of ['"constructor"', '"__proto__"', '"toString"']) {
      const text = obj([['id', '1'], ['status', status], ['quantity', '"1"'], ['price', '"1"'], ['pairSymbol', '"BTCTRY"'], ['type', '"buy"']]);
      expect(() => parseSingleOrder(parseLosslessJson(text))).toThrow(MalformedResponseError);
    }
  });

  it('order rows with a negative quantity, a negative price, or leftAmount outside 0..quantity are malformed', () => {
    const row = (over: Record<string, Raw>): unknown =>
      parseLosslessJson(obj(Object.entries({ id: '1', status: '"partial"', quantity: '"1"', price: '"10"', pairSymbol: '"BTCTRY"', type: '"buy"', leftAmount: '"0.5"', ...over })));
    expect(parseSingleOrder(row({})).leftQty.toFixed()).toBe('0.5');
    const bads: Array<Record<string, Raw>> = [{ quantity: '"-1"' }, { quantity: '0' }, { price: '"-10"' }, { leftAmount: '"-0.1"' }, { leftAmount: '"1.5"' }];
    for (const bad of bads) {
      expect(() => parseSingleOrder(row(bad)), JSON.stringify(bad)).toThrow(MalformedResponseError);
    }
  });

  it('an object with a toString key where a string belongs is a typed error or ignored, never a TypeError', () => {
    const info = (filter: Raw, status: Raw): unknown =>
      parseLosslessJson(obj([['symbols', arr([obj([
        ['name', '"BTCTRY"'], ['status', status], ['numerator', '"BTC"'], ['denominator', '"TRY"'],
        ['numeratorScale', '8'], ['denominatorScale', '2'], ['filters', arr([filter])],
      ])])]]));
    expect(parseExchangeInfo(info('{"filterType":"PRICE_FILTER","minExchangeValue":"100"}', '{"toString":1}')).rules[0]!.tradable).toBe(false);
    // A filter type that is not text makes that pair malformed: skipped and reported, not a crash.
    expect(parseExchangeInfo(info('{"filterType":{"toString":1},"minExchangeValue":"100"}', '"TRADING"'))).toEqual({
      rules: [], malformed: [{ symbol: 'BTCTRY', reason: expect.stringMatching(/minExchangeValue/) }],
    });
    const out = interpret(CALLS[0]!, { status: 200, headers: {}, text: '{"success":true,"code":{"toString":1},"data":[]}' });
    expect(out).toEqual({ value: [] });
  });

  it('a balance with more locked than total, or a negative free amount, is malformed', () => {
    expect(() => parseBalances(parseLosslessJson('[{"asset":"BTC","balance":"1","locked":"5"}]'))).toThrow(MalformedResponseError);
    expect(() => parseBalances(parseLosslessJson('[{"asset":"BTC","free":"-0.1","locked":"0"}]'))).toThrow(MalformedResponseError);
    expect(parseBalances(parseLosslessJson('[{"asset":"btc","free":"0,5"}]'))).toEqual([{ asset: 'BTC', free: new Decimal('0.5'), locked: new Decimal(0) }]);
  });

  it('a book level with a zero or negative quantity, or fewer than two entries, is malformed', () => {
    for (const lvl of ['["100","0"]', '["-100","1"]', '["100"]', '[]', '"100"']) {
      expect(() => parseOrderBook(BTCTRY, parseLosslessJson(`{"bids":[${lvl}],"asks":[]}`)), lvl).toThrow(MalformedResponseError);
    }
  });

  it('a number where an object belongs is "not an object", and a payload that is only a number is no envelope', () => {
    expect(() => parseSubmitAck(parseLosslessJson('5'))).toThrow(/not an object/);
    expect(interpret(CALLS[0]!, { status: 200, headers: {}, text: '5' })).toBeInstanceOf(MalformedResponseError);
    expect(interpret(CALLS[2]!, { status: 200, headers: {}, text: '5' })).toBeInstanceOf(AmbiguousWriteError);
  });

  it('a Retry-After of years is clamped to the maximum', () => {
    expect(retryAfterMs('99999999', null)).toBe(MAX_RETRY_AFTER_MS);
    expect(retryAfterMs(undefined, { details: 'Please try again in 999999999 second(s).' })).toBe(MAX_RETRY_AFTER_MS);
    expect(retryAfterMs('-1', null)).toBe(1_000);
  });
});
