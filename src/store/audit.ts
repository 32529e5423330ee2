// The cycle_audit trail: exactly one row per cycle id, whatever the outcome.
import type { Pool } from './db.js';

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
 * Insert the audit row for a cycle. A second insert for the same cycle id (an activity retry,
 * or a duplicate cycle) writes nothing and reports `inserted: false`.
 */
export async function recordCycleAudit(pool: Pool, r: CycleAuditRecord): Promise<{ inserted: boolean }> {
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
  return { inserted: res.rowCount === 1 };
}

export interface CycleAuditRow extends CycleAuditRecord {
  recordedAt: string;
}

export async function listCycleAudits(pool: Pool, { limit = 20, cycleId }: { limit?: number; cycleId?: string } = {}): Promise<CycleAuditRow[]> {
  const res = await pool.query(
    `SELECT * FROM cycle_audit WHERE ($1::text IS NULL OR cycle_id = $1) ORDER BY finished_at DESC LIMIT $2`,
    [cycleId ?? null, limit],
  );
  return res.rows.map((row) => ({
    cycleId: row.cycle_id,
    workflowId: row.workflow_id,
    runId: row.run_id,
    mode: row.mode,
    outcome: row.outcome,
    startedAt: (row.started_at as Date).toISOString(),
    finishedAt: (row.finished_at as Date).toISOString(),
    counts: row.counts,
    decisions: row.decisions,
    alerts: row.alerts,
    envelope: row.envelope,
    errorClass: row.error_class,
    errorMessage: row.error_message,
    recordedAt: (row.recorded_at as Date).toISOString(),
  }));
}
