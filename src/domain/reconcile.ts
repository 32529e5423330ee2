// Reconcile our order rows with the exchange. Pure: the caller fetches open orders per symbol, the
// ledger's fills, and (on a second pass) the lookups this asks for; this decides. Three rules:
//
// 1. Evidence beats assumption, and one absence closes nothing. An order missing from open orders is
//    looked up; `not_found` closes it (`unknown_closed`) only after repeated lookups over a window
//    that starts when the submit attempt ended (the client gave up) or at the order's last sighting.
//    A symbol whose open-order fetch failed is left untouched (defect 2).
// 2. An exchange order carrying one of our client ids is always tracked. If our row has no exchange
//    order yet (pending, unknown, closed by inference, or a rejection we could only infer), the order
//    becomes the row's: it "comes home". A further order with the same client id is a duplicate
//    (BTCTurk does not keep client ids unique, api Q10): tracked as its own row, alerted and
//    cancelled, never merged into ours and never dropped.
// 3. Fills are evidence too: a fill whose order id we do not track, carrying our client id, brings
//    that order home (an order that appears late and fills at once is never listed open).
import { Decimal } from './decimal.js';
import type { Detail } from './errors.js';
import { isOwnClientOrderId } from './ids.js';
import {
  canTransition, eventForReport as eventFor, isRecovering, RECOVERY_WINDOW_MS, transition, TERMINAL_STATES, UNRESOLVED_STATES,
  type OrderEvent, type OrderState, type TrackedOrder,
} from './lifecycle.js';
import type { ClientOrderId, ExchangeOrderId, OrderStatusReport, PairSymbol, Side } from './types.js';

export type SymbolOpenOrders =
  | { readonly status: 'ok'; readonly orders: readonly OrderStatusReport[] }
  | { readonly status: 'failed'; readonly error: string };

/** Result of asking the exchange about one order: by exchange id (GET /order/{id}), or every order carrying a client id. */
export type OrderLookup =
  | { readonly status: 'found'; readonly reports: readonly OrderStatusReport[] }
  | { readonly status: 'not_found' }
  | { readonly status: 'failed'; readonly error: string };

/** What the exchange has shown of a row, kept by the store between cycles. */
export interface Sightings {
  /** Last time the exchange showed the order (listed, found by a lookup, or in fills). */
  readonly lastSeenAtMs: number | null;
  /** `not_found` lookups since the last sighting, counted at most one per spacing (AbsencePolicy). */
  readonly notFoundCount: number;
  /** When the last counted `not_found` was (our clock). */
  readonly lastNotFoundAtMs: number | null;
  /** When the submit attempt that may have sent it ended (or its deadline, if it never reported). */
  readonly submitEndedAtMs: number | null;
}

export interface ReconcileOrder extends TrackedOrder {
  readonly sightings: Sightings;
}

/** Executed quantity of one exchange order, summed from the fills ledger. */
export interface FillEvidence {
  readonly exchangeOrderId: ExchangeOrderId;
  readonly clientOrderId: ClientOrderId | null;
  readonly symbol: PairSymbol;
  readonly side: Side;
  readonly qty: Decimal;
}

/**
 * When `not_found` may close an order. BTCTurk has answered POST /order with an empty body or HTML,
 * or hung for over a minute, while placing the order (api Q11); and nothing guarantees an accepted
 * order is visible at once (Q13). So an order may show up a minute or more after the client gave
 * up. The window is three times that minute, and it takes three lookups spread over it to close a
 * row, so no single slow or inconsistent answer can: a `not_found` counts only when the last counted
 * one is at least windowMs / minLookups old (a halt sweeping every 2 s, or a sweep racing a cycle,
 * would otherwise pile up three in seconds). Counted from the attempt's end, not the cycle's start:
 * a POST that hung for 30 s must not have used up half the window before it ended. All times are
 * our own clock; no exchange timestamp is compared with it.
 */
export interface AbsencePolicy {
  readonly minLookups: number;
  readonly windowMs: number;
  /** A row closed only by inference is still looked up for this long (RECOVERY_WINDOW_MS, lifecycle.ts). */
  readonly recoveryWindowMs: number;
}
export const DEFAULT_ABSENCE_POLICY: AbsencePolicy = { minLookups: 3, windowMs: 3 * 60_000, recoveryWindowMs: RECOVERY_WINDOW_MS };

/** The least time between two `not_found` lookups that both count. */
export function lookupSpacingMs(p: AbsencePolicy): number {
  return Math.floor(p.windowMs / p.minLookups);
}

export interface ReconcileInput {
  /**
   * Our rows and known external and duplicate rows: every working one, the recently closed ones, and
   * every row whose client id or exchange id appears in the open orders or the fills given here.
   */
  readonly orders: readonly ReconcileOrder[];
  readonly openOrders: ReadonlyMap<PairSymbol, SymbolOpenOrders>;
  /** Keyed by `lookupKey` of a `needs_lookup` decision (an exchange id, else a client id). */
  readonly lookups?: ReadonlyMap<string, OrderLookup>;
  /** From the fills ledger: per exchange order, for the rows' exchange ids and client ids. */
  readonly fills?: readonly FillEvidence[];
  readonly nowMs: number;
  readonly absence?: AbsencePolicy;
}

export type Evidence = 'open_orders' | 'order_lookup' | 'fills' | 'lookup_not_found';

/** A row as decisions name it: by client id for our own rows, by exchange id for the rest. */
export interface RowRef {
  readonly clientOrderId: ClientOrderId | null;
  readonly exchangeOrderId: ExchangeOrderId | null;
}

export type ReconcileDecision =
  | { readonly kind: 'symbol_skipped'; readonly symbol: PairSymbol; readonly reason: 'open_orders_fetch_failed' | 'open_orders_not_fetched'; readonly detail: Detail }
  /** The exchange order becomes our row's (the row had none): "comes home" when the row was not pending. */
  | { readonly kind: 'enrich_exchange_id'; readonly clientOrderId: ClientOrderId; readonly exchangeOrderId: ExchangeOrderId; readonly from: OrderState; readonly evidence: Evidence }
  | ({ readonly kind: 'set_state'; readonly from: OrderState; readonly to: OrderState; readonly evidence: Evidence; readonly leftQty: Decimal | null } & RowRef)
  /** The exchange showed the order: the absence count starts over. */
  | ({ readonly kind: 'seen' } & RowRef)
  /**
   * Not found again, and the row stays as it is: the window is still open, or too few lookups have
   * counted. `counted`: this one counted (it came at least the spacing after the last counted one).
   */
  | ({ readonly kind: 'absence_noted'; readonly state: OrderState; readonly notFoundCount: number; readonly counted: boolean; readonly closesAtMs: number } & RowRef)
  | {
      readonly kind: 'needs_lookup';
      readonly lookupKey: string;
      readonly by: 'exchange_id' | 'client_id';
      readonly clientOrderId: ClientOrderId | null;
      readonly exchangeOrderId: ExchangeOrderId | null;
      readonly symbol: PairSymbol;
      readonly createdAtMs: number;
      /** `may_still_appear`: closed only by inference, inside its recovery window. */
      readonly reason: 'missing_from_open_orders' | 'lookup_failed' | 'fill_evidence' | 'may_still_appear';
    }
  | { readonly kind: 'import_external'; readonly report: OrderStatusReport }
  /** A further exchange order under one of our client ids: tracked as its own row, alerted, cancelled. */
  | { readonly kind: 'record_duplicate'; readonly report: OrderStatusReport; readonly duplicateOf: ClientOrderId; readonly evidence: Evidence }
  /** Our client id format, but no row of ours at all: tracked as ours all the same. */
  | { readonly kind: 'adopt_own'; readonly report: OrderStatusReport }
  | { readonly kind: 'anomaly'; readonly clientOrderId: ClientOrderId | null; readonly exchangeOrderId: ExchangeOrderId | null; readonly reason: string; readonly detail: Detail };

export function lookupKey(o: Pick<TrackedOrder, 'exchangeOrderId' | 'clientOrderId'>): string | null {
  return o.exchangeOrderId ?? o.clientOrderId;
}

/** Where the absence window of a row starts: its last sighting, or when its submit attempt ended. */
export function absenceStartMs(o: ReconcileOrder): number {
  return Math.max(o.sightings.lastSeenAtMs ?? 0, o.sightings.submitEndedAtMs ?? o.createdAtMs);
}

/** Exchange ids are increasing integers on BTCTurk: the lower one is the older order. */
function olderFirst(a: ExchangeOrderId, b: ExchangeOrderId): number {
  const num = /^\d{1,20}$/;
  if (num.test(a) && num.test(b)) return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
  return a < b ? -1 : a > b ? 1 : 0;
}

interface Candidate {
  readonly exchangeOrderId: ExchangeOrderId;
  report: OrderStatusReport | null;
  evidence: Evidence;
  fill: FillEvidence | null;
}

export function reconcile(input: ReconcileInput): ReconcileDecision[] {
  const absence = input.absence ?? DEFAULT_ABSENCE_POLICY;
  const decisions: ReconcileDecision[] = [];
  const skipped = new Set<PairSymbol>();
  const listed = new Map<ExchangeOrderId, OrderStatusReport>();
  for (const snap of input.openOrders.values()) {
    if (snap.status === 'ok') for (const r of snap.orders) listed.set(r.exchangeOrderId, r);
  }
  const fills = input.fills ?? [];
  const fillsById = new Map(fills.map((f) => [f.exchangeOrderId, f]));
  const rowByExchangeId = new Map<ExchangeOrderId, ReconcileOrder>();
  const ownByClientId = new Map<ClientOrderId, ReconcileOrder>();
  for (const o of input.orders) {
    if (o.exchangeOrderId !== null) rowByExchangeId.set(o.exchangeOrderId, o);
    if (o.mode !== 'external' && o.clientOrderId !== null) ownByClientId.set(o.clientOrderId, o);
  }
  /** Exchange orders accounted for by some row in this pass (theirs, claimed, or recorded as duplicates). */
  const accounted = new Set<ExchangeOrderId>();
  const foundReports = (key: string | null): readonly OrderStatusReport[] => {
    const l = key === null ? undefined : input.lookups?.get(key);
    return l?.status === 'found' ? l.reports : [];
  };

  const ref = (o: TrackedOrder): RowRef => ({ clientOrderId: o.clientOrderId, exchangeOrderId: o.exchangeOrderId });
  const apply = (o: ReconcileOrder, event: OrderEvent, evidence: Evidence, leftQty: Decimal | null): void => {
    if (!canTransition(o.state, event)) {
      decisions.push({ kind: 'anomaly', ...ref(o), reason: 'illegal_transition', detail: { from: o.state, event, evidence } });
      return;
    }
    const to = transition(o.state, event);
    if (to !== o.state || (leftQty !== null && !leftQty.eq(o.leftQty))) {
      decisions.push({ kind: 'set_state', ...ref(o), from: o.state, to, evidence, leftQty });
    }
  };
  const seen = (o: ReconcileOrder): void => void decisions.push({ kind: 'seen', ...ref(o) });
  const need = (o: ReconcileOrder, reason: Extract<ReconcileDecision, { kind: 'needs_lookup' }>['reason'], exchangeOrderId = o.exchangeOrderId): void => {
    const key = exchangeOrderId ?? o.clientOrderId;
    if (key === null) {
      decisions.push({ kind: 'anomaly', clientOrderId: null, exchangeOrderId: null, reason: 'order_without_ids', detail: { symbol: o.symbol } });
      return;
    }
    decisions.push({
      kind: 'needs_lookup', lookupKey: key, by: exchangeOrderId !== null ? 'exchange_id' : 'client_id',
      clientOrderId: o.clientOrderId, exchangeOrderId, symbol: o.symbol, createdAtMs: o.createdAtMs, reason,
    });
  };
  /** Evidence about an order → the event it amounts to (fills: filled in full, else still working). */
  const settle = (o: ReconcileOrder, c: Candidate): void => {
    if (c.report !== null) {
      apply(o, eventFor(c.report.status), c.evidence, c.report.leftQty);
    } else if (c.fill !== null) {
      if (c.fill.qty.gte(o.qty)) apply(o, 'filled', 'fills', new Decimal(0));
      else apply(o, 'seen_partial', 'fills', o.qty.sub(c.fill.qty));
    }
  };

  const symbolReady = (symbol: PairSymbol): boolean => {
    const snap = input.openOrders.get(symbol);
    if (snap !== undefined && snap.status === 'ok') return true;
    if (!skipped.has(symbol)) {
      skipped.add(symbol);
      decisions.push(
        snap === undefined
          ? { kind: 'symbol_skipped', symbol, reason: 'open_orders_not_fetched', detail: {} }
          : { kind: 'symbol_skipped', symbol, reason: 'open_orders_fetch_failed', detail: { error: snap.error.slice(0, 120) } },
      );
    }
    return false;
  };

  // Rows with an exchange id first: what is theirs is settled before client ids look for orders.
  const sorted = [...input.orders].sort((a, b) => Number(a.exchangeOrderId === null) - Number(b.exchangeOrderId === null));
  for (const o of sorted) {
    if (!symbolReady(o.symbol)) continue;

    if (o.exchangeOrderId !== null) {
      const match = listed.get(o.exchangeOrderId);
      if (match !== undefined) {
        accounted.add(match.exchangeOrderId);
        seen(o);
        apply(o, eventFor(match.status), 'open_orders', match.leftQty);
        continue;
      }
      if (TERMINAL_STATES.has(o.state)) continue; // closed; a listing can still bring it back
      const [found] = foundReports(o.exchangeOrderId).filter((r) => r.exchangeOrderId === o.exchangeOrderId);
      if (found !== undefined) {
        seen(o);
        apply(o, eventFor(found.status), 'order_lookup', found.leftQty);
        continue;
      }
      const filled = fillsById.get(o.exchangeOrderId);
      if (o.state === 'unknown_closed') {
        // Closed by inference: fills beyond what the row knew prove it worked after all.
        if (filled !== undefined && filled.qty.gt(o.qty.sub(o.leftQty))) {
          seen(o);
          settle(o, { exchangeOrderId: o.exchangeOrderId, report: null, evidence: 'fills', fill: filled });
        } else {
          stillRecovering(o);
        }
        continue;
      }
      if (filled !== undefined && filled.qty.gte(o.qty)) {
        seen(o);
        apply(o, 'filled', 'fills', new Decimal(0));
        continue;
      }
      absentOrLookup(o);
      continue;
    }

    // No exchange order yet: every exchange order carrying the client id is a candidate.
    if (o.clientOrderId === null || o.mode === 'external') continue;
    const cid = o.clientOrderId;
    const candidates = new Map<ExchangeOrderId, Candidate>();
    const add = (xid: ExchangeOrderId, patch: Partial<Candidate>): void => {
      if (rowByExchangeId.has(xid) || accounted.has(xid)) return; // tracked by a row already
      const c = candidates.get(xid) ?? { exchangeOrderId: xid, report: null, evidence: 'fills', fill: null };
      if (patch.report !== undefined && c.report === null) {
        c.report = patch.report;
        c.evidence = patch.evidence ?? c.evidence;
      }
      if (patch.fill !== undefined) c.fill = patch.fill;
      candidates.set(xid, c);
    };
    for (const r of listed.values()) if (r.clientOrderId === cid) add(r.exchangeOrderId, { report: r, evidence: 'open_orders' });
    for (const r of foundReports(cid)) if (r.clientOrderId === cid) add(r.exchangeOrderId, { report: r, evidence: 'order_lookup' });
    for (const f of fills) {
      if (f.clientOrderId !== cid) continue;
      add(f.exchangeOrderId, { fill: f });
      const [looked] = foundReports(f.exchangeOrderId);
      if (looked !== undefined) add(f.exchangeOrderId, { report: looked, evidence: 'order_lookup' });
    }
    const ordered = [...candidates.values()].sort((a, b) => olderFirst(a.exchangeOrderId, b.exchangeOrderId));
    // The oldest order that is the one we asked for (same symbol and side) becomes the row's.
    const mine = ordered.find((c) => (c.report ?? c.fill)!.symbol === o.symbol && (c.report ?? c.fill)!.side === o.side);
    for (const c of ordered) {
      accounted.add(c.exchangeOrderId);
      if (c === mine) {
        decisions.push({ kind: 'enrich_exchange_id', clientOrderId: cid, exchangeOrderId: c.exchangeOrderId, from: o.state, evidence: c.evidence });
        seen(o);
        settle(o, c);
        // Known only from part of its fills: its own status (working or canceled) needs the order itself.
        if (c.report === null && c.fill !== null && c.fill.qty.lt(o.qty)) need(o, 'fill_evidence', c.exchangeOrderId);
      } else if (c.report !== null) {
        decisions.push({ kind: 'record_duplicate', report: c.report, duplicateOf: cid, evidence: c.evidence });
      } else {
        need(o, 'fill_evidence', c.exchangeOrderId); // a duplicate known only from fills: its row needs the order itself
      }
    }
    if (mine !== undefined || TERMINAL_STATES.has(o.state)) continue;
    if (o.state === 'unknown_closed') stillRecovering(o);
    else absentOrLookup(o);
  }

  // A further order under one of our client ids known only from its fills, while the row already has
  // its own exchange order (rows without one took theirs above): looked up, then recorded as a
  // duplicate (tracked, alerted, cancelled). Client ids are not unique at BTCTurk (Q10).
  for (const f of fills) {
    const owner = f.clientOrderId === null ? undefined : ownByClientId.get(f.clientOrderId);
    if (owner === undefined || rowByExchangeId.has(f.exchangeOrderId) || accounted.has(f.exchangeOrderId)) continue;
    accounted.add(f.exchangeOrderId);
    const [looked] = foundReports(f.exchangeOrderId).filter((r) => r.exchangeOrderId === f.exchangeOrderId);
    if (looked !== undefined) decisions.push({ kind: 'record_duplicate', report: looked, duplicateOf: owner.clientOrderId!, evidence: 'order_lookup' });
    else need(owner, 'fill_evidence', f.exchangeOrderId);
  }

  /** Closed only by inference: looked up every cycle while its recovery window lasts; a "not found" changes nothing. */
  function stillRecovering(o: ReconcileOrder): void {
    const key = lookupKey(o);
    if (isRecovering(o, input.nowMs, absence.recoveryWindowMs) && key !== null && input.lookups?.get(key) === undefined) need(o, 'may_still_appear');
  }

  /** A working row the exchange did not show: look it up, or apply the answer of the lookup. */
  function absentOrLookup(o: ReconcileOrder): void {
    const key = lookupKey(o);
    const lookup = key === null ? undefined : input.lookups?.get(key);
    if (lookup === undefined || lookup.status === 'found') {
      need(o, 'missing_from_open_orders');
    } else if (lookup.status === 'failed') {
      need(o, 'lookup_failed');
    } else {
      const last = o.sightings.lastNotFoundAtMs;
      const counted = last === null || input.nowMs - last >= lookupSpacingMs(absence);
      const count = o.sightings.notFoundCount + (counted ? 1 : 0);
      const closesAtMs = absenceStartMs(o) + absence.windowMs;
      if (counted && count >= absence.minLookups && input.nowMs >= closesAtMs) apply(o, 'not_found', 'lookup_not_found', null);
      else decisions.push({ kind: 'absence_noted', ...ref(o), state: o.state, notFoundCount: count, counted, closesAtMs });
    }
  }

  for (const [symbol, snap] of input.openOrders) {
    if (snap.status !== 'ok') continue;
    for (const r of snap.orders) {
      if (accounted.has(r.exchangeOrderId) || rowByExchangeId.has(r.exchangeOrderId)) continue;
      if (r.symbol !== symbol) {
        decisions.push({ kind: 'anomaly', clientOrderId: r.clientOrderId, exchangeOrderId: r.exchangeOrderId, reason: 'symbol_mismatch', detail: { listed_under: symbol, symbol: r.symbol } });
      }
      accounted.add(r.exchangeOrderId);
      const cid = r.clientOrderId;
      if (cid !== null && ownByClientId.has(cid)) decisions.push({ kind: 'record_duplicate', report: r, duplicateOf: cid, evidence: 'open_orders' });
      else if (isOwnClientOrderId(cid)) decisions.push({ kind: 'adopt_own', report: r });
      else decisions.push({ kind: 'import_external', report: r });
    }
  }
  return decisions;
}

export interface ReconcileSummary {
  readonly enriched: number;
  /** Rows that were unknown, closed by inference or rejected, and got their exchange order after all. */
  readonly cameHome: number;
  readonly imported: number;
  readonly importedWithoutClientId: number;
  readonly duplicates: number;
  readonly adopted: number;
  readonly stateChanges: number;
  readonly unknownClosed: number;
  readonly absencesNoted: number;
  readonly needsLookup: number;
  readonly skippedSymbols: number;
  readonly anomalies: number;
}

/** Audit counters, counted from the decision objects. */
export function summarizeReconcile(decisions: readonly ReconcileDecision[]): ReconcileSummary {
  const count = (f: (d: ReconcileDecision) => boolean): number => decisions.filter(f).length;
  return {
    enriched: count((d) => d.kind === 'enrich_exchange_id'),
    cameHome: count((d) => d.kind === 'enrich_exchange_id' && d.from !== 'pending_submit'),
    imported: count((d) => d.kind === 'import_external'),
    importedWithoutClientId: count((d) => d.kind === 'import_external' && d.report.clientOrderId === null),
    duplicates: count((d) => d.kind === 'record_duplicate'),
    adopted: count((d) => d.kind === 'adopt_own'),
    stateChanges: count((d) => d.kind === 'set_state'),
    unknownClosed: count((d) => d.kind === 'set_state' && d.to === 'unknown_closed'),
    absencesNoted: count((d) => d.kind === 'absence_noted'),
    needsLookup: count((d) => d.kind === 'needs_lookup'),
    skippedSymbols: count((d) => d.kind === 'symbol_skipped'),
    anomalies: count((d) => d.kind === 'anomaly'),
  };
}
