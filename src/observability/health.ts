// The worker's health endpoint (BTCBOT_HEALTH_ADDRESS, `GET /health`), behind the Docker
// HEALTHCHECK. Healthy means the worker can do its job, not merely that the process is alive:
//   - it runs, and both its pollers (workflow and activity tasks) are polling;
//   - its Temporal server answers: the worker asks it every TEMPORAL_PROBE_INTERVAL_MS (a cheap
//     GetSystemInfo); no answer for TEMPORAL_SILENT_AFTER_MS is unhealthy. The pollers alone keep
//     saying POLLING for minutes while they retry against a server that is gone;
//   - it is not stalled: no activity has been running for longer than STALL_AFTER_MS (the oldest
//     one counts, so one stuck activity is not hidden by others that keep completing). An idle
//     worker is healthy: waiting for work is its job between cycles.
// 200 with the facts as JSON when healthy, 503 with the reason otherwise.
import { createServer, type Server } from 'node:http';
import { ConfigError } from '../domain/errors.js';

export const HEALTH_PATH = '/health';

/** Longer than any cycle activity may run (the longest start-to-close timeout is 60 s). */
export const STALL_AFTER_MS = 5 * 60_000;
/** How often the worker asks its Temporal server whether it is there, and how long it waits. */
export const TEMPORAL_PROBE_INTERVAL_MS = 5_000;
export const TEMPORAL_PROBE_TIMEOUT_MS = 3_000;
/** No answer from Temporal for this long (about three missed probes) is unhealthy. */
export const TEMPORAL_SILENT_AFTER_MS = 15_000;

export type WorkerPhase = 'starting' | 'running' | 'stopping';

/** The parts of the SDK's WorkerStatus the verdict reads. */
export interface PollerStatus {
  runState: string;
  workflowPollerState: string;
  activityPollerState: string;
}

export interface HealthInput {
  phase: WorkerPhase;
  /** Why the worker is not running yet, while `starting` (e.g. waiting for the exchange). */
  startingReason?: string;
  status: PollerStatus | null;
  inFlight: number;
  /** Start of the oldest activity still running. */
  oldestStartedAtMs: number | null;
  lastCompletedAtMs: number | null;
  /** The last answer from the Temporal server (from connecting on), and the last probe's error. */
  temporal: { lastOkAtMs: number | null; error: string | null };
}

export interface HealthReport {
  healthy: boolean;
  reason: string;
  phase: WorkerPhase;
  worker: string | null;
  pollers: { workflow: string; activity: string } | null;
  activities: { inFlight: number; oldestRunningMs: number | null; lastCompletedAt: string | null };
}

/** Pure: the verdict on one snapshot. */
export function assessHealth(input: HealthInput, nowMs: number, stallAfterMs = STALL_AFTER_MS): HealthReport {
  const activities = {
    inFlight: input.inFlight,
    oldestRunningMs: input.oldestStartedAtMs === null ? null : nowMs - input.oldestStartedAtMs,
    lastCompletedAt: input.lastCompletedAtMs === null ? null : new Date(input.lastCompletedAtMs).toISOString(),
  };
  const s = input.status;
  const base = {
    phase: input.phase,
    worker: s?.runState ?? null,
    pollers: s ? { workflow: s.workflowPollerState, activity: s.activityPollerState } : null,
    activities,
  };
  const verdict = (healthy: boolean, reason: string): HealthReport => ({ healthy, reason, ...base });
  if (input.phase === 'starting') return verdict(false, `starting${input.startingReason ? `: ${input.startingReason}` : ''}`);
  if (input.phase === 'stopping') return verdict(false, 'shutting down');
  if (!s || s.runState !== 'RUNNING') return verdict(false, `worker ${s?.runState ?? 'not created'}`);
  if (s.workflowPollerState !== 'POLLING' || s.activityPollerState !== 'POLLING') {
    return verdict(false, `pollers not running (workflow ${s.workflowPollerState}, activity ${s.activityPollerState})`);
  }
  const { lastOkAtMs, error } = input.temporal;
  if (lastOkAtMs === null || nowMs - lastOkAtMs > TEMPORAL_SILENT_AFTER_MS) {
    const silence = lastOkAtMs === null ? 'never answered' : `no answer for ${Math.round((nowMs - lastOkAtMs) / 1000)} s`;
    return verdict(false, `Temporal unreachable: ${silence}${error ? ` (${error})` : ''}`);
  }
  if (input.oldestStartedAtMs !== null && nowMs - input.oldestStartedAtMs > stallAfterMs) {
    return verdict(false, `stalled: an activity has been running for ${Math.round((nowMs - input.oldestStartedAtMs) / 1000)} s (${input.inFlight} in flight)`);
  }
  return verdict(true, input.inFlight > 0 ? 'running activities' : 'idle, polling for work');
}

/** Counts activities in and out. `track` wraps an activities object; names and arguments pass through. */
export class ActivityTracker {
  private readonly running = new Map<number, number>();
  private next = 0;
  lastCompletedAtMs: number | null = null;

  constructor(private readonly now: () => number = Date.now) {}

  get inFlight(): number {
    return this.running.size;
  }

  get oldestStartedAtMs(): number | null {
    let oldest: number | null = null;
    for (const t of this.running.values()) if (oldest === null || t < oldest) oldest = t;
    return oldest;
  }

  track<T extends object>(activities: T): T {
    const wrapped: Record<string, unknown> = {};
    for (const [name, fn] of Object.entries(activities)) {
      wrapped[name] = typeof fn !== 'function'
        ? fn
        : async (...args: unknown[]) => {
            const id = this.next++;
            this.running.set(id, this.now());
            try {
              return await (fn as (...a: unknown[]) => Promise<unknown>)(...args);
            } finally {
              this.running.delete(id);
              this.lastCompletedAtMs = this.now();
            }
          };
    }
    return wrapped as T;
  }
}

/** Serve `GET /health` on `address` (`host:port`) from `probe`. */
export async function startHealthServer(address: string, probe: () => HealthReport): Promise<{ url: string; close(): Promise<void> }> {
  const m = /^(.+):(\d{1,5})$/.exec(address.trim());
  if (!m) throw new Error(`BTCBOT_HEALTH_ADDRESS must be host:port, got ${JSON.stringify(address)}`);
  const host = m[1]!.replace(/^\[|\]$/g, '');
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== HEALTH_PATH) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: GET ${HEALTH_PATH}\n`);
      return;
    }
    const report = probe();
    res.writeHead(report.healthy ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(`${JSON.stringify(report)}\n`);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(new ConfigError('BTCBOT_HEALTH_ADDRESS', `cannot listen on ${address}: ${err.code ?? err.message}`)));
    server.listen(Number(m[2]), host, () => resolve());
  });
  const bound = server.address();
  const port = typeof bound === 'object' && bound ? bound.port : Number(m[2]);
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}${HEALTH_PATH}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
