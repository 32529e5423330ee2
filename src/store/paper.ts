// The paper ledger: dry-run orders' fills, positions, public-trades cursors and cash (migration 8).
// Apart from the live ledger: nothing here reads or writes stage4_fills, stage4_positions, cursors
// or a live high-water mark. The one shared table is stage4_orders, whose dry-run rows move
// (partial, filled) in the same transaction as the paper fills that move them.
import { applyFills, dedupeFills, type Position } from '../domain/accounting.js';
import type { PaperStart } from '../domain/config.js';
import { Decimal, parseDecimal, toDecimalString } from '../domain/decimal.js';
import { transition, type OrderState } from '../domain/lifecycle.js';
import { boundPaperFills, compareTrades, type PaperFees, type PaperFill, type TradesCursor } from '../domain/paper-fills.js';
import { asFillId, toPairSymbol, type FillId, type PairSymbol } from '../domain/types.js';
import { inTransaction, type Pool, type PoolClient } from './db.js';
import { CorruptRowError, translatePgError } from './errors.js';
import { positionFromRow, readPositionForUpdate, writePosition, type PositionRow } from './fills.js';

export interface PaperAccount {
  readonly startTry: Decimal;
  readonly source: PaperStart;
  readonly startedAtMs: number;
}

function accountFromRow(r: { start_try: string; source: string; started_at: Date }): PaperAccount {
  if (r.source !== 'fixed' && r.source !== 'snapshot') throw new CorruptRowError(`paper_account source ${r.source}`);
  return { startTry: parseDecimal(r.start_try, 'start_try'), source: r.source, startedAtMs: r.started_at.getTime() };
}

export async function getPaperAccount(pool: Pool): Promise<PaperAccount | null> {
  const res = await pool.query<{ start_try: string; source: string; started_at: Date }>('SELECT start_try::text AS start_try, source, started_at FROM paper_account');
  return res.rows[0] ? accountFromRow(res.rows[0]) : null;
}

/**
 * Start the paper ledger's cash, once. When another worker started it first, its start stands
 * (`created: false`) and `start` is discarded: a snapshot is taken once and never replaced.
 */
export async function startPaperAccount(pool: Pool, start: { startTry: Decimal; source: PaperStart; nowMs: number }): Promise<{ account: PaperAccount; created: boolean }> {
  const ins = await pool.query<{ start_try: string; source: string; started_at: Date }>(
    `INSERT INTO paper_account (id, start_try, source, started_at) VALUES (true, $1, $2, to_timestamp($3 / 1000.0))
     ON CONFLICT (id) DO NOTHING RETURNING start_try::text AS start_try, source, started_at`,
    [toDecimalString(start.startTry), start.source, start.nowMs],
  );
  if (ins.rows[0]) return { account: accountFromRow(ins.rows[0]), created: true };
  return { account: (await getPaperAccount(pool))!, created: false };
}

/** Paper TRY cash: the start plus every paper fill's cash flow (buys pay price × qty + fee + tax). */
export async function paperCashTry(pool: Pool, account: PaperAccount): Promise<Decimal> {
  const res = await pool.query<{ flow: string }>(
    `SELECT COALESCE(SUM(CASE WHEN side = 'buy' THEN -(price * qty) ELSE price * qty END - fee_try), 0)::text AS flow FROM paper_fills`,
  );
  return account.startTry.add(parseDecimal(res.rows[0]!.flow, 'paper cash flow'));
}

export async function getPaperCursor(pool: Pool, symbol: PairSymbol): Promise<TradesCursor | null> {
  return readCursor(pool, symbol);
}

async function readCursor(db: Pick<Pool, 'query'>, symbol: PairSymbol): Promise<TradesCursor | null> {
  const res = await db.query<{ last_ts_ms: string; last_trade_id: string }>('SELECT last_ts_ms, last_trade_id FROM paper_trade_cursors WHERE symbol = $1', [symbol]);
  const r = res.rows[0];
  return r ? { tsMs: Number(r.last_ts_ms), tradeId: r.last_trade_id } : null;
}

/** Per order: its quantity less the paper fills stored for it. */
async function leftQtyOf(client: PoolClient, orders: ReadonlyArray<{ client_order_id: string; qty: string }>): Promise<Map<string, Decimal>> {
  const res = await client.query<{ client_order_id: string; filled: string }>(
    'SELECT client_order_id, SUM(qty)::text AS filled FROM paper_fills WHERE client_order_id = ANY($1::text[]) GROUP BY client_order_id',
    [orders.map((o) => o.client_order_id)],
  );
  const filled = new Map(res.rows.map((r) => [r.client_order_id, parseDecimal(r.filled, 'filled')]));
  return new Map(orders.map((o) => [o.client_order_id, parseDecimal(o.qty, 'qty').sub(filled.get(o.client_order_id) ?? 0)]));
}

export interface IngestPaperFillsInput {
  readonly symbol: PairSymbol;
  readonly fills: readonly PaperFill[];
  readonly marks: ReadonlyMap<PairSymbol, Decimal>;
  /** The newest public trade this look saw: the next look starts after it. */
  readonly cursor: TradesCursor | null;
  /** The page of public trades may have missed some (recorded against the cycle). */
  readonly gap: boolean;
  readonly cycleId: string | null;
  readonly nowMs: number;
  /** The fee rates a fill cut to what its order has left is charged at. */
  readonly fees: PaperFees;
}

export interface IngestPaperFillsResult {
  readonly applied: number;
  /** Fills already in the paper ledger (a retried look). */
  readonly duplicates: number;
  /**
   * Fills not applied: their order stopped working (cancelled, say) or is already filled since it
   * was read, or their trade is at or before the stored cursor (another look used it).
   */
  readonly dropped: number;
  readonly position: Position;
  readonly notes: readonly string[];
  readonly reduceOnly: boolean;
  /** Dry-run orders whose state or left quantity moved. */
  readonly orders: ReadonlyArray<{ clientOrderId: string; from: OrderState; to: OrderState; leftQty: Decimal }>;
}

/**
 * Paper fills → paper position → order states → cursor, in one transaction per symbol, with the
 * same weighted-average-cost accounting as live fills. A fill id already in the ledger is skipped;
 * the rest are held against the ledger as stored under the lock (boundPaperFills), so a look from
 * a stale read never uses a trade twice or fills an order past its quantity. An integrity failure
 * (an oversell) rolls everything back.
 */
export async function ingestPaperFills(pool: Pool, input: IngestPaperFillsInput): Promise<IngestPaperFillsResult> {
  try {
    return await inTransaction(pool, async (client) => {
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`paper_ledger:${input.symbol}`]);
      const cids = [...new Set(input.fills.map((f) => f.clientOrderId as string))];
      const orderRows = await client.query<{ client_order_id: string; status: string; qty: string }>(
        `SELECT client_order_id, status, qty::text AS qty FROM stage4_orders WHERE mode = 'dry_run' AND client_order_id = ANY($1::text[]) FOR UPDATE`,
        [cids],
      );
      const working = new Map(orderRows.rows.filter((r) => r.status === 'open' || r.status === 'partial').map((r) => [r.client_order_id, r]));
      const usable = input.fills.filter((f) => working.has(f.clientOrderId));

      const knownRes = await client.query<{ fill_id: string }>('SELECT fill_id FROM paper_fills WHERE fill_id = ANY($1::text[])', [usable.map((f) => f.fillId)]);
      const known = new Set<FillId>(knownRes.rows.map((r) => asFillId(r.fill_id)));
      // The first fill of each id not yet stored (a retried look's fills are duplicates)...
      const unique = dedupeFills(usable, known);
      // ...held against the ledger as stored now, not as the look read it.
      const bounded = boundPaperFills(unique.fills, { cursor: await readCursor(client, input.symbol), leftQty: await leftQtyOf(client, [...working.values()]) }, input.fees);
      const before = await readPositionForUpdate(client, input.symbol, 'paper_positions');
      const result = applyFills([before], bounded.fills, { marks: input.marks });
      const after = result.positions.find((p) => p.symbol === input.symbol) ?? before;
      const byId = new Map(bounded.fills.map((f) => [f.fillId as string, f]));
      for (const a of result.applied) {
        const f = byId.get(a.fill.fillId)!;
        await client.query(
          `INSERT INTO paper_fills (fill_id, exchange_order_id, client_order_id, symbol, side, price, qty, fee, tax, fee_asset, ts_ms,
                                    fee_try, realized_pnl_delta_try, public_trade_id, cycle_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
          [
            f.fillId, f.exchangeOrderId, f.clientOrderId, f.symbol, f.side, toDecimalString(f.price), toDecimalString(f.qty),
            toDecimalString(f.fee), toDecimalString(f.tax), f.feeAsset, f.tsMs, toDecimalString(a.feeTry),
            toDecimalString(a.realizedPnlDeltaTry), f.publicTradeId, input.cycleId,
          ],
        );
      }
      if (result.applied.length > 0) await writePosition(client, after, 'paper_positions');

      const moved: Array<{ clientOrderId: string; from: OrderState; to: OrderState; leftQty: Decimal }> = [];
      for (const cid of new Set(result.applied.map((a) => a.fill.clientOrderId as string))) {
        const row = working.get(cid)!;
        const filled = await client.query<{ filled: string }>('SELECT COALESCE(SUM(qty), 0)::text AS filled FROM paper_fills WHERE client_order_id = $1', [cid]);
        const leftQty = Decimal.max(0, parseDecimal(row.qty, 'qty').sub(parseDecimal(filled.rows[0]!.filled, 'filled')));
        const from = row.status as OrderState;
        const to = transition(from, leftQty.isZero() ? 'filled' : 'seen_partial');
        await client.query(
          `UPDATE stage4_orders SET status = $2, left_qty = $3, updated_at = to_timestamp($4 / 1000.0) WHERE client_order_id = $1`,
          [cid, to, toDecimalString(leftQty), input.nowMs],
        );
        moved.push({ clientOrderId: cid, from, to, leftQty });
      }

      if (input.cursor !== null) {
        const old = await readCursor(client, input.symbol);
        // The cursor never moves backwards.
        if (old === null || compareTrades(input.cursor, old) > 0) {
          await client.query(
            `INSERT INTO paper_trade_cursors (symbol, last_ts_ms, last_trade_id, gap_cycle_id) VALUES ($1, $2, $3, $4)
             ON CONFLICT (symbol) DO UPDATE SET last_ts_ms = EXCLUDED.last_ts_ms, last_trade_id = EXCLUDED.last_trade_id,
               gap_cycle_id = COALESCE(EXCLUDED.gap_cycle_id, paper_trade_cursors.gap_cycle_id), updated_at = now()`,
            [input.symbol, input.cursor.tsMs, input.cursor.tradeId, input.gap ? input.cycleId : null],
          );
        }
      }
      return {
        applied: result.applied.length,
        duplicates: unique.skipped.length,
        dropped: input.fills.length - usable.length + bounded.dropped,
        position: after,
        notes: [
          ...input.fills.filter((f) => !working.has(f.clientOrderId)).map((f) => `paper_fill_dropped:${f.fillId}:order_not_working`),
          ...unique.notes, ...bounded.notes, ...result.notes,
        ],
        reduceOnly: result.reduceOnlySymbols.includes(input.symbol),
        orders: moved,
      };
    });
  } catch (err) {
    throw translatePgError(err);
  }
}

const paperPosition = (row: PositionRow): Position => positionFromRow(row, 'paper_positions');

/** What a cycle's paper step did: fills it applied, and symbols whose page of trades had a gap. */
export async function paperCycleSummary(pool: Pool, cycleId: string): Promise<{ fills: number; gapSymbols: string[] }> {
  const [fills, gaps] = await Promise.all([
    pool.query<{ n: string }>('SELECT count(*) AS n FROM paper_fills WHERE cycle_id = $1', [cycleId]),
    pool.query<{ symbol: string }>('SELECT symbol FROM paper_trade_cursors WHERE gap_cycle_id = $1 ORDER BY symbol', [cycleId]),
  ]);
  return { fills: Number(fills.rows[0]!.n), gapSymbols: gaps.rows.map((r) => r.symbol) };
}

export async function listPaperPositions(pool: Pool): Promise<Position[]> {
  const res = await pool.query<PositionRow>('SELECT * FROM paper_positions ORDER BY symbol');
  return res.rows.map(paperPosition);
}
