// alerts_sent: the alert outbox. A cycle's alerts are queued with its audit row, in the same
// transaction, one row per (cycle, kind, channel); the key makes a second queueing of the same
// alert impossible. Delivery claims a row (`sending`) before the request leaves, so a retried
// activity or a replayed workflow never sends a row twice: a row left `sending` by an attempt that
// died is not sent again (it may have arrived) but marked `unknown`.
import type { AlertChannel, AlertPayload, DeliveryResult } from '../observability/notifier.js';
import type { Pool, PoolClient } from './db.js';

export type AlertStatus = 'pending' | 'sending' | 'sent' | 'failed' | 'rejected' | 'unknown';

export interface QueuedAlert {
  readonly kind: string;
  readonly channel: AlertChannel;
  readonly payload: AlertPayload;
}

export interface AlertRow extends QueuedAlert {
  readonly sourceId: string;
  readonly status: AlertStatus;
  readonly attempts: number;
  readonly lastError: string | null;
  readonly updatedAt: string;
}

/**
 * Queue alerts, inside the caller's transaction: only with the cycle's first audit insert
 * (recordCycleAudit), so no row of this source exists yet. A second row for the same source, kind
 * and channel would be a bug: it is refused (unique key), and recordCycleAudit reports it as
 * `alertsNotQueued`, which the audit activity logs.
 */
export async function queueAlerts(client: PoolClient, sourceId: string, alerts: readonly QueuedAlert[]): Promise<void> {
  if (alerts.length === 0) return;
  await client.query(
    `INSERT INTO alerts_sent (source_id, kind, channel, status, payload)
     SELECT $1, k, c, 'pending', p FROM unnest($2::text[], $3::text[], $4::jsonb[]) AS t(k, c, p)`,
    [sourceId, alerts.map((a) => a.kind), alerts.map((a) => a.channel), alerts.map((a) => JSON.stringify(a.payload))],
  );
}

interface Row {
  source_id: string;
  kind: string;
  channel: AlertChannel;
  status: AlertStatus;
  attempts: number;
  payload: AlertPayload;
  last_error: string | null;
  updated_at: Date;
}

const fromRow = (r: Row): AlertRow => ({
  sourceId: r.source_id, kind: r.kind, channel: r.channel, status: r.status, attempts: r.attempts,
  payload: r.payload, lastError: r.last_error, updatedAt: r.updated_at.toISOString(),
});

export async function listAlerts(pool: Pool, sourceId: string): Promise<AlertRow[]> {
  const res = await pool.query<Row>('SELECT * FROM alerts_sent WHERE source_id = $1 ORDER BY created_at, kind, channel', [sourceId]);
  return res.rows.map(fromRow);
}

/** Rows still to send: never tried, or tried and surely not delivered. */
export async function countDeliverable(pool: Pool, sourceId: string): Promise<number> {
  const res = await pool.query<{ n: string }>(
    "SELECT count(*) AS n FROM alerts_sent WHERE source_id = $1 AND status IN ('pending', 'failed')",
    [sourceId],
  );
  return Number(res.rows[0]!.n);
}

/** A row an earlier attempt claimed and never settled: it may have been delivered, so it is not sent again. */
export async function settleInterrupted(pool: Pool, sourceId: string): Promise<number> {
  const res = await pool.query(
    `UPDATE alerts_sent SET status = 'unknown', last_error = 'an earlier attempt stopped while sending', updated_at = now()
     WHERE source_id = $1 AND status = 'sending'`,
    [sourceId],
  );
  return res.rowCount ?? 0;
}

/** Claim one row for sending (compare-and-set): the payload, or null when it is not deliverable. */
export async function claimAlert(pool: Pool, sourceId: string, kind: string, channel: AlertChannel): Promise<AlertPayload | null> {
  const res = await pool.query<{ payload: AlertPayload }>(
    `UPDATE alerts_sent SET status = 'sending', attempts = attempts + 1, updated_at = now()
     WHERE source_id = $1 AND kind = $2 AND channel = $3 AND status IN ('pending', 'failed') RETURNING payload`,
    [sourceId, kind, channel],
  );
  return res.rows[0]?.payload ?? null;
}

/** Record what the send came to. */
export async function settleAlert(pool: Pool, sourceId: string, kind: string, channel: AlertChannel, result: DeliveryResult): Promise<void> {
  await pool.query(
    'UPDATE alerts_sent SET status = $4, last_error = $5, updated_at = now() WHERE source_id = $1 AND kind = $2 AND channel = $3',
    [sourceId, kind, channel, result.status, result.status === 'sent' ? null : result.error],
  );
}
