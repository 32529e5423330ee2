// Execute step: one activity per action. The only code that writes to the exchange.
//
// Every write attempt is bounded by its own deadline: the attempt's scheduled time plus its
// start-to-close timeout (and the whole schedule-to-close), from activityInfo(), minus a margin to
// record the outcome. Nothing is sent after it, whatever Temporal or the rate limiter do meanwhile:
// the local deadline is authoritative. Heartbeats keep flowing while a write waits (they are the
// only way a cancellation reaches the activity), and the cancellation aborts the wait (not sent).
// A write already past its final check is not aborted: its answer is read and recorded (the
// workflow waits for the attempt, ActivityCancellationType.WAIT_CANCELLATION_COMPLETED).
//
// Submit protocol (no duplicate order under any retry, no write after a halt):
//   1. re-check the worker's own gates (live) and the persisted halt;
//   2. record `pending_submit`, with the attempt's deadline, BEFORE sending; a known client order id
//      is never sent again;
//   3. send once with the deterministic client order id. A rate-limit wait longer than the time left
//      fails at once; right before the request leaves, the deadline, the gates and the halt are
//      checked again (only a send already past that check can race a halt, by milliseconds);
//   4. stopped before it left → `rejected` (not_sent:<why>); a definite rejection → `rejected`;
//      an ambiguous outcome (timeout, 5xx, unreadable or envelope-less body) is resolved by client
//      order id, halted or not; unresolved, the order stays `unknown` with the attempt's end
//      recorded (reconcile's absence window starts there). Never a blind resend.
// Cancel: by exchange order id, bounded the same way (a halt does not stop cancels); BTCTurk cancels
// are asynchronous, so the row stays `cancel_requested` until a later read confirms it.
import { activityInfo, cancellationSignal } from '@temporalio/activity';
import { parseTradingConfig, toGateSettings } from '../domain/config.js';
import { blockReason } from '../domain/gates.js';
import { eventForReport, LIVE_STATES, TERMINAL_STATES, type SubmitAction, type CancelAction } from '../domain/lifecycle.js';
import { plannedActionFromWire } from '../domain/wire.js';
import { IllegalTransitionError } from '../domain/errors.js';
import { asExchangeOrderId, type ExchangeOrderId, type OrderStatusReport } from '../domain/types.js';
import {
  AmbiguousWriteError,
  BadRequestError,
  ExchangeUnavailableError,
  InsufficientFundsError,
  InvalidOrderError,
  OrderNotCancelableError,
  OrderNotFoundError,
  RateLimitedError,
  WriteNotSentError,
} from '../exchange/errors.js';
import type { WriteControl } from '../exchange/port.js';
import { beat } from '../progress.js';
import { applyOrderEvent, getOrderByClientId, getOrderByRef, recordPendingSubmit } from '../store/orders.js';
import { getHalt } from '../store/runtime.js';
import type { ExecuteInput, ExecuteResult } from '../workflows/types.js';
import type { ActivityDeps } from './deps.js';
import { GateClosedError } from './errors.js';

/** How far back an ambiguous submit is searched for by its client order id. */
const RESOLVE_LOOKBACK_MS = 15 * 60_000;

/**
 * Kept between the last moment a write may leave and the attempt's end: time to record what
 * happened, and slack for a small clock difference between the Temporal server and this worker.
 */
export const SEND_MARGIN_MS = 2_000;

/**
 * The moment this activity attempt must be done with the exchange (epoch ms, this worker's clock).
 * Bounded twice: by the server's stamps (the attempt's scheduled time + start-to-close, the whole
 * schedule-to-close), and by `localStartMs` (when the attempt started on this worker) plus the time
 * the attempt had, so a worker clock behind the server's cannot stretch it past Temporal's timeout.
 */
export function attemptDeadlineMs(localStartMs = Date.now()): number {
  const info = activityInfo();
  const attemptMs = info.startToCloseTimeoutMs > 0 ? info.startToCloseTimeoutMs : Infinity;
  const allLeftMs = info.scheduleToCloseTimeoutMs > 0 ? info.scheduledTimestampMs + info.scheduleToCloseTimeoutMs - info.currentAttemptScheduledTimestampMs : Infinity;
  const byServer = info.currentAttemptScheduledTimestampMs + Math.min(attemptMs, allLeftMs);
  const byLocal = localStartMs + Math.min(attemptMs, allLeftMs);
  return Math.min(byServer, byLocal) - SEND_MARGIN_MS;
}

export function executionActivities(deps: ActivityDeps) {
  const wall = deps.now ?? Date.now;

  function workerBlock(): string | null {
    return blockReason(toGateSettings(parseTradingConfig(deps.env ?? {})));
  }
  /** Live writes need the worker's gates too: the starter's are not enough. */
  function assertWorkerAllowsLiveWrites(): void {
    const reason = workerBlock();
    if (reason !== null) throw new GateClosedError(`worker gates block live writes: ${reason}`);
  }

  /** This attempt's bounds for one write; `haltStops`: a halt stops submits, never cancels. */
  function writeControl(what: string, haltStops: boolean, startedAtMs: number): WriteControl {
    return {
      signal: cancellationSignal(),
      notAfterMs: attemptDeadlineMs(startedAtMs),
      beforeSend: async () => {
        const gate = workerBlock();
        if (gate !== null) throw new WriteNotSentError(`worker gates block live writes: ${gate}; not sent`, 'gate_closed');
        if (haltStops) {
          const halt = await getHalt(deps.pool);
          if (halt) throw new WriteNotSentError(`trading halted (${halt.reason}); not sent`, 'halted');
        }
        beat('sending', { what });
      },
    };
  }

  /**
   * Look for the order on the exchange by client order id and record what is found. `endedAtMs`:
   * when the attempt that may have sent it ended (null: another attempt, whose end is unknown; its
   * recorded deadline bounds it).
   */
  async function resolveSubmit(a: SubmitAction, nowMs: number, why: string, endedAtMs: number | null): Promise<ExecuteResult> {
    let cause = why;
    let found: OrderStatusReport | null;
    beat('resolving_by_client_id', { client_order_id: a.clientOrderId });
    try {
      found = await deps.exchange.findOrderByClientId(a.symbol, a.clientOrderId, nowMs - RESOLVE_LOOKBACK_MS);
    } catch (err) {
      // Cannot tell now: record the uncertainty instead of failing; reconcile resolves it later.
      found = null;
      cause = `${cause};resolution_failed:${(err as Error).name}`;
    }
    if (found) {
      await applyOrderEvent(deps.pool, a.clientOrderId, eventForReport(found.status), {
        exchangeOrderId: found.exchangeOrderId, leftQty: found.leftQty, lastError: cause, seenAtMs: wall(), nowMs,
      });
      return { outcome: 'submitted', clientOrderId: a.clientOrderId, detail: `resolved_by_client_id:${cause}` };
    }
    // Not visible (yet): stay unknown; reconcile resolves it from evidence in later cycles.
    const row = await getOrderByClientId(deps.pool, a.clientOrderId);
    if (row?.state === 'pending_submit') {
      await applyOrderEvent(deps.pool, a.clientOrderId, 'submit_ambiguous', {
        lastError: cause, nowMs, ...(endedAtMs !== null ? { submitEndedMs: endedAtMs } : {}),
      });
    }
    return { outcome: 'unknown', clientOrderId: a.clientOrderId, detail: cause };
  }

  async function submit(a: SubmitAction, input: ExecuteInput, startedAtMs: number): Promise<ExecuteResult> {
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

    const control = mode === 'live' ? writeControl(`submit ${a.clientOrderId}`, true, startedAtMs) : null;
    // A paper order rests from when it is placed, by the worker's clock, not from the cycle's start:
    // the paper fill model counts only public trades after it (a trade in between never reached it).
    const placedAtMs = mode === 'dry_run' ? wall() : nowMs;
    const { created, order } = await recordPendingSubmit(deps.pool, {
      clientOrderId: a.clientOrderId, symbol: a.symbol, side: a.side, price: a.price, qty: a.qty, mode, cycleId, nowMs: placedAtMs,
      ...(control?.notAfterMs !== undefined ? { sendDeadlineMs: control.notAfterMs } : {}),
    });
    beat('submit_recorded', { client_order_id: a.clientOrderId, created });
    if (!created) {
      if (order.state !== 'pending_submit') {
        return { outcome: 'deduped', clientOrderId: a.clientOrderId, detail: `state:${order.state}` };
      }
      // An earlier attempt recorded it and may have sent it before dying: resolve, never resend.
      if (order.mode === 'dry_run') {
        await applyOrderEvent(deps.pool, a.clientOrderId, 'submit_acknowledged', { exchangeOrderId: asExchangeOrderId(`sim-${a.clientOrderId}`), nowMs: placedAtMs });
        return { outcome: 'simulated', clientOrderId: a.clientOrderId, detail: null };
      }
      return resolveSubmit(a, nowMs, `retry_attempt_${activityInfo().attempt}`, null);
    }

    if (control === null) {
      await applyOrderEvent(deps.pool, a.clientOrderId, 'submit_acknowledged', { exchangeOrderId: asExchangeOrderId(`sim-${a.clientOrderId}`), nowMs: placedAtMs });
      return { outcome: 'simulated', clientOrderId: a.clientOrderId, detail: null };
    }

    try {
      const ack = await deps.exchange.submitLimitOrder({
        symbol: a.symbol, side: a.side, price: a.price, qty: a.qty, clientOrderId: a.clientOrderId,
      }, control);
      await recordAck(a, ack.exchangeOrderId, nowMs);
      return { outcome: 'submitted', clientOrderId: a.clientOrderId, detail: ack.exchangeOrderId };
    } catch (err) {
      const e = err as Error & { token?: string | null };
      if (err instanceof WriteNotSentError) {
        const why = `not_sent:${err.reason}`;
        await applyOrderEvent(deps.pool, a.clientOrderId, 'submit_rejected', { lastError: why, nowMs });
        // `canceled`: the workflow cancelled this attempt (a halt) while it waited to send.
        const halted = err.reason === 'halted' || err.reason === 'canceled';
        return { outcome: halted ? 'halted' : 'rejected', clientOrderId: a.clientOrderId, detail: why };
      }
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
      if (err instanceof AmbiguousWriteError) {
        // Sent, outcome unknown (a timeout, an unreadable answer): look it up now, halted or not (a
        // read; the workflow waits for this attempt to finish). Still unseen, it stays unknown.
        return resolveSubmit(a, nowMs, e.name, wall());
      }
      throw err; // auth/config: the row stays pending_submit and reconcile resolves it
    }
  }

  /**
   * The exchange's ack for our submit. While the answer was on its way (a slow POST, a halt), the
   * order may have come home another way: a halt's sweep or a reconcile found it by client id, and
   * it moved on (filled, canceled). The ack is then old news about that same order, not an error.
   */
  async function recordAck(a: SubmitAction, exchangeOrderId: ExchangeOrderId, nowMs: number): Promise<void> {
    try {
      await applyOrderEvent(deps.pool, a.clientOrderId, 'submit_acknowledged', { exchangeOrderId, seenAtMs: wall(), nowMs });
    } catch (err) {
      if (!(err instanceof IllegalTransitionError)) throw err;
      const row = await getOrderByClientId(deps.pool, a.clientOrderId);
      if (row?.exchangeOrderId !== exchangeOrderId) throw err;
      beat('submit_ack_after_resolution', { client_order_id: a.clientOrderId, state: row.state });
    }
  }

  async function cancel(a: CancelAction, input: ExecuteInput, startedAtMs: number): Promise<ExecuteResult> {
    const { nowMs } = input;
    const cid = a.clientOrderId;
    // Our rows by client id; duplicates (and only they, of the rows without one) by exchange id.
    const ref = { clientOrderId: cid, exchangeOrderId: cid === null ? a.exchangeOrderId : null };
    const row = await getOrderByRef(deps.pool, ref);
    if (!row || row.mode === 'external' || TERMINAL_STATES.has(row.state) || !LIVE_STATES.has(row.state)) {
      return { outcome: 'already_closed', clientOrderId: cid, detail: row ? `state:${row.state}` : 'no_row' };
    }
    if (row.mode === 'dry_run') {
      await applyOrderEvent(deps.pool, ref, 'cancel_requested', { nowMs });
      await applyOrderEvent(deps.pool, ref, 'canceled', { leftQty: row.leftQty, nowMs });
      return { outcome: 'canceled', clientOrderId: cid, detail: 'simulated' };
    }
    // A real order is cancelled only by a live run: a dry run never writes to the exchange.
    if (input.mode !== 'live') return { outcome: 'cancel_failed', clientOrderId: cid, detail: 'live_writes_not_allowed' };
    assertWorkerAllowsLiveWrites();
    await applyOrderEvent(deps.pool, ref, 'cancel_requested', { nowMs });
    try {
      await deps.exchange.cancelOrder(a.exchangeOrderId, writeControl(`cancel ${a.exchangeOrderId}`, false, startedAtMs));
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
          await applyOrderEvent(deps.pool, ref, eventForReport(report.status), { leftQty: report.leftQty, seenAtMs: wall(), nowMs });
          return { outcome: 'already_closed', clientOrderId: cid, detail: `exchange_status:${report.status}` };
        }
        await applyOrderEvent(deps.pool, ref, 'cancel_failed', { lastError: (err as Error).name, nowMs });
        return { outcome: 'cancel_failed', clientOrderId: cid, detail: (err as Error).name };
      }
      if (err instanceof AmbiguousWriteError) {
        return { outcome: 'cancel_requested', clientOrderId: cid, detail: 'ambiguous_cancel_awaiting_confirmation' };
      }
      if (err instanceof RateLimitedError || err instanceof ExchangeUnavailableError || err instanceof WriteNotSentError) {
        const why = err instanceof WriteNotSentError ? `not_sent:${err.reason}` : (err as Error).name;
        await applyOrderEvent(deps.pool, ref, 'cancel_failed', { lastError: why, nowMs });
        return { outcome: 'cancel_failed', clientOrderId: cid, detail: why };
      }
      throw err;
    }
  }

  return {
    async executeAction(input: ExecuteInput): Promise<ExecuteResult> {
      const startedAtMs = Date.now(); // this worker's clock: bounds the attempt's deadline (attemptDeadlineMs)
      const action = plannedActionFromWire(input.action);
      return action.kind === 'submit' ? submit(action, input, startedAtMs) : cancel(action, input, startedAtMs);
    },
  };
}
