import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Decimal } from '../../src/domain/decimal.js';
import { asClientOrderId, asExchangeOrderId, toPairSymbol } from '../../src/domain/types.js';
import { createBtcturkExchange } from '../../src/exchange/btcturk/client.js';
import {
  AuthenticationError,
  ExchangeConfigError,
  InsufficientFundsError,
  InvalidOrderError,
  OrderNotFoundError,
} from '../../src/exchange/errors.js';
import { countRoute, startHarness, type Harness } from './helpers.js';

const BTCTRY = toPairSymbol('BTCTRY');
const USDTTRY = toPairSymbol('USDTTRY');
const order = (over: Partial<{ price: string; qty: string; side: 'buy' | 'sell'; symbol: ReturnType<typeof toPairSymbol> }> = {}) => ({
  symbol: over.symbol ?? BTCTRY,
  side: over.side ?? ('buy' as const),
  price: new Decimal(over.price ?? '3300000'),
  qty: new Decimal(over.qty ?? '0.001'),
  clientOrderId: asClientOrderId('err-1'),
});

describe('definitive rejections map to typed errors by message token', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ balances: { TRY: '1000', BTC: '0.001' } });
  });
  afterAll(async () => h.close());

  it.each([
    ['below the minimum total', order({ qty: '0.00002' }), 'FAILED_MIN_TOTAL_AMOUNT'],
    ['a fractional price on a pair without fractions', order({ price: '3300000.5' }), 'FAILED_INVALID_PRICE_SCALE'],
    ['too many quantity decimals', order({ symbol: USDTTRY, price: '34.5', qty: '10.123' }), 'FAILED_INVALID_QUANTITY_SCALE'],
    ['a price under the band', order({ price: '300000', qty: '0.01' }), 'PRICE_MUST_BE_LESS_THAN_MINPRICE'],
    ['a price over the band', order({ price: '40000000' }), 'PRICE_MUST_BE_LESS_THAN_MAXPRICE'],
  ])('a submit with %s is InvalidOrderError %s and nothing is accepted', async (_what, req, token) => {
    const err = await h.exchange.submitLimitOrder(req).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidOrderError);
    expect(err).toMatchObject({ token, httpStatus: 400 });
    expect(h.sim.engine.groundTruth().orders).toHaveLength(0);
  });

  it('a buy the free balance cannot cover (fee headroom included) is InsufficientFundsError', async () => {
    // 0.0003 × 3300000 = 990 TRY, + 0.108 % headroom = 991.07 ≤ 1000: accepted. 0.000303 needs 1000.98.
    await expect(h.exchange.submitLimitOrder(order({ qty: '0.000303' }))).rejects.toMatchObject({
      name: 'InsufficientFundsError',
      token: 'FAILED_ORDER_WITH_OPEN_ORDERS',
    });
    await expect(h.exchange.submitLimitOrder(order({ side: 'sell', price: '3500000', qty: '0.002' }))).rejects.toBeInstanceOf(InsufficientFundsError);
    expect(h.sim.engine.groundTruth().orders).toHaveLength(0);
  });

  it('an unknown order id is OrderNotFoundError (400 "Order not found", not 404)', async () => {
    const err = await h.exchange.getOrder(asExchangeOrderId('31500099999')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OrderNotFoundError);
    expect(err).toMatchObject({ httpStatus: 400, token: 'Order not found', code: '1152' });
  });

  it('a wrong secret is AuthenticationError and neither the secret nor a signature appears in the error', async () => {
    const wrongSecret = Buffer.from('a-completely-different-secret-0123').toString('base64');
    const bad = createBtcturkExchange({ baseUrl: h.sim.url, credentials: { apiKey: h.sim.credentials.apiKey, apiSecret: wrongSecret } });
    const err = (await bad.getBalances().catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(AuthenticationError);
    const text = `${err.message} ${String((err as { cause?: unknown }).cause ?? '')} ${JSON.stringify(err)}`;
    expect(text).not.toContain(wrongSecret);
    expect(text).not.toMatch(/[A-Za-z0-9+/]{43}=/);
    await bad.close();
  });

  it.each(['json', 'legacy', 'empty'] as const)('a 401 in %s mode is AuthenticationError whatever the body says', async (mode) => {
    await h.sim.control.configure({ authErrorMode: mode });
    const bad = createBtcturkExchange({ baseUrl: h.sim.url, credentials: { apiKey: 'unknown-key', apiSecret: h.sim.credentials.apiSecret } });
    await expect(bad.getBalances()).rejects.toBeInstanceOf(AuthenticationError);
    await bad.close();
    await h.sim.control.configure({ authErrorMode: 'json' });
  });

  it('missing credentials fail with ExchangeConfigError before any private request is sent', async () => {
    const anon = createBtcturkExchange({ baseUrl: h.sim.url });
    const before = countRoute(h.sim, 'GET /api/v1/users/balances');
    await expect(anon.getBalances()).rejects.toBeInstanceOf(ExchangeConfigError);
    await expect(anon.submitLimitOrder(order())).rejects.toBeInstanceOf(ExchangeConfigError);
    expect(countRoute(h.sim, 'GET /api/v1/users/balances')).toBe(before);
    await anon.close();
  });

  it('a non-base64 secret or an empty key is refused when the client is built', () => {
    expect(() => createBtcturkExchange({ baseUrl: h.sim.url, credentials: { apiKey: 'k', apiSecret: 'not base64 !!' } })).toThrow(ExchangeConfigError);
    expect(() => createBtcturkExchange({ baseUrl: h.sim.url, credentials: { apiKey: '', apiSecret: h.sim.credentials.apiSecret } })).toThrow(ExchangeConfigError);
    try {
      createBtcturkExchange({ baseUrl: h.sim.url, credentials: { apiKey: 'k', apiSecret: 'c2VjcmV0LXZhbHVl!!' } });
    } catch (e) {
      expect((e as Error).message).not.toContain('c2VjcmV0LXZhbHVl');
    }
  });

  it('plain http to a non-loopback host and non-http schemes are refused as configuration errors', () => {
    expect(() => createBtcturkExchange({ baseUrl: 'http://api.btcturk.com' })).toThrow(ExchangeConfigError);
    expect(() => createBtcturkExchange({ baseUrl: 'http://10.0.0.5:8080' })).toThrow(ExchangeConfigError);
    expect(() => createBtcturkExchange({ baseUrl: 'ftp://127.0.0.1' })).toThrow(ExchangeConfigError);
    expect(() => createBtcturkExchange({ baseUrl: 'not a url' })).toThrow(ExchangeConfigError);
  });

  it('a simulator clock jump makes the next private call resync its stamp clock and succeed', async () => {
    await h.sim.control.advanceClock(600_000);
    const before = countRoute(h.sim, 'GET /api/v2/server/time');
    await expect(h.exchange.getBalances()).resolves.toHaveLength(5);
    expect(countRoute(h.sim, 'GET /api/v2/server/time')).toBe(before + 1);
  });
});
