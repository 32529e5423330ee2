// `btcbot stage4-run [--dry-run] [--cycle-id ID]`: run one cycle through Temporal and wait.
// Exit codes: 0 ok, 1 failed, 2 blocked by policy or configuration: gates, a halt, or another cycle
// of the account running (the cycle writes its audit row either way), or a symbol the exchange does
// not list (checked first when BTCTURK_BASE_URL is set). A worker must be running (`btcbot worker` or `btcbot up`).
import type { Client } from '@temporalio/client';
import { connectClient, loadControlSettings, log } from './context.js';
import { loadCycleSettings } from './cycle-settings.js';
import { exitCodeOf, formatCycleSummary, newCycleId, runCycle } from './cycles.js';
import { printable } from './printable.js';
import { checkSymbolsBeforeStart } from './symbols.js';

const NO_WORKER_NOTICE_MS = 10_000;

/** Nothing past the first workflow task in the history: no worker has taken the cycle. */
async function noticeNoWorker(client: Client, workflowId: string, taskQueue: string): Promise<void> {
  try {
    const d = await client.workflow.getHandle(workflowId).describe();
    if (d.status.name !== 'RUNNING' || d.historyLength > 2) return;
    log(
      `no worker has picked up cycle ${workflowId} in ${NO_WORKER_NOTICE_MS / 1000} s: none is polling task queue ${taskQueue}? ` +
        'Start `btcbot worker` (or `btcbot up`, the local sandbox); the cycle runs when one does (Ctrl-C stops waiting, not the cycle)',
    );
  } catch {
    // Only a hint: the wait goes on either way.
  }
}

export async function stage4Run({ dryRun, cycleId }: { dryRun: boolean; cycleId?: string }): Promise<number> {
  const infra = loadControlSettings();
  const settings = loadCycleSettings();
  // Only when this shell knows the exchange: the worker has checked its own SYMBOLS at start.
  if (process.env.BTCTURK_BASE_URL?.trim()) await checkSymbolsBeforeStart(settings.symbols, process.env, log);
  const { client, close } = await connectClient(infra);
  try {
    const workflowId = cycleId ?? newCycleId(Date.now(), 'manual');
    // A cycle no worker picks up waits, silently: say so once, and what to start.
    const notice = setTimeout(() => void noticeNoWorker(client, workflowId, infra.taskQueue), NO_WORKER_NOTICE_MS);
    notice.unref();
    const run = await runCycle(client, {
      workflowId,
      taskQueue: infra.taskQueue,
      input: { gates: settings.gates, dryRunRequested: dryRun, symbols: settings.symbols, trigger: 'cli' },
    }).finally(() => clearTimeout(notice));
    // The reason first, on a line of its own (the original CLI's messages for policy blocks).
    if (run.result && run.result.outcome !== 'ok' && run.result.message) console.log(printable(run.result.message));
    console.log(formatCycleSummary(run));
    return exitCodeOf(run);
  } finally {
    await close();
  }
}
