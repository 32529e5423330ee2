// The account's side of the books: position adjustments (openings and adoptions), quarantined
// symbols, the operator's adoption requests, and the per-asset balance drift state.
import { parseDecimal, toDecimalString } from '../domain/decimal.js';
import type { AdjustmentKind, DriftState, PositionAdjustment } from '../domain/holdings.js';
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
      `INSERT INTO position_adjustments (symbol, kind, qty_delta, cost_delta_try, mark_try, balance_qty, others_qty, fills_net_qty,
                                         drift_qty, covered_fill_id, window_start_ms, cycle_id, at_ms)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
      [
        a.symbol, a.kind, s(a.qtyDelta), s(a.costDeltaTry), a.markTry === null ? null : s(a.markTry), a.balanceQty === null ? null : s(a.balanceQty),
        s(a.othersQty), s(a.fillsNetQty), s(a.driftQty), a.coveredFillId, a.windowStartMs, cycleId, a.atMs,
      ],
    );
  }
}

export interface StoredAdjustment extends PositionAdjustment {
  readonly cycleId: string | null;
}

export async function listAdjustments(pool: Queryable, symbol?: PairSymbol): Promise<StoredAdjustment[]> {
  const res = await pool.query(
    `SELECT symbol, kind, qty_delta::text, cost_delta_try::text, mark_try::text, balance_qty::text, others_qty::text, fills_net_qty::text,
            drift_qty::text, covered_fill_id, window_start_ms::text, cycle_id, at_ms::text
     FROM position_adjustments WHERE ($1::text IS NULL OR symbol = $1) ORDER BY symbol, id`,
    [symbol ?? null],
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
  /** The integrity failure's reason code, e.g. `oversell_detected`. */
  readonly reason: string;
  /** The fill that could not be applied. */
  readonly fillId: string | null;
  /** The failure as key=value text. */
  readonly detail: string;
  /** Cycles that met it so far. */
  readonly cycles: number;
  readonly sinceAt: string;
}

/**
 * Quarantine a symbol, or count one more cycle of an existing quarantine (the row exists: the same
 * symbol still cannot be applied; its detail is refreshed, `cycles` grows). Returns whether it is new.
 */
export async function quarantineSymbol(
  pool: Queryable,
  q: { symbol: PairSymbol; reason: string; fillId: string | null; detail: string; cycleId: string },
): Promise<{ created: boolean; cycles: number }> {
  const res = await pool.query<{ created: boolean; cycles: number }>(
    `INSERT INTO symbol_quarantines (symbol, reason, fill_id, detail, since_cycle, last_cycle) VALUES ($1, $2, $3, $4, $5, $5)
     ON CONFLICT (symbol) DO UPDATE SET reason = EXCLUDED.reason, fill_id = EXCLUDED.fill_id, detail = EXCLUDED.detail,
       cycles = symbol_quarantines.cycles + CASE WHEN symbol_quarantines.last_cycle IS DISTINCT FROM EXCLUDED.last_cycle THEN 1 ELSE 0 END,
       last_cycle = EXCLUDED.last_cycle, updated_at = now()
     RETURNING (xmax = 0) AS created, cycles`,
    [q.symbol, q.reason, q.fillId, q.detail, q.cycleId],
  );
  return res.rows[0]!;
}

export async function listQuarantines(pool: Queryable): Promise<Quarantine[]> {
  const res = await pool.query('SELECT symbol, reason, fill_id, detail, cycles, since_at FROM symbol_quarantines ORDER BY symbol');
  return res.rows.map((r) => ({
    symbol: toPairSymbol(r.symbol), reason: r.reason, fillId: r.fill_id, detail: r.detail, cycles: r.cycles, sinceAt: (r.since_at as Date).toISOString(),
  }));
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

export async function listAdoptionRequests(pool: Queryable): Promise<Array<{ symbol: PairSymbol; requestedBy: string; requestedAt: string }>> {
  const res = await pool.query('SELECT symbol, requested_by, requested_at FROM adoption_requests ORDER BY symbol');
  return res.rows.map((r) => ({ symbol: toPairSymbol(r.symbol), requestedBy: r.requested_by, requestedAt: (r.requested_at as Date).toISOString() }));
}

// ---------------------------------------------------------------------------------------------
// Balance drift

export async function loadDriftStates(pool: Queryable): Promise<Map<string, DriftState>> {
  const res = await pool.query('SELECT asset, streak, diff_qty::text, balance_qty::text, positions_qty::text, raised FROM balance_drift');
  return new Map(
    res.rows.map((r) => [
      r.asset as string,
      {
        asset: r.asset,
        streak: r.streak,
        diffQty: parseDecimal(r.diff_qty, 'diff_qty'),
        balanceQty: parseDecimal(r.balance_qty, 'balance_qty'),
        positionsQty: parseDecimal(r.positions_qty, 'positions_qty'),
        raised: r.raised,
      },
    ]),
  );
}

export async function saveDriftState(pool: Queryable, d: DriftState, cycleId: string): Promise<void> {
  const s = toDecimalString;
  await pool.query(
    `INSERT INTO balance_drift (asset, streak, diff_qty, balance_qty, positions_qty, raised, raised_at, last_cycle)
     VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $6 THEN now() END, $7)
     ON CONFLICT (asset) DO UPDATE SET streak = EXCLUDED.streak, diff_qty = EXCLUDED.diff_qty, balance_qty = EXCLUDED.balance_qty,
       positions_qty = EXCLUDED.positions_qty, raised = EXCLUDED.raised,
       raised_at = CASE WHEN EXCLUDED.raised THEN COALESCE(balance_drift.raised_at, now()) END,
       last_cycle = EXCLUDED.last_cycle, updated_at = now()`,
    [d.asset, d.streak, s(d.diffQty), s(d.balanceQty), s(d.positionsQty), d.raised, cycleId],
  );
}

export async function listRaisedDrift(pool: Queryable): Promise<Array<DriftState & { raisedAt: string }>> {
  const res = await pool.query(
    'SELECT asset, streak, diff_qty::text, balance_qty::text, positions_qty::text, raised, raised_at FROM balance_drift WHERE raised ORDER BY asset',
  );
  return res.rows.map((r) => ({
    asset: r.asset,
    streak: r.streak,
    diffQty: parseDecimal(r.diff_qty, 'diff_qty'),
    balanceQty: parseDecimal(r.balance_qty, 'balance_qty'),
    positionsQty: parseDecimal(r.positions_qty, 'positions_qty'),
    raised: true,
    raisedAt: (r.raised_at as Date).toISOString(),
  }));
}

// ---------------------------------------------------------------------------------------------
// Per-symbol state the fills step starts from

export interface SymbolAccountState {
  /** An opening (or adoption) is recorded: the symbol's holdings are established. */
  readonly established: boolean;
  readonly quarantine: Quarantine | null;
  readonly adoptionRequested: boolean;
}

export async function symbolAccountStates(pool: Queryable, symbols: readonly PairSymbol[]): Promise<Map<PairSymbol, SymbolAccountState>> {
  const [adjusted, quarantines, adoptions] = await Promise.all([
    pool.query<{ symbol: string }>('SELECT DISTINCT symbol FROM position_adjustments WHERE symbol = ANY($1::text[])', [symbols]),
    listQuarantines(pool),
    listAdoptionRequests(pool),
  ]);
  const established = new Set(adjusted.rows.map((r) => r.symbol));
  return new Map(
    symbols.map((s) => [
      s,
      {
        established: established.has(s),
        quarantine: quarantines.find((q) => q.symbol === s) ?? null,
        adoptionRequested: adoptions.some((a) => a.symbol === s),
      },
    ]),
  );
}
