// Execute step: one activity per action. The only code that writes to the exchange.
//
// Submit protocol (no duplicate order under any retry):
//   1. re-check the worker's own gates (live) and the persisted halt;
//   2. record `pending_submit` BEFORE sending; a known client order id is never sent again;
//   3. send once with the deterministic client order id;
//   4. an ambiguous outcome (timeout, 5xx, unreadable body) is resolved by client order id;
//      unresolved, the order stays `unknown` for later reconciles. Never a blind resend.
// Cancel: by exchange order id; BTCTurk cancels are asynchronous, so the row stays
// `cancel_requested` until a later read confirms it.
import { activityInfo } from '@temporalio/activity';
import { parseTradingConfig, toGateSettings } from '../domain/config.js';
import { blockReason } from '../domain/gates.js';
import { eventForReport, LIVE_STATES, planHaltCancels, TERMINAL_STATES, type SubmitAction, type CancelAction } from '../domain/lifecycle.js';
import { plannedActionFromWire, plannedActionToWire, type PlannedActionWire } from '../domain/wire.js';
import { asExchangeOrderId, type OrderStatusReport } from '../domain/types.js';
import {
  AmbiguousWriteError,
  BadRequestError,
  ExchangeUnavailableError,
  InsufficientFundsError,
  InvalidOrderError,
  OrderNotCancelableError,
  OrderNotFoundError,
  RateLimitedError,
} from '../exchange/errors.js';
import { applyOrderEvent, getOrderByClientId, listOrders, recordPendingSubmit } from '../store/orders.js';
import { getHalt } from '../store/runtime.js';
import type { ExecuteInput, ExecuteResult } from '../workflows/types.js';
import type { ActivityDeps } from './deps.js';
import { GateClosedError } from './errors.js';

/** How far back an ambiguous submit is searched for by its client order id. */
const RESOLVE_LOOKBACK_MS = 15 * 60_000;

export function executionActivities(deps: ActivityDeps) {
  /** Live writes need the worker's gates too: the starter's are not enough. */
  function assertWorkerAllowsLiveWrites(): void {
    const reason = blockReason(toGateSettings(parseTradingConfig(deps.env ?? {})));
    if (reason !== null) throw new GateClosedError(`worker gates block live writes: ${reason}`);
  }

  /** Look for the order on the exchange by client order id and record what is found. */
  async function resolveSubmit(a: SubmitAction, nowMs: number, why: string): Promise<ExecuteResult> {
    let cause = why;
    let found: OrderStatusReport | null;
    try {
      found = await deps.exchange.findOrderByClientId(a.symbol, a.clientOrderId, nowMs - RESOLVE_LOOKBACK_MS);
    } catch (err) {
      // Cannot tell now: record the uncertainty instead of failing; reconcile resolves it later.
      found = null;
      cause = `${cause};resolution_failed:${(err as Error).name}`;
    }
    if (found) {
      await applyOrderEvent(deps.pool, a.clientOrderId, eventForReport(found.status), {
        exchangeOrderId: found.exchangeOrderId, leftQty: found.leftQty, lastError: cause, nowMs,
      });
      return { outcome: 'submitted', clientOrderId: a.clientOrderId, detail: `resolved_by_client_id:${cause}` };
    }
    // Not visible (yet): stay unknown; reconcile resolves it from evidence in later cycles.
    const row = await getOrderByClientId(deps.pool, a.clientOrderId);
    if (row?.state === 'pending_submit') {
      await applyOrderEvent(deps.pool, a.clientOrderId, 'submit_ambiguous', { lastError: cause, nowMs });
    }
    return { outcome: 'unknown', clientOrderId: a.clientOrderId, detail: cause };
  }

  async function submit(a: SubmitAction, input: ExecuteInput): Promise<ExecuteResult> {
    const { mode, nowMs, cycleId } = input;
    if (mode === 'live') assertWorkerAllowsLiveWrites();
    const halt = await getHalt(deps.pool);
    if (halt) return { outcome: 'halted', clientOrderId: a.clientOrderId, detail: halt.reason };

    // A replace submits only once the orders it replaces are closed (defect 15).
    for (const cid of a.afterCancelOf) {
      const replaced = await getOrderByClientId(deps.pool, cid);
      if (replaced && !TERMINAL_STATES.has(replaced.state) && replaced.state !== 'unknown_closed') {
        return { outcome: 'deferred', clientOrderId: a.clientOrderId, detail: `awaiting_cancel:${cid}` };
      }
    }

    const { created, order } = await recordPendingSubmit(deps.pool, {
      clientOrderId: a.clientOrderId, symbol: a.symbol, side: a.side, price: a.price, qty: a.qty, mode, cycleId, nowMs,
    });
    if (!created) {
      if (order.state !== 'pending_submit') {
        return { outcome: 'deduped', clientOrderId: a.clientOrderId, detail: `state:${order.state}` };
      }
      // An earlier attempt recorded it and may have sent it before dying: resolve, never resend.
      if (order.mode === 'dry_run') {
        await applyOrderEvent(deps.pool, a.clientOrderId, 'submit_acknowledged', { exchangeOrderId: asExchangeOrderId(`sim-${a.clientOrderId}`), nowMs });
        return { outcome: 'simulated', clientOrderId: a.clientOrderId, detail: null };
      }
      return resolveSubmit(a, nowMs, `retry_attempt_${activityInfo().attempt}`);
    }

    if (mode === 'dry_run') {
      await applyOrderEvent(deps.pool, a.clientOrderId, 'submit_acknowledged', { exchangeOrderId: asExchangeOrderId(`sim-${a.clientOrderId}`), nowMs });
      return { outcome: 'simulated', clientOrderId: a.clientOrderId, detail: null };
    }

    try {
      const ack = await deps.exchange.submitLimitOrder({
        symbol: a.symbol, side: a.side, price: a.price, qty: a.qty, clientOrderId: a.clientOrderId,
      });
      await applyOrderEvent(deps.pool, a.clientOrderId, 'submit_acknowledged', { exchangeOrderId: ack.exchangeOrderId, nowMs });
      return { outcome: 'submitted', clientOrderId: a.clientOrderId, detail: ack.exchangeOrderId };
    } catch (err) {
      const e = err as Error & { token?: string | null };
      if (err instanceof InvalidOrderError || err instanceof InsufficientFundsError || err instanceof BadRequestError) {
        const why = `${e.name}:${e.token ?? 'rejected'}`;
        await applyOrderEvent(deps.pool, a.clientOrderId, 'submit_rejected', { lastError: why, nowMs });
        return { outcome: 'rejected', clientOrderId: a.clientOrderId, detail: why };
      }
      if (err instanceof RateLimitedError || err instanceof ExchangeUnavailableError) {
        // Refused before processing (429, connection refused): no order exists. A later cycle
        // plans afresh under a new client order id.
        const why = `not_sent:${e.name}`;
        await applyOrderEvent(deps.pool, a.clientOrderId, 'submit_rejected', { lastError: why, nowMs });
        return { outcome: 'rejected', clientOrderId: a.clientOrderId, detail: why };
      }
      if (err instanceof AmbiguousWriteError) return resolveSubmit(a, nowMs, e.name);
      throw err; // auth/config: the row stays pending_submit and reconcile resolves it
    }
  }

  async function cancel(a: CancelAction, input: ExecuteInput): Promise<ExecuteResult> {
    const { nowMs } = input;
    const cid = a.clientOrderId;
    const row = cid ? await getOrderByClientId(deps.pool, cid) : null;
    if (!row || TERMINAL_STATES.has(row.state) || !LIVE_STATES.has(row.state)) {
      return { outcome: 'already_closed', clientOrderId: cid, detail: row ? `state:${row.state}` : 'no_row' };
    }
    if (row.mode === 'dry_run') {
      await applyOrderEvent(deps.pool, cid!, 'cancel_requested', { nowMs });
      await applyOrderEvent(deps.pool, cid!, 'canceled', { leftQty: row.leftQty, nowMs });
      return { outcome: 'canceled', clientOrderId: cid, detail: 'simulated' };
    }
    // A real order is cancelled only by a live run: a dry run never writes to the exchange.
    if (input.mode !== 'live') return { outcome: 'cancel_failed', clientOrderId: cid, detail: 'live_writes_not_allowed' };
    assertWorkerAllowsLiveWrites();
    await applyOrderEvent(deps.pool, cid!, 'cancel_requested', { nowMs });
    try {
      await deps.exchange.cancelOrder(a.exchangeOrderId);
      return { outcome: 'cancel_requested', clientOrderId: cid, detail: a.exchangeOrderId };
    } catch (err) {
      if (err instanceof OrderNotCancelableError || err instanceof OrderNotFoundError) {
        // Usually filled in the meantime: record what the exchange says the order is now.
        let report: OrderStatusReport;
        try {
          report = await deps.exchange.getOrder(a.exchangeOrderId);
        } catch {
          return { outcome: 'cancel_requested', clientOrderId: cid, detail: `unconfirmed:${(err as Error).name}` };
        }
        if (report.status === 'filled' || report.status === 'canceled') {
          await applyOrderEvent(deps.pool, cid!, eventForReport(report.status), { leftQty: report.leftQty, nowMs });
          return { outcome: 'already_closed', clientOrderId: cid, detail: `exchange_status:${report.status}` };
        }
        await applyOrderEvent(deps.pool, cid!, 'cancel_failed', { lastError: (err as Error).name, nowMs });
        return { outcome: 'cancel_failed', clientOrderId: cid, detail: (err as Error).name };
      }
      if (err instanceof AmbiguousWriteError) {
        return { outcome: 'cancel_requested', clientOrderId: cid, detail: 'ambiguous_cancel_awaiting_confirmation' };
      }
      if (err instanceof RateLimitedError || err instanceof ExchangeUnavailableError) {
        await applyOrderEvent(deps.pool, cid!, 'cancel_failed', { lastError: (err as Error).name, nowMs });
        return { outcome: 'cancel_failed', clientOrderId: cid, detail: (err as Error).name };
      }
      throw err;
    }
  }

  return {
    async executeAction(input: ExecuteInput): Promise<ExecuteResult> {
      const action = plannedActionFromWire(input.action);
      return action.kind === 'submit' ? submit(action, input) : cancel(action, input);
    },

    /** Cancels for the bot's own working orders (halt --cancel-open). */
    async planOwnOrderCancels(): Promise<PlannedActionWire[]> {
      const working = await listOrders(deps.pool, { modes: ['live', 'dry_run'], states: [...LIVE_STATES] });
      return planHaltCancels(working).map(plannedActionToWire);
    },
  };
}
