// Fills → positions → cursor, as one transaction per symbol. A fill is applied to positions
// exactly once however often it is fetched (by trade id, or by its natural key when a poll's rows
// lacked ids); a crash leaves fills, positions, cursor and holdings adjustments exactly as they
// were; the cursor never moves backwards and never passes a fill that was not applied. The same
// transaction records a symbol's opening at its first sight, an operator's adoption, and the
// quarantine of a symbol whose fills stop at one that cannot be applied (the domain decides all
// of it: domain/ingest.ts).
import { advanceFillsCursor, emptyPosition, pendingFills, type Position } from '../domain/accounting.js';
import { Decimal, parseDecimal, toDecimalString, ZERO } from '../domain/decimal.js';
import { netBaseQty, type BalanceSnapshot, type PositionAdjustment } from '../domain/holdings.js';
import { planIngest, type AdoptionRequest, type HeldBatch, type OpeningRequest } from '../domain/ingest.js';
import { asFillId, toPairSymbol, type FillId, type FillReport, type PairSymbol, type UnreadableTradeReport } from '../domain/types.js';
import { insertAdjustments, quarantineSymbol, resolvedTradeIds } from './account.js';
import { inTransaction, type Pool, type PoolClient } from './db.js';
import { CorruptRowError, StoreError, translatePgError } from './errors.js';

type Queryable = Pick<Pool | PoolClient, 'query'>;

export const fillsCursorKey = (symbol: PairSymbol): string => `fills_cursor:${symbol}`;

/**
 * What an ingest must also settle about the symbol's holdings.
 * - `inferred` / `zero`: the opening at first sight (from a settled balance read, or nothing).
 *   Skipped when the symbol already has one (another worker, or a retry, got there first).
 * - `adopted`: the operator's `positions adopt`, from a settled balance read taken after the
 *   request: sells of more than is held are covered at the mark, unreadable rows are taken from the
 *   balance, and the position is re-based on it. Skipped when no request is pending any more.
 */
export type HoldingsRequest =
  | ({ readonly kind: 'inferred'; readonly base: string; readonly atMs: number } & Extract<OpeningRequest, { kind: 'inferred' }>)
  | { readonly kind: 'zero'; readonly base: string; readonly windowStartMs: number; readonly atMs: number }
  | {
      readonly kind: 'adopted'; readonly base: string; readonly balance: BalanceSnapshot; readonly othersQty: Decimal; readonly markTry: Decimal;
      readonly atMs: number;
    };

export interface IngestFillsInput {
  symbol: PairSymbol;
  /** Fills as fetched (any order, duplicates allowed); all of `symbol`. */
  fills: readonly FillReport[];
  /** Trade rows of the same poll that could not be read: they hold themselves and what follows. */
  unreadable?: readonly UnreadableTradeReport[];
  /** Mark prices, to convert fees paid in a third asset. */
  marks: ReadonlyMap<PairSymbol, Decimal>;
  cycleId: string | null;
  /**
   * Up to when the poll is taken to show every fill (its end less the settle margin): the cursor
   * advances to it even when no fill was seen, so an idle symbol does not re-poll an ever-growing
   * window, but never past a held fill and never backwards. Without it the cursor follows the
   * newest applied fill.
   */
  settledThroughMs?: number;
  holdings?: HoldingsRequest | null;
}

export interface IngestFillsResult {
  /** New fills written and applied. */
  applied: number;
  /** Fetched fills already in the ledger (or repeated within the batch). */
  duplicates: number;
  cursorBeforeMs: number | null;
  cursorAfterMs: number | null;
  position: Position;
  /** Audit markers from accounting (e.g. fee_conversion_missing:<fill_id>:<asset>). */
  notes: string[];
  reduceOnly: boolean;
  /** Holdings adjustments recorded with these fills (an opening, an adoption's covers and re-base). */
  adjustments: PositionAdjustment[];
  /** The holdings request was not needed: an opening existed, or the adoption was done elsewhere. */
  holdingsSkipped: boolean;
  /** An adoption was asked but waits: this fill still cannot be applied even on adopted holdings. */
  adoptionBlockedBy: FillId | null;
  /** The fill the batch stopped at, and what waits behind it: the symbol is quarantined. */
  held: HeldBatch | null;
  /** The symbol was quarantined and now ingests cleanly: the quarantine is lifted. */
  quarantineCleared: boolean;
  /** Stored fills that lacked an order id and got it from this poll's rows. */
  orderIdsFilledIn: number;
}

const CHUNK = 5_000;

export async function ingestFills(pool: Pool, input: IngestFillsInput): Promise<IngestFillsResult> {
  const { symbol } = input;
  for (const f of input.fills) {
    if (f.symbol !== symbol) {
      throw new StoreError(`fill ${f.fillId} is for ${f.symbol}, not ${symbol}`);
    }
  }
  try {
    return await inTransaction(pool, async (client) => {
      // The cursor row lock serialises ingestion per symbol across workers and connections. A row
      // that already exists holds the window start chosen earlier (ensureFillsCursor): it stays.
      const key = fillsCursorKey(symbol);
      await client.query('INSERT INTO cursors (key, value_ms) VALUES ($1, NULL) ON CONFLICT (key) DO NOTHING', [key]);
      const cur = await client.query<{ value_ms: string | null }>('SELECT value_ms FROM cursors WHERE key = $1 FOR UPDATE', [key]);
      const cursorBeforeMs = cur.rows[0]?.value_ms == null ? null : Number(cur.rows[0].value_ms);

      const ids = [...new Set(input.fills.map((f) => f.fillId as string))];
      const known = new Set<FillId>();
      for (let i = 0; i < ids.length; i += CHUNK * 4) {
        const res = await client.query<{ fill_id: string }>('SELECT fill_id FROM stage4_fills WHERE fill_id = ANY($1::text[])', [
          ids.slice(i, i + CHUNK * 4),
        ]);
        for (const r of res.rows) known.add(asFillId(r.fill_id));
      }
      const orderIdsFilledIn = await fillInOrderIds(client, input.fills, known);
      await matchAcrossIdForms(client, symbol, input.fills, known);

      const stored = await readPositionForUpdate(client, symbol);
      const fresh = pendingFills(input.fills, known);
      // A row an earlier adoption took from the balance is resolved: it holds nothing any more.
      const rows = input.unreadable ?? [];
      const resolved = await resolvedTradeIds(client, symbol, rows.map((u) => u.tradeId));
      const request = await pendingHoldings(client, symbol, input.holdings ?? null);
      const plan = planIngest({
        symbol,
        base: request.base,
        position: stored,
        fresh,
        unreadable: rows.filter((u) => !resolved.has(u.tradeId)),
        opening: request.opening,
        adoption: request.adoption,
        marks: input.marks,
        atMs: input.holdings?.atMs ?? 0,
      });
      if (plan.adopted) await client.query('DELETE FROM adoption_requests WHERE symbol = $1', [symbol]);

      for (let i = 0; i < plan.applied.length; i += CHUNK) {
        const chunk = plan.applied.slice(i, i + CHUNK);
        const col = <T>(f: (a: (typeof chunk)[number]) => T) => chunk.map(f);
        await client.query(
          `INSERT INTO stage4_fills (fill_id, exchange_order_id, client_order_id, symbol, side, price, qty, fee, tax,
                                     fee_asset, ts_ms, fee_try, realized_pnl_delta_try, cycle_id)
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::numeric[], $7::numeric[],
                                $8::numeric[], $9::numeric[], $10::text[], $11::bigint[], $12::numeric[], $13::numeric[], $14::text[])`,
          [
            col((a) => a.fill.fillId),
            col((a) => a.fill.exchangeOrderId),
            col((a) => a.fill.clientOrderId),
            col((a) => a.fill.symbol),
            col((a) => a.fill.side),
            col((a) => toDecimalString(a.fill.price)),
            col((a) => toDecimalString(a.fill.qty)),
            col((a) => toDecimalString(a.fill.fee)),
            col((a) => toDecimalString(a.fill.tax)),
            col((a) => a.fill.feeAsset),
            col((a) => String(a.fill.tsMs)),
            col((a) => toDecimalString(a.feeTry)),
            col((a) => toDecimalString(a.realizedPnlDeltaTry)),
            col(() => input.cycleId),
          ],
        );
      }
      await writePosition(client, plan.position);
      await insertAdjustments(client, plan.adjustments, input.cycleId);
      let quarantineCleared = false;
      if (plan.held === null) {
        quarantineCleared = ((await client.query('DELETE FROM symbol_quarantines WHERE symbol = $1', [symbol])).rowCount ?? 0) > 0;
      } else {
        const h = plan.held;
        await quarantineSymbol(client, {
          symbol, reason: h.error.reason, fillId: h.fillId, detail: h.error.message, cycleId: input.cycleId ?? '',
          held: { fills: h.fills.length, buyQty: h.buyQty, buyCostTry: h.buyCostTry },
        });
      }

      // Up to where the poll is settled, or the newest applied fill; never to or past a held fill.
      let cursorAfterMs = input.settledThroughMs ?? advanceFillsCursor(null, plan.applied.map((a) => a.fill));
      if (plan.held !== null) cursorAfterMs = Math.min(cursorAfterMs ?? Infinity, plan.held.fromTsMs - 1);
      if (cursorAfterMs !== null && Number.isFinite(cursorAfterMs)) {
        await client.query(
          // GREATEST keeps the cursor monotonic: a late fill, or a poll that ended earlier, never moves
          // it back. A cursor that does not move is not written (updated_at stays).
          `UPDATE cursors SET value_ms = GREATEST(COALESCE(value_ms, $2), $2), updated_at = now()
           WHERE key = $1 AND value_ms IS DISTINCT FROM GREATEST(COALESCE(value_ms, $2), $2)`,
          [key, cursorAfterMs],
        );
      }
      const after = await client.query<{ value_ms: string | null }>('SELECT value_ms FROM cursors WHERE key = $1', [key]);
      return {
        applied: plan.applied.length,
        duplicates: input.fills.length - plan.applied.length - (plan.held?.fills.length ?? 0),
        cursorBeforeMs,
        cursorAfterMs: after.rows[0]?.value_ms == null ? null : Number(after.rows[0].value_ms),
        position: plan.position,
        notes: [...plan.notes],
        reduceOnly: plan.reduceOnly,
        adjustments: [...plan.adjustments],
        holdingsSkipped: input.holdings != null && request.opening === null && request.adoption === null,
        adoptionBlockedBy: plan.adoptionBlockedBy,
        held: plan.held,
        quarantineCleared,
        orderIdsFilledIn,
      };
    });
  } catch (err) {
    throw translatePgError(err);
  }
}

/**
 * Which holdings request still applies, under the cursor lock: an opening only while the symbol has
 * no adjustment at all (the unique opening index would refuse a second one anyway), an adoption only
 * while it is still requested and the balance read is not older than the request. An adoption also
 * needs the net of the ledger's fills after the read.
 */
async function pendingHoldings(
  client: PoolClient,
  symbol: PairSymbol,
  request: HoldingsRequest | null,
): Promise<{ base: string; opening: OpeningRequest | null; adoption: AdoptionRequest | null }> {
  const base = request?.base ?? '';
  if (request === null) return { base, opening: null, adoption: null };
  if (request.kind === 'adopted') {
    const pending = await client.query<{ at_ms: string }>(
      'SELECT (extract(epoch FROM requested_at) * 1000)::bigint AS at_ms FROM adoption_requests WHERE symbol = $1 FOR UPDATE',
      [symbol],
    );
    const askedAt = pending.rows[0] === undefined ? null : Number(pending.rows[0].at_ms);
    if (askedAt === null || askedAt > request.balance.atMs) return { base, opening: null, adoption: null };
    return {
      base, opening: null,
      adoption: {
        balance: request.balance, othersQty: request.othersQty, markTry: request.markTry,
        ledgerNetAfterQty: await netOfFillsAfter(client, [symbol], request.base, request.balance.atMs),
      },
    };
  }
  const existing = await client.query('SELECT 1 FROM position_adjustments WHERE symbol = $1 LIMIT 1', [symbol]);
  if ((existing.rowCount ?? 0) > 0) return { base, opening: null, adoption: null };
  return { base, opening: request, adoption: null };
}

/**
 * Net base quantity the ledger's fills of `symbols` moved after `afterMs`: what a position held at
 * that moment is its quantity now less this.
 */
export async function netOfFillsAfter(client: Queryable, symbols: readonly PairSymbol[], base: string, afterMs: number): Promise<Decimal> {
  const res = await client.query<{ side: 'buy' | 'sell'; qty: string; fee: string; tax: string; fee_asset: string }>(
    'SELECT side, qty::text, fee::text, tax::text, fee_asset FROM stage4_fills WHERE symbol = ANY($1::text[]) AND ts_ms > $2',
    [symbols, afterMs],
  );
  const moves = res.rows.map((r) => ({
    side: r.side, qty: parseDecimal(r.qty, 'qty'), fee: parseDecimal(r.fee, 'fee'), tax: parseDecimal(r.tax, 'tax'), feeAsset: r.fee_asset,
  }));
  return netBaseQty(moves, base);
}

/** Stored fills that lacked an order id get it from a row of this poll that has it (same trade id). */
async function fillInOrderIds(client: PoolClient, fills: readonly FillReport[], known: ReadonlySet<FillId>): Promise<number> {
  const withOrder = fills.filter((f) => f.exchangeOrderId !== null && known.has(f.fillId));
  if (withOrder.length === 0) return 0;
  const res = await client.query(
    `UPDATE stage4_fills s SET exchange_order_id = v.order_id FROM unnest($1::text[], $2::text[]) AS v(fill_id, order_id)
     WHERE s.fill_id = v.fill_id AND s.exchange_order_id IS NULL`,
    [withOrder.map((f) => f.fillId), withOrder.map((f) => f.exchangeOrderId)],
  );
  return res.rowCount ?? 0;
}

/** A fill id the client derived from the natural key because the trade row had no id (64 hex digits;
 *  BTCTurk's own trade ids are decimal integers). */
const DERIVED_FILL_ID = /^[0-9a-f]{64}$/;

const naturalKey = (side: string, tsMs: number | string, price: Decimal, qty: Decimal): string =>
  `${side}|${tsMs}|${toDecimalString(price)}|${toDecimalString(qty)}`;

/** Two fills with the same natural key are the same fill unless both name an order and the orders differ. */
const sameOrder = (a: string | null, b: string | null): boolean => a === null || b === null || a === b;

interface KeyEntry {
  fillId: string;
  derived: boolean;
  orderId: string | null;
}

/**
 * One fill can reach us in two forms: with its trade id, and, in a poll whose rows lacked ids, under
 * the id derived from its natural key (side, timestamp, price, quantity within the symbol, and the
 * order id when the row had one). Without this, a fill seen once in each form is applied twice.
 * Matching on the natural key, for fills not known by id:
 * - a derived-id fill whose natural key the ledger (or this batch) already holds is a duplicate;
 * - a trade-id fill that meets a derived-id row with its natural key is the fill that row stands
 *   for: the row takes the real id (and the order id, if it lacked one; positions unchanged) and
 *   the fill is a duplicate.
 * Adds every duplicate found to `known`. Runs inside the ingest transaction.
 */
async function matchAcrossIdForms(client: PoolClient, symbol: PairSymbol, fills: readonly FillReport[], known: Set<FillId>): Promise<void> {
  const fresh = [...new Map(fills.filter((f) => !known.has(f.fillId)).map((f) => [f.fillId as string, f])).values()];
  if (fresh.length === 0) return;
  const res = await client.query<{ fill_id: string; exchange_order_id: string | null; side: string; ts_ms: string; price: string; qty: string }>(
    // One range scan of (symbol, ts_ms) over the fresh fills' span; matched by key below.
    `SELECT fill_id, exchange_order_id, side, ts_ms, price::text AS price, qty::text AS qty FROM stage4_fills
     WHERE symbol = $1 AND ts_ms BETWEEN $2 AND $3`,
    [symbol, fresh.reduce((m, f) => Math.min(m, f.tsMs), Infinity), fresh.reduce((m, f) => Math.max(m, f.tsMs), -Infinity)],
  );
  const ledger = new Map<string, KeyEntry[]>();
  const entries = (key: string): KeyEntry[] => {
    let e = ledger.get(key);
    if (!e) ledger.set(key, (e = []));
    return e;
  };
  for (const r of res.rows) {
    entries(naturalKey(r.side, r.ts_ms, parseDecimal(r.price, 'price'), parseDecimal(r.qty, 'qty'))).push({
      fillId: r.fill_id, derived: DERIVED_FILL_ID.test(r.fill_id), orderId: r.exchange_order_id,
    });
  }
  // Trade-id fills first, so a batch holding both forms keeps the real id.
  const ordered = [...fresh].sort((a, b) => Number(DERIVED_FILL_ID.test(a.fillId)) - Number(DERIVED_FILL_ID.test(b.fillId)));
  for (const f of ordered) {
    const list = entries(naturalKey(f.side, f.tsMs, f.price, f.qty));
    const compatible = list.filter((e) => sameOrder(e.orderId, f.exchangeOrderId));
    if (DERIVED_FILL_ID.test(f.fillId)) {
      if (compatible.length > 0) known.add(f.fillId);
      else list.push({ fillId: f.fillId, derived: true, orderId: f.exchangeOrderId });
      continue;
    }
    const stand = compatible.find((e) => e.derived);
    if (stand !== undefined) {
      await client.query('UPDATE stage4_fills SET fill_id = $2, exchange_order_id = COALESCE(exchange_order_id, $3) WHERE fill_id = $1', [
        stand.fillId, f.fillId, f.exchangeOrderId,
      ]);
      stand.fillId = f.fillId;
      stand.derived = false;
      stand.orderId ??= f.exchangeOrderId;
      known.add(f.fillId);
    } else {
      list.push({ fillId: f.fillId, derived: false, orderId: f.exchangeOrderId });
    }
  }
}

/** A positions row as read (stage4_positions, and the paper ledger's paper_positions). */
export interface PositionRow {
  symbol: string;
  qty: string;
  cost_basis_try: string;
  realized_pnl_try: string;
  last_fill_ts_ms: string | null;
}

export function positionFromRow(row: PositionRow, table = 'stage4_positions'): Position {
  try {
    return {
      symbol: toPairSymbol(row.symbol),
      qty: parseDecimal(row.qty, 'qty'),
      costBasisTry: parseDecimal(row.cost_basis_try, 'cost_basis_try'),
      realizedPnlTry: parseDecimal(row.realized_pnl_try, 'realized_pnl_try'),
      lastFillTsMs: row.last_fill_ts_ms === null ? null : Number(row.last_fill_ts_ms),
    };
  } catch (err) {
    throw new CorruptRowError(`${table} row ${row.symbol}: ${(err as Error).message}`);
  }
}

/** The two ledgers' positions tables (the live account's, and the paper ledger's): the same columns. */
export type PositionsTable = 'stage4_positions' | 'paper_positions';

export async function readPositionForUpdate(client: PoolClient, symbol: PairSymbol, table: PositionsTable = 'stage4_positions'): Promise<Position> {
  const res = await client.query<PositionRow>(`SELECT * FROM ${table} WHERE symbol = $1 FOR UPDATE`, [symbol]);
  return res.rows[0] ? positionFromRow(res.rows[0], table) : emptyPosition(symbol);
}

export async function writePosition(client: PoolClient, p: Position, table: PositionsTable = 'stage4_positions'): Promise<void> {
  await client.query(
    `INSERT INTO ${table} AS t (symbol, qty, cost_basis_try, realized_pnl_try, last_fill_ts_ms, updated_at)
     VALUES ($1, $2, $3, $4, $5, now())
     ON CONFLICT (symbol) DO UPDATE SET qty = EXCLUDED.qty, cost_basis_try = EXCLUDED.cost_basis_try,
       realized_pnl_try = EXCLUDED.realized_pnl_try, last_fill_ts_ms = EXCLUDED.last_fill_ts_ms, updated_at = now()
     -- A position that did not change is not written (updated_at stays).
     WHERE (t.qty, t.cost_basis_try, t.realized_pnl_try, t.last_fill_ts_ms)
       IS DISTINCT FROM (EXCLUDED.qty, EXCLUDED.cost_basis_try, EXCLUDED.realized_pnl_try, EXCLUDED.last_fill_ts_ms)`,
    [p.symbol, toDecimalString(p.qty), toDecimalString(p.costBasisTry), toDecimalString(p.realizedPnlTry), p.lastFillTsMs],
  );
}

const positionRows = async (pool: Pool): Promise<PositionRow[]> =>
  (await pool.query<PositionRow>('SELECT * FROM stage4_positions ORDER BY symbol')).rows;

export async function listPositions(pool: Pool): Promise<Position[]> {
  return (await positionRows(pool)).map((r) => positionFromRow(r));
}

/** Every position row that can be read, and why each other one cannot: for operator views, which must never fail on one bad row. */
export async function readPositions(pool: Pool): Promise<{ positions: Position[]; unreadable: string[] }> {
  const positions: Position[] = [];
  const unreadable: string[] = [];
  for (const row of await positionRows(pool)) {
    try {
      positions.push(positionFromRow(row));
    } catch (err) {
      unreadable.push((err as Error).message);
    }
  }
  return { positions, unreadable };
}

export async function getCursorMs(pool: Pool, symbol: PairSymbol): Promise<number | null> {
  const res = await pool.query<{ value_ms: string | null }>('SELECT value_ms FROM cursors WHERE key = $1', [fillsCursorKey(symbol)]);
  const v = res.rows[0]?.value_ms;
  return v == null ? null : Number(v);
}

export async function countFills(pool: Pool, symbol?: PairSymbol): Promise<number> {
  const res = await pool.query<{ n: string }>('SELECT count(*) AS n FROM stage4_fills WHERE ($1::text IS NULL OR symbol = $1)', [
    symbol ?? null,
  ]);
  return Number(res.rows[0]!.n);
}

/**
 * The symbol's fills cursor, created at its first poll with `nowMs` (that poll starts at
 * now − lookback) and committed at once, outside any ingest: an ingest that rolls back cannot slide
 * a new symbol's window start forward past fills it never applied. An existing row keeps its value
 * (`created: false`); a row without a value (written by an older version) gets `nowMs`.
 */
export async function ensureFillsCursor(pool: Pool, symbol: PairSymbol, nowMs: number): Promise<{ cursorMs: number; created: boolean }> {
  const key = fillsCursorKey(symbol);
  const ins = await pool.query<{ value_ms: string }>(
    'INSERT INTO cursors (key, value_ms) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING RETURNING value_ms',
    [key, nowMs],
  );
  if (ins.rows[0]) return { cursorMs: Number(ins.rows[0].value_ms), created: true };
  // A cursor that holds a value is left as it is (updated_at too): only a row an ingest left empty gets the window start.
  const set = await pool.query<{ value_ms: string }>(
    'UPDATE cursors SET value_ms = $2, updated_at = now() WHERE key = $1 AND value_ms IS NULL RETURNING value_ms',
    [key, nowMs],
  );
  if (set.rows[0]) return { cursorMs: Number(set.rows[0].value_ms), created: false };
  const res = await pool.query<{ value_ms: string }>('SELECT value_ms FROM cursors WHERE key = $1', [key]);
  return { cursorMs: Number(res.rows[0]!.value_ms), created: false };
}

/**
 * Start a symbol that never ingested anything over at `nowMs` (its window then starts at
 * now − lookback). Only for a symbol without an opening: nothing was applied from the old window,
 * and the opening inferred from the balance covers everything before the new one.
 */
export async function restartFillsWindow(pool: Pool, symbol: PairSymbol, nowMs: number): Promise<boolean> {
  const res = await pool.query(
    `UPDATE cursors SET value_ms = GREATEST(value_ms, $2), updated_at = now()
     WHERE key = $1 AND NOT EXISTS (SELECT 1 FROM position_adjustments WHERE symbol = $3)`,
    [fillsCursorKey(symbol), nowMs, symbol],
  );
  return (res.rowCount ?? 0) > 0;
}
