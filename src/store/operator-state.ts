// The account's state as an operator watches it, read from the database in one go: the halt, the
// latest PnL snapshot and open orders per mode, positions, the last good cycle and the newest
// cycle per mode. The worker sets its gauges from it after every cycle, so every worker exports
// the same truth whichever cycle it ran; `status` reads the same.
import type { Position } from '../domain/accounting.js';
import type { TradingMode } from '../domain/gates.js';
import { LIVE_STATES, type OrderMode } from '../domain/lifecycle.js';
import { lastOkByMode, latestCyclesByMode, type CycleAuditRow } from './audit.js';
import type { Pool } from './db.js';
import { listPositions } from './fills.js';
import { listPaperPositions } from './paper.js';
import { latestSnapshot, type StoredSnapshot } from './pnl.js';
import { getHalt, type HaltState } from './runtime.js';

export const TRADING_MODES: readonly TradingMode[] = ['live', 'dry_run'];
export const ORDER_MODES: readonly OrderMode[] = ['live', 'dry_run', 'external'];

export interface OperatorState {
  readonly halt: HaltState | null;
  readonly snapshots: Readonly<Record<TradingMode, StoredSnapshot | null>>;
  /** Orders in a live state (pending_submit, unknown, open, partial, cancel_requested) per mode. */
  readonly openOrders: Readonly<Record<OrderMode, number>>;
  readonly positions: readonly Position[];
  /** The paper ledger's positions (dry runs). */
  readonly paperPositions: readonly Position[];
  /**
   * Alerts of the last UNDELIVERED_WINDOW_HOURS that reached no channel: `failed` (not delivered;
   * the delivery retries for about 5 minutes, then leaves it), `rejected` (the receiver refused it:
   * a wrong chat id, token or URL), `unknown` (an attempt stopped mid-send: it may have arrived).
   * Older ones age out, so one outage does not stay on the board for good. The newest of them.
   */
  readonly alertsUndelivered: {
    readonly failed: number; readonly rejected: number; readonly unknown: number;
    readonly newest: null | { sourceId: string; kind: string; channel: string; status: string; error: string | null; at: string };
  };
  readonly lastOk: Readonly<Record<TradingMode, { cycleId: string; finishedAt: string } | null>>;
  /** The newest cycle of each mode that was not skipped. */
  readonly latestCycles: Readonly<Record<TradingMode, CycleAuditRow | null>>;
}

export const UNDELIVERED_WINDOW_HOURS = 24;

async function undeliveredAlerts(pool: Pool): Promise<OperatorState['alertsUndelivered']> {
  const recent = "status IN ('failed', 'rejected', 'unknown') AND updated_at > now() - make_interval(hours => $1)";
  const [counts, newest] = await Promise.all([
    pool.query<{ failed: string; rejected: string; unknown: string }>(
      `SELECT count(*) FILTER (WHERE status = 'failed') AS failed, count(*) FILTER (WHERE status = 'rejected') AS rejected,
              count(*) FILTER (WHERE status = 'unknown') AS unknown
       FROM alerts_sent WHERE ${recent}`,
      [UNDELIVERED_WINDOW_HOURS],
    ),
    pool.query<{ source_id: string; kind: string; channel: string; status: string; last_error: string | null; updated_at: Date }>(
      `SELECT source_id, kind, channel, status, last_error, updated_at FROM alerts_sent WHERE ${recent} ORDER BY updated_at DESC LIMIT 1`,
      [UNDELIVERED_WINDOW_HOURS],
    ),
  ]);
  const c = counts.rows[0]!;
  const n = newest.rows[0];
  return {
    failed: Number(c.failed), rejected: Number(c.rejected), unknown: Number(c.unknown),
    newest: n === undefined ? null : { sourceId: n.source_id, kind: n.kind, channel: n.channel, status: n.status, error: n.last_error, at: n.updated_at.toISOString() },
  };
}

export async function readOperatorState(pool: Pool, accountId: string): Promise<OperatorState> {
  const [halt, live, dryRun, open, positions, lastOk, latest, paperPositions, undelivered] = await Promise.all([
    getHalt(pool),
    latestSnapshot(pool, accountId, 'live'),
    latestSnapshot(pool, accountId, 'dry_run'),
    pool.query<{ mode: OrderMode; n: string }>('SELECT mode, count(*) AS n FROM stage4_orders WHERE status = ANY($1) GROUP BY mode', [[...LIVE_STATES]]),
    listPositions(pool),
    lastOkByMode(pool),
    latestCyclesByMode(pool),
    listPaperPositions(pool),
    undeliveredAlerts(pool),
  ]);
  const byMode = <T>(rows: T[], mode: (r: T) => string, m: TradingMode): T | null => rows.find((r) => mode(r) === m) ?? null;
  return {
    halt,
    snapshots: { live, dry_run: dryRun },
    openOrders: Object.fromEntries(ORDER_MODES.map((m) => [m, Number(open.rows.find((r) => r.mode === m)?.n ?? 0)])) as Record<OrderMode, number>,
    positions,
    paperPositions,
    alertsUndelivered: undelivered,
    lastOk: Object.fromEntries(TRADING_MODES.map((m) => [m, byMode(lastOk, (r) => r.mode, m)])) as OperatorState['lastOk'],
    latestCycles: Object.fromEntries(TRADING_MODES.map((m) => [m, byMode(latest, (r) => r.mode, m)])) as OperatorState['latestCycles'],
  };
}
