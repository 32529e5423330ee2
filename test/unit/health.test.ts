// The worker's health verdict and its endpoint (the Docker HEALTHCHECK's source of truth).
import { describe, expect, test } from 'vitest';
import {
  ActivityTracker,
  assessHealth,
  HEALTH_PATH,
  STALL_AFTER_MS,
  startHealthServer,
  TEMPORAL_SILENT_AFTER_MS,
  type HealthInput,
  type HealthReport,
} from '../../src/observability/health.js';

const NOW = 1_800_000_000_000;
const polling = { runState: 'RUNNING', workflowPollerState: 'POLLING', activityPollerState: 'POLLING' };
const running = (over: Partial<HealthInput> = {}): HealthInput => ({
  phase: 'running', status: polling, inFlight: 0, oldestStartedAtMs: null, lastCompletedAtMs: null,
  temporal: { lastOkAtMs: NOW - 1_000, error: null }, ...over,
});

describe('assessHealth', () => {
  test('an idle worker whose pollers poll is healthy, however long ago its last activity was', () => {
    expect(assessHealth(running(), NOW)).toMatchObject({ healthy: true, reason: 'idle, polling for work' });
    expect(assessHealth(running({ lastCompletedAtMs: NOW - 86_400_000 }), NOW).healthy).toBe(true);
  });

  test('work in flight is healthy while the oldest activity is younger than the stall limit; stalled once it is older', () => {
    expect(assessHealth(running({ inFlight: 2, oldestStartedAtMs: NOW - 10_000, lastCompletedAtMs: NOW - 60_000 }), NOW).healthy).toBe(true);
    const stalled = assessHealth(running({ inFlight: 1, oldestStartedAtMs: NOW - STALL_AFTER_MS - 1_000, lastCompletedAtMs: NOW - 2 * STALL_AFTER_MS }), NOW);
    expect(stalled).toMatchObject({ healthy: false, reason: 'stalled: an activity has been running for 301 s (1 in flight)' });
  });

  test('one activity stuck for an hour is a stall, though others keep completing around it', () => {
    const stuck = assessHealth(running({ inFlight: 2, oldestStartedAtMs: NOW - 3_600_000, lastCompletedAtMs: NOW - 1_000 }), NOW);
    expect(stuck).toMatchObject({ healthy: false, reason: 'stalled: an activity has been running for 3600 s (2 in flight)' });
  });

  test('a worker whose Temporal server stopped answering is unhealthy, though its pollers still say POLLING', () => {
    const silent = running({ temporal: { lastOkAtMs: NOW - TEMPORAL_SILENT_AFTER_MS - 1_000, error: 'connection refused' } });
    expect(assessHealth(silent, NOW)).toMatchObject({
      healthy: false,
      reason: `Temporal unreachable: no answer for ${Math.round(TEMPORAL_SILENT_AFTER_MS / 1000) + 1} s (connection refused)`,
    });
    expect(assessHealth(running({ temporal: { lastOkAtMs: NOW - 1_000, error: 'one miss' } }), NOW).healthy).toBe(true);
  });

  test('starting, stopping, a worker not running or a poller down is unhealthy, with the reason', () => {
    expect(assessHealth(running({ phase: 'starting', startingReason: 'waiting for the exchange' }), NOW)).toMatchObject({
      healthy: false, reason: 'starting: waiting for the exchange',
    });
    expect(assessHealth(running({ phase: 'stopping' }), NOW).reason).toBe('shutting down');
    expect(assessHealth(running({ status: { ...polling, runState: 'DRAINING' } }), NOW).reason).toBe('worker DRAINING');
    expect(assessHealth(running({ status: { ...polling, activityPollerState: 'FAILED' } }), NOW)).toMatchObject({
      healthy: false, reason: 'pollers not running (workflow POLLING, activity FAILED)',
    });
    expect(assessHealth(running({ status: null }), NOW).reason).toBe('worker not created');
  });
});

describe('ActivityTracker', () => {
  test('counts activities in and out, keeps the oldest start and the last completion, failures included', async () => {
    let now = 1_000;
    const tracker = new ActivityTracker(() => now);
    let release!: () => void;
    const activities = tracker.track({
      slow: () => new Promise<string>((resolve) => (release = () => resolve('done'))),
      broken: async () => {
        throw new Error('boom');
      },
    });
    const slow = activities.slow();
    expect(tracker.inFlight).toBe(1);
    expect(tracker.oldestStartedAtMs).toBe(1_000);
    now = 2_000;
    await expect(activities.broken()).rejects.toThrow('boom');
    expect(tracker.lastCompletedAtMs).toBe(2_000);
    now = 3_000;
    release();
    await expect(slow).resolves.toBe('done');
    expect(tracker).toMatchObject({ inFlight: 0, oldestStartedAtMs: null, lastCompletedAtMs: 3_000 });
  });
});

describe('the health endpoint', () => {
  test(`GET ${HEALTH_PATH} is 200 with the report when healthy, 503 when not; other paths 404`, async () => {
    let report: HealthReport = assessHealth(running(), NOW);
    const server = await startHealthServer('127.0.0.1:0', () => report);
    try {
      const ok = await fetch(server.url);
      expect(ok.status).toBe(200);
      expect(await ok.json()).toMatchObject({ healthy: true, pollers: { workflow: 'POLLING', activity: 'POLLING' } });
      report = assessHealth(running({ phase: 'stopping' }), NOW);
      const down = await fetch(server.url);
      expect(down.status).toBe(503);
      expect(await down.json()).toMatchObject({ healthy: false, reason: 'shutting down' });
      expect((await fetch(server.url.replace(HEALTH_PATH, '/metrics'))).status).toBe(404);
    } finally {
      await server.close();
    }
  });

  test('refuses an address that is not host:port', async () => {
    await expect(startHealthServer('9465', () => assessHealth(running(), NOW))).rejects.toThrow('BTCBOT_HEALTH_ADDRESS must be host:port');
  });
});
