// One trading cycle = one workflow execution. Reads top to bottom like DESIGN.md §3:
// gate → prepare → market → reconcile → fills + accounting → plan → execute → audit.
import * as wf from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import {
  balanceFromWire, heldBuyFromWire, plannedActionToWire, positionFromWire, quoteFromWire, riskPnlFromWire, rulesFromWire,
  trackedOrderFromWire, tradingConfigFromWire,
} from '../domain/wire.js';
import { BLOCK_MESSAGES, blockReason, evaluateGates, type TradingMode } from '../domain/gates.js';
import { describeUnlisted } from '../domain/listing.js';
import { marksFromQuotes } from '../domain/market.js';
import { planCycle } from '../domain/plan.js';
import { configuredSymbols } from '../domain/symbols.js';
import { toPairSymbol } from '../domain/types.js';
import { ACTIVITY_HEARTBEAT_TIMEOUT, NON_RETRYABLE_ERROR_TYPES as NON_RETRYABLE, SA_MODE, SA_OUTCOME, SA_SYMBOLS } from '../shared.js';
import { startAlertDelivery } from './cycle-alerts.js';
import { CycleReport } from './cycle-report.js';
import { haltSignal, progressQuery, type HaltRequest } from './definitions.js';
import type { CycleInput, CycleOutcome, CycleResult, ExecuteInput } from './types.js';
import { executeSummary, resultDetails, showingSteps } from './ui.js';

type Activities = ReturnType<typeof createActivities>;

const { prepareCycle, fetchMarket, reconcileOrders, syncFillsAndPnl } = showingSteps(wf.proxyActivities<Activities>({
  startToCloseTimeout: '60s',
  heartbeatTimeout: ACTIVITY_HEARTBEAT_TIMEOUT,
  scheduleToCloseTimeout: '3m',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '20s', maximumAttempts: 5, nonRetryableErrorTypes: NON_RETRYABLE },
}));

// Retries are safe: a retried submit finds its pending row and resolves by client id, never resends.
// Each attempt sends nothing after its own deadline (this start-to-close, see activities/execution.ts).
// A halt cancels a submit, and the cycle waits for the attempt to finish (WAIT_CANCELLATION_COMPLETED):
// one still waiting on the limiter stops unsent, one already past its final check is answered and
// recorded (or looked up), so the cycle never moves on while a write may still leave or its ack is lost.
const EXECUTE_OPTIONS: wf.ActivityOptions = {
  startToCloseTimeout: '30s',
  cancellationType: wf.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  heartbeatTimeout: ACTIVITY_HEARTBEAT_TIMEOUT,
  scheduleToCloseTimeout: '2m',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10s', maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE },
};
// One proxy per action, so each executeAction bar in the UI names its side, symbol and price.
// Cycles started before the wait for cancelled writes abandoned a cancelled submit (TRY_CANCEL);
// they replay as they ran.
const WAIT_FOR_CANCELLED_WRITES = 'wait-for-cancelled-writes';
const executeAction = (input: ExecuteInput, waitForCancelled: boolean) => {
  wf.setCurrentDetails(`**running** · execute: ${executeSummary(input.action)}`);
  const cancellation = waitForCancelled ? {} : { cancellationType: wf.ActivityCancellationType.TRY_CANCEL };
  return wf.proxyActivities<Activities>({ ...EXECUTE_OPTIONS, ...cancellation, summary: executeSummary(input.action) }).executeAction(input);
};

// The audit must land even when everything else failed: retried generously, idempotent.
const { recordAudit } = showingSteps(wf.proxyActivities<Activities>({
  startToCloseTimeout: '15s',
  heartbeatTimeout: ACTIVITY_HEARTBEAT_TIMEOUT,
  scheduleToCloseTimeout: '5m',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' },
}));

export async function tradingCycle(input: CycleInput): Promise<CycleResult> {
  const { workflowId: cycleId, runId } = wf.workflowInfo();
  const nowMs = Date.now(); // workflow time: deterministic on replay
  const report = new CycleReport();
  let step = 'gate';
  let halt: HaltRequest | null = null;
  // A halt also cancels a submit in flight: its rate-limit wait ends at once, nothing is sent (a
  // send already past its final check finishes and is recorded).
  const submits = new wf.CancellationScope();
  wf.setHandler(progressQuery, () => step);
  wf.setHandler(haltSignal, (req) => {
    halt ??= req;
    submits.cancel();
  });

  const gate = evaluateGates(input.gates, input.dryRunRequested);
  const mode: TradingMode = gate.outcome === 'run' ? gate.mode : 'live';
  wf.upsertSearchAttributes([{ key: SA_MODE, value: mode }, { key: SA_SYMBOLS, value: input.symbols }]);

  const finish = async (outcome: CycleOutcome, extra: { message?: string; errorClass?: string } = {}): Promise<CycleResult> => {
    step = 'audit';
    wf.upsertSearchAttributes([{ key: SA_OUTCOME, value: outcome }]);
    const { inserted, alertsPending } = await recordAudit({
      cycleId, workflowId: cycleId, runId, mode, outcome,
      startedAt: new Date(nowMs).toISOString(), finishedAt: new Date().toISOString(),
      counts: report.counts, decisions: report.decisions, alerts: report.alerts,
      envelope: {
        cycle_id: cycleId, command: 'stage4-run', trigger: input.trigger, dry_run: mode === 'dry_run',
        live_mode: gate.outcome === 'run' && gate.mode === 'live', kill_switch: input.gates.killSwitch,
        symbols: [...input.symbols].sort(), timestamp_utc: new Date(nowMs).toISOString(),
      },
      errorClass: extra.errorClass ?? null, errorMessage: extra.message ?? null,
    });
    if (alertsPending > 0) await startAlertDelivery(cycleId);
    step = 'done';
    const result: CycleResult = {
      cycleId, mode, outcome, blockReason: gate.outcome === 'blocked' ? gate.reason : null,
      message: extra.message ?? null, counts: report.counts, notes: report.alerts, symbolFailures: report.failures, auditRecorded: inserted,
    };
    wf.setCurrentDetails(resultDetails(result));
    return result;
  };

  // 1. Gate: the starter's four gates, pure, before any I/O.
  if (gate.outcome === 'blocked') {
    report.count('blocked_by_policy');
    report.decisions.push(`policy_block:${gate.reason}`);
    return finish('blocked', { message: gate.message });
  }
  report.alerts.push(...gate.notes);

  try {
    // 2. Prepare: the worker's config and gates, the persisted halt, the account lease.
    step = 'prepare';
    const ctx = await prepareCycle({ cycleId, mode });
    const workerBlock = mode === 'live' ? blockReason(ctx.workerGates) : null;
    if (workerBlock !== null) {
      report.count('blocked_by_policy');
      report.decisions.push(`policy_block:${workerBlock}:worker`);
      return finish('blocked', { message: `worker: ${BLOCK_MESSAGES[workerBlock]}` });
    }
    if (mode === 'live' && !ctx.hasCredentials) {
      report.decisions.push('policy_block:no_credentials:worker');
      return finish('blocked', { message: 'live trading needs BTCTURK_API_KEY and BTCTURK_API_SECRET on the worker' });
    }
    if (ctx.halt) {
      report.decisions.push(`halted:${ctx.halt.reason}`);
      return finish('halted', { message: `trading is halted since ${ctx.halt.haltedAt}: ${ctx.halt.reason}` });
    }
    if (!ctx.lease.acquired) {
      report.decisions.push(`skipped:cycle_running:${ctx.lease.holder}`);
      return finish('skipped', { message: `another cycle is running for this account (${ctx.lease.holder})` });
    }
    const config = tradingConfigFromWire(ctx.config);
    // The worker decides what it trades: a symbol its SYMBOLS lacks is reported and skipped.
    const { trade: symbols, notConfigured } = configuredSymbols(input.symbols, ctx.config.symbols);
    report.alerts.push(...notConfigured.map((s) => `symbol_not_configured:${s}`));
    if (symbols.length === 0) {
      report.count('blocked_by_policy');
      report.decisions.push('policy_block:symbols_not_configured:worker');
      return finish('blocked', { message: 'worker: none of the requested symbols is in its SYMBOLS' });
    }

    // 3. Market: rules, marks, balance, open orders. Failing symbols sit this cycle out.
    step = 'market';
    const market = await fetchMarket({ symbols, mode, config: ctx.config, hasCredentials: ctx.hasCredentials });
    const failedOpenOrders = market.openOrders.filter((s) => s.status === 'failed').map((s) => s.symbol);
    report.add({
      pairs_listed: market.pairsListed, symbols_unavailable: market.unavailable.length,
      mark_price_failures: market.markFailures.length, open_order_failures: failedOpenOrders.length,
    });
    // A pair the exchange does not list at all is a wrong configuration (a typo, a delisted pair),
    // not a pause: the cycle is blocked, never "ok" without trading it.
    const unlisted = market.unlisted ?? [];
    if (unlisted.length > 0) {
      report.count('blocked_by_policy');
      report.decisions.push(...unlisted.map((s) => `policy_block:symbol_not_listed:${s}`));
      return finish('blocked', { message: `SYMBOLS: ${describeUnlisted(unlisted)}` });
    }
    report.alerts.push(...market.unavailable.map((s) => `symbol_unavailable:${s}`), ...market.markFailures.map((f) => `mark_failed:${f.symbol}:${f.reason}`));
    report.alerts.push(...(market.notes ?? []));
    report.failed(market.failures);

    // 4. Reconcile our orders with the exchange, from evidence.
    step = 'reconcile';
    const rec = await reconcileOrders({ cycleId, mode, nowMs, openOrders: market.openOrders });
    report.add(rec.counts);
    report.decisions.push(...rec.decisions);
    report.alerts.push(...(rec.alerts ?? []));

    // 5. Fills → positions (openings, adoptions) → cursor, balance drift, the PnL snapshot. A
    // symbol whose fills fail or cannot be applied sits out or is quarantined; the cycle goes on.
    step = 'accounting';
    const acct = await syncFillsAndPnl({
      cycleId, mode, accountId: ctx.accountId, nowMs, rules: market.rules, quotes: market.quotes, tryBalance: market.tryBalance,
      baseBalances: market.baseBalances, balancesAtMs: market.balancesAtMs, config: ctx.config, fetchFills: ctx.hasCredentials,
    });
    report.add(acct.counts);
    report.alerts.push(...acct.notes);
    report.failed(acct.failures);

    // 6. Plan, pure: intents → lifecycle → risk. Symbols that sit out lose their submits, never their cancels.
    step = 'plan';
    const plan = planCycle({
      cycleId, nowMs, mode, config,
      symbols,
      excludedSymbols: [...market.unavailable, ...market.markFailures.map((f) => f.symbol), ...failedOpenOrders, ...acct.failedSymbols].map(toPairSymbol),
      rules: new Map(market.rules.map(rulesFromWire).map((r) => [r.symbol, r])),
      marks: marksFromQuotes(market.quotes.map(quoteFromWire)).marks,
      orders: rec.orders.map(trackedOrderFromWire),
      positions: acct.positions.map(positionFromWire),
      pnl: riskPnlFromWire(acct.riskPnl), tryBalance: market.tryBalance === null ? null : balanceFromWire(market.tryBalance),
      quarantinedSymbols: acct.quarantinedSymbols.map(toPairSymbol),
      reduceOnly: acct.reduceOnly.map((r) => ({ ...r, symbol: toPairSymbol(r.symbol) })),
      heldBuys: acct.heldBuys.map(heldBuyFromWire),
      halted: halt !== null,
    });
    report.add(plan.counts);
    report.decisions.push(...plan.decisions);
    if (plan.tradingState !== 'active') report.alerts.push(`trading_state:${plan.tradingState}`);

    // 7. Execute, one activity per action. A halt stops every further submit at once.
    step = 'execute';
    const waitForCancelled = wf.patched(WAIT_FOR_CANCELLED_WRITES);
    for (const action of plan.accepted) {
      const execute = () => executeAction({ cycleId, mode, nowMs, action: plannedActionToWire(action) }, waitForCancelled);
      if (action.kind === 'cancel') {
        report.execution(await execute()); // cancels always run, halted or not
      } else if (halt !== null) {
        report.execution({ outcome: 'halted', clientOrderId: action.clientOrderId, detail: 'halt_signal' });
      } else {
        report.execution(await submits.run(execute).catch((err: unknown) => {
          if (!wf.isCancellation(err)) throw err;
          return { outcome: 'halted', clientOrderId: action.clientOrderId, detail: 'halt_signal_in_flight' } as const;
        }));
      }
    }

    // 8. Audit.
    if (halt !== null) {
      const h: HaltRequest = halt;
      report.decisions.push(`halted:${h.reason}`);
      return finish('halted', { message: `halted by ${h.by}: ${h.reason}` });
    }
    return finish('ok');
  } catch (err) {
    const cause = err instanceof wf.ActivityFailure && err.cause ? err.cause : err;
    const errorClass = cause instanceof wf.ApplicationFailure ? (cause.type ?? 'Error') : (cause as Error).name;
    const message = (cause as Error).message;
    const failedAt = step;
    if (errorClass === 'AccountingIntegrityError') report.alerts.push(`integrity:${message}`);
    report.decisions.push(`failed_at:${failedAt}`);
    await finish('failed', { errorClass, message });
    throw wf.ApplicationFailure.nonRetryable(`cycle failed at ${failedAt}: ${message}`, errorClass);
  }
}
