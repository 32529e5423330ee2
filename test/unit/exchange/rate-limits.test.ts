import { describe, expect, it } from 'vitest';
import { LimiterWaitRefused, RateLimiter, realSleep } from '../../../src/exchange/rate-limits.js';
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

describe('client rate limiter: bounded waits (a write attempt never sends after its deadline)', () => {
  it('a wait longer than the time left is refused at once, records nothing, and leaves the queue usable', async () => {
    const clock = fakeClock();
    const limiter = new RateLimiter({ rules: { k: [] }, ...clock });
    limiter.pause('k', 45_000); // a 429 said Retry-After: 45
    const err = await limiter.acquire('k', { notAfterMs: 28_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LimiterWaitRefused);
    expect(err).toMatchObject({ reason: 'deadline', waitMs: 45_000 });
    expect(clock.now()).toBe(0); // it did not sleep out the wait first
    await limiter.acquire('k', { notAfterMs: 46_000 });
    expect(clock.now()).toBe(45_000);
  });

  it('an abort ends a wait in progress: nothing is released, and the next caller is not held by it', async () => {
    const limiter = new RateLimiter({ rules: { k: [] } }); // real clock and sleep
    limiter.pause('k', 60_000);
    const abort = new AbortController();
    const waiting = limiter.acquire('k', { signal: abort.signal });
    setTimeout(() => abort.abort(new Error('cancelled')), 20);
    const started = Date.now();
    await expect(waiting).rejects.toMatchObject({ name: 'LimiterWaitRefused', reason: 'aborted' });
    expect(Date.now() - started).toBeLessThan(5_000);
    // An already aborted signal never waits at all.
    await expect(limiter.acquire('k', { signal: abort.signal })).rejects.toMatchObject({ reason: 'aborted' });
  });

  it('a caller queued behind a long wait gives up at its deadline without taking a slot', async () => {
    const limiter = new RateLimiter({ rules: { k: [{ limit: 1, periodMs: 200 }] }, marginMs: 0 });
    await limiter.acquire('k');
    const first = limiter.acquire('k'); // waits ~200 ms for the window
    const second = limiter.acquire('k', { notAfterMs: Date.now() + 50 }); // queued behind it, must leave by +50 ms
    await expect(second).rejects.toMatchObject({ reason: 'deadline' });
    await first;
    // The second never took a slot: a third gets the next window, not one after it.
    const before = Date.now();
    await limiter.acquire('k');
    expect(Date.now() - before).toBeLessThan(400);
  });

  it('realSleep rejects as soon as its signal aborts', async () => {
    const abort = new AbortController();
    const p = realSleep(60_000, abort.signal);
    abort.abort(new Error('stop'));
    await expect(p).rejects.toThrow('stop');
  });
});
