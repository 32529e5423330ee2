// Heartbeats come from the work (src/progress.ts) and every write attempt knows its own deadline
// (src/activities/execution.ts).
import { MockActivityEnvironment } from '@temporalio/testing';
import { describe, expect, it } from 'vitest';
import { attemptDeadlineMs, SEND_MARGIN_MS } from '../../src/activities/execution.js';
import { beat, waiting, withProgress, type ProgressDetail } from '../../src/progress.js';

describe('progress: heartbeats come from the work', () => {
  it('a step reports itself; a bounded wait reports at once and while it lasts, with what it waits for, and stops after', async () => {
    const beats: Array<ProgressDetail & { step: string }> = [];
    await withProgress({ beat: (d) => beats.push(d) }, async () => {
      beat('submit_recorded', { client_order_id: 's4-x' });
      await waiting('rate_limit_wait', { endpoint: 'POST /api/v1/order' }, new Promise((r) => setTimeout(r, 2_300)));
      const after = beats.length;
      await new Promise((r) => setTimeout(r, 1_200)); // outside a wait: nothing beats on a timer
      expect(beats.length).toBe(after);
    });
    expect(beats[0]).toEqual({ step: 'submit_recorded', client_order_id: 's4-x' });
    const waits = beats.filter((b) => b.step === 'rate_limit_wait');
    expect(waits.length).toBeGreaterThanOrEqual(3); // at once, then about every second
    expect(waits.every((b) => b.endpoint === 'POST /api/v1/order')).toBe(true);
    expect(Number(waits.at(-1)!.waited_ms)).toBeGreaterThanOrEqual(1_900);
  });

  it('outside an activity it is a no-op: the exchange client runs unchanged in scripts and tests', async () => {
    beat('nothing');
    await expect(waiting('x', {}, Promise.resolve(7))).resolves.toBe(7);
  });
});

describe('a write attempt computes its own deadline from activityInfo()', () => {
  it('scheduled time of this attempt + start-to-close, capped by schedule-to-close, minus the margin', async () => {
    const env = new MockActivityEnvironment({
      scheduledTimestampMs: 1_000_000, scheduleToCloseTimeoutMs: 120_000,
      currentAttemptScheduledTimestampMs: 1_050_000, startToCloseTimeoutMs: 30_000,
    });
    expect(await env.run(async () => attemptDeadlineMs())).toBe(1_080_000 - SEND_MARGIN_MS);
    const late = new MockActivityEnvironment({
      scheduledTimestampMs: 1_000_000, scheduleToCloseTimeoutMs: 120_000,
      currentAttemptScheduledTimestampMs: 1_110_000, startToCloseTimeoutMs: 30_000,
    });
    expect(await late.run(async () => attemptDeadlineMs())).toBe(1_120_000 - SEND_MARGIN_MS);
  });

  it('a worker clock behind the server cannot stretch it: it is also bounded by the attempt\'s local start + the time it had', async () => {
    // The server scheduled this attempt at 1_050_000 by its clock; this worker's clock reads 990_000 when the attempt
    // starts (60 s behind). By the server's stamps alone the worker would send until 1_078_000 by its own clock,
    // 60 s after Temporal timed the attempt out.
    const env = new MockActivityEnvironment({
      scheduledTimestampMs: 1_000_000, scheduleToCloseTimeoutMs: 120_000,
      currentAttemptScheduledTimestampMs: 1_050_000, startToCloseTimeoutMs: 30_000,
    });
    expect(await env.run(async () => attemptDeadlineMs(990_000))).toBe(1_020_000 - SEND_MARGIN_MS);
    // Schedule-to-close too: when this attempt was scheduled, 10 s of the 120 s were left.
    const late = new MockActivityEnvironment({
      scheduledTimestampMs: 1_000_000, scheduleToCloseTimeoutMs: 120_000,
      currentAttemptScheduledTimestampMs: 1_110_000, startToCloseTimeoutMs: 30_000,
    });
    expect(await late.run(async () => attemptDeadlineMs(900_000))).toBe(910_000 - SEND_MARGIN_MS);
    // A worker clock ahead of the server: the server's stamps are the earlier bound.
    expect(await env.run(async () => attemptDeadlineMs(1_060_000))).toBe(1_080_000 - SEND_MARGIN_MS);
  });
});
