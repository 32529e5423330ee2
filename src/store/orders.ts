// stage4_orders: our orders and imported external ones. Supports the execution protocol: a
// `pending_submit` row is written before the exchange is called, then resolved by events through
// the domain's transition table. Client order ids are unique in the database itself.
import { parseDecimal, toDecimalString, type Decimal } from '../domain/decimal.js';
import { LIVE_STATES, transition, type OrderEvent, type OrderMode, type OrderState, type TrackedOrder } from '../domain/lifecycle.js';
import {
  asClientOrderId,
  asExchangeOrderId,
  toPairSymbol,
  type ClientOrderId,
  type ExchangeOrderId,
  type OrderStatusReport,
  type PairSymbol,
  type Side,
} from '../domain/types.js';
import { inTransaction, type Pool } from './db.js';
import { CorruptRowError, StoreError, translatePgError } from './errors.js';

interface OrderRow {
  client_order_id: string | null;
  exchange_order_id: string | null;
  symbol: string;
  side: string;
  price: string;
  qty: string;
  left_qty: string;
  status: string;
  mode: string;
  last_error: string | null;
  created_at: Date;
  updated_at: Date;
}

const STATES = new Set<string>([
  'pending_submit', 'open', 'partial', 'cancel_requested', 'filled', 'canceled', 'rejected', 'unknown', 'unknown_closed',
]);

function orderFromRow(row: OrderRow): TrackedOrder {
  try {
    if (!STATES.has(row.status)) throw new Error(`unknown status ${row.status}`);
    if (row.side !== 'buy' && row.side !== 'sell') throw new Error(`unknown side ${row.side}`);
    return {
      clientOrderId: row.client_order_id === null ? null : asClientOrderId(row.client_order_id),
      exchangeOrderId: row.exchange_order_id === null ? null : asExchangeOrderId(row.exchange_order_id),
      symbol: toPairSymbol(row.symbol),
      side: row.side,
      price: parseDecimal(row.price, 'price'),
      qty: parseDecimal(row.qty, 'qty'),
      leftQty: parseDecimal(row.left_qty, 'left_qty'),
      state: row.status as OrderState,
      mode: row.mode as OrderMode,
      createdAtMs: row.created_at.getTime(),
      updatedAtMs: row.updated_at.getTime(),
      lastError: row.last_error,
    };
  } catch (err) {
    throw new CorruptRowError(`stage4_orders row ${row.client_order_id ?? row.exchange_order_id}: ${(err as Error).message}`);
  }
}

export interface NewOrder {
  clientOrderId: ClientOrderId;
  symbol: PairSymbol;
  side: Side;
  price: Decimal;
  qty: Decimal;
  mode: 'live' | 'dry_run';
  cycleId: string | null;
  nowMs: number;
}

/**
 * Record an order before it is sent. A client order id that is already recorded (any state,
 * any mode) is a no-op: `created` is false and the existing row is returned.
 */
export async function recordPendingSubmit(pool: Pool, o: NewOrder): Promise<{ created: boolean; order: TrackedOrder }> {
  try {
    const inserted = await pool.query<OrderRow>(
      `INSERT INTO stage4_orders (client_order_id, symbol, side, price, qty, left_qty, status, mode, cycle_id, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $5, 'pending_submit', $6, $7, to_timestamp($8 / 1000.0), to_timestamp($8 / 1000.0))
       ON CONFLICT (client_order_id) WHERE client_order_id IS NOT NULL DO NOTHING
       RETURNING *`,
      [o.clientOrderId, o.symbol, o.side, toDecimalString(o.price), toDecimalString(o.qty), o.mode, o.cycleId, o.nowMs],
    );
    if (inserted.rows[0]) return { created: true, order: orderFromRow(inserted.rows[0]) };
    const existing = await getOrderByClientId(pool, o.clientOrderId);
    if (!existing) throw new StoreError(`client order id ${o.clientOrderId} conflicted but cannot be read back`);
    return { created: false, order: existing };
  } catch (err) {
    throw translatePgError(err, { clientOrderId: o.clientOrderId });
  }
}

/** A plain insert with no dedupe: the database's unique index rejects a known client order id. */
export async function insertOrder(pool: Pool, o: NewOrder & { state: OrderState }): Promise<TrackedOrder> {
  try {
    const res = await pool.query<OrderRow>(
      `INSERT INTO stage4_orders (client_order_id, symbol, side, price, qty, left_qty, status, mode, cycle_id, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $5, $6, $7, $8, to_timestamp($9 / 1000.0), to_timestamp($9 / 1000.0))
       RETURNING *`,
      [o.clientOrderId, o.symbol, o.side, toDecimalString(o.price), toDecimalString(o.qty), o.state, o.mode, o.cycleId, o.nowMs],
    );
    return orderFromRow(res.rows[0]!);
  } catch (err) {
    throw translatePgError(err, { clientOrderId: o.clientOrderId });
  }
}

export interface OrderEventPatch {
  exchangeOrderId?: ExchangeOrderId;
  leftQty?: Decimal;
  lastError?: string | null;
  nowMs: number;
}

/**
 * Move an order through the state machine. An illegal transition throws IllegalTransitionError
 * and changes nothing; the row is locked for the read-modify-write.
 */
export async function applyOrderEvent(
  pool: Pool,
  clientOrderId: ClientOrderId,
  event: OrderEvent,
  patch: OrderEventPatch,
): Promise<TrackedOrder> {
  try {
    return await inTransaction(pool, async (client) => {
      const cur = await client.query<OrderRow>('SELECT * FROM stage4_orders WHERE client_order_id = $1 FOR UPDATE', [clientOrderId]);
      if (!cur.rows[0]) throw new StoreError(`no order with client order id ${clientOrderId}`);
      const next = transition(orderFromRow(cur.rows[0]).state, event);
      const res = await client.query<OrderRow>(
        `UPDATE stage4_orders SET status = $2,
           exchange_order_id = COALESCE($3, exchange_order_id),
           left_qty = COALESCE($4::numeric, left_qty),
           last_error = CASE WHEN $5::boolean THEN $6 ELSE last_error END,
           updated_at = to_timestamp($7 / 1000.0)
         WHERE client_order_id = $1 RETURNING *`,
        [
          clientOrderId, next, patch.exchangeOrderId ?? null,
          patch.leftQty === undefined ? null : toDecimalString(patch.leftQty),
          patch.lastError !== undefined, patch.lastError ?? null, patch.nowMs,
        ],
      );
      return orderFromRow(res.rows[0]!);
    });
  } catch (err) {
    throw translatePgError(err, { clientOrderId });
  }
}

/** Record an order found on the exchange that we did not place. Idempotent. */
export async function importExternalOrder(pool: Pool, r: OrderStatusReport, nowMs: number): Promise<{ created: boolean }> {
  const status: OrderState = r.status; // the venue's states are a subset of ours
  const res = await pool.query(
    r.clientOrderId === null
      ? `INSERT INTO stage4_orders (client_order_id, exchange_order_id, symbol, side, price, qty, left_qty, status, mode, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'external', to_timestamp($9 / 1000.0), to_timestamp($9 / 1000.0))
         ON CONFLICT (exchange_order_id) WHERE client_order_id IS NULL DO NOTHING`
      : `INSERT INTO stage4_orders (client_order_id, exchange_order_id, symbol, side, price, qty, left_qty, status, mode, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'external', to_timestamp($9 / 1000.0), to_timestamp($9 / 1000.0))
         ON CONFLICT (client_order_id) WHERE client_order_id IS NOT NULL DO NOTHING`,
    [
      r.clientOrderId, r.exchangeOrderId, r.symbol, r.side, toDecimalString(r.price), toDecimalString(r.qty),
      toDecimalString(r.leftQty), status, nowMs,
    ],
  );
  return { created: res.rowCount === 1 };
}

export async function getOrderByClientId(pool: Pool, clientOrderId: ClientOrderId): Promise<TrackedOrder | null> {
  const res = await pool.query<OrderRow>('SELECT * FROM stage4_orders WHERE client_order_id = $1', [clientOrderId]);
  return res.rows[0] ? orderFromRow(res.rows[0]) : null;
}

export async function listOrders(
  pool: Pool,
  filter: { states?: readonly OrderState[]; symbol?: PairSymbol; modes?: readonly OrderMode[] } = {},
): Promise<TrackedOrder[]> {
  const res = await pool.query<OrderRow>(
    `SELECT * FROM stage4_orders
     WHERE ($1::text[] IS NULL OR status = ANY($1)) AND ($2::text IS NULL OR symbol = $2) AND ($3::text[] IS NULL OR mode = ANY($3))
     ORDER BY symbol, side, created_at, id`,
    [filter.states ?? null, filter.symbol ?? null, filter.modes ?? null],
  );
  return res.rows.map(orderFromRow);
}

/** Identify a row by client order id, or by exchange id for external rows without one. */
export interface OrderRef {
  clientOrderId: ClientOrderId | null;
  exchangeOrderId: ExchangeOrderId | null;
}

const REF_WHERE = `(($1::text IS NOT NULL AND client_order_id = $1) OR ($1::text IS NULL AND client_order_id IS NULL AND exchange_order_id = $2))`;

/**
 * Apply a state change decided from evidence, as compare-and-set: it lands only if the row is still
 * in `from` (a concurrent writer wins; the next reconcile looks again). Returns whether it landed.
 */
export async function setOrderState(
  pool: Pool,
  ref: OrderRef,
  change: { from: OrderState; to: OrderState; leftQty: Decimal | null; nowMs: number },
): Promise<boolean> {
  const res = await pool.query(
    `UPDATE stage4_orders SET status = $4, left_qty = COALESCE($5::numeric, left_qty), updated_at = to_timestamp($6 / 1000.0)
     WHERE ${REF_WHERE} AND status = $3`,
    [ref.clientOrderId, ref.exchangeOrderId, change.from, change.to,
     change.leftQty === null ? null : toDecimalString(change.leftQty), change.nowMs],
  );
  return res.rowCount === 1;
}

/** Learn an order's exchange id (found by client id); never overwrites a known one. */
export async function enrichExchangeOrderId(
  pool: Pool, clientOrderId: ClientOrderId, exchangeOrderId: ExchangeOrderId, nowMs: number,
): Promise<boolean> {
  const res = await pool.query(
    `UPDATE stage4_orders SET exchange_order_id = $2, updated_at = to_timestamp($3 / 1000.0)
     WHERE client_order_id = $1 AND exchange_order_id IS NULL`,
    [clientOrderId, exchangeOrderId, nowMs],
  );
  return res.rowCount === 1;
}

/** Rows a cycle plans with: working rows of the given modes, plus every row the cycle itself wrote. */
export async function listPlanningOrders(pool: Pool, modes: readonly OrderMode[], cycleId: string): Promise<TrackedOrder[]> {
  const res = await pool.query<OrderRow>(
    `SELECT * FROM stage4_orders
     WHERE mode = ANY($1) AND (status = ANY($2) OR cycle_id = $3)
     ORDER BY symbol, side, created_at, id`,
    [modes, [...LIVE_STATES], cycleId],
  );
  return res.rows.map(orderFromRow);
}
