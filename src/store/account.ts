// The account's side of the books: position adjustments (openings and adoptions), quarantined
// symbols, the operator's adoption requests, the per-asset balance drift state, and the balance
// reads those are computed from.
import { parseDecimal, toDecimalString, ZERO, type Decimal } from '../domain/decimal.js';
import type { AdjustmentKind, BalanceSnapshot, DriftState, PositionAdjustment } from '../domain/holdings.js';
import { asFillId, toPairSymbol, type PairSymbol } from '../domain/types.js';
import type { Pool, PoolClient } from './db.js';
import { CorruptRowError } from './errors.js';

type Queryable = Pick<Pool | PoolClient, 'query'>;

// ---------------------------------------------------------------------------------------------
// Position adjustments

export async function insertAdjustments(client: Queryable, adjustments: readonly PositionAdjustment[], cycleId: string | null): Promise<void> {
  const s = toDecimalString;
  for (const a of adjustments) {
    await client.query(
      `INSERT INTO position_adjustments (symbol, kind, qty_delta, cost_delta_try, mark_try, balance_qty, balance_at_ms, others_qty, fills_net_qty,
                                         drift_qty, covered_fill_id, window_start_ms, cycle_id, at_ms)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
      [
        a.symbol, a.kind, s(a.qtyDelta), s(a.costDeltaTry), a.markTry === null ? null : s(a.markTry), a.balanceQty === null ? null : s(a.balanceQty),
        a.balanceAtMs, s(a.othersQty), s(a.fillsNetQty), s(a.driftQty), a.coveredFillId, a.windowStartMs, cycleId, a.atMs,
      ],
    );
  }
}

export interface StoredAdjustment extends PositionAdjustment {
  readonly cycleId: string | null;
}

/** A symbol's adjustments (every symbol's without one), oldest first. */
export async function listAdjustments(pool: Queryable, symbol?: PairSymbol): Promise<StoredAdjustment[]> {
  return selectAdjustments(pool, '$1::text IS NULL OR symbol = $1', [symbol ?? null]);
}

/**
 * The adjustments one cycle recorded. A retried activity reports from these, so the audit of the
 * cycle names the opening its first attempt committed (and whose answer was lost).
 */
export async function listCycleAdjustments(pool: Queryable, cycleId: string): Promise<StoredAdjustment[]> {
  return selectAdjustments(pool, 'cycle_id = $1', [cycleId]);
}

/** Trade ids an adoption resolved without a fill (unreadable rows it took from the balance instead). */
export async function resolvedTradeIds(pool: Queryable, symbol: PairSymbol, ids: readonly string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const res = await pool.query<{ id: string }>(
    'SELECT covered_fill_id AS id FROM position_adjustments WHERE symbol = $1 AND covered_fill_id = ANY($2::text[])',
    [symbol, ids],
  );
  return new Set(res.rows.map((r) => r.id));
}

async function selectAdjustments(pool: Queryable, where: string, params: unknown[]): Promise<StoredAdjustment[]> {
  const res = await pool.query(
    `SELECT symbol, kind, qty_delta::text, cost_delta_try::text, mark_try::text, balance_qty::text, balance_at_ms::text, others_qty::text,
            fills_net_qty::text, drift_qty::text, covered_fill_id, window_start_ms::text, cycle_id, at_ms::text
     FROM position_adjustments WHERE ${where} ORDER BY symbol, id`,
    params,
  );
  return res.rows.map((r) => {
    try {
      const opt = (v: string | null, what: string) => (v === null ? null : parseDecimal(v, what));
      return {
        symbol: toPairSymbol(r.symbol),
        kind: r.kind as AdjustmentKind,
        qtyDelta: parseDecimal(r.qty_delta, 'qty_delta'),
        costDeltaTry: parseDecimal(r.cost_delta_try, 'cost_delta_try'),
        markTry: opt(r.mark_try, 'mark_try'),
        balanceQty: opt(r.balance_qty, 'balance_qty'),
        balanceAtMs: r.balance_at_ms === null ? null : Number(r.balance_at_ms),
        othersQty: parseDecimal(r.others_qty, 'others_qty'),
        fillsNetQty: parseDecimal(r.fills_net_qty, 'fills_net_qty'),
        driftQty: parseDecimal(r.drift_qty, 'drift_qty'),
        coveredFillId: r.covered_fill_id === null ? null : asFillId(r.covered_fill_id),
        windowStartMs: r.window_start_ms === null ? null : Number(r.window_start_ms),
        atMs: Number(r.at_ms),
        cycleId: r.cycle_id,
      };
    } catch (err) {
      throw new CorruptRowError(`position_adjustments row ${r.symbol}: ${(err as Error).message}`);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Quarantines

export interface Quarantine {
  readonly symbol: PairSymbol;
  /** The integrity failure's reason code, e.g. `oversell_detected`, `unreadable_trade`. */
  readonly reason: string;
  /** The fill (trade id) that could not be applied. */
  readonly fillId: string | null;
  /** The failure as key=value text. */
  readonly detail: string;
  /** Fills held behind it (it included) at the last cycle that fetched them. */
  readonly heldFills: number;
  /** Base quantity bought by those, and its cost: it counts toward the exposure limit while they wait. */
  readonly heldBuyQty: Decimal;
  readonly heldBuyCostTry: Decimal;
  /** Cycles that met it so far. */
  readonly cycles: number;
  readonly sinceAt: string;
}

/**
 * Quarantine a symbol, or count one more cycle of an existing quarantine (the row exists: the same
 * symbol still cannot be applied; its detail and what it holds are refreshed, `cycles` grows once
 * per cycle id, so a retried activity does not count twice). Returns whether it is new.
 */
export async function quarantineSymbol(
  pool: Queryable,
  q: {
    symbol: PairSymbol; reason: string; fillId: string | null; detail: string; cycleId: string;
    held?: { fills: number; buyQty: Decimal; buyCostTry: Decimal };
  },
): Promise<{ created: boolean; cycles: number }> {
  const res = await pool.query<{ created: boolean; cycles: number }>(
    `INSERT INTO symbol_quarantines (symbol, reason, fill_id, detail, held_fills, held_buy_qty, held_buy_cost_try, since_cycle, last_cycle)
     VALUES ($1, $2, $3, $4, $6, $7, $8, $5, $5)
     ON CONFLICT (symbol) DO UPDATE SET reason = EXCLUDED.reason, fill_id = EXCLUDED.fill_id, detail = EXCLUDED.detail,
       held_fills = EXCLUDED.held_fills, held_buy_qty = EXCLUDED.held_buy_qty, held_buy_cost_try = EXCLUDED.held_buy_cost_try,
       cycles = symbol_quarantines.cycles + CASE WHEN symbol_quarantines.last_cycle IS DISTINCT FROM EXCLUDED.last_cycle THEN 1 ELSE 0 END,
       last_cycle = EXCLUDED.last_cycle, updated_at = now()
     RETURNING (xmax = 0) AS created, cycles`,
    [q.symbol, q.reason, q.fillId, q.detail, q.cycleId, q.held?.fills ?? 0, toDecimalString(q.held?.buyQty ?? ZERO), toDecimalString(q.held?.buyCostTry ?? ZERO)],
  );
  return res.rows[0]!;
}

export async function listQuarantines(pool: Queryable): Promise<Quarantine[]> {
  const res = await pool.query(
    `SELECT symbol, reason, fill_id, detail, held_fills, held_buy_qty::text, held_buy_cost_try::text, cycles, since_at
     FROM symbol_quarantines ORDER BY symbol`,
  );
  return res.rows.map((r) => ({
    symbol: toPairSymbol(r.symbol), reason: r.reason, fillId: r.fill_id, detail: r.detail, heldFills: r.held_fills,
    heldBuyQty: parseDecimal(r.held_buy_qty, 'held_buy_qty'), heldBuyCostTry: parseDecimal(r.held_buy_cost_try, 'held_buy_cost_try'), cycles: r.cycles, sinceAt: (r.since_at as Date).toISOString(),
  }));
}

/**
 * Lift the quarantines of symbols no longer configured: nothing trades them, and nothing else would
 * ever lift them. Their cursors still stand before the fill, so if the symbol is configured again
 * the same fill is met (and quarantines it) again. Returns the symbols lifted.
 */
export async function liftQuarantines(pool: Queryable, symbols: readonly PairSymbol[]): Promise<PairSymbol[]> {
  if (symbols.length === 0) return [];
  const res = await pool.query<{ symbol: string }>('DELETE FROM symbol_quarantines WHERE symbol = ANY($1::text[]) RETURNING symbol', [symbols]);
  return res.rows.map((r) => toPairSymbol(r.symbol)).sort();
}

// ---------------------------------------------------------------------------------------------
// Adoption requests (`btcbot positions adopt SYMBOL`)

/** Ask the next cycle to adopt the symbol's holdings. Asking again while one is pending changes nothing. */
export async function requestAdoption(pool: Queryable, symbol: PairSymbol, by: string): Promise<{ created: boolean; requestedAt: string }> {
  const res = await pool.query<{ created: boolean; requested_at: Date }>(
    `INSERT INTO adoption_requests (symbol, requested_by) VALUES ($1, $2)
     ON CONFLICT (symbol) DO UPDATE SET requested_by = adoption_requests.requested_by
     RETURNING (xmax = 0) AS created, requested_at`,
    [symbol, by],
  );
  return { created: res.rows[0]!.created, requestedAt: res.rows[0]!.requested_at.toISOString() };
}

/** Withdraw a pending adoption request. Returns whether one was pending. */
export async function cancelAdoption(pool: Queryable, symbol: PairSymbol): Promise<boolean> {
  const res = await pool.query('DELETE FROM adoption_requests WHERE symbol = $1', [symbol]);
  return (res.rowCount ?? 0) > 0;
}

export interface AdoptionRequest {
  readonly symbol: PairSymbol;
  readonly requestedBy: string;
  readonly requestedAt: string;
}

export async function listAdoptionRequests(pool: Queryable): Promise<AdoptionRequest[]> {
  const res = await pool.query('SELECT symbol, requested_by, requested_at FROM adoption_requests ORDER BY symbol');
  return res.rows.map((r) => ({ symbol: toPairSymbol(r.symbol), requestedBy: r.requested_by, requestedAt: (r.requested_at as Date).toISOString() }));
}

// ---------------------------------------------------------------------------------------------
// Balance drift

const driftFromRow = (r: Record<string, unknown>): DriftState => ({
  asset: r['asset'] as string,
  streak: r['streak'] as number,
  diffQty: parseDecimal(r['diff_qty'] as string, 'diff_qty'),
  balanceQty: parseDecimal(r['balance_qty'] as string, 'balance_qty'),
  positionsQty: parseDecimal(r['positions_qty'] as string, 'positions_qty'),
  checkedAtMs: Number(r['checked_at_ms']),
  raised: r['raised'] as boolean,
});
const DRIFT_COLUMNS = 'asset, streak, diff_qty::text, balance_qty::text, positions_qty::text, checked_at_ms::text, raised';

export async function loadDriftStates(pool: Queryable): Promise<Map<string, DriftState>> {
  const res = await pool.query(`SELECT ${DRIFT_COLUMNS} FROM balance_drift`);
  return new Map(res.rows.map((r) => [r.asset as string, driftFromRow(r)]));
}

export async function saveDriftState(pool: Queryable, d: DriftState, cycleId: string): Promise<void> {
  const s = toDecimalString;
  await pool.query(
    `INSERT INTO balance_drift (asset, streak, diff_qty, balance_qty, positions_qty, checked_at_ms, raised, raised_at, last_cycle)
     VALUES ($1, $2, $3, $4, $5, $6, $7, CASE WHEN $7 THEN now() END, $8)
     ON CONFLICT (asset) DO UPDATE SET streak = EXCLUDED.streak, diff_qty = EXCLUDED.diff_qty, balance_qty = EXCLUDED.balance_qty,
       positions_qty = EXCLUDED.positions_qty, checked_at_ms = EXCLUDED.checked_at_ms, raised = EXCLUDED.raised,
       raised_at = CASE WHEN EXCLUDED.raised THEN COALESCE(balance_drift.raised_at, now()) END,
       last_cycle = EXCLUDED.last_cycle, updated_at = now()`,
    [d.asset, d.streak, s(d.diffQty), s(d.balanceQty), s(d.positionsQty), d.checkedAtMs, d.raised, cycleId],
  );
}

/** Forget the drift state of assets no configured symbol trades: nothing is compared or protected there. */
export async function dropDriftStates(pool: Queryable, assets: readonly string[]): Promise<string[]> {
  if (assets.length === 0) return [];
  const res = await pool.query<{ asset: string }>('DELETE FROM balance_drift WHERE asset = ANY($1::text[]) RETURNING asset', [assets]);
  return res.rows.map((r) => r.asset).sort();
}

export async function listRaisedDrift(pool: Queryable): Promise<Array<DriftState & { raisedAt: string }>> {
  const res = await pool.query(`SELECT ${DRIFT_COLUMNS}, raised_at FROM balance_drift WHERE raised ORDER BY asset`);
  return res.rows.map((r) => ({ ...driftFromRow(r), raisedAt: (r.raised_at as Date).toISOString() }));
}

// ---------------------------------------------------------------------------------------------
// Balance reads

/** Reads older than this are pruned: an opening, adoption or drift check uses one of the last minutes. */
const SNAPSHOT_RETENTION_MS = 24 * 3_600_000;

/**
 * Store this cycle's balance read of the given assets. The read (its moment and quantities) comes
 * from the workflow's market step, so an existing row for the same asset and moment can only be a
 * retried accounting step recording that same read again: it stands as it is, nobody needs to hear
 * of it. Prunes old reads.
 */
export async function recordBalanceSnapshots(
  pool: Queryable,
  rows: ReadonlyArray<{ asset: string; qty: Decimal }>,
  atMs: number,
  cycleId: string,
): Promise<void> {
  if (rows.length === 0) return;
  await pool.query(
    `INSERT INTO balance_snapshots (asset, at_ms, qty, cycle_id) SELECT a, $2, q, $4 FROM unnest($1::text[], $3::numeric[]) AS v(a, q)
     ON CONFLICT (asset, at_ms) DO NOTHING`,
    [rows.map((r) => r.asset), atMs, rows.map((r) => toDecimalString(r.qty)), cycleId],
  );
  await pool.query('DELETE FROM balance_snapshots WHERE at_ms < $1', [atMs - SNAPSHOT_RETENTION_MS]);
}

/** The newest read of `asset` taken within [fromMs, throughMs], or null. */
export async function latestBalanceSnapshot(pool: Queryable, asset: string, fromMs: number, throughMs: number): Promise<BalanceSnapshot | null> {
  const res = await pool.query<{ qty: string; at_ms: string }>(
    'SELECT qty::text, at_ms::text FROM balance_snapshots WHERE asset = $1 AND at_ms BETWEEN $2 AND $3 ORDER BY at_ms DESC LIMIT 1',
    [asset, fromMs, throughMs],
  );
  const r = res.rows[0];
  return r === undefined ? null : { qty: parseDecimal(r.qty, 'qty'), atMs: Number(r.at_ms) };
}

// ---------------------------------------------------------------------------------------------
// Per-symbol state the fills step starts from

export interface SymbolAccountState {
  /** An opening (or adoption) is recorded: the symbol's holdings are established. */
  readonly established: boolean;
  readonly quarantine: Quarantine | null;
  /** When the operator asked to adopt it (epoch ms), or null. */
  readonly adoptionRequestedAtMs: number | null;
}

export async function symbolAccountStates(pool: Queryable, symbols: readonly PairSymbol[]): Promise<Map<PairSymbol, SymbolAccountState>> {
  const [adjusted, quarantines, adoptions] = await Promise.all([
    pool.query<{ symbol: string }>('SELECT DISTINCT symbol FROM position_adjustments WHERE symbol = ANY($1::text[])', [symbols]),
    listQuarantines(pool),
    listAdoptionRequests(pool),
  ]);
  const established = new Set(adjusted.rows.map((r) => r.symbol));
  const asked = new Map(adoptions.map((a) => [a.symbol, Date.parse(a.requestedAt)]));
  return new Map(
    symbols.map((s) => [
      s,
      {
        established: established.has(s),
        quarantine: quarantines.find((q) => q.symbol === s) ?? null,
        adoptionRequestedAtMs: asked.get(s) ?? null,
      },
    ]),
  );
}
