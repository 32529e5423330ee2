// Reconcile step: our order rows against the exchange, from evidence (rules: src/domain/reconcile.ts).
// Gather: the open orders the market step fetched, every row they or the fills ledger name, and the
// ledger's fills for those rows. Decide (pure); look up every order the first pass asks about (by
// exchange id, else every order carrying the client id); decide again with the answers; apply.
// `reconcileAgainst` is shared with the halt path (src/activities/halt.ts), which fetches its own
// open orders.
import { parseTradingConfig } from '../domain/config.js';
import { LIVE_STATES, RECOVERY_WINDOW_MS } from '../domain/lifecycle.js';
import {
  DEFAULT_ABSENCE_POLICY, reconcile, summarizeReconcile,
  type AbsencePolicy, type OrderLookup, type ReconcileDecision, type ReconcileOrder, type SymbolOpenOrders,
} from '../domain/reconcile.js';
import { orderReportFromWire, trackedOrderToWire } from '../domain/wire.js';
import { toPairSymbol, type PairSymbol } from '../domain/types.js';
import { OrderNotFoundError } from '../exchange/errors.js';
import { beat } from '../progress.js';
import {
  enrichExchangeOrderId, listFillEvidence, listOrdersByExchangeIds, listPlanningOrders, listReconcileOrders, markSeen, noteAbsence, setOrderState,
  trackExchangeOrder, type OrderRef,
} from '../store/orders.js';
import type { ReconcileInput, ReconcileResult } from '../workflows/types.js';
import type { ActivityDeps } from './deps.js';

/** How far back a client-id lookup searches all orders for an order we never got an id for. */
const CLIENT_ID_LOOKBACK_MS = 24 * 60 * 60_000;
export function absencePolicy(deps: ActivityDeps): AbsencePolicy {
  const config = parseTradingConfig(deps.env ?? {});
  return { ...DEFAULT_ABSENCE_POLICY, windowMs: config.orderAbsenceWindowSec * 1000, recoveryWindowMs: config.orderRecoveryWindowSec * 1000 };
}

export interface ReconcileOutcome {
  decisions: ReconcileDecision[];
  /** Rows looked at: working ones (for `db_open`). */
  working: number;
  applied: number;
  notes: string[];
  alerts: string[];
}

export async function reconcileAgainst(
  deps: ActivityDeps,
  openOrders: ReadonlyMap<PairSymbol, SymbolOpenOrders>,
  nowMs: number,
): Promise<ReconcileOutcome> {
  const listed = [...openOrders.values()].flatMap((s) => (s.status === 'ok' ? s.orders : []));
  const rows = await listReconcileOrders(deps.pool, {
    modes: ['live', 'external'],
    // Closed rows (by inference or otherwise) stay in view for the recovery window (lifecycle.ts): their
    // late fills still bring them home. An order listed later than that still comes home: rows are
    // also loaded by the client ids and exchange ids the exchange lists, whatever their age.
    closedSinceMs: nowMs - Math.max(RECOVERY_WINDOW_MS, absencePolicy(deps).recoveryWindowMs),
    clientOrderIds: listed.flatMap((r) => (r.clientOrderId === null ? [] : [r.clientOrderId])),
    exchangeOrderIds: listed.map((r) => r.exchangeOrderId),
  });
  const fills = await listFillEvidence(deps.pool, {
    exchangeOrderIds: rows.filter((o) => o.exchangeOrderId !== null && (LIVE_STATES.has(o.state) || o.state === 'unknown_closed')).map((o) => o.exchangeOrderId!),
    clientOrderIds: rows.filter((o) => o.mode !== 'external' && o.clientOrderId !== null).map((o) => o.clientOrderId!),
  });
  // Rows already tracking an order the fills name (e.g. a recorded duplicate), so it is not recorded twice.
  const known = new Set(rows.map((o) => o.exchangeOrderId));
  const more = fills.filter((f) => !known.has(f.exchangeOrderId)).map((f) => f.exchangeOrderId);
  const orders: ReconcileOrder[] = more.length === 0 ? rows : [
    ...rows,
    ...(await listOrdersByExchangeIds(deps.pool, more)),
  ];
  const absence = absencePolicy(deps);
  const first = reconcile({ orders, openOrders, fills, nowMs, absence });

  const wanted = new Map<string, Extract<ReconcileDecision, { kind: 'needs_lookup' }>>();
  for (const d of first) if (d.kind === 'needs_lookup') wanted.set(d.lookupKey, d);
  beat('reconcile_lookups', { lookups: wanted.size });
  const lookups = new Map<string, OrderLookup>(
    await Promise.all([...wanted.values()].map(async (d): Promise<[string, OrderLookup]> => [d.lookupKey, await lookup(deps, d)])),
  );
  const decisions = lookups.size > 0 ? reconcile({ orders, openOrders, fills, lookups, nowMs, absence }) : first;
  return { decisions, working: orders.filter((o) => LIVE_STATES.has(o.state)).length, ...(await applyDecisions(deps, decisions, nowMs, absence)) };
}

async function lookup(deps: ActivityDeps, d: Extract<ReconcileDecision, { kind: 'needs_lookup' }>): Promise<OrderLookup> {
  try {
    if (d.by === 'exchange_id') return { status: 'found', reports: [await deps.exchange.getOrder(d.exchangeOrderId!)] };
    const found = await deps.exchange.findOrdersByClientId(d.symbol, d.clientOrderId!, d.createdAtMs - CLIENT_ID_LOOKBACK_MS);
    return found.length > 0 ? { status: 'found', reports: found } : { status: 'not_found' };
  } catch (err) {
    if (err instanceof OrderNotFoundError) return { status: 'not_found' };
    return { status: 'failed', error: (err as Error).name };
  }
}

async function applyDecisions(
  deps: ActivityDeps,
  decisions: readonly ReconcileDecision[],
  nowMs: number,
  absence: AbsencePolicy,
): Promise<{ applied: number; notes: string[]; alerts: string[] }> {
  const notes: string[] = [];
  const alerts: string[] = [];
  const seen: OrderRef[] = [];
  /** Rows whose claim did not land: what was decided from that order must not land on them either. */
  const unclaimed = new Set<string>();
  const name = (r: { clientOrderId: string | null; exchangeOrderId: string | null }): string => r.clientOrderId ?? r.exchangeOrderId ?? 'none';
  let applied = 0;
  for (const d of decisions) {
    switch (d.kind) {
      case 'enrich_exchange_id': {
        const outcome = await enrichExchangeOrderId(deps.pool, d.clientOrderId, d.exchangeOrderId, nowMs);
        if (outcome === 'enriched') {
          applied += 1;
          if (d.from !== 'pending_submit') notes.push(`reconcile_came_home:${d.clientOrderId}:${d.exchangeOrderId}:${d.from}:${d.evidence}`);
        } else {
          unclaimed.add(d.clientOrderId);
          notes.push(`reconcile_anomaly:${d.clientOrderId}:claim_${outcome}:${d.exchangeOrderId}`);
        }
        break;
      }
      case 'set_state':
        if (d.clientOrderId !== null && d.exchangeOrderId === null && unclaimed.has(d.clientOrderId)) break;
        if (await setOrderState(deps.pool, d, { from: d.from, to: d.to, leftQty: d.leftQty, nowMs })) applied += 1;
        notes.push(`reconcile:${name(d)}:${d.from}->${d.to}:${d.evidence}`);
        break;
      case 'seen':
        if (!(d.clientOrderId !== null && d.exchangeOrderId === null && unclaimed.has(d.clientOrderId))) seen.push(d);
        break;
      case 'absence_noted':
        if (d.counted) await noteAbsence(deps.pool, d, d.state, nowMs);
        notes.push(`reconcile_absent:${name(d)}:not_found_${d.notFoundCount}_of_${absence.minLookups}${d.counted ? '' : ':too_soon_to_count'}:closes_after_${new Date(d.closesAtMs).toISOString()}`);
        break;
      case 'import_external':
        if ((await trackExchangeOrder(deps.pool, d.report, { kind: 'external' }, nowMs)) !== 'already_tracked') applied += 1;
        break;
      case 'record_duplicate': {
        const outcome = await trackExchangeOrder(deps.pool, d.report, { kind: 'duplicate', of: d.duplicateOf }, nowMs);
        if (outcome !== 'already_tracked') applied += 1;
        alerts.push(`duplicate_order:${d.duplicateOf}:${d.report.exchangeOrderId}:${d.report.status}`);
        break;
      }
      case 'adopt_own': {
        const outcome = await trackExchangeOrder(deps.pool, d.report, { kind: 'own' }, nowMs);
        if (outcome !== 'already_tracked') applied += 1;
        alerts.push(`${outcome === 'recorded_as_duplicate' ? 'duplicate_order' : 'unplanned_own_order'}:${d.report.clientOrderId}:${d.report.exchangeOrderId}`);
        break;
      }
      case 'needs_lookup':
        notes.push(`reconcile_pending:${d.lookupKey}:${d.reason}`);
        break;
      case 'anomaly':
        notes.push(`reconcile_anomaly:${name(d)}:${d.reason}`);
        break;
      case 'symbol_skipped':
        notes.push(`reconcile_skipped:${d.symbol}:${d.reason}`);
        break;
    }
  }
  await markSeen(deps.pool, seen, nowMs);
  return { applied, notes, alerts };
}

export function reconcileActivities(deps: ActivityDeps) {
  return {
    async reconcileOrders(input: ReconcileInput): Promise<ReconcileResult> {
      const openOrders = new Map<PairSymbol, SymbolOpenOrders>(
        input.openOrders.map((s) => [
          toPairSymbol(s.symbol),
          s.status === 'ok' ? { status: 'ok', orders: s.orders.map(orderReportFromWire) } : { status: 'failed', error: s.error },
        ]),
      );
      const r = await reconcileAgainst(deps, openOrders, input.nowMs);
      const summary = summarizeReconcile(r.decisions);
      const planning = await listPlanningOrders(deps.pool, [input.mode, 'external'], input.cycleId, input.nowMs - absencePolicy(deps).recoveryWindowMs);
      return {
        counts: {
          exchange_open: input.openOrders.reduce((n, s) => n + (s.status === 'ok' ? s.orders.length : 0), 0),
          db_open: r.working,
          imported: summary.imported,
          enriched: summary.enriched,
          orders_came_home: summary.cameHome,
          duplicate_orders: summary.duplicates + summary.adopted,
          unknown_closed: summary.unknownClosed,
          absences_noted: summary.absencesNoted,
          external_missing_client_id: summary.importedWithoutClientId,
          order_state_changes: summary.stateChanges,
          reconcile_pending: summary.needsLookup,
          reconcile_anomalies: summary.anomalies,
          reconcile_applied: r.applied,
        },
        decisions: r.notes,
        alerts: r.alerts,
        orders: planning.map(trackedOrderToWire),
      };
    },
  };
}
