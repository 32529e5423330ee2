// One trading cycle = one workflow execution. Reads top to bottom like DESIGN.md §3.
import * as wf from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import { evaluateGates, type GateDecision } from '../domain/gates.js';
import { SA_MODE, SA_OUTCOME, SA_SYMBOLS } from '../shared.js';
import { progressQuery } from './definitions.js';
import type { CycleInput, CycleResult } from './types.js';

type Activities = ReturnType<typeof createActivities>;

const { fetchMarket } = wf.proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  scheduleToCloseTimeout: '2m',
  retry: {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '15s',
    maximumAttempts: 5,
    nonRetryableErrorTypes: ['ExchangeConfigError', 'AuthenticationError', 'ConfigError', 'MalformedResponseError'],
  },
});

// The audit write must land even when everything else failed: retried generously, idempotent.
const { recordAudit } = wf.proxyActivities<Activities>({
  startToCloseTimeout: '15s',
  scheduleToCloseTimeout: '5m',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' },
});


export async function tradingCycle(input: CycleInput): Promise<CycleResult> {
  const info = wf.workflowInfo();
  const cycleId = info.workflowId;
  const startedAt = new Date().toISOString();
  let step = 'gate';
  wf.setHandler(progressQuery, () => step);

  const gate: GateDecision = evaluateGates(input.gates, input.dryRunRequested);
  const mode = gate.outcome === 'run' ? gate.mode : 'live';
  wf.upsertSearchAttributes([
    { key: SA_MODE, value: mode },
    { key: SA_SYMBOLS, value: input.symbols },
  ]);
  const envelope = {
    cycle_id: cycleId,
    command: 'stage4-run',
    trigger: input.trigger,
    dry_run: mode === 'dry_run',
    live_mode: gate.outcome === 'run' && gate.mode === 'live',
    kill_switch: input.gates.killSwitch,
    symbols: [...input.symbols].sort(),
    timestamp_utc: startedAt,
  };
  const finish = async (
    outcome: CycleResult['outcome'],
    fields: Pick<CycleResult, 'counts' | 'notes'> & { decisions: string[]; errorClass?: string; errorMessage?: string },
  ): Promise<CycleResult> => {
    step = 'audit';
    wf.upsertSearchAttributes([{ key: SA_OUTCOME, value: outcome }]);
    const { inserted } = await recordAudit({
      cycleId, workflowId: info.workflowId, runId: info.runId, mode, outcome,
      startedAt, finishedAt: new Date().toISOString(),
      counts: fields.counts, decisions: fields.decisions, alerts: fields.notes, envelope,
      errorClass: fields.errorClass ?? null, errorMessage: fields.errorMessage ?? null,
    });
    step = 'done';
    return {
      cycleId, mode, outcome,
      blockReason: gate.outcome === 'blocked' ? gate.reason : null,
      message: gate.outcome === 'blocked' ? gate.message : (fields.errorMessage ?? null),
      counts: fields.counts, notes: fields.notes, auditRecorded: inserted,
    };
  };

  if (gate.outcome === 'blocked') {
    return finish('blocked', { counts: { blocked_by_policy: 1 }, notes: [], decisions: [`policy_block:${gate.reason}`] });
  }

  try {
    step = 'market';
    const market = await fetchMarket({ symbols: input.symbols });
    const counts = {
      pairs_listed: market.pairsListed,
      symbols_tradable: market.rules.filter((r) => r.tradable).length,
      symbols_unavailable: market.unavailable.length,
    };
    const notes = [...gate.notes, ...market.unavailable.map((s) => `symbol_unavailable:${s}`)];
    return await finish('ok', { counts, notes, decisions: [] });
  } catch (err) {
    const cause = err instanceof wf.ActivityFailure && err.cause ? err.cause : err;
    const errorClass = cause instanceof wf.ApplicationFailure ? (cause.type ?? 'Error') : (cause as Error).name;
    const errorMessage = (cause as Error).message;
    await finish('failed', { counts: {}, notes: [...gate.notes], decisions: [], errorClass, errorMessage });
    throw wf.ApplicationFailure.nonRetryable(`cycle failed: ${errorMessage}`, errorClass);
  }
}
