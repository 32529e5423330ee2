import { afterEach, describe, expect, it } from 'vitest';
import { Decimal } from '../../src/domain/decimal.js';
import { asClientOrderId, toPairSymbol, type ExchangeOrderId } from '../../src/domain/types.js';
import { RATE_LIMITS } from '../../src/exchange/btcturk/constants.js';
import { RateLimitedError } from '../../src/exchange/errors.js';
import type { RequestLogEntry } from '../../src/simulator/server.js';
import { startHarness, type Harness } from './helpers.js';

const BTCTRY = toPairSymbol('BTCTRY');

/** Most requests of one route in a fixed window anchored at the first request (BTCTurk's rule). */
function maxInAnchoredWindows(log: readonly RequestLogEntry[], route: string, periodMs: number): number {
  const times = log.filter((r) => r.route === route).map((r) => r.atMs);
  let best = 0;
  let start = Number.NEGATIVE_INFINITY;
  let count = 0;
  for (const t of times) {
    if (t >= start + periodMs) {
      start = t;
      count = 0;
    }
    count++;
    best = Math.max(best, count);
  }
  return best;
}

describe('client-side rate limiting against the simulator enforcing BTCTurk limits', () => {
  let h: Harness | undefined;
  afterEach(async () => h?.close());

  it('a burst of 25 submits and 45 order lookups stays within the published per-second limits, counted at the simulator', async () => {
    h = await startHarness({ rateLimits: true });
    const ex = h.exchange;
    const submits = Array.from({ length: 25 }, (_, i) =>
      ex.submitLimitOrder({ symbol: BTCTRY, side: 'buy', price: new Decimal('3300000'), qty: new Decimal('0.0001'), clientOrderId: asClientOrderId(`burst-${i}`) }),
    );
    const acks = await Promise.all(submits);
    const lookups = Array.from({ length: 45 }, (_, i) => ex.getOrder(acks[i % acks.length]!.exchangeOrderId as ExchangeOrderId));
    const orders = await Promise.all(lookups);

    expect(orders).toHaveLength(45);
    expect(h.sim.engine.groundTruth().orders).toHaveLength(25);
    const log = h.sim.requests;
    expect(log.filter((r) => r.status === 429)).toEqual([]);
    const postPerSecond = RATE_LIMITS['POST /api/v1/order'].find((r) => r.periodMs === 1_000)!.limit;
    const getPerSecond = RATE_LIMITS['GET /api/v1/order/{id}'].find((r) => r.periodMs === 1_000)!.limit;
    expect(postPerSecond).toBe(10);
    expect(getPerSecond).toBe(30);
    // The simulator enforces the published fixed windows and answered no 429 (asserted above). In
    // addition, 25 submits at 10/s must be spread over at least two full windows, and counted in
    // one-second windows anchored at the first arrival (BTCTurk's rule) none holds more than 10.
    const posts = log.filter((r) => r.route === 'POST /api/v1/order');
    expect(posts).toHaveLength(25);
    expect(posts.at(-1)!.atMs - posts[0]!.atMs).toBeGreaterThanOrEqual(2_000 - 100);
    expect(maxInAnchoredWindows(log, 'POST /api/v1/order', 1_000)).toBeLessThanOrEqual(postPerSecond);
    expect(maxInAnchoredWindows(log, 'GET /api/v1/order/{id}', 1_000)).toBeLessThanOrEqual(getPerSecond);
  });

  it('without the client limiter the same submit burst is rejected by the simulator with 429 and Retry-After', async () => {
    h = await startHarness({ rateLimits: true }, { rateLimiter: false });
    const ex = h.exchange;
    const results = await Promise.allSettled(
      Array.from({ length: 15 }, (_, i) =>
        ex.submitLimitOrder({ symbol: BTCTRY, side: 'buy', price: new Decimal('3300000'), qty: new Decimal('0.0001'), clientOrderId: asClientOrderId(`raw-${i}`) }),
      ),
    );
    const limited = results.filter((r) => r.status === 'rejected' && r.reason instanceof RateLimitedError);
    expect(limited.length).toBeGreaterThan(0);
    expect(h.sim.requests.filter((r) => r.status === 429).length).toBe(limited.length);
    expect(h.sim.engine.groundTruth().orders.length).toBe(15 - limited.length);
  });
});
