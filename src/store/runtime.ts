// runtime_state: operator switches that must survive restarts, such as the persisted halt.
import type { Pool } from './db.js';

export interface HaltState {
  reason: string;
  haltedAt: string; // ISO-8601
  by: string;
}

const HALT_KEY = 'halt';

export async function getHalt(pool: Pool): Promise<HaltState | null> {
  const res = await pool.query<{ value: HaltState }>('SELECT value FROM runtime_state WHERE key = $1', [HALT_KEY]);
  return res.rows[0]?.value ?? null;
}

/** Persist a halt; an existing halt keeps its original reason and time. */
export async function setHalt(pool: Pool, halt: HaltState): Promise<HaltState> {
  await pool.query(
    'INSERT INTO runtime_state (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING',
    [HALT_KEY, JSON.stringify(halt)],
  );
  return (await getHalt(pool))!;
}

/** Lift the halt. Returns the halt that was lifted, or null if trading was not halted. */
export async function clearHalt(pool: Pool): Promise<HaltState | null> {
  const res = await pool.query<{ value: HaltState }>('DELETE FROM runtime_state WHERE key = $1 RETURNING value', [HALT_KEY]);
  return res.rows[0]?.value ?? null;
}
