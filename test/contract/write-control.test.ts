// A write attempt bounds itself (WriteControl): against the simulator over loopback HTTP, what
// reaches the exchange when the deadline passes, a cancellation arrives, or the final check says no.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Decimal } from '../../src/domain/decimal.js';
import { asClientOrderId, toPairSymbol } from '../../src/domain/types.js';
import { AmbiguousWriteError, InvalidOrderError, WriteNotSentError } from '../../src/exchange/errors.js';
import { countRoute, startHarness, type Harness } from './helpers.js';

const BTCTRY = toPairSymbol('BTCTRY');
const SUBMIT = 'POST /api/v1/order';
const buy = (cid: string, price = '3300000') => ({ symbol: BTCTRY, side: 'buy' as const, price: new Decimal(price), qty: new Decimal('0.001'), clientOrderId: asClientOrderId(cid) });

describe('write control: a write never leaves after its deadline, a cancellation or a failed final check', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness({}, { timeoutMs: 5_000 });
  });
  afterEach(async () => h.close());

  it('the final check runs right before the send; when it throws, nothing reaches the exchange', async () => {
    let checked = 0;
    const err = await h.exchange
      .submitLimitOrder(buy('wc-halt'), { beforeSend: async () => { checked += 1; throw new WriteNotSentError('halted', 'halted'); } })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'WriteNotSentError', reason: 'halted' });
    expect(checked).toBe(1);
    expect(countRoute(h.sim, SUBMIT)).toBe(0);
  });

  it('a deadline already passed is not sent', async () => {
    const err = await h.exchange.submitLimitOrder(buy('wc-late'), { notAfterMs: Date.now() - 1 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'WriteNotSentError', reason: 'deadline' });
    expect(countRoute(h.sim, SUBMIT)).toBe(0);
  });

  it('after a 429 with Retry-After 45, a write with 20 s left fails at once as not sent, without waiting', async () => {
    await h.sim.control.addFault({ route: SUBMIT, kind: 'http429', retryAfterSec: 45, times: 1 });
    await h.exchange.submitLimitOrder(buy('wc-429')).catch(() => undefined);
    const started = Date.now();
    const err = await h.exchange.submitLimitOrder(buy('wc-after-429'), { notAfterMs: Date.now() + 20_000 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'WriteNotSentError', reason: 'rate_limit_wait_exceeds_deadline' });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(countRoute(h.sim, SUBMIT)).toBe(1);
  });

  it('a cancellation during the rate-limit wait stops the write before it leaves', async () => {
    await h.sim.control.addFault({ route: SUBMIT, kind: 'http429', retryAfterSec: 2, times: 1 });
    await h.exchange.submitLimitOrder(buy('wc-429b')).catch(() => undefined);
    const abort = new AbortController();
    const pending = h.exchange.submitLimitOrder(buy('wc-cancelled'), { signal: abort.signal, notAfterMs: Date.now() + 20_000 });
    setTimeout(() => abort.abort(new Error('halt')), 100);
    await expect(pending).rejects.toMatchObject({ name: 'WriteNotSentError', reason: 'canceled' });
    await new Promise((r) => setTimeout(r, 2_200)); // past the Retry-After: still nothing was sent
    expect(countRoute(h.sim, SUBMIT)).toBe(1);
  });

  it('a cancellation (a halt) after the request passed its final check does not abort it: the answer is read, the order is known', async () => {
    await h.sim.control.addFault({ route: SUBMIT, kind: 'latency', latencyMs: 400, times: 1 });
    const abort = new AbortController();
    const pending = h.exchange.submitLimitOrder(buy('wc-inflight'), { signal: abort.signal, notAfterMs: Date.now() + 20_000 });
    await expect.poll(() => countRoute(h.sim, SUBMIT), { timeout: 2_000, interval: 5 }).toBe(1);
    abort.abort(new Error('halt'));
    const ack = await pending;
    expect(h.sim.engine.groundTruth().orders.map((o) => o.id)).toEqual([ack.exchangeOrderId]);
  });

  it('a write waits for its answer no longer than its deadline', async () => {
    const slow = await startHarness({}, { timeoutMs: 20_000, responseBudgetMs: 300 });
    try {
      await slow.sim.control.addFault({ route: SUBMIT, kind: 'delayAfterCommit', latencyMs: 3_000, times: 1 });
      const started = Date.now();
      await expect(slow.exchange.submitLimitOrder(buy('wc-slow'), { notAfterMs: Date.now() + 500 })).rejects.toBeInstanceOf(AmbiguousWriteError);
      expect(Date.now() - started).toBeLessThan(2_000);
    } finally {
      await slow.close();
    }
  });

  it('a write with less time left than an answer needs (the response budget) is refused before it leaves', async () => {
    // Client timeout 5 s: the response budget is min(5 s, 5 s). With 1 s left, an answer could never arrive in time.
    const err = await h.exchange.submitLimitOrder(buy('wc-no-time'), { notAfterMs: Date.now() + 1_000 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'WriteNotSentError', reason: 'deadline' });
    expect(countRoute(h.sim, SUBMIT)).toBe(0);
    expect(h.sim.engine.groundTruth().orders).toEqual([]);
  });

  it('a rate-limit wait that would leave less than the response budget is refused at once, not waited out', async () => {
    await h.sim.control.addFault({ route: SUBMIT, kind: 'http429', retryAfterSec: 2, times: 1 });
    await h.exchange.submitLimitOrder(buy('wc-429c')).catch(() => undefined);
    // The 2 s wait ends with 2 s left: less than the 5 s an answer may take.
    const started = Date.now();
    const err = await h.exchange.submitLimitOrder(buy('wc-after-429c'), { notAfterMs: Date.now() + 4_000 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'WriteNotSentError', reason: 'rate_limit_wait_exceeds_deadline' });
    expect(Date.now() - started).toBeLessThan(1_000);
    await new Promise((r) => setTimeout(r, 2_200)); // past the Retry-After: still only the first POST
    expect(countRoute(h.sim, SUBMIT)).toBe(1);
  });

  it('a 4xx with BTCTurk\'s error envelope is still a definite rejection', async () => {
    await expect(h.exchange.submitLimitOrder({ ...buy('wc-min'), qty: new Decimal('0.00000001') })).rejects.toBeInstanceOf(InvalidOrderError);
  });
});
