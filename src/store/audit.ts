// The cycle_audit trail: exactly one row per cycle id, whatever the outcome.
import { queueAlerts, type QueuedAlert } from './alerts.js';
import { inTransaction, type Pool } from './db.js';

export type CycleOutcome = 'ok' | 'blocked' | 'failed' | 'halted' | 'skipped';

export interface CycleAuditRecord {
  cycleId: string;
  workflowId: string;
  runId: string;
  mode: 'live' | 'dry_run';
  outcome: CycleOutcome;
  startedAt: string; // ISO-8601
  finishedAt: string;
  counts: Record<string, number>;
  decisions: string[];
  alerts: string[];
  envelope: Record<string, unknown>;
  errorClass: string | null;
  errorMessage: string | null;
}

/**
 * Insert the audit row for a cycle, and queue its alerts in the same transaction. A second insert
 * for the same cycle id (an activity retry, or a duplicate cycle) writes nothing, queues nothing
 * and reports `inserted: false`: the first insert already queued the cycle's alerts.
 * Alerts never keep the audit row (and the lease release after it) from landing: when the outbox
 * refuses them, they are rolled back to a savepoint and the reason is returned as
 * `alertsNotQueued`, for the caller to log.
 */
export async function recordCycleAudit(
  pool: Pool, r: CycleAuditRecord, alerts: readonly QueuedAlert[] = [],
): Promise<{ inserted: boolean; alertsNotQueued?: string }> {
  return inTransaction(pool, async (client) => {
    const inserted = await insertAudit(client, r);
    if (!inserted || alerts.length === 0) return { inserted };
    await client.query('SAVEPOINT queue_alerts');
    try {
      await queueAlerts(client, r.cycleId, alerts);
      await client.query('RELEASE SAVEPOINT queue_alerts');
      return { inserted };
    } catch (err) {
      await client.query('ROLLBACK TO SAVEPOINT queue_alerts');
      return { inserted, alertsNotQueued: (err as Error).message };
    }
  });
}

async function insertAudit(pool: Pick<Pool, 'query'>, r: CycleAuditRecord): Promise<boolean> {
  const res = await pool.query(
    `INSERT INTO cycle_audit (cycle_id, workflow_id, run_id, mode, outcome, started_at, finished_at,
                              counts, decisions, alerts, envelope, error_class, error_message)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
     ON CONFLICT (cycle_id) DO NOTHING`,
    [
      r.cycleId, r.workflowId, r.runId, r.mode, r.outcome, r.startedAt, r.finishedAt,
      JSON.stringify(r.counts), JSON.stringify(r.decisions), JSON.stringify(r.alerts),
      JSON.stringify(r.envelope), r.errorClass, r.errorMessage,
    ],
  );
  return res.rowCount === 1;
}

export interface CycleAuditRow extends CycleAuditRecord {
  recordedAt: string;
}

export async function listCycleAudits(
  pool: Pool,
  { limit = 20, cycleId, mode, before }: { limit?: number; cycleId?: string; mode?: string; before?: { finishedAt: string; cycleId: string } } = {},
): Promise<CycleAuditRow[]> {
  // `before`: rows that finished earlier than that one (the cycles before it, newest first).
  const res = await pool.query(
    `SELECT * FROM cycle_audit
     WHERE ($1::text IS NULL OR cycle_id = $1) AND ($3::text IS NULL OR mode = $3)
       AND ($4::timestamptz IS NULL OR finished_at < $4 OR (finished_at = $4 AND cycle_id < $5))
     ORDER BY finished_at DESC, cycle_id DESC LIMIT $2`,
    [cycleId ?? null, limit, mode ?? null, before?.finishedAt ?? null, before?.cycleId ?? null],
  );
  return res.rows.map(auditFromRow);
}

/** Per mode, the newest cycle that is not `skipped` (a skipped cycle knows nothing of the account). */
export async function latestCyclesByMode(pool: Pool): Promise<CycleAuditRow[]> {
  const res = await pool.query(
    `SELECT DISTINCT ON (mode) * FROM cycle_audit WHERE outcome <> 'skipped' ORDER BY mode, finished_at DESC, cycle_id DESC`,
  );
  return res.rows.map(auditFromRow);
}

/** Per mode, when the last `ok` cycle finished. */
export async function lastOkByMode(pool: Pool): Promise<Array<{ mode: string; cycleId: string; finishedAt: string }>> {
  const res = await pool.query<{ mode: string; cycle_id: string; finished_at: Date }>(
    `SELECT DISTINCT ON (mode) mode, cycle_id, finished_at FROM cycle_audit WHERE outcome = 'ok' ORDER BY mode, finished_at DESC, cycle_id DESC`,
  );
  return res.rows.map((r) => ({ mode: r.mode, cycleId: r.cycle_id, finishedAt: r.finished_at.toISOString() }));
}

function auditFromRow(row: Record<string, unknown>): CycleAuditRow {
  return {
    cycleId: row.cycle_id as string,
    workflowId: row.workflow_id as string,
    runId: row.run_id as string,
    mode: row.mode as CycleAuditRecord['mode'],
    outcome: row.outcome as CycleOutcome,
    startedAt: (row.started_at as Date).toISOString(),
    finishedAt: (row.finished_at as Date).toISOString(),
    counts: row.counts as Record<string, number>,
    decisions: row.decisions as string[],
    alerts: row.alerts as string[],
    envelope: row.envelope as Record<string, unknown>,
    errorClass: row.error_class as string | null,
    errorMessage: row.error_message as string | null,
    recordedAt: (row.recorded_at as Date).toISOString(),
  };
}
