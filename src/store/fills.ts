// Fills → positions → cursor, as one transaction per symbol. A fill is applied to positions
// exactly once however often it is fetched; an integrity failure (oversell) or a crash leaves
// fills, positions and cursor exactly as they were; the cursor never moves backwards.
import { applyFills, advanceFillsCursor, emptyPosition, type Position } from '../domain/accounting.js';
import { Decimal, parseDecimal, toDecimalString } from '../domain/decimal.js';
import { asFillId, toPairSymbol, type FillId, type FillReport, type PairSymbol } from '../domain/types.js';
import { inTransaction, type Pool, type PoolClient } from './db.js';
import { CorruptRowError, StoreError, translatePgError } from './errors.js';

export const fillsCursorKey = (symbol: PairSymbol): string => `fills_cursor:${symbol}`;

export interface IngestFillsInput {
  symbol: PairSymbol;
  /** Fills as fetched (any order, duplicates allowed); all of `symbol`. */
  fills: readonly FillReport[];
  /** Mark prices, to convert fees paid in a third asset. */
  marks: ReadonlyMap<PairSymbol, Decimal>;
  cycleId: string | null;
  /**
   * Where the fetch window ended: the cursor may advance to it even when no fill was seen, so an
   * idle symbol does not re-poll an ever-growing window. Never moves the cursor backwards.
   */
  polledUntilMs?: number;
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
      // The cursor row lock serialises ingestion per symbol across workers and connections.
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

      await matchAcrossIdForms(client, input.fills, known);

      const before = await readPositionForUpdate(client, symbol);
      const result = applyFills([before], input.fills, { marks: input.marks, appliedFillIds: known });
      const after = result.positions.find((p) => p.symbol === symbol) ?? before;

      for (let i = 0; i < result.applied.length; i += CHUNK) {
        const chunk = result.applied.slice(i, i + CHUNK);
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
      await writePosition(client, after);

      let cursorAfterMs = advanceFillsCursor(cursorBeforeMs, result.applied.map((a) => a.fill));
      if (input.polledUntilMs !== undefined && (cursorAfterMs === null || input.polledUntilMs > cursorAfterMs)) {
        cursorAfterMs = input.polledUntilMs;
      }
      await client.query(
        // GREATEST keeps the cursor monotonic even if a caller passes an older bound.
        'UPDATE cursors SET value_ms = GREATEST(COALESCE(value_ms, $2), $2), updated_at = now() WHERE key = $1',
        [key, cursorAfterMs],
      );
      return {
        applied: result.applied.length,
        duplicates: input.fills.length - result.applied.length,
        cursorBeforeMs,
        cursorAfterMs,
        position: after,
        notes: [...result.notes],
        reduceOnly: result.reduceOnlySymbols.includes(symbol),
      };
    });
  } catch (err) {
    throw translatePgError(err);
  }
}

/** A fill id the client derived from the natural key because the trade row had no id (64 hex digits;
 *  BTCTurk's own trade ids are decimal integers). */
const DERIVED_FILL_ID = /^[0-9a-f]{64}$/;

const naturalKey = (orderId: string, tsMs: number | string, price: Decimal, qty: Decimal): string =>
  `${orderId}|${tsMs}|${toDecimalString(price)}|${toDecimalString(qty)}`;

/**
 * One fill can reach us in two forms: with its trade id, and, in a poll whose rows lacked ids, under
 * the id derived from its natural key (order id, timestamp, price, quantity). Without this, a fill
 * seen once in each form is applied twice. Matching on the natural key, for fills not known by id:
 * - a derived-id fill whose natural key the ledger (or this batch) already holds is a duplicate;
 * - a trade-id fill that meets a derived-id row with its natural key is the fill that row stands
 *   for: the row takes the real id (positions unchanged) and the fill is a duplicate.
 * Adds every duplicate found to `known`. Runs inside the ingest transaction.
 */
async function matchAcrossIdForms(client: PoolClient, fills: readonly FillReport[], known: Set<FillId>): Promise<void> {
  const fresh = [...new Map(fills.filter((f) => !known.has(f.fillId)).map((f) => [f.fillId as string, f])).values()];
  if (fresh.length === 0) return;
  const orderIds = [...new Set(fresh.map((f) => f.exchangeOrderId as string))];
  const res = await client.query<{ fill_id: string; exchange_order_id: string; ts_ms: string; price: string; qty: string }>(
    'SELECT fill_id, exchange_order_id, ts_ms, price::text AS price, qty::text AS qty FROM stage4_fills WHERE exchange_order_id = ANY($1::text[])',
    [orderIds],
  );
  const ledger = new Map<string, { derived: string[]; real: number }>();
  const entry = (key: string) => {
    let e = ledger.get(key);
    if (!e) ledger.set(key, (e = { derived: [], real: 0 }));
    return e;
  };
  for (const r of res.rows) {
    const e = entry(naturalKey(r.exchange_order_id, r.ts_ms, parseDecimal(r.price, 'price'), parseDecimal(r.qty, 'qty')));
    if (DERIVED_FILL_ID.test(r.fill_id)) e.derived.push(r.fill_id);
    else e.real += 1;
  }
  // Trade-id fills first, so a batch holding both forms keeps the real id.
  const ordered = [...fresh].sort((a, b) => Number(DERIVED_FILL_ID.test(a.fillId)) - Number(DERIVED_FILL_ID.test(b.fillId)));
  for (const f of ordered) {
    const e = entry(naturalKey(f.exchangeOrderId, f.tsMs, f.price, f.qty));
    if (DERIVED_FILL_ID.test(f.fillId)) {
      if (e.real > 0 || e.derived.length > 0) known.add(f.fillId);
      else e.derived.push(f.fillId);
    } else if (e.derived.length > 0) {
      const derived = e.derived.shift()!;
      await client.query('UPDATE stage4_fills SET fill_id = $2 WHERE fill_id = $1', [derived, f.fillId]);
      e.real += 1;
      known.add(f.fillId);
    } else {
      e.real += 1;
    }
  }
}

interface PositionRow {
  symbol: string;
  qty: string;
  cost_basis_try: string;
  realized_pnl_try: string;
  last_fill_ts_ms: string | null;
}

function positionFromRow(row: PositionRow): Position {
  try {
    return {
      symbol: toPairSymbol(row.symbol),
      qty: parseDecimal(row.qty, 'qty'),
      costBasisTry: parseDecimal(row.cost_basis_try, 'cost_basis_try'),
      realizedPnlTry: parseDecimal(row.realized_pnl_try, 'realized_pnl_try'),
      lastFillTsMs: row.last_fill_ts_ms === null ? null : Number(row.last_fill_ts_ms),
    };
  } catch (err) {
    throw new CorruptRowError(`stage4_positions row ${row.symbol}: ${(err as Error).message}`);
  }
}

async function readPositionForUpdate(client: PoolClient, symbol: PairSymbol): Promise<Position> {
  const res = await client.query<PositionRow>('SELECT * FROM stage4_positions WHERE symbol = $1 FOR UPDATE', [symbol]);
  return res.rows[0] ? positionFromRow(res.rows[0]) : emptyPosition(symbol);
}

async function writePosition(client: PoolClient, p: Position): Promise<void> {
  await client.query(
    `INSERT INTO stage4_positions (symbol, qty, cost_basis_try, realized_pnl_try, last_fill_ts_ms, updated_at)
     VALUES ($1, $2, $3, $4, $5, now())
     ON CONFLICT (symbol) DO UPDATE SET qty = EXCLUDED.qty, cost_basis_try = EXCLUDED.cost_basis_try,
       realized_pnl_try = EXCLUDED.realized_pnl_try, last_fill_ts_ms = EXCLUDED.last_fill_ts_ms, updated_at = now()`,
    [p.symbol, toDecimalString(p.qty), toDecimalString(p.costBasisTry), toDecimalString(p.realizedPnlTry), p.lastFillTsMs],
  );
}

export async function listPositions(pool: Pool): Promise<Position[]> {
  const res = await pool.query<PositionRow>('SELECT * FROM stage4_positions ORDER BY symbol');
  return res.rows.map(positionFromRow);
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
