// stage4_orders: our orders, imported external ones and duplicates. Supports the execution protocol:
// a `pending_submit` row is written before the exchange is called, then resolved by events through
// the domain's transition table. The database itself keeps two identities unique: a client order id
// among our own rows, and an exchange order id among all rows (one row per exchange order: never
// tracked twice, never merged into another row).
import { parseDecimal, toDecimalString, type Decimal } from '../domain/decimal.js';
import { LIVE_STATES, transition, type OrderEvent, type OrderMode, type OrderState, type TrackedOrder } from '../domain/lifecycle.js';
import type { FillEvidence, ReconcileOrder, RowRef } from '../domain/reconcile.js';
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
import { inTransaction, type Pool, type PoolClient } from './db.js';
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
  send_deadline_at: Date | null;
  submit_ended_at: Date | null;
  last_seen_at: Date | null;
  not_found_count: number;
  last_not_found_at: Date | null;
  duplicate_of: string | null;
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
      duplicateOf: row.duplicate_of === null ? null : asClientOrderId(row.duplicate_of),
    };
  } catch (err) {
    throw new CorruptRowError(`stage4_orders row ${row.client_order_id ?? row.exchange_order_id}: ${(err as Error).message}`);
  }
}

function reconcileOrderFromRow(row: OrderRow): ReconcileOrder {
  const ended = row.submit_ended_at ?? row.send_deadline_at; // an attempt that never reported may have sent until its deadline
  return {
    ...orderFromRow(row),
    sightings: {
      lastSeenAtMs: row.last_seen_at?.getTime() ?? null,
      notFoundCount: row.not_found_count,
      lastNotFoundAtMs: row.last_not_found_at?.getTime() ?? null,
      submitEndedAtMs: ended?.getTime() ?? null,
    },
  };
}

const ms = (v: number | null | undefined): number | null => (v === undefined ? null : v);

export interface NewOrder {
  clientOrderId: ClientOrderId;
  symbol: PairSymbol;
  side: Side;
  price: Decimal;
  qty: Decimal;
  mode: 'live' | 'dry_run';
  cycleId: string | null;
  nowMs: number;
  /** The deadline of the attempt recording it: no POST for this row leaves after it. */
  sendDeadlineMs?: number;
}

/**
 * Record an order before it is sent. A client order id that is already recorded (any state,
 * any mode) is a no-op: `created` is false and the existing row is returned.
 */
export async function recordPendingSubmit(pool: Pool, o: NewOrder): Promise<{ created: boolean; order: TrackedOrder }> {
  try {
    const inserted = await pool.query<OrderRow>(
      `INSERT INTO stage4_orders (client_order_id, symbol, side, price, qty, left_qty, status, mode, cycle_id, created_at, updated_at, send_deadline_at)
       VALUES ($1, $2, $3, $4, $5, $5, 'pending_submit', $6, $7, to_timestamp($8 / 1000.0), to_timestamp($8 / 1000.0), to_timestamp($9 / 1000.0))
       ON CONFLICT (client_order_id) WHERE client_order_id IS NOT NULL AND mode <> 'external' DO NOTHING
       RETURNING *`,
      [o.clientOrderId, o.symbol, o.side, toDecimalString(o.price), toDecimalString(o.qty), o.mode, o.cycleId, o.nowMs, ms(o.sendDeadlineMs)],
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

/** A row named by its exchange id when it has one, else by client id among our own rows. */
export type OrderRef = RowRef;
const asRef = (ref: ClientOrderId | OrderRef): OrderRef => (typeof ref === 'string' ? { clientOrderId: ref, exchangeOrderId: null } : ref);
const REF_WHERE = `(($2::text IS NOT NULL AND exchange_order_id = $2) OR ($2::text IS NULL AND $1::text IS NOT NULL AND client_order_id = $1 AND mode <> 'external'))`;
const describeRef = (r: OrderRef): string => r.exchangeOrderId ?? r.clientOrderId ?? '?';

export interface OrderEventPatch {
  exchangeOrderId?: ExchangeOrderId;
  leftQty?: Decimal;
  lastError?: string | null;
  /** The submit attempt ended without a definite answer at this time. */
  submitEndedMs?: number;
  /** The exchange showed the order at this time (an ack, a lookup): the absence count starts over. */
  seenAtMs?: number;
  nowMs: number;
}

/**
 * Move an order through the state machine. An illegal transition throws IllegalTransitionError
 * and changes nothing; the row is locked for the read-modify-write. A known exchange id is never
 * overwritten: an event naming another order (a second order under the same client id, Q10)
 * records that order as a duplicate of this row, in the same transaction.
 */
export async function applyOrderEvent(
  pool: Pool,
  target: ClientOrderId | OrderRef,
  event: OrderEvent,
  patch: OrderEventPatch,
): Promise<TrackedOrder> {
  const ref = asRef(target);
  try {
    return await inTransaction(pool, async (client) => {
      const cur = await client.query<OrderRow>(`SELECT * FROM stage4_orders WHERE ${REF_WHERE} FOR UPDATE`, [ref.clientOrderId, ref.exchangeOrderId]);
      const row = cur.rows[0];
      if (!row) throw new StoreError(`no order ${describeRef(ref)}`);
      const current = orderFromRow(row);
      const next = transition(current.state, event);
      let exchangeOrderId = patch.exchangeOrderId ?? null;
      if (exchangeOrderId !== null && current.exchangeOrderId !== null && exchangeOrderId !== current.exchangeOrderId) {
        if (current.clientOrderId !== null) {
          await insertTracked(client, {
            exchangeOrderId, clientOrderId: current.clientOrderId, symbol: current.symbol, side: current.side, price: current.price,
            qty: current.qty, leftQty: patch.leftQty ?? current.qty, status: 'open', createdAtMs: patch.nowMs, updatedAtMs: patch.nowMs,
          }, { kind: 'duplicate', of: current.clientOrderId }, patch.nowMs);
        }
        exchangeOrderId = null;
      }
      const res = await client.query<OrderRow>(
        `UPDATE stage4_orders SET status = $3,
           exchange_order_id = COALESCE(exchange_order_id, $4),
           left_qty = COALESCE($5::numeric, left_qty),
           last_error = CASE WHEN $6::boolean THEN $7 ELSE last_error END,
           submit_ended_at = COALESCE(to_timestamp($9::numeric / 1000.0), submit_ended_at),
           last_seen_at = COALESCE(to_timestamp($10::numeric / 1000.0), last_seen_at),
           not_found_count = CASE WHEN $10::numeric IS NULL THEN not_found_count ELSE 0 END,
           updated_at = to_timestamp($8 / 1000.0)
         WHERE ${REF_WHERE} RETURNING *`,
        [
          ref.clientOrderId, ref.exchangeOrderId, next, exchangeOrderId,
          patch.leftQty === undefined ? null : toDecimalString(patch.leftQty),
          patch.lastError !== undefined, patch.lastError ?? null, patch.nowMs, ms(patch.submitEndedMs), ms(patch.seenAtMs),
        ],
      );
      return orderFromRow(res.rows[0]!);
    });
  } catch (err) {
    throw translatePgError(err, { clientOrderId: ref.clientOrderId ?? undefined });
  }
}

/** How an exchange order we found is tracked: someone else's, a duplicate of one of ours, or ours without a row. */
export type TrackAs = { kind: 'external' } | { kind: 'duplicate'; of: ClientOrderId } | { kind: 'own' };

/**
 * - `recorded`: a new row for it;
 * - `already_tracked`: a row with its exchange id exists (a concurrent reconcile got there first);
 * - `recorded_as_duplicate`: it was to be our row, but one of our rows holds its client id already.
 */
export type TrackOutcome = 'recorded' | 'already_tracked' | 'recorded_as_duplicate';

async function insertTracked(client: Pool | PoolClient, r: OrderStatusReport, as: TrackAs, nowMs: number): Promise<boolean> {
  const ownCid = as.kind === 'duplicate' ? null : r.clientOrderId;
  const res = await client.query(
    `INSERT INTO stage4_orders (client_order_id, exchange_order_id, symbol, side, price, qty, left_qty, status, mode, duplicate_of,
                                created_at, updated_at, last_seen_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, to_timestamp($11 / 1000.0), to_timestamp($11 / 1000.0), to_timestamp($11 / 1000.0))
     ON CONFLICT (exchange_order_id) WHERE exchange_order_id IS NOT NULL DO NOTHING`,
    [
      ownCid, r.exchangeOrderId, r.symbol, r.side, toDecimalString(r.price), toDecimalString(r.qty), toDecimalString(r.leftQty),
      r.status satisfies OrderState, as.kind === 'external' ? 'external' : 'live', as.kind === 'duplicate' ? as.of : null, nowMs,
    ],
  );
  return res.rowCount === 1;
}

/** Start tracking an exchange order that no row of ours holds. Never drops it; says what happened. */
export async function trackExchangeOrder(pool: Pool, r: OrderStatusReport, as: TrackAs, nowMs: number): Promise<TrackOutcome> {
  try {
    return await inTransaction(pool, async (client) => {
      if (as.kind === 'own' && r.clientOrderId !== null) {
        const holder = await client.query<OrderRow>(
          `SELECT * FROM stage4_orders WHERE client_order_id = $1 AND mode <> 'external' FOR UPDATE`, [r.clientOrderId],
        );
        if (holder.rows[0]) {
          return (await insertTracked(client, r, { kind: 'duplicate', of: asClientOrderId(r.clientOrderId) }, nowMs)) ? 'recorded_as_duplicate' : 'already_tracked';
        }
      }
      return (await insertTracked(client, r, as, nowMs)) ? 'recorded' : 'already_tracked';
    });
  } catch (err) {
    throw translatePgError(err);
  }
}

/** One of our own rows (never an external one that happens to carry the same client id). */
export async function getOrderByClientId(pool: Pool, clientOrderId: ClientOrderId): Promise<TrackedOrder | null> {
  const res = await pool.query<OrderRow>(`SELECT * FROM stage4_orders WHERE client_order_id = $1 AND mode <> 'external'`, [clientOrderId]);
  return res.rows[0] ? orderFromRow(res.rows[0]) : null;
}

export async function getOrderByRef(pool: Pool, ref: OrderRef): Promise<TrackedOrder | null> {
  const res = await pool.query<OrderRow>(`SELECT * FROM stage4_orders WHERE ${REF_WHERE}`, [ref.clientOrderId, ref.exchangeOrderId]);
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

/**
 * The rows reconcile looks at: every working row of the given modes, rows closed since
 * `closedSinceMs` (by inference or otherwise: they may still come home), and every row, whatever
 * its age, holding one of the given client or exchange ids (what the exchange listed, what fills say).
 */
export async function listReconcileOrders(
  pool: Pool,
  q: { modes: readonly OrderMode[]; closedSinceMs: number; clientOrderIds: readonly string[]; exchangeOrderIds: readonly string[] },
): Promise<ReconcileOrder[]> {
  const res = await pool.query<OrderRow>(
    `SELECT * FROM stage4_orders
     WHERE (mode = ANY($1) AND (status = ANY($2) OR updated_at >= to_timestamp($3 / 1000.0)))
        OR (client_order_id = ANY($4::text[]) AND mode <> 'external' AND mode = ANY($1))
        OR exchange_order_id = ANY($5::text[])
     ORDER BY symbol, side, created_at, id`,
    [q.modes, [...LIVE_STATES], q.closedSinceMs, q.clientOrderIds, q.exchangeOrderIds],
  );
  return res.rows.map(reconcileOrderFromRow);
}

/** The rows tracking these exchange orders, whoever placed them. */
export async function listOrdersByExchangeIds(pool: Pool, exchangeOrderIds: readonly string[]): Promise<ReconcileOrder[]> {
  if (exchangeOrderIds.length === 0) return [];
  const res = await pool.query<OrderRow>('SELECT * FROM stage4_orders WHERE exchange_order_id = ANY($1::text[]) ORDER BY id', [exchangeOrderIds]);
  return res.rows.map(reconcileOrderFromRow);
}

/** Executed quantity per exchange order in the fills ledger, for these exchange ids and these client ids. */
export async function listFillEvidence(
  pool: Pool,
  q: { exchangeOrderIds: readonly string[]; clientOrderIds: readonly string[] },
): Promise<FillEvidence[]> {
  if (q.exchangeOrderIds.length === 0 && q.clientOrderIds.length === 0) return [];
  const res = await pool.query<{ exchange_order_id: string; client_order_id: string | null; symbol: string; side: string; qty: string }>(
    `SELECT exchange_order_id, max(client_order_id) AS client_order_id, min(symbol) AS symbol, min(side) AS side, sum(qty)::text AS qty
     FROM stage4_fills
     WHERE exchange_order_id = ANY($1::text[]) OR client_order_id = ANY($2::text[])
     GROUP BY exchange_order_id`,
    [q.exchangeOrderIds, q.clientOrderIds],
  );
  return res.rows.map((r) => ({
    exchangeOrderId: asExchangeOrderId(r.exchange_order_id),
    clientOrderId: r.client_order_id === null ? null : asClientOrderId(r.client_order_id),
    symbol: toPairSymbol(r.symbol),
    side: r.side === 'sell' ? 'sell' : 'buy',
    qty: parseDecimal(r.qty, 'qty'),
  }));
}

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

/** The exchange showed these orders now: their absence windows start over. */
export async function markSeen(pool: Pool, refs: readonly OrderRef[], nowMs: number): Promise<number> {
  if (refs.length === 0) return 0;
  const res = await pool.query(
    `UPDATE stage4_orders o SET last_seen_at = to_timestamp($3 / 1000.0), not_found_count = 0, last_not_found_at = NULL
     FROM unnest($1::text[], $2::text[]) AS r(cid, xid)
     WHERE (r.xid IS NOT NULL AND o.exchange_order_id = r.xid) OR (r.xid IS NULL AND o.client_order_id = r.cid AND o.mode <> 'external')`,
    [refs.map((r) => r.clientOrderId), refs.map((r) => r.exchangeOrderId), nowMs],
  );
  return res.rowCount ?? 0;
}

/** One more counted "not found", at `nowMs`, for a row still in `state` (compare-and-set, like setOrderState). */
export async function noteAbsence(pool: Pool, ref: OrderRef, state: OrderState, nowMs: number): Promise<boolean> {
  const res = await pool.query(
    `UPDATE stage4_orders SET not_found_count = not_found_count + 1, last_not_found_at = to_timestamp($4 / 1000.0)
     WHERE ${REF_WHERE} AND status = $3`,
    [ref.clientOrderId, ref.exchangeOrderId, state, nowMs],
  );
  return res.rowCount === 1;
}

/**
 * The exchange order becomes our row's (found by client id). Never overwrites a known id.
 * - `enriched`; - `has_other_id`: the row got an id meanwhile (the next reconcile sees the rest as a
 *   duplicate); - `id_tracked_elsewhere`: another row already tracks that exchange order.
 */
export async function enrichExchangeOrderId(
  pool: Pool, clientOrderId: ClientOrderId, exchangeOrderId: ExchangeOrderId, nowMs: number,
): Promise<'enriched' | 'has_other_id' | 'id_tracked_elsewhere'> {
  try {
    const res = await pool.query(
      `UPDATE stage4_orders SET exchange_order_id = $2, last_seen_at = to_timestamp($3 / 1000.0), not_found_count = 0,
         updated_at = to_timestamp($3 / 1000.0)
       WHERE client_order_id = $1 AND mode <> 'external' AND exchange_order_id IS NULL`,
      [clientOrderId, exchangeOrderId, nowMs],
    );
    return res.rowCount === 1 ? 'enriched' : 'has_other_id';
  } catch (err) {
    if ((err as { code?: string }).code === '23505') return 'id_tracked_elsewhere';
    throw translatePgError(err, { clientOrderId });
  }
}

/**
 * Rows a cycle plans with: working rows of the given modes, rows closed only by inference after
 * `closedSinceMs` (in their recovery window they may still work: lifecycle.ts), and every row the
 * cycle itself wrote.
 */
export async function listPlanningOrders(pool: Pool, modes: readonly OrderMode[], cycleId: string, closedSinceMs: number): Promise<TrackedOrder[]> {
  const res = await pool.query<OrderRow>(
    `SELECT * FROM stage4_orders
     WHERE mode = ANY($1) AND (status = ANY($2) OR cycle_id = $3
       OR (status = 'unknown_closed' AND updated_at > to_timestamp($4 / 1000.0)))
     ORDER BY symbol, side, created_at, id`,
    [modes, [...LIVE_STATES], cycleId, closedSinceMs],
  );
  return res.rows.map(orderFromRow);
}
