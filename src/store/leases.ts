// The account lease: no two cycles for one account run at once, even when an operator's manual
// run meets a scheduled one. A lease expires on its own, so a crashed cycle cannot block forever.
import type { Pool } from './db.js';

export type LeaseResult = { acquired: true } | { acquired: false; holder: string; expiresAtMs: number };

/** Take the lease, or renew it when `holder` already has it (an activity retry). */
export async function acquireLease(pool: Pool, accountId: string, holder: string, ttlMs: number): Promise<LeaseResult> {
  const res = await pool.query<{ holder: string; expires_at: Date }>(
    `INSERT INTO cycle_leases (account_id, holder, expires_at) VALUES ($1, $2, now() + make_interval(secs => $3 / 1000.0))
     ON CONFLICT (account_id) DO UPDATE SET holder = EXCLUDED.holder, acquired_at = now(), expires_at = EXCLUDED.expires_at
       WHERE cycle_leases.holder = EXCLUDED.holder OR cycle_leases.expires_at < now()
     RETURNING holder, expires_at`,
    [accountId, holder, ttlMs],
  );
  if (res.rows[0]) return { acquired: true };
  const cur = await pool.query<{ holder: string; expires_at: Date }>('SELECT holder, expires_at FROM cycle_leases WHERE account_id = $1', [accountId]);
  const row = cur.rows[0];
  // Released between the two statements: the caller may simply try again.
  if (!row) return acquireLease(pool, accountId, holder, ttlMs);
  return { acquired: false, holder: row.holder, expiresAtMs: row.expires_at.getTime() };
}

/** Release the lease if `holder` has it; a no-op otherwise. */
export async function releaseLease(pool: Pool, accountId: string, holder: string): Promise<void> {
  await pool.query('DELETE FROM cycle_leases WHERE account_id = $1 AND holder = $2', [accountId, holder]);
}
