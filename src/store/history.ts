// Read-only history for the operator: fills (`btcbot trades`), orders (`btcbot orders`) and the
// inputs of `btcbot pnl --daily`. Decimal columns come back as the database's own text, exactly as
// stored (checked to be decimals), never through a float or a re-rendering.
import { parseDecimal } from '../domain/decimal.js';
import type { TradingMode } from '../domain/gates.js';
import type { OrderMode } from '../domain/lifecycle.js';
import type { Pool } from './db.js';
import { CorruptRowError } from './errors.js';

/**
 * Where each mode's fills are: `live` is the account's real fills (stage4_fills, ingested by live
 * cycles), `dry_run` the paper ledger's simulated fills (paper_fills, migration 8). The two share
 * their columns, so the commands and every query below read them alike.
 */
const LEDGER_COLUMNS = `fill_id, exchange_order_id, client_order_id, symbol, side, price, qty, fee, tax, fee_asset, ts_ms, fee_try,
  realized_pnl_delta_try, cycle_id`;
const FILL_LEDGER = `SELECT 'live'::text AS mode, ${LEDGER_COLUMNS} FROM stage4_fills
  UNION ALL SELECT 'dry_run'::text AS mode, ${LEDGER_COLUMNS} FROM paper_fills`;

export interface FillRow {
  readonly mode: TradingMode;
  readonly fillId: string;
  readonly tsMs: number;
  readonly symbol: string;
  readonly side: string;
  readonly price: string;
  readonly qty: string;
  /** price × qty, computed by the database's exact numeric. */
  readonly grossTry: string;
  /** Fee and tax as the exchange charged them, in `feeAsset`. */
  readonly fee: string;
  readonly tax: string;
  readonly feeAsset: string;
  /** Fee and tax together in TRY, as accounting applied them. */
  readonly feeTry: string;
  readonly realizedPnlTry: string;
  readonly exchangeOrderId: string | null;
  readonly clientOrderId: string | null;
  /** The cycle that ingested the fill. */
  readonly cycleId: string | null;
}

export interface HistoryFilter {
  readonly sinceMs?: number | null;
  readonly symbol?: string | null;
}

function decimals<T extends Record<string, unknown>>(row: T, columns: readonly (keyof T & string)[], what: string): T {
  for (const c of columns) {
    const v = row[c];
    if (v === null) continue;
    try {
      parseDecimal(v, c);
    } catch (err) {
      throw new CorruptRowError(`${what}: ${(err as Error).message}`);
    }
  }
  return row;
}

/** Fills of the given modes' ledgers, oldest first. */
export async function listFills(pool: Pool, filter: HistoryFilter & { modes: readonly TradingMode[] }): Promise<FillRow[]> {
  const res = await pool.query<Record<string, string | null>>(
    `SELECT mode, fill_id, ts_ms::text AS ts_ms, symbol, side, price::text AS price, qty::text AS qty,
            (price * qty)::text AS gross_try, fee::text AS fee, tax::text AS tax, fee_asset, fee_try::text AS fee_try,
            realized_pnl_delta_try::text AS realized_pnl_try, exchange_order_id, client_order_id, cycle_id
     FROM (${FILL_LEDGER}) ledger
     WHERE mode = ANY($1) AND ($2::bigint IS NULL OR ts_ms >= $2) AND ($3::text IS NULL OR symbol = $3)
     ORDER BY ts_ms, fill_id`,
    [filter.modes, filter.sinceMs ?? null, filter.symbol ?? null],
  );
  return res.rows.map((r) => {
    decimals(r, ['price', 'qty', 'gross_try', 'fee', 'tax', 'fee_try', 'realized_pnl_try'], `stage4_fills row ${r.fill_id}`);
    return {
      mode: r.mode as TradingMode, fillId: r.fill_id!, tsMs: Number(r.ts_ms), symbol: r.symbol!, side: r.side!,
      price: r.price!, qty: r.qty!, grossTry: r.gross_try!, fee: r.fee!, tax: r.tax!, feeAsset: r.fee_asset!,
      feeTry: r.fee_try!, realizedPnlTry: r.realized_pnl_try!, exchangeOrderId: r.exchange_order_id ?? null, clientOrderId: r.client_order_id ?? null,
      cycleId: r.cycle_id ?? null,
    };
  });
}

export interface OrderRow {
  readonly mode: OrderMode;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly symbol: string;
  readonly side: string;
  readonly price: string;
  readonly qty: string;
  readonly leftQty: string;
  /** qty − left_qty, exact. */
  readonly filledQty: string;
  readonly state: string;
  readonly clientOrderId: string | null;
  readonly exchangeOrderId: string | null;
  readonly cycleId: string | null;
  readonly lastError: string | null;
}

const ORDER_SELECT = `SELECT mode, created_at, updated_at, symbol, side, price::text AS price, qty::text AS qty, left_qty::text AS left_qty,
    (qty - left_qty)::text AS filled_qty, status, client_order_id, exchange_order_id, cycle_id, last_error
  FROM stage4_orders`;

function orderFromRow(r: Record<string, string | Date | null>): OrderRow {
  decimals(r, ['price', 'qty', 'left_qty', 'filled_qty'], `stage4_orders row ${String(r.client_order_id ?? r.exchange_order_id)}`);
  return {
    mode: r.mode as OrderMode, createdAt: (r.created_at as Date).toISOString(), updatedAt: (r.updated_at as Date).toISOString(),
    symbol: r.symbol as string, side: r.side as string, price: r.price as string, qty: r.qty as string, leftQty: r.left_qty as string,
    filledQty: r.filled_qty as string, state: r.status as string, clientOrderId: r.client_order_id as string | null,
    exchangeOrderId: r.exchange_order_id as string | null, cycleId: r.cycle_id as string | null, lastError: r.last_error as string | null,
  };
}

/** Orders of the given modes (ours live and dry-run, imported external ones), oldest first. */
export async function listOrderHistory(pool: Pool, filter: HistoryFilter & { modes: readonly OrderMode[] }): Promise<OrderRow[]> {
  const res = await pool.query<Record<string, string | Date | null>>(
    `${ORDER_SELECT}
     WHERE mode = ANY($1) AND ($2::float8 IS NULL OR created_at >= to_timestamp($2 / 1000.0)) AND ($3::text IS NULL OR symbol = $3)
     ORDER BY created_at, id`,
    [filter.modes, filter.sinceMs ?? null, filter.symbol ?? null],
  );
  return res.rows.map(orderFromRow);
}

/** Our orders (not external ones) by client order id, for `btcbot cycle show`. */
export async function ordersByClientIds(pool: Pool, clientOrderIds: readonly string[]): Promise<Map<string, OrderRow>> {
  if (clientOrderIds.length === 0) return new Map();
  const res = await pool.query<Record<string, string | Date | null>>(
    `${ORDER_SELECT} WHERE client_order_id = ANY($1) AND mode <> 'external'`,
    [clientOrderIds],
  );
  return new Map(res.rows.map(orderFromRow).map((o) => [o.clientOrderId!, o]));
}
