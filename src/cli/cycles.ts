// Starting a cycle through Temporal and reporting it to a person.
import { randomBytes } from 'node:crypto';
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowIdConflictPolicy,
  WorkflowIdReusePolicy,
  type Client,
} from '@temporalio/client';
import { WORKFLOW_ID_PREFIX } from '../shared.js';
import type { tradingCycle } from '../workflows/trading-cycle.js';
import type { CycleInput, CycleResult } from '../workflows/types.js';
import { formatTable } from './context.js';
import { EXIT } from './errors.js';

/** `cycle-manual-20261125T101500Z-3f9a`: readable, sortable, unique per invocation. */
export function newCycleId(nowMs: number, trigger: string): string {
  const stamp = new Date(nowMs).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${WORKFLOW_ID_PREFIX}${trigger}-${stamp}-${randomBytes(2).toString('hex')}`;
}

export interface CycleRun {
  workflowId: string;
  /** True when a cycle with this id already existed: it was not started again. */
  deduped: boolean;
  /** The cycle's result; null when it failed (see `failure`). */
  result: CycleResult | null;
  failure: string | null;
}

/**
 * Run one cycle and wait for it. Workflow ids dedupe cycles: a second start of the same id is
 * rejected by Temporal (running or already closed) and we report the first run's outcome.
 */
export async function runCycle(
  client: Client,
  opts: { workflowId: string; taskQueue: string; input: CycleInput },
): Promise<CycleRun> {
  let deduped = false;
  try {
    await client.workflow.start<typeof tradingCycle>('tradingCycle', {
      workflowId: opts.workflowId,
      taskQueue: opts.taskQueue,
      args: [opts.input],
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.FAIL,
      workflowExecutionTimeout: '10m',
      staticSummary: `btcbot cycle (${opts.input.symbols.join(', ')})`,
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    deduped = true;
  }
  try {
    const result = (await client.workflow.getHandle(opts.workflowId).result()) as CycleResult;
    return { workflowId: opts.workflowId, deduped, result, failure: null };
  } catch (err) {
    if (!(err instanceof WorkflowFailedError)) throw err;
    return { workflowId: opts.workflowId, deduped, result: null, failure: err.cause?.message ?? err.message };
  }
}

/** 0 ok; 2 when policy stopped the cycle (gates, a halt, another cycle running); 1 when it failed. */
export function exitCodeOf(run: CycleRun): number {
  switch (run.result?.outcome) {
    case 'ok':
      return EXIT.ok;
    case 'blocked':
    case 'halted':
    case 'skipped':
      return EXIT.blocked;
    default:
      return EXIT.failed;
  }
}

export function workflowUiUrl(uiUrl: string, namespace: string, workflowId: string): string {
  return `${uiUrl}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

export function formatCycleSummary(run: CycleRun, extra: Array<[string, string]> = []): string {
  const lines: Array<[string, string]> = [['cycle', run.workflowId + (run.deduped ? ' (already existed; not started again)' : '')]];
  if (run.result) {
    const r = run.result;
    lines.push(['outcome', r.outcome + (r.blockReason ? ` (${r.blockReason})` : '')]);
    lines.push(['mode', r.mode]);
    if (r.message) lines.push(['message', r.message]);
    // Non-zero counters only; the audit row and the workflow result keep all of them.
    const counts = Object.entries(r.counts).filter(([, v]) => v !== 0).map(([k, v]) => `${k}=${v}`).join(' ');
    if (counts) lines.push(['counts', counts]);
    // Each symbol that failed a step, with its cause, on a line of its own.
    for (const f of r.symbolFailures ?? []) lines.push(['failed', `${f.symbol} ${f.step}: ${f.errorClass}: ${f.message}`]);
    const notes = r.notes.filter((n) => !n.startsWith('symbol_failed:'));
    if (notes.length > 0) lines.push(['notes', notes.join(', ')]);
    lines.push(['audit', r.auditRecorded ? 'cycle_audit row written' : 'cycle_audit row already existed']);
  } else {
    lines.push(['outcome', 'failed']);
    lines.push(['error', run.failure ?? 'unknown']);
  }
  lines.push(...extra);
  return formatTable(lines);
}
