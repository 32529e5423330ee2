// Our orders' state machine and the lifecycle planner (dedupe, stale, replace as cancel+submit).
// The transition table is explicit (nautilus style): anything not listed is an IllegalTransitionError.
import { Decimal } from './decimal.js';
import { formatReason, IllegalTransitionError, type Detail } from './errors.js';
import type { ClientOrderId, ExchangeOrderId, OrderStatusReport, PairSymbol, Side } from './types.js';

export type OrderState =
  | 'pending_submit' // row written before the exchange call
  | 'open'
  | 'partial'
  | 'cancel_requested'
  | 'filled'
  | 'canceled'
  | 'rejected'
  | 'unknown' // submit outcome ambiguous: resolved from evidence, never by resending
  | 'unknown_closed'; // absent from the exchange over the whole absence window (reconcile.ts): closed by inference, may come home

export type OrderEvent =
  | 'submit_acknowledged' // exchange returned an order id
  | 'submit_rejected' // definitive rejection (4xx with a reject code)
  | 'submit_ambiguous' // timeout, 5xx, unreadable body after sending
  | 'seen_open' // listed open with nothing filled
  | 'seen_partial' // listed open with part filled
  | 'cancel_requested'
  | 'cancel_failed' // the exchange refused the cancel; the order is still working
  | 'canceled'
  | 'filled'
  | 'not_found'; // an explicit lookup says the exchange does not know it

/**
 * state → event → next state. Late evidence may still resolve `unknown_closed`, and `rejected`: a row
 * that never got an exchange order can still have one (a rejection we could only infer, e.g. an
 * answer the reference allows after the order was placed): an exchange order carrying its client
 * id is evidence, and the order becomes the row's (reconcile.ts, "comes home").
 */
const TRANSITIONS: Readonly<Record<OrderState, Partial<Record<OrderEvent, OrderState>>>> = {
  pending_submit: {
    submit_acknowledged: 'open',
    submit_rejected: 'rejected',
    submit_ambiguous: 'unknown',
    seen_open: 'open',
    seen_partial: 'partial',
    filled: 'filled',
    canceled: 'canceled',
    not_found: 'unknown_closed',
  },
  unknown: {
    submit_acknowledged: 'open',
    submit_rejected: 'rejected',
    seen_open: 'open',
    seen_partial: 'partial',
    filled: 'filled',
    canceled: 'canceled',
    not_found: 'unknown_closed',
  },
  open: {
    submit_acknowledged: 'open',
    seen_open: 'open',
    seen_partial: 'partial',
    cancel_requested: 'cancel_requested',
    canceled: 'canceled',
    filled: 'filled',
    not_found: 'unknown_closed',
  },
  partial: {
    seen_partial: 'partial',
    cancel_requested: 'cancel_requested',
    canceled: 'canceled',
    filled: 'filled',
    not_found: 'unknown_closed',
  },
  cancel_requested: {
    // A cancel is asynchronous on BTCTurk: the order may still be listed, or fill, for a while.
    seen_open: 'cancel_requested',
    seen_partial: 'cancel_requested',
    cancel_requested: 'cancel_requested',
    cancel_failed: 'open',
    canceled: 'canceled',
    filled: 'filled',
    not_found: 'unknown_closed',
  },
  unknown_closed: {
    seen_open: 'open',
    seen_partial: 'partial',
    filled: 'filled',
    canceled: 'canceled',
    not_found: 'unknown_closed',
  },
  filled: { filled: 'filled' },
  canceled: { canceled: 'canceled' },
  rejected: {
    submit_rejected: 'rejected',
    seen_open: 'open',
    seen_partial: 'partial',
    filled: 'filled',
    canceled: 'canceled',
  },
};

/** The event a venue report of the order's status amounts to. */
export function eventForReport(status: OrderStatusReport['status']): OrderEvent {
  switch (status) {
    case 'open':
      return 'seen_open';
    case 'partial':
      return 'seen_partial';
    case 'filled':
      return 'filled';
    case 'canceled':
      return 'canceled';
  }
}

export function canTransition(state: OrderState, event: OrderEvent): boolean {
  return TRANSITIONS[state][event] !== undefined;
}

export function transition(state: OrderState, event: OrderEvent): OrderState {
  const next = TRANSITIONS[state][event];
  if (next === undefined) throw new IllegalTransitionError(state, event);
  return next;
}

/** States in which the order may be working on the exchange: they count for limits and dedupe. */
export const LIVE_STATES: ReadonlySet<OrderState> = new Set<OrderState>(['pending_submit', 'unknown', 'open', 'partial', 'cancel_requested']);
/** States no event leaves (except idempotent repeats). */
export const TERMINAL_STATES: ReadonlySet<OrderState> = new Set<OrderState>(['filled', 'canceled', 'rejected']);
/** Submit outcome not known yet: nothing new may be sent for that symbol and side (defect 13). */
export const UNRESOLVED_STATES: ReadonlySet<OrderState> = new Set<OrderState>(['pending_submit', 'unknown']);

/**
 * How long a row closed only by inference (`unknown_closed`) is still treated as an order that may
 * be working, counted from when it was closed (its `updatedAtMs`, our own clock): it is looked up
 * every cycle, nothing new is placed on its symbol and side, and a halt does not report "none of
 * ours" while it lasts. An accepted order may stay invisible longer than the absence window (Q13;
 * Q11 reports POSTs that hung for over a minute while placing the order), so closing by inference is
 * a guess; two hours is far past any delay the reference reports and past the fills lookback
 * (30 min), so late fills still bring the row home. Closed rows stay in reconcile's view at least
 * as long. The default of ORDER_RECOVERY_WINDOW_SEC.
 */
export const RECOVERY_WINDOW_MS = 2 * 60 * 60_000;

/** Closed only by inference, and still inside its recovery window: it may still appear, and work. */
export function isRecovering(o: Pick<TrackedOrder, 'state' | 'updatedAtMs'>, nowMs: number, recoveryWindowMs = RECOVERY_WINDOW_MS): boolean {
  return o.state === 'unknown_closed' && nowMs - o.updatedAtMs < recoveryWindowMs;
}

/** Working, unresolved, or closed by inference and still recovering: it may be an order on the book. */
export function mayBeWorking(o: Pick<TrackedOrder, 'state' | 'updatedAtMs'>, nowMs: number, recoveryWindowMs = RECOVERY_WINDOW_MS): boolean {
  return LIVE_STATES.has(o.state) || isRecovering(o, nowMs, recoveryWindowMs);
}

export type OrderMode = 'live' | 'dry_run' | 'external';

/** One of our order rows (or an imported external one), as the store keeps it. */
export interface TrackedOrder {
  readonly clientOrderId: ClientOrderId | null; // null for external orders placed without one, and for duplicates
  readonly exchangeOrderId: ExchangeOrderId | null;
  readonly symbol: PairSymbol;
  readonly side: Side;
  readonly price: Decimal;
  readonly qty: Decimal;
  readonly leftQty: Decimal;
  readonly state: OrderState;
  readonly mode: OrderMode;
  readonly createdAtMs: number;
  readonly updatedAtMs: number;
  readonly lastError: string | null;
  /**
   * Set on a second exchange order that carries the client id of one of our rows (BTCTurk does not
   * keep client ids unique, api Q10): it is ours and working, tracked by its exchange id, never
   * merged into that row, and cancelled.
   */
  readonly duplicateOf: ClientOrderId | null;
}

/** What the strategy wants on the book. */
export interface OrderIntent {
  readonly clientOrderId: ClientOrderId;
  readonly symbol: PairSymbol;
  readonly side: Side;
  readonly price: Decimal;
  readonly qty: Decimal;
}

export interface SubmitAction {
  readonly kind: 'submit';
  readonly clientOrderId: ClientOrderId;
  readonly symbol: PairSymbol;
  readonly side: Side;
  readonly price: Decimal;
  readonly qty: Decimal;
  readonly reason: 'new_intent' | 'replace_submit';
  /** Submit only after these cancels are confirmed (defect 15: no double exposure on replace). */
  readonly afterCancelOf: readonly ClientOrderId[];
}

export interface CancelAction {
  readonly kind: 'cancel';
  readonly clientOrderId: ClientOrderId | null;
  readonly exchangeOrderId: ExchangeOrderId;
  readonly symbol: PairSymbol;
  readonly side: Side;
  readonly price: Decimal;
  readonly qty: Decimal; // remaining quantity
  readonly reason: 'stale' | 'replace_cancel' | 'halt_cancel' | 'duplicate';
  readonly detail: Detail;
}

export type PlannedAction = SubmitAction | CancelAction;

export type LifecycleDecisionKind = 'invalid_intent' | 'deduped' | 'unresolved_order' | 'cancel_needs_exchange_id';

export interface LifecycleDecision {
  readonly kind: LifecycleDecisionKind;
  readonly clientOrderId: ClientOrderId | null;
  readonly symbol: PairSymbol;
  readonly detail: Detail;
}

/** `deduped:<cid>` etc., the original's audit strings; a blocked submit also says why (`unresolved_order:<cid>:inferred_closed_recovering`). */
export function formatLifecycleDecision(d: LifecycleDecision): string {
  const why = d.kind === 'unresolved_order' && typeof d.detail['why'] === 'string' ? `:${d.detail['why']}` : '';
  return `${d.kind}:${d.clientOrderId ?? 'missing'}${why}`;
}

export interface LifecycleParams {
  readonly staleAfterMs: number;
  readonly staleDriftBps: Decimal;
  /** An open order within this many bps of the intent's price (and within the qty ratio) is the same order. */
  readonly dedupePriceBps: Decimal;
  readonly dedupeQtyRatio: Decimal;
  /** A row closed only by inference blocks its symbol and side this long (RECOVERY_WINDOW_MS). */
  readonly recoveryWindowMs: number;
}

export function lifecycleParams(config: { readonly ttlSeconds: number; readonly staleDriftBps: Decimal; readonly orderRecoveryWindowSec?: number }): LifecycleParams {
  return {
    staleAfterMs: config.ttlSeconds * 1000,
    staleDriftBps: config.staleDriftBps,
    dedupePriceBps: new Decimal(5),
    dedupeQtyRatio: new Decimal('0.01'),
    // Absent in configs recorded before the setting existed (workflow replay).
    recoveryWindowMs: config.orderRecoveryWindowSec === undefined ? RECOVERY_WINDOW_MS : config.orderRecoveryWindowSec * 1000,
  };
}

const BPS = new Decimal(10_000);
const s = (d: Decimal): string => d.toFixed();

export function bpsApart(a: Decimal, reference: Decimal): Decimal {
  return a.sub(reference).abs().div(reference).mul(BPS);
}

/**
 * Why an order is stale, or null. Age counts from when we created the order (an enrich or a
 * partial fill must not reset it); drift compares the price with THAT symbol's mid (defect 10).
 */
export function staleness(
  order: TrackedOrder,
  mid: Decimal | undefined,
  nowMs: number,
  params: LifecycleParams,
): Detail | null {
  const ageMs = nowMs - order.createdAtMs;
  if (ageMs >= params.staleAfterMs) return { why: 'age', age_ms: String(ageMs) };
  if (mid !== undefined && mid.gt(0) && order.price.gt(0)) {
    const drift = bpsApart(order.price, mid);
    if (drift.gte(params.staleDriftBps)) return { why: 'drift', drift_bps: s(drift.toDecimalPlaces(2)), mid: s(mid) };
  }
  return null;
}

function sameOrder(o: TrackedOrder, i: OrderIntent, p: LifecycleParams): boolean {
  return (
    o.symbol === i.symbol &&
    o.side === i.side &&
    bpsApart(o.price, i.price).lte(p.dedupePriceBps) &&
    o.qty.sub(i.qty).abs().div(i.qty).lte(p.dedupeQtyRatio)
  );
}

function cancelOf(o: TrackedOrder & { exchangeOrderId: ExchangeOrderId }, reason: CancelAction['reason'], detail: Detail): CancelAction {
  return {
    kind: 'cancel',
    clientOrderId: o.clientOrderId,
    exchangeOrderId: o.exchangeOrderId,
    symbol: o.symbol,
    side: o.side,
    price: o.price,
    qty: o.leftQty,
    reason,
    detail,
  };
}

export interface LifecycleInput {
  readonly intents: readonly OrderIntent[];
  /** Our order rows; any state (terminal ones only serve client-id dedupe); external rows are ignored. */
  readonly orders: readonly TrackedOrder[];
  readonly mids: ReadonlyMap<PairSymbol, Decimal>;
  readonly nowMs: number;
  readonly params: LifecycleParams;
}

export interface LifecyclePlan {
  readonly actions: readonly PlannedAction[];
  readonly decisions: readonly LifecycleDecision[];
}

const key = (symbol: PairSymbol, side: Side): string => `${symbol}|${side}`;

export function planLifecycle(input: LifecycleInput): LifecyclePlan {
  const { params, nowMs } = input;
  const own = input.orders.filter((o) => o.mode !== 'external');
  const knownIds = new Set(own.map((o) => o.clientOrderId).filter((c): c is ClientOrderId => c !== null));
  const working = own.filter((o) => LIVE_STATES.has(o.state));
  const decisions: LifecycleDecision[] = [];
  const actions: PlannedAction[] = [];

  const staleByKey = new Map<string, { order: TrackedOrder & { exchangeOrderId: ExchangeOrderId }; detail: Detail }[]>();
  const fresh: TrackedOrder[] = [];
  /** symbol|side → why nothing new may be sent there (an order of ours may be working, unseen). */
  const unresolvedKeys = new Map<string, string>();
  for (const o of own) {
    // Closed only by inference, but it may still appear (hidden longer than the absence window, Q13).
    if (o.duplicateOf === null && isRecovering(o, nowMs, params.recoveryWindowMs) && !unresolvedKeys.has(key(o.symbol, o.side))) {
      unresolvedKeys.set(key(o.symbol, o.side), 'inferred_closed_recovering');
    }
  }
  for (const o of working) {
    if (o.duplicateOf !== null) {
      // A second order under one of our client ids: never a twin for dedupe, always cancelled.
      if (o.exchangeOrderId !== null) {
        actions.push(cancelOf({ ...o, exchangeOrderId: o.exchangeOrderId }, 'duplicate', { duplicate_of: o.duplicateOf }));
      }
      continue;
    }
    if (UNRESOLVED_STATES.has(o.state)) {
      unresolvedKeys.set(key(o.symbol, o.side), 'submit_unresolved');
      fresh.push(o); // may be live: it still dedupes intents
      continue;
    }
    const stale = staleness(o, input.mids.get(o.symbol), nowMs, params);
    if (stale === null) {
      fresh.push(o);
      continue;
    }
    if (o.exchangeOrderId === null) {
      // Defect 14: keep the row open and resolve its exchange id first; never overwrite it as "error".
      decisions.push({ kind: 'cancel_needs_exchange_id', clientOrderId: o.clientOrderId, symbol: o.symbol, detail: stale });
      fresh.push(o);
      continue;
    }
    const k = key(o.symbol, o.side);
    const list = staleByKey.get(k) ?? [];
    list.push({ order: { ...o, exchangeOrderId: o.exchangeOrderId }, detail: stale });
    staleByKey.set(k, list);
  }

  for (const i of input.intents) {
    if (!i.price.isFinite() || !i.qty.isFinite() || i.price.lte(0) || i.qty.lte(0)) {
      decisions.push({ kind: 'invalid_intent', clientOrderId: i.clientOrderId, symbol: i.symbol, detail: { price: s(i.price), qty: s(i.qty) } });
      continue;
    }
    if (knownIds.has(i.clientOrderId)) {
      decisions.push({ kind: 'deduped', clientOrderId: i.clientOrderId, symbol: i.symbol, detail: { match: 'client_order_id' } });
      continue;
    }
    const twin = fresh.find((o) => sameOrder(o, i, params));
    if (twin !== undefined) {
      decisions.push({ kind: 'deduped', clientOrderId: i.clientOrderId, symbol: i.symbol, detail: { match: twin.clientOrderId ?? twin.exchangeOrderId ?? 'unknown' } });
      continue;
    }
    const k = key(i.symbol, i.side);
    const blocked = unresolvedKeys.get(k);
    if (blocked !== undefined) {
      decisions.push({ kind: 'unresolved_order', clientOrderId: i.clientOrderId, symbol: i.symbol, detail: { side: i.side, why: blocked } });
      continue;
    }
    const stale = staleByKey.get(k);
    if (stale !== undefined && stale.length > 0) {
      for (const st of stale) actions.push(cancelOf(st.order, 'replace_cancel', st.detail));
      actions.push({
        kind: 'submit',
        ...pickIntent(i),
        reason: 'replace_submit',
        afterCancelOf: stale.map((st) => st.order.clientOrderId).filter((c): c is ClientOrderId => c !== null),
      });
      staleByKey.delete(k);
      continue;
    }
    actions.push({ kind: 'submit', ...pickIntent(i), reason: 'new_intent', afterCancelOf: [] });
  }
  for (const list of staleByKey.values()) for (const st of list) actions.push(cancelOf(st.order, 'stale', st.detail));

  return { actions: sortActions(actions), decisions };
}

function pickIntent(i: OrderIntent): Pick<SubmitAction, 'clientOrderId' | 'symbol' | 'side' | 'price' | 'qty'> {
  return { clientOrderId: i.clientOrderId, symbol: i.symbol, side: i.side, price: i.price, qty: i.qty };
}

/** (symbol, side, cancels before submits, client id): deterministic, and cancels go first. */
export function sortActions(actions: readonly PlannedAction[]): PlannedAction[] {
  const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
  return [...actions].sort(
    (a, b) =>
      cmp(a.symbol, b.symbol) ||
      cmp(a.side, b.side) ||
      (a.kind === b.kind ? 0 : a.kind === 'cancel' ? -1 : 1) ||
      cmp(a.clientOrderId ?? '', b.clientOrderId ?? '') ||
      cmp(a.kind === 'cancel' ? a.exchangeOrderId : '', b.kind === 'cancel' ? b.exchangeOrderId : ''),
  );
}

/** Halt with cancel: cancel every working order of ours that has an exchange id. */
export function planHaltCancels(orders: readonly TrackedOrder[]): CancelAction[] {
  const out: CancelAction[] = [];
  for (const o of orders) {
    if (o.mode === 'external' || o.exchangeOrderId === null) continue;
    if (o.state !== 'open' && o.state !== 'partial' && o.state !== 'cancel_requested') continue;
    out.push(cancelOf({ ...o, exchangeOrderId: o.exchangeOrderId }, 'halt_cancel', {}));
  }
  return sortActions(out) as CancelAction[];
}

/** Audit string for a planned action. */
export function describeAction(a: PlannedAction): string {
  return a.kind === 'submit'
    ? formatReason(`submit:${a.clientOrderId}:${a.reason}`, { symbol: a.symbol, side: a.side, price: s(a.price), qty: s(a.qty) })
    : formatReason(`cancel:${a.clientOrderId ?? a.exchangeOrderId}:${a.reason}`, { symbol: a.symbol, ...a.detail });
}
