// Reconcile our order rows with the exchange's open orders. Pure: the caller fetches open orders per
// symbol (and, on a second pass, single-order lookups and fills), this decides. Evidence beats
// assumption: an order is only closed when a lookup or fills say so, and a symbol whose fetch failed
// is left untouched (defect 2).
import { Decimal } from './decimal.js';
import type { Detail } from './errors.js';
import { canTransition, eventForReport as eventFor, transition, TERMINAL_STATES, UNRESOLVED_STATES, type OrderEvent, type OrderState, type TrackedOrder } from './lifecycle.js';
import type { ClientOrderId, ExchangeOrderId, OrderStatusReport, PairSymbol } from './types.js';

export type SymbolOpenOrders =
  | { readonly status: 'ok'; readonly orders: readonly OrderStatusReport[] }
  | { readonly status: 'failed'; readonly error: string };

/** Result of asking the exchange about one order (BTCTurk GET /order/{id}, or a client-id scan). */
export type OrderLookup =
  | { readonly status: 'found'; readonly report: OrderStatusReport }
  | { readonly status: 'not_found' }
  | { readonly status: 'failed'; readonly error: string };

export interface ReconcileInput {
  /** Our rows and known external rows; terminal rows may be included (they only catch anomalies). */
  readonly orders: readonly TrackedOrder[];
  readonly openOrders: ReadonlyMap<PairSymbol, SymbolOpenOrders>;
  /** Keyed by `lookupKey(order)`: the exchange order id, else the client order id. */
  readonly lookups?: ReadonlyMap<string, OrderLookup>;
  /** Executed quantity per exchange order, from fills (`filledQtyByOrder`). */
  readonly filledQty?: ReadonlyMap<ExchangeOrderId, Decimal>;
  readonly nowMs: number;
  /** A just-submitted order may not be visible yet (BTCTurk Q13); "not found" inside this window is not evidence. */
  readonly visibilityGraceMs?: number;
}

export type Evidence = 'open_orders' | 'order_lookup' | 'fills' | 'lookup_not_found';

export type ReconcileDecision =
  | { readonly kind: 'symbol_skipped'; readonly symbol: PairSymbol; readonly reason: 'open_orders_fetch_failed' | 'open_orders_not_fetched'; readonly detail: Detail }
  | { readonly kind: 'enrich_exchange_id'; readonly clientOrderId: ClientOrderId; readonly exchangeOrderId: ExchangeOrderId }
  | {
      readonly kind: 'set_state';
      readonly clientOrderId: ClientOrderId | null;
      readonly exchangeOrderId: ExchangeOrderId | null;
      readonly from: OrderState;
      readonly to: OrderState;
      readonly evidence: Evidence;
      readonly leftQty: Decimal | null;
    }
  | {
      readonly kind: 'needs_lookup';
      readonly lookupKey: string;
      readonly clientOrderId: ClientOrderId | null;
      readonly exchangeOrderId: ExchangeOrderId | null;
      readonly symbol: PairSymbol;
      readonly reason: 'missing_from_open_orders' | 'lookup_failed' | 'awaiting_visibility';
    }
  | { readonly kind: 'import_external'; readonly report: OrderStatusReport }
  | { readonly kind: 'anomaly'; readonly clientOrderId: ClientOrderId | null; readonly exchangeOrderId: ExchangeOrderId | null; readonly reason: string; readonly detail: Detail };

export const DEFAULT_VISIBILITY_GRACE_MS = 30_000;

export function lookupKey(o: Pick<TrackedOrder, 'exchangeOrderId' | 'clientOrderId'>): string | null {
  return o.exchangeOrderId ?? o.clientOrderId;
}

export function reconcile(input: ReconcileInput): ReconcileDecision[] {
  const grace = input.visibilityGraceMs ?? DEFAULT_VISIBILITY_GRACE_MS;
  const decisions: ReconcileDecision[] = [];
  const skippedSymbols = new Set<PairSymbol>();
  const byExchangeId = new Map<ExchangeOrderId, OrderStatusReport>();
  const claimed = new Set<OrderStatusReport>();
  for (const snap of input.openOrders.values()) {
    if (snap.status === 'ok') for (const r of snap.orders) byExchangeId.set(r.exchangeOrderId, r);
  }

  const apply = (o: TrackedOrder, event: OrderEvent, evidence: Evidence, leftQty: Decimal | null): void => {
    if (!canTransition(o.state, event)) {
      decisions.push({ kind: 'anomaly', clientOrderId: o.clientOrderId, exchangeOrderId: o.exchangeOrderId, reason: 'illegal_transition', detail: { from: o.state, event, evidence } });
      return;
    }
    const to = transition(o.state, event);
    const leftChanged = leftQty !== null && !leftQty.eq(o.leftQty);
    if (to !== o.state || leftChanged) {
      decisions.push({ kind: 'set_state', clientOrderId: o.clientOrderId, exchangeOrderId: o.exchangeOrderId, from: o.state, to, evidence, leftQty });
    }
  };

  const sorted = [...input.orders].sort((a, b) => (TERMINAL_STATES.has(a.state) ? 1 : 0) - (TERMINAL_STATES.has(b.state) ? 1 : 0));
  for (const o of sorted) {
    const snap = input.openOrders.get(o.symbol);
    if (snap === undefined || snap.status === 'failed') {
      if (!skippedSymbols.has(o.symbol)) {
        skippedSymbols.add(o.symbol);
        decisions.push(
          snap === undefined
            ? { kind: 'symbol_skipped', symbol: o.symbol, reason: 'open_orders_not_fetched', detail: {} }
            : { kind: 'symbol_skipped', symbol: o.symbol, reason: 'open_orders_fetch_failed', detail: { error: snap.error.slice(0, 120) } },
        );
      }
      continue;
    }

    // Exchange id is authoritative; a client id only matches when we never learned the exchange id
    // (BTCTurk does not keep client ids unique, api Q10).
    let match: OrderStatusReport | undefined;
    if (o.exchangeOrderId !== null) {
      match = byExchangeId.get(o.exchangeOrderId);
    } else if (o.clientOrderId !== null) {
      match = snap.orders.find((r) => !claimed.has(r) && r.clientOrderId === o.clientOrderId && r.side === o.side);
    }
    if (match !== undefined && claimed.has(match)) match = undefined;

    if (match !== undefined) {
      claimed.add(match);
      if (o.exchangeOrderId === null && o.clientOrderId !== null && !TERMINAL_STATES.has(o.state)) {
        decisions.push({ kind: 'enrich_exchange_id', clientOrderId: o.clientOrderId, exchangeOrderId: match.exchangeOrderId });
      }
      apply(o, eventFor(match.status), 'open_orders', match.leftQty);
      continue;
    }
    if (TERMINAL_STATES.has(o.state)) continue; // gone and already closed: nothing to learn

    const key = lookupKey(o);
    const lookup = key === null ? undefined : input.lookups?.get(key);
    if (lookup?.status === 'found') {
      apply(o, eventFor(lookup.report.status), 'order_lookup', lookup.report.leftQty);
      continue;
    }
    const filled = o.exchangeOrderId === null ? undefined : input.filledQty?.get(o.exchangeOrderId);
    if (filled !== undefined && filled.gte(o.qty)) {
      apply(o, 'filled', 'fills', new Decimal(0));
      continue;
    }
    if (key === null) {
      decisions.push({ kind: 'anomaly', clientOrderId: null, exchangeOrderId: null, reason: 'order_without_ids', detail: { symbol: o.symbol } });
      continue;
    }
    const need = (reason: 'missing_from_open_orders' | 'lookup_failed' | 'awaiting_visibility'): void => {
      decisions.push({ kind: 'needs_lookup', lookupKey: key, clientOrderId: o.clientOrderId, exchangeOrderId: o.exchangeOrderId, symbol: o.symbol, reason });
    };
    if (lookup?.status === 'not_found') {
      if (UNRESOLVED_STATES.has(o.state) && input.nowMs - o.createdAtMs < grace) need('awaiting_visibility');
      else apply(o, 'not_found', 'lookup_not_found', null);
      continue;
    }
    if (lookup?.status === 'failed') {
      need('lookup_failed');
      continue;
    }
    if (o.state !== 'unknown_closed') need('missing_from_open_orders');
  }

  for (const [symbol, snap] of input.openOrders) {
    if (snap.status !== 'ok') continue;
    for (const r of snap.orders) {
      if (claimed.has(r)) continue;
      if (r.symbol !== symbol) {
        decisions.push({ kind: 'anomaly', clientOrderId: r.clientOrderId, exchangeOrderId: r.exchangeOrderId, reason: 'symbol_mismatch', detail: { listed_under: symbol, symbol: r.symbol } });
      }
      decisions.push({ kind: 'import_external', report: r });
    }
  }
  return decisions;
}

export interface ReconcileSummary {
  readonly enriched: number;
  readonly imported: number;
  readonly importedWithoutClientId: number;
  readonly stateChanges: number;
  readonly unknownClosed: number;
  readonly needsLookup: number;
  readonly skippedSymbols: number;
  readonly anomalies: number;
}

/** Audit counters, counted from the decision objects. */
export function summarizeReconcile(decisions: readonly ReconcileDecision[]): ReconcileSummary {
  const count = (f: (d: ReconcileDecision) => boolean): number => decisions.filter(f).length;
  return {
    enriched: count((d) => d.kind === 'enrich_exchange_id'),
    imported: count((d) => d.kind === 'import_external'),
    importedWithoutClientId: count((d) => d.kind === 'import_external' && d.report.clientOrderId === null),
    stateChanges: count((d) => d.kind === 'set_state'),
    unknownClosed: count((d) => d.kind === 'set_state' && d.to === 'unknown_closed'),
    needsLookup: count((d) => d.kind === 'needs_lookup'),
    skippedSymbols: count((d) => d.kind === 'symbol_skipped'),
    anomalies: count((d) => d.kind === 'anomaly'),
  };
}
