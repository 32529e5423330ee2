// Reconcile step: our order rows against the exchange, from evidence. Two passes of the pure
// reconcile: decide; look up every order that went missing (by exchange id, else by client id);
// decide again with the lookups; apply. A symbol whose open-order fetch failed is left untouched.
import { LIVE_STATES } from '../domain/lifecycle.js';
import { reconcile, summarizeReconcile, type OrderLookup, type ReconcileDecision, type SymbolOpenOrders } from '../domain/reconcile.js';
import { orderReportFromWire, trackedOrderToWire } from '../domain/wire.js';
import { toPairSymbol, type PairSymbol } from '../domain/types.js';
import { OrderNotFoundError } from '../exchange/errors.js';
import {
  enrichExchangeOrderId,
  importExternalOrder,
  listOrders,
  listPlanningOrders,
  setOrderState,
} from '../store/orders.js';
import type { ReconcileInput, ReconcileResult } from '../workflows/types.js';
import type { ActivityDeps } from './deps.js';

/** How far back a client-id lookup searches all orders for an order we never got an id for. */
const CLIENT_ID_LOOKBACK_MS = 24 * 60 * 60_000;

export function reconcileActivities(deps: ActivityDeps) {
  async function lookup(d: Extract<ReconcileDecision, { kind: 'needs_lookup' }>, createdAtMs: number): Promise<OrderLookup> {
    try {
      if (d.exchangeOrderId !== null) {
        return { status: 'found', report: await deps.exchange.getOrder(d.exchangeOrderId) };
      }
      const found = await deps.exchange.findOrderByClientId(d.symbol, d.clientOrderId!, createdAtMs - CLIENT_ID_LOOKBACK_MS);
      return found ? { status: 'found', report: found } : { status: 'not_found' };
    } catch (err) {
      if (err instanceof OrderNotFoundError) return { status: 'not_found' };
      return { status: 'failed', error: (err as Error).name };
    }
  }

  return {
    async reconcileOrders(input: ReconcileInput): Promise<ReconcileResult> {
      const openOrders = new Map<PairSymbol, SymbolOpenOrders>(
        input.openOrders.map((s) => [
          toPairSymbol(s.symbol),
          s.status === 'ok' ? { status: 'ok', orders: s.orders.map(orderReportFromWire) } : { status: 'failed', error: s.error },
        ]),
      );
      // Only real orders are on the exchange: live rows and imported external rows.
      const orders = await listOrders(deps.pool, { modes: ['live', 'external'], states: [...LIVE_STATES] });
      const first = reconcile({ orders, openOrders, nowMs: input.nowMs });

      const lookups = new Map<string, OrderLookup>();
      for (const d of first) {
        if (d.kind !== 'needs_lookup' || d.reason === 'awaiting_visibility') continue;
        const o = orders.find((x) => (x.exchangeOrderId ?? x.clientOrderId) === d.lookupKey);
        lookups.set(d.lookupKey, await lookup(d, o?.createdAtMs ?? input.nowMs));
      }
      const decisions = lookups.size > 0 ? reconcile({ orders, openOrders, lookups, nowMs: input.nowMs }) : first;

      const notes: string[] = [];
      let applied = 0;
      for (const d of decisions) {
        switch (d.kind) {
          case 'enrich_exchange_id':
            if (await enrichExchangeOrderId(deps.pool, d.clientOrderId, d.exchangeOrderId, input.nowMs)) applied += 1;
            break;
          case 'set_state':
            if (await setOrderState(deps.pool, d, { from: d.from, to: d.to, leftQty: d.leftQty, nowMs: input.nowMs })) applied += 1;
            notes.push(`reconcile:${d.clientOrderId ?? d.exchangeOrderId}:${d.from}->${d.to}:${d.evidence}`);
            break;
          case 'import_external':
            if ((await importExternalOrder(deps.pool, d.report, input.nowMs)).created) applied += 1;
            break;
          case 'needs_lookup':
            notes.push(`reconcile_pending:${d.lookupKey}:${d.reason}`);
            break;
          case 'anomaly':
            notes.push(`reconcile_anomaly:${d.clientOrderId ?? d.exchangeOrderId ?? 'none'}:${d.reason}`);
            break;
          case 'symbol_skipped':
            notes.push(`reconcile_skipped:${d.symbol}:${d.reason}`);
            break;
        }
      }
      const summary = summarizeReconcile(decisions);
      const planning = await listPlanningOrders(deps.pool, [input.mode, 'external'], input.cycleId);
      return {
        counts: {
          exchange_open: input.openOrders.reduce((n, s) => n + (s.status === 'ok' ? s.orders.length : 0), 0),
          db_open: orders.length,
          imported: summary.imported,
          enriched: summary.enriched,
          unknown_closed: summary.unknownClosed,
          external_missing_client_id: summary.importedWithoutClientId,
          order_state_changes: summary.stateChanges,
          reconcile_pending: summary.needsLookup,
          reconcile_anomalies: summary.anomalies,
          reconcile_applied: applied,
        },
        decisions: notes,
        orders: planning.map(trackedOrderToWire),
      };
    },
  };
}
