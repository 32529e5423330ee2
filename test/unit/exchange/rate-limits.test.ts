import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../../../src/exchange/rate-limits.js';
import { createBtcturkRateLimiter } from '../../../src/exchange/btcturk/client.js';

function fakeClock() {
  let t = 0;
  return { now: () => t, sleep: async (ms: number) => void (t += ms) };
}

describe('client rate limiter', () => {
  it('releases at most `limit` requests in any period (+ margin) on a virtual clock', async () => {
    const clock = fakeClock();
    const limiter = new RateLimiter({ rules: { k: [{ limit: 10, periodMs: 1_000 }] }, marginMs: 50, ...clock });
    const times: number[] = [];
    for (let i = 0; i < 25; i++) {
      await limiter.acquire('k');
      times.push(clock.now());
    }
    for (let i = 10; i < times.length; i++) expect(times[i]! - times[i - 10]!).toBeGreaterThanOrEqual(1_050);
    expect(times.slice(0, 10).every((t) => t === 0)).toBe(true);
  });

  it('applies every rule of an endpoint: 10/s and 300/min for order submits', async () => {
    const clock = fakeClock();
    const limiter = createBtcturkRateLimiter({ ...clock, marginMs: 0 });
    for (let i = 0; i < 301; i++) await limiter.acquire('POST /api/v1/order');
    // 300 fit in 30 s at 10/s; the 301st must wait for the minute window.
    expect(clock.now()).toBeGreaterThanOrEqual(60_000);
  });

  it('a Retry-After pause blocks the endpoint and leaves others alone', async () => {
    const clock = fakeClock();
    const limiter = new RateLimiter({ rules: { a: [], b: [] }, ...clock });
    limiter.pause('a', 7_000);
    expect(limiter.delayFor('a')).toBe(7_000);
    expect(limiter.delayFor('b')).toBe(0);
    await limiter.acquire('a');
    expect(clock.now()).toBe(7_000);
  });
});
