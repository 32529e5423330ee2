// `btcbot halt [--reason TEXT] [--cancel-open]` and `btcbot resume`.
//
// Halt works in the order that matters most when something is wrong: first the persisted halt
// (every later cycle is blocked, even if Temporal is down), then the halt signal to every running
// cycle on our task queue (no new submits from that moment), then, when asked, a
// `cancelOwnOpenOrders` workflow for the bot's own open orders. Only the last needs the trading
// configuration, so a bad variable can never stop an operator from halting.
import { userInfo } from 'node:os';
import { WorkflowFailedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { clearHalt, setHalt, type HaltState } from '../store/runtime.js';
import {
  CANCEL_OWN_ORDERS_WORKFLOW,
  haltSignal,
  TRADING_CYCLE_WORKFLOW,
  type CancelOwnOrdersInput,
  type CancelOwnOrdersResult,
} from '../workflows/definitions.js';
import { connectClient, formatTable, loadControlSettings, openDatabase } from './context.js';
import { loadCycleSettings } from './cycle-settings.js';
import { EXIT } from './errors.js';
import { printable } from './printable.js';
import { alertOperator } from './operator-alerts.js';
import { haltAlert, resumeAlert } from '../domain/alerts.js';

/** How long `--cancel-open` waits for the cancel workflow (a worker must be running). */
const CANCEL_TIMEOUT = '2m';

function operator(): string {
  try {
    return `cli:${userInfo().username}`;
  } catch {
    return 'cli';
  }
}

/** A stored halt for a terminal: written by any version (an old one took any --reason), so escaped. */
const describeHalt = (h: HaltState): string => printable(`since ${h.haltedAt} by ${h.by}: ${h.reason}`);

export interface SignalReport {
  signalled: string[];
  /** Cycles that finished between the listing and the signal. */
  finished: string[];
}

/** Send the halt signal to every running `tradingCycle` on the task queue. */
export async function signalRunningCycles(client: Client, taskQueue: string, request: { reason: string; by: string }): Promise<SignalReport> {
  const report: SignalReport = { signalled: [], finished: [] };
  const query = `WorkflowType="${TRADING_CYCLE_WORKFLOW}" AND ExecutionStatus="Running" AND TaskQueue="${taskQueue.replace(/"/g, '')}"`;
  for await (const wf of client.workflow.list({ query })) {
    try {
      // The run id pins the signal to the run we listed; a newer run of the same id is left alone.
      await client.workflow.getHandle(wf.workflowId, wf.runId).signal(haltSignal, request);
      report.signalled.push(wf.workflowId);
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
      report.finished.push(wf.workflowId);
    }
  }
  return report;
}

export async function halt({ reason, cancelOpen }: { reason: string; cancelOpen: boolean }): Promise<number> {
  const infra = loadControlSettings();
  const by = operator();
  const { pool } = await openDatabase();
  let state: HaltState;
  let fresh: boolean;
  try {
    const mine: HaltState = { reason, haltedAt: new Date().toISOString(), by };
    state = await setHalt(pool, mine);
    fresh = state.haltedAt === mine.haltedAt && state.by === mine.by && state.reason === mine.reason;
  } finally {
    await pool.end();
  }
  console.log('trading HALTED');
  // Sent alongside the signals below (never delaying them); main waits for it before exiting.
  if (fresh) alertOperator(haltAlert(state, cancelOpen));
  const rows: Array<[string, string]> = [
    ['halt', fresh ? describeHalt(state) : `already halted ${describeHalt(state)} (kept)`],
    ['persisted', 'yes: later cycles are blocked until `btcbot resume`'],
  ];

  let temporal: Awaited<ReturnType<typeof connectClient>>;
  try {
    temporal = await connectClient(infra);
  } catch (err) {
    rows.push(['signalled', `NOT DONE: ${(err as Error).message}`]);
    rows.push(['cancelled', cancelOpen ? 'NOT DONE: Temporal is unreachable' : 'not requested (--cancel-open)']);
    console.log(formatTable(rows));
    console.log('  Running cycles were not told to stop; run `btcbot halt` again when Temporal is reachable.');
    return EXIT.failed;
  }
  try {
    const { signalled, finished } = await signalRunningCycles(temporal.client, infra.taskQueue, { reason, by });
    rows.push([
      'signalled',
      `${signalled.length} running cycle(s) on task queue ${infra.taskQueue}${signalled.length ? `: ${signalled.join(', ')}` : ''}` +
        (finished.length ? ` (${finished.length} finished before the signal: ${finished.join(', ')})` : ''),
    ]);
    if (!cancelOpen) {
      rows.push(['cancelled', 'not requested (--cancel-open cancels the bot\'s own open orders)']);
      console.log(formatTable(rows));
      return EXIT.ok;
    }
    const cancel = await cancelOwnOpenOrders(temporal.client, infra.taskQueue, reason);
    rows.push(['cancelled', cancel.line]);
    console.log(formatTable(rows));
    return cancel.exit;
  } finally {
    await temporal.close();
  }
}

async function cancelOwnOpenOrders(client: Client, taskQueue: string, reason: string): Promise<{ line: string; exit: number }> {
  let gates: CancelOwnOrdersInput['gates'];
  try {
    gates = loadCycleSettings().gates;
  } catch (err) {
    return { line: `NOT DONE: ${(err as Error).name}: ${(err as Error).message}`, exit: EXIT.blocked };
  }
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.(\d+)Z$/, '$1Z');
  const workflowId = `halt-cancel-${stamp}`;
  const input: CancelOwnOrdersInput = { reason, gates };
  try {
    const result = (await client.workflow.execute(CANCEL_OWN_ORDERS_WORKFLOW, {
      workflowId,
      taskQueue,
      args: [input],
      workflowExecutionTimeout: CANCEL_TIMEOUT,
      staticSummary: `btcbot halt --cancel-open: ${reason}`.slice(0, 200),
    })) as CancelOwnOrdersResult;
    const what = result.simulatedOnly ? 'dry-run order row(s) cancelled (gates allow no exchange writes)' : 'cancel(s) sent to the exchange';
    return {
      line: `${result.requested} ${what}, ${result.failed} failed (${workflowId})` +
        (result.failed > 0 ? '; failed ones stay tracked and are retried by later cycles' : ''),
      exit: result.failed > 0 ? EXIT.failed : EXIT.ok,
    };
  } catch (err) {
    if (!(err instanceof WorkflowFailedError)) throw err;
    const cause = err.cause?.message ?? err.message;
    return {
      line: `FAILED (${workflowId}): ${cause}; is a worker running on task queue ${taskQueue}?`,
      exit: EXIT.failed,
    };
  }
}

export async function resume(): Promise<number> {
  const { pool } = await openDatabase();
  try {
    const lifted = await clearHalt(pool);
    if (lifted === null) {
      console.log('trading was not halted; nothing to resume');
    } else {
      console.log(`halt lifted (was halted ${describeHalt(lifted)})`);
      alertOperator(resumeAlert(lifted, operator(), new Date().toISOString()));
      console.log('  Later cycles run normally; cycles that received the halt signal stay halted.');
    }
    return EXIT.ok;
  } finally {
    await pool.end();
  }
}
