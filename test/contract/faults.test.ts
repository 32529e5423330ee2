import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Decimal } from '../../src/domain/decimal.js';
import { asClientOrderId, toPairSymbol } from '../../src/domain/types.js';
import {
  AmbiguousWriteError,
  ExchangeUnavailableError,
  MalformedResponseError,
  RateLimitedError,
} from '../../src/exchange/errors.js';
import type { FaultKind } from '../../src/simulator/faults.js';
import { countRoute, startHarness, type Harness } from './helpers.js';

const BTCTRY = toPairSymbol('BTCTRY');
const SUBMIT = 'POST /api/v1/order';

/** A virtual clock whose sleep records the delay and moves time instead of waiting. */
function virtualTime() {
  let t = 1_700_000_000_000;
  const delays: number[] = [];
  return {
    delays,
    now: () => t,
    sleep: async (ms: number) => {
      delays.push(ms);
      t += ms;
    },
  };
}

describe('read faults: retried with backoff, Retry-After honoured, typed when they persist', () => {
  let h: Harness;
  let vt: ReturnType<typeof virtualTime>;
  beforeEach(async () => {
    vt = virtualTime();
    h = await startHarness({}, { now: vt.now, sleep: vt.sleep, retry: { maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 400, maxRetryAfterMs: 5_000 } });
  });
  afterEach(async () => h.close());

  it.each<[FaultKind, number]>([
    ['http500', 2],
    ['http503', 2],
    ['htmlBody', 2],
  ])('a %s on the order book is retried and the second answer is used', async (kind, calls) => {
    await h.sim.control.addFault({ route: 'GET /api/v2/orderbook', kind, times: 1 });
    const book = await h.exchange.getOrderBook(BTCTRY);
    expect(book.bids.length).toBeGreaterThan(0);
    expect(countRoute(h.sim, 'GET /api/v2/orderbook')).toBe(calls);
    expect(vt.delays).toEqual([100]);
  });

  it('backoff doubles up to the cap and a persistent 5xx ends as ExchangeUnavailableError after maxAttempts', async () => {
    await h.sim.control.addFault({ route: 'GET /api/v2/orderbook', kind: 'http500', times: null });
    await expect(h.exchange.getOrderBook(BTCTRY)).rejects.toBeInstanceOf(ExchangeUnavailableError);
    expect(countRoute(h.sim, 'GET /api/v2/orderbook')).toBe(4);
    expect(vt.delays).toEqual([100, 200, 400]);
  });

  it('a 429 waits exactly Retry-After before the retry', async () => {
    await h.sim.control.addFault({ route: 'GET /api/v2/orderbook', kind: 'http429', retryAfterSec: 3, times: 1 });
    await h.exchange.getOrderBook(BTCTRY);
    expect(countRoute(h.sim, 'GET /api/v2/orderbook')).toBe(2);
    expect(vt.delays.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(3_000);
    expect(vt.delays[0]).toBe(3_000);
  });

  it('a Retry-After beyond the in-call budget surfaces as RateLimitedError carrying the wait, without retrying', async () => {
    await h.sim.control.addFault({ route: 'GET /api/v2/orderbook', kind: 'http429', retryAfterSec: 60, times: 1 });
    const err = await h.exchange.getOrderBook(BTCTRY).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RateLimitedError);
    expect((err as RateLimitedError).retryAfterMs).toBe(60_000);
    expect(countRoute(h.sim, 'GET /api/v2/orderbook')).toBe(1);
  });

  it('an empty 200 on a read is MalformedResponseError, not a crash', async () => {
    await h.sim.control.addFault({ route: 'GET /api/v2/server/exchangeinfo', kind: 'emptyBody', times: 1 });
    await expect(h.exchange.getExchangeRules()).rejects.toBeInstanceOf(MalformedResponseError);
  });
});

describe('private read faults', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness({}, { timeoutMs: 300 });
  });
  afterEach(async () => h.close());

  it('a read that times out is retried and succeeds', async () => {
    await h.sim.control.addFault({ route: 'GET /api/v1/users/balances', kind: 'latency', latencyMs: 800, times: 1 });
    await expect(h.exchange.getBalances()).resolves.toHaveLength(5);
    expect(countRoute(h.sim, 'GET /api/v1/users/balances')).toBe(2);
  });

  it('duplicate trade rows are deduplicated by trade id', async () => {
    await placeCrossingBuy(h, 'dup-1');
    await placeCrossingBuy(h, 'dup-2');
    await h.sim.control.addFault({ route: 'GET /api/v1/users/transactions/trade', kind: 'duplicateTradeRows', times: 1 });
    const fills = await h.exchange.getFills(BTCTRY, { startMs: 0 });
    expect(fills.map((f) => f.fillId)).toEqual(h.sim.engine.groundTruth().fills.map((f) => f.id));
  });

  it('trade rows without ids get a deterministic hash id, stable across calls and never built from the client id', async () => {
    await placeCrossingBuy(h, 'noid-1');
    await placeCrossingBuy(h, 'noid-2');
    await h.sim.control.addFault({ route: 'GET /api/v1/users/transactions/trade', kind: 'missingTradeIds', times: 2 });
    const first = await h.exchange.getFills(BTCTRY, { startMs: 0 });
    const second = await h.exchange.getFills(BTCTRY, { startMs: 0 });
    expect(first).toHaveLength(2);
    for (const f of first) expect(f.fillId).toMatch(/^[0-9a-f]{64}$/);
    expect(new Set(first.map((f) => f.fillId)).size).toBe(2);
    expect(second.map((f) => f.fillId)).toEqual(first.map((f) => f.fillId));
    const { fallbackFillId } = await import('../../src/exchange/trades.js');
    const f0 = first[0]!;
    expect(f0.fillId).toBe(fallbackFillId(f0.exchangeOrderId!, f0.tsMs, f0.price, f0.qty));
  });
});

describe('write faults: ambiguous outcomes are never resent and are resolved by client order id', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness({}, { timeoutMs: 400 });
  });
  afterEach(async () => h.close());

  it('a submit whose response is dropped after the exchange accepted it raises AmbiguousWriteError, is sent once, and is found again by its client order id', async () => {
    await h.sim.control.addFault({ route: SUBMIT, kind: 'dropAfterCommit', times: 1 });
    const clientOrderId = asClientOrderId('bot-amb-0001');
    const since = h.sim.engine.now() - 60_000;
    const err = await h.exchange
      .submitLimitOrder({ symbol: BTCTRY, side: 'buy', price: new Decimal('3300000'), qty: new Decimal('0.002'), clientOrderId })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AmbiguousWriteError);
    expect((err as AmbiguousWriteError).operation).toBe('submit');
    expect(countRoute(h.sim, SUBMIT)).toBe(1);

    const truth = h.sim.engine.groundTruth().orders;
    expect(truth).toHaveLength(1);
    const found = await h.exchange.findOrderByClientId(BTCTRY, clientOrderId, since);
    expect(found).not.toBeNull();
    expect(found!.exchangeOrderId).toBe(truth[0]!.id);
    expect(found!.status).toBe('open');
    expect(found!.qty.toString()).toBe('0.002');
    expect(countRoute(h.sim, SUBMIT)).toBe(1); // resolution used reads only
  });

  it.each<FaultKind>(['emptyAfterCommit', 'htmlAfterCommit', 'delayAfterCommit'])(
    'a submit answered by %s is ambiguous, sent once, and the accepted order is found by client id',
    async (kind) => {
      await h.sim.control.addFault({ route: SUBMIT, kind, latencyMs: 1_500, times: 1 });
      const clientOrderId = asClientOrderId(`bot-${kind}`);
      await expect(
        h.exchange.submitLimitOrder({ symbol: BTCTRY, side: 'buy', price: new Decimal('3300000'), qty: new Decimal('0.001'), clientOrderId }),
      ).rejects.toBeInstanceOf(AmbiguousWriteError);
      expect(countRoute(h.sim, SUBMIT)).toBe(1);
      const found = await h.exchange.findOrdersByClientId(BTCTRY, clientOrderId, 0);
      expect(found.map((o) => o.exchangeOrderId)).toEqual(h.sim.engine.groundTruth().orders.map((o) => o.id));
    },
  );

  it('a 500 before processing is still ambiguous to the client; resolution finds no order', async () => {
    await h.sim.control.addFault({ route: SUBMIT, kind: 'http500', times: 1 });
    const clientOrderId = asClientOrderId('bot-500');
    await expect(
      h.exchange.submitLimitOrder({ symbol: BTCTRY, side: 'buy', price: new Decimal('3300000'), qty: new Decimal('0.001'), clientOrderId }),
    ).rejects.toBeInstanceOf(AmbiguousWriteError);
    expect(countRoute(h.sim, SUBMIT)).toBe(1);
    expect(await h.exchange.findOrderByClientId(BTCTRY, clientOrderId, 0)).toBeNull();
  });

  it('a 429 on submit is RateLimitedError (not processed, safe to send later) and is not retried by the client', async () => {
    await h.sim.control.addFault({ route: SUBMIT, kind: 'http429', retryAfterSec: 1, times: 1 });
    const err = await h.exchange
      .submitLimitOrder({ symbol: BTCTRY, side: 'buy', price: new Decimal('3300000'), qty: new Decimal('0.001'), clientOrderId: asClientOrderId('bot-429') })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RateLimitedError);
    expect((err as RateLimitedError).retryAfterMs).toBe(1_000);
    expect(countRoute(h.sim, SUBMIT)).toBe(1);
    expect(h.sim.engine.groundTruth().orders).toHaveLength(0);
  });

  it('a cancel answered with a 5xx or a dropped connection is an ambiguous cancel, sent once', async () => {
    const ack = await h.exchange.submitLimitOrder({
      symbol: BTCTRY, side: 'buy', price: new Decimal('3300000'), qty: new Decimal('0.001'), clientOrderId: asClientOrderId('bot-c'),
    });
    await h.sim.control.addFault({ route: 'DELETE /api/v1/order', kind: 'htmlAfterCommit', times: 1 });
    const err = await h.exchange.cancelOrder(ack.exchangeOrderId).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AmbiguousWriteError);
    expect((err as AmbiguousWriteError).operation).toBe('cancel');
    expect(countRoute(h.sim, 'DELETE /api/v1/order')).toBe(1);
    expect((await h.exchange.getOrder(ack.exchangeOrderId)).status).toBe('canceled');
  });

  it('latency below the timeout is just slow: the submit succeeds once', async () => {
    await h.sim.control.addFault({ route: SUBMIT, kind: 'latency', latencyMs: 100, times: 1 });
    await h.exchange.submitLimitOrder({
      symbol: BTCTRY, side: 'buy', price: new Decimal('3300000'), qty: new Decimal('0.001'), clientOrderId: asClientOrderId('bot-slow'),
    });
    expect(h.sim.engine.groundTruth().orders).toHaveLength(1);
  });

  it('seeded probabilistic faults fire the same way for the same seed', async () => {
    const pattern = async (seed: number): Promise<string[]> => {
      const run = await startHarness({ seed });
      await run.sim.control.addFault({ route: 'GET /api/v2/ticker', kind: 'http500', probability: 0.5, times: null });
      for (let i = 0; i < 12; i++) await run.exchange.getTickerQuotes().catch(() => undefined);
      const statuses = run.sim.requests.map((r) => String(r.status));
      await run.close();
      return statuses;
    };
    const a = await pattern(7);
    expect(await pattern(7)).toEqual(a);
    expect(a).toContain('500');
    expect(a).toContain('200');
  });
});

async function placeCrossingBuy(h: Harness, id: string): Promise<void> {
  const ask = h.sim.engine.bookView('BTCTRY').asks[0]!.price.toString();
  await h.exchange.submitLimitOrder({ symbol: BTCTRY, side: 'buy', price: new Decimal(ask), qty: new Decimal('0.0001'), clientOrderId: asClientOrderId(id) });
}

describe('the exchange as it really behaves: scriptable faults modelled on the reference (all off by default)', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness({}, { timeoutMs: 400 });
  });
  afterEach(async () => h.close());

  const buy = (cid: string) => ({ symbol: BTCTRY, side: 'buy' as const, price: new Decimal('3300000'), qty: new Decimal('0.001'), clientOrderId: asClientOrderId(cid) });

  it('an accepted order can stay invisible to open orders, all orders and lookups for a while, then shows up', async () => {
    await h.sim.control.addFault({ route: SUBMIT, kind: 'orderInvisible', hiddenMs: 20_000, times: 1 });
    const ack = await h.exchange.submitLimitOrder(buy('bot-hidden'));
    expect(h.sim.engine.groundTruth().orders).toMatchObject([{ id: ack.exchangeOrderId, status: 'Untouched', visible: false }]);
    expect(await h.exchange.getOpenOrders(BTCTRY)).toEqual([]);
    expect(await h.exchange.findOrdersByClientId(BTCTRY, asClientOrderId('bot-hidden'), 0)).toEqual([]);
    await expect(h.exchange.getOrder(ack.exchangeOrderId)).rejects.toThrow(/order not found/);
    h.sim.engine.advanceClock(20_000);
    expect((await h.exchange.getOpenOrders(BTCTRY)).map((o) => o.exchangeOrderId)).toEqual([ack.exchangeOrderId]);
    expect((await h.exchange.getOrder(ack.exchangeOrderId)).status).toBe('open');
  });

  it('a POST held past the client timeout with the order created at the END of the hold: nothing exists when the client gives up', async () => {
    await h.sim.control.addFault({ route: SUBMIT, kind: 'holdThenCommit', latencyMs: 900, times: 1 });
    await expect(h.exchange.submitLimitOrder(buy('bot-hold-end'))).rejects.toBeInstanceOf(AmbiguousWriteError);
    expect(h.sim.engine.groundTruth().orders).toHaveLength(0);
    await expect.poll(() => h.sim.engine.groundTruth().orders.length, { timeout: 5_000, interval: 20 }).toBe(1);
    expect(h.sim.engine.groundTruth().orders[0]).toMatchObject({ clientId: 'bot-hold-end', status: 'Untouched' });
  });

  it('a POST held past the client timeout with the order created at the START of the hold: it exists already', async () => {
    await h.sim.control.addFault({ route: SUBMIT, kind: 'delayAfterCommit', latencyMs: 900, times: 1 });
    await expect(h.exchange.submitLimitOrder(buy('bot-hold-start'))).rejects.toBeInstanceOf(AmbiguousWriteError);
    expect(h.sim.engine.groundTruth().orders).toMatchObject([{ clientId: 'bot-hold-start' }]);
  });

  it('a Retry-After longer than an activity attempt is reported as it is', async () => {
    await h.sim.control.addFault({ route: SUBMIT, kind: 'http429', retryAfterSec: 45, times: 1 });
    const err = await h.exchange.submitLimitOrder(buy('bot-429-long')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RateLimitedError);
    expect((err as RateLimitedError).retryAfterMs).toBe(45_000);
    expect(h.sim.engine.groundTruth().orders).toHaveLength(0);
  });

  it('a cancel acknowledged while the order stays open, and then fills', async () => {
    const ack = await h.exchange.submitLimitOrder(buy('bot-cancel-fill'));
    await h.sim.control.addFault({ route: 'DELETE /api/v1/order', kind: 'cancelThenFill', latencyMs: 10_000, times: 1 });
    await expect(h.exchange.cancelOrder(ack.exchangeOrderId)).resolves.toMatchObject({ accepted: true });
    expect((await h.exchange.getOpenOrders(BTCTRY)).map((o) => o.exchangeOrderId)).toEqual([ack.exchangeOrderId]);
    await h.exchange.cancelOrder(ack.exchangeOrderId); // re-cancelling is acknowledged again (#595)
    h.sim.engine.advanceClock(10_000);
    expect((await h.exchange.getOrder(ack.exchangeOrderId)).status).toBe('filled');
    expect((await h.exchange.getFills(BTCTRY, { startMs: 0 })).map((f) => f.exchangeOrderId)).toEqual([ack.exchangeOrderId]);
  });

  it.each([408, 409, 425, 401, 403, 429])('a proxy %i with an HTML page to a POST that was processed is ambiguous, and the POST is never sent again', async (httpStatus) => {
    await h.sim.control.addFault({ route: SUBMIT, kind: 'proxy4xxAfterCommit', httpStatus, times: 1 });
    const err = await h.exchange.submitLimitOrder(buy(`bot-proxy-${httpStatus}`)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AmbiguousWriteError);
    // One POST reached the exchange, one order exists: no clock resync and resend after a 401/403,
    // no "not sent" after a 429 (client ids are not unique, Q10: a resend would be a second order).
    expect(countRoute(h.sim, SUBMIT)).toBe(1);
    expect(h.sim.engine.groundTruth().orders).toHaveLength(1);
  });
});
