// PnL snapshots and the drawdown high-water mark, scoped per (account, mode) so dry-run numbers
// can never poison the live peak (defect 6).
import type { PnlSnapshot } from '../domain/pnl.js';
import { parseDecimal, toDecimalString, type Decimal } from '../domain/decimal.js';
import type { TradingMode } from '../domain/gates.js';
import { inTransaction, type Pool } from './db.js';

export interface StoredSnapshot {
  cycleId: string | null;
  tsMs: number;
  totalEquityTry: Decimal;
  realizedTotalTry: Decimal;
  realizedTodayTry: Decimal;
  drawdownPct: Decimal;
  highWaterMarkTry: Decimal;
  /** The parts of total equity (free + locked TRY, positions at mark); null on older snapshots. */
  tryCashTry: Decimal | null;
  positionsValueTry: Decimal | null;
}

export async function getHighWaterMark(pool: Pool, accountId: string, mode: TradingMode): Promise<Decimal | null> {
  const res = await pool.query<{ value_try: string }>('SELECT value_try FROM high_water_marks WHERE account_id = $1 AND mode = $2', [accountId, mode]);
  return res.rows[0] ? parseDecimal(res.rows[0].value_try, 'high_water_mark') : null;
}

/** Realized-total points at or before `beforeMs` (the newest first), for the day-start baseline. */
export async function realizedPointsBefore(
  pool: Pool, accountId: string, mode: TradingMode, beforeMs: number,
): Promise<Array<{ tsMs: number; realizedTotalTry: Decimal }>> {
  const res = await pool.query<{ ts: Date; realized_total_try: string }>(
    `SELECT ts, realized_total_try FROM pnl_snapshots
     WHERE account_id = $1 AND mode = $2 AND ts < to_timestamp($3 / 1000.0) ORDER BY ts DESC LIMIT 1`,
    [accountId, mode, beforeMs],
  );
  return res.rows.map((r) => ({ tsMs: r.ts.getTime(), realizedTotalTry: parseDecimal(r.realized_total_try, 'realized_total_try') }));
}

/**
 * Store a cycle's snapshot and raise the high-water mark, together. Idempotent per cycle: a retry
 * of the same cycle's snapshot writes nothing new.
 */
export async function recordSnapshot(
  pool: Pool, accountId: string, mode: TradingMode, cycleId: string, s: PnlSnapshot,
): Promise<{ inserted: boolean }> {
  return inTransaction(pool, async (client) => {
    const ins = await client.query(
      `INSERT INTO pnl_snapshots (cycle_id, account_id, mode, ts, total_equity_try, realized_total_try, realized_today_try,
                                  drawdown_pct, high_water_mark_try, try_cash_try, positions_value_try)
       VALUES ($1, $2, $3, to_timestamp($4 / 1000.0), $5, $6, $7, $8, $9, $10, $11)
       ON CONFLICT (cycle_id, account_id, mode) WHERE cycle_id IS NOT NULL DO NOTHING`,
      [
        cycleId, accountId, mode, s.tsMs, toDecimalString(s.totalEquityTry), toDecimalString(s.realizedTotalTry),
        toDecimalString(s.realizedTodayTry), toDecimalString(s.drawdownPct), toDecimalString(s.highWaterMarkTry),
        toDecimalString(s.tryCashTry), toDecimalString(s.positionsValueTry),
      ],
    );
    await client.query(
      `INSERT INTO high_water_marks (account_id, mode, value_try) VALUES ($1, $2, $3)
       ON CONFLICT (account_id, mode) DO UPDATE SET value_try = GREATEST(high_water_marks.value_try, EXCLUDED.value_try), updated_at = now()`,
      [accountId, mode, toDecimalString(s.highWaterMarkTry)],
    );
    return { inserted: ins.rowCount === 1 };
  });
}

export async function latestSnapshot(pool: Pool, accountId: string, mode: TradingMode): Promise<StoredSnapshot | null> {
  const res = await pool.query<SnapshotRow>(
    'SELECT * FROM pnl_snapshots WHERE account_id = $1 AND mode = $2 ORDER BY ts DESC, id DESC LIMIT 1',
    [accountId, mode],
  );
  const r = res.rows[0];
  return r ? snapshotFromRow(r) : null;
}

/** Every snapshot of one account and mode from `sinceMs` on, oldest first (for `btcbot pnl --daily`). */
export async function listSnapshots(pool: Pool, accountId: string, mode: TradingMode, sinceMs: number | null): Promise<StoredSnapshot[]> {
  const res = await pool.query<SnapshotRow>(
    `SELECT * FROM pnl_snapshots WHERE account_id = $1 AND mode = $2 AND ($3::float8 IS NULL OR ts >= to_timestamp($3 / 1000.0))
     ORDER BY ts, id`,
    [accountId, mode, sinceMs],
  );
  return res.rows.map(snapshotFromRow);
}

interface SnapshotRow {
  cycle_id: string | null;
  ts: Date;
  total_equity_try: string;
  realized_total_try: string;
  realized_today_try: string;
  drawdown_pct: string;
  high_water_mark_try: string;
  try_cash_try: string | null;
  positions_value_try: string | null;
}

function snapshotFromRow(r: SnapshotRow): StoredSnapshot {
  return {
    cycleId: r.cycle_id,
    tsMs: r.ts.getTime(),
    totalEquityTry: parseDecimal(r.total_equity_try),
    realizedTotalTry: parseDecimal(r.realized_total_try),
    realizedTodayTry: parseDecimal(r.realized_today_try),
    drawdownPct: parseDecimal(r.drawdown_pct),
    highWaterMarkTry: parseDecimal(r.high_water_mark_try),
    tryCashTry: r.try_cash_try === null ? null : parseDecimal(r.try_cash_try),
    positionsValueTry: r.positions_value_try === null ? null : parseDecimal(r.positions_value_try),
  };
}
