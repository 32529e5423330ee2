// `btcbot halt [--reason TEXT] [--cancel-open]` and `btcbot resume`.
//
// Halt works in the order that matters most when something is wrong: first the persisted halt
// (every later cycle is blocked, even if Temporal is down), then the halt signal to every running
// cycle on our task queue (no new submits from that moment; a submit waiting to be sent is
// cancelled), then, when asked, a `cancelOwnOpenOrders` workflow that resolves unknown submits,
// cancels every working order of ours and waits until the exchange lists none, showing its
// progress, or says exactly which still work. Only the last needs the trading configuration, so a
// bad variable can never stop an operator from halting.
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { WorkflowFailedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { clearHalt, setHalt, type HaltState } from '../store/runtime.js';
import {
  CANCEL_OWN_ORDERS_WORKFLOW,
  cancelProgressQuery,
  haltSignal,
  TRADING_CYCLE_WORKFLOW,
  type CancelOwnOrdersInput,
  type CancelOwnOrdersProgress,
  type CancelOwnOrdersResult,
} from '../workflows/definitions.js';
import { localDataDir } from '../devenv/stack.js';
import type { ConfigSources } from './config.js';
import { connectClient, formatTable, loadControlSettings, openDatabase, projectRoot } from './context.js';
import { redactUrl } from '../redaction.js';
import { uncertainNames } from './env-file.js';
import { loadCycleSettings } from './cycle-settings.js';
import { EXIT } from './errors.js';
import { printable } from './printable.js';
import { alertOperator } from './operator-alerts.js';
import { haltAlert, resumeAlert } from '../domain/alerts.js';

/** How long `--cancel-open` waits for the exchange to list none of our orders. */
const CANCEL_WAIT_SECONDS = 90;
/** And for the whole workflow (a worker must be running): the wait plus time to start and report. */
const CANCEL_TIMEOUT = `${CANCEL_WAIT_SECONDS + 60}s`;

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

/**
 * The variables each step of a halt acts on. A step never runs where a doubtful value may have sent
 * it: a halt stored in the wrong database, or signals sent to the wrong server, would report "done"
 * while the workers trade on. Without DATABASE_URL the local cluster of the data directory is used.
 */
function stepVariables(env: NodeJS.ProcessEnv, sourceOf: ConfigSources['sourceOf']) {
  const fromRecord = !env.TEMPORAL_ADDRESS?.trim() || sourceOf('TEMPORAL_ADDRESS') === 'btcbot up';
  return {
    store: ['DATABASE_URL', ...(env.DATABASE_URL?.trim() ? [] : ['BTCBOT_DATA_DIR', 'PG_BIN'])],
    signal: ['TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE', 'BTCBOT_TASK_QUEUE', ...(fromRecord ? ['BTCBOT_DATA_DIR'] : [])],
    cancel: ['KILL_SWITCH', 'DRY_RUN', 'LIVE_TRADING', 'LIVE_TRADING_ACK', 'BTCBOT_PAYLOAD_KEY', 'BTCBOT_PAYLOAD_KEY_ID'],
  };
}

export async function halt(
  { reason, cancelOpen }: { reason: string; cancelOpen: boolean },
  sources: Pick<ConfigSources, 'envFile' | 'sourceOf'>,
): Promise<number> {
  const env = process.env;
  const infra = loadControlSettings(env);
  const by = operator();
  // A variable is in doubt when the real environment does not set it and the env file may have
  // meant to (a malformed line naming it, or a file that could not be read at all).
  const uncertain = uncertainNames(sources.envFile);
  const doubtful = (names: string[]) =>
    [...new Set(names)].filter((n) => sources.sourceOf(n) !== 'environment' && (uncertain === 'any' || uncertain.has(n)));
  const vars = stepVariables(env, sources.sourceOf);
  const doubt = { store: doubtful(vars.store), signal: doubtful(vars.signal), cancel: cancelOpen ? doubtful([...vars.signal, ...vars.cancel]) : [] };
  const notDone = (step: string, names: string[], wouldGo: string) =>
    console.error(
      `btcbot: ${step}: ${names.join(', ')} ${names.length === 1 ? 'is' : 'are'} not set in the environment, and ${sources.envFile.path} ` +
        `may set ${names.length === 1 ? 'it' : 'them'} ${sources.envFile.found ? 'on a malformed line' : 'but could not be read'} (above). Without ${names.length === 1 ? 'it' : 'them'} ` +
        `this would go to ${wouldGo}, which may not be where the workers are. Fix the file, or give ${names.length === 1 ? 'it' : 'them'} ` +
        `in the environment (\`${names[0]}=... btcbot halt\`).`,
    );
  const temporalTarget = `${infra.temporalAddress}, namespace ${infra.temporalNamespace}, task queue ${infra.taskQueue}`;

  const rows: Array<[string, string]> = [];
  let stored = false;
  if (doubt.store.length > 0) {
    notDone('the halt was NOT stored', doubt.store, infra.databaseUrl ? redactUrl(infra.databaseUrl) : `the local cluster in ${join(localDataDir(projectRoot, env), 'postgres')}`);
    rows.push(['database', `not used: ${doubt.store.join(', ')} in doubt`], ['persisted', 'NOT DONE: see above; run `btcbot halt` again once the file is fixed']);
  } else {
    const { pool, url } = await openDatabase(env);
    try {
      const mine: HaltState = { reason, haltedAt: new Date().toISOString(), by };
      const state = await setHalt(pool, mine);
      const fresh = state.haltedAt === mine.haltedAt && state.by === mine.by && state.reason === mine.reason;
      rows.push(
        ['database', redactUrl(url)],
        ['halt', fresh ? describeHalt(state) : `already halted ${describeHalt(state)} (kept)`],
        ['persisted', 'yes: later cycles are blocked until `btcbot resume`'],
      );
      stored = true;
      // Sent alongside the signals below (never delaying them); main waits for it before exiting.
      if (fresh) alertOperator(haltAlert(state, cancelOpen));
    } finally {
      await pool.end();
    }
  }
  const print = (signalled: boolean) => {
    console.log(stored ? (signalled ? 'trading HALTED' : 'trading HALTED in the database; running cycles were NOT signalled') :
      signalled ? 'running cycles HALTED; the halt is NOT stored (later cycles are not blocked)' : 'trading NOT HALTED');
    console.log(formatTable(rows));
  };

  if (doubt.signal.length > 0) {
    notDone('running cycles were NOT signalled', doubt.signal, temporalTarget);
    rows.push(['temporal', `not used: ${doubt.signal.join(', ')} in doubt`], ['signalled', 'NOT DONE: see above'], ['cancelled', cancelOpen ? 'NOT DONE: see above' : 'not requested']);
    print(false);
    return EXIT.blocked;
  }
  rows.push(['temporal', temporalTarget]);
  let temporal: Awaited<ReturnType<typeof connectClient>>;
  try {
    temporal = await connectClient(infra);
  } catch (err) {
    rows.push(['signalled', `NOT DONE: ${(err as Error).message}`]);
    rows.push(['cancelled', cancelOpen ? 'NOT DONE: Temporal is unreachable' : 'not requested (--cancel-open)']);
    print(false);
    console.log('  Running cycles were not told to stop; run `btcbot halt` again when Temporal is reachable.');
    return stored ? EXIT.failed : EXIT.blocked;
  }
  try {
    const { signalled, finished } = await signalRunningCycles(temporal.client, infra.taskQueue, { reason, by });
    rows.push([
      'signalled',
      `${signalled.length} running cycle(s) on task queue ${infra.taskQueue}${signalled.length ? `: ${signalled.join(', ')}` : ''}` +
        (finished.length ? ` (${finished.length} finished before the signal: ${finished.join(', ')})` : ''),
    ]);
    const done = stored ? EXIT.ok : EXIT.blocked;
    if (!cancelOpen) {
      rows.push(['cancelled', 'not requested (--cancel-open cancels the bot\'s own open orders)']);
      print(true);
      return done;
    }
    if (doubt.cancel.length > 0) {
      notDone('open orders were NOT cancelled', doubt.cancel, 'a cancel run with other gates or payload keys');
      rows.push(['cancelled', 'NOT DONE: see above']);
      print(true);
      return EXIT.blocked;
    }
    print(true);
    const cancel = await cancelOwnOpenOrders(temporal.client, infra.taskQueue, reason);
    console.log(formatTable(cancel.lines));
    return cancel.exit === EXIT.ok ? done : cancel.exit;
  } finally {
    await temporal.close();
  }
}

function progressLine(p: CancelOwnOrdersProgress): string {
  const parts = [`round ${p.round}: ${p.requested} cancel(s) requested`];
  if (p.failed > 0) parts.push(`${p.failed} failed`);
  if (p.stillWorking.length > 0) parts.push(`still working: ${p.stillWorking.join(', ')}`);
  if (p.unresolved.length > 0) parts.push(`unresolved: ${p.unresolved.join(', ')}`);
  if ((p.mayStillAppear ?? []).length > 0) parts.push(`closed by inference, may still appear: ${p.mayStillAppear!.join(', ')}`);
  if ((p.readsFailed ?? []).length > 0) parts.push(`open orders unreadable: ${p.readsFailed!.join(', ')}`);
  if (p.filled.length > 0) parts.push(`filled meanwhile: ${p.filled.join(', ')}`);
  return `  ${parts.join('; ')}`;
}

async function cancelOwnOpenOrders(client: Client, taskQueue: string, reason: string): Promise<{ lines: Array<[string, string]>; exit: number }> {
  let gates: CancelOwnOrdersInput['gates'];
  try {
    gates = loadCycleSettings().gates;
  } catch (err) {
    return { lines: [['cancelled', `NOT DONE: ${(err as Error).name}: ${(err as Error).message}`]], exit: EXIT.blocked };
  }
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.(\d+)Z$/, '$1Z');
  const workflowId = `halt-cancel-${stamp}`;
  const input: CancelOwnOrdersInput = { reason, gates, waitSeconds: CANCEL_WAIT_SECONDS };
  let result: CancelOwnOrdersResult;
  try {
    const handle = await client.workflow.start(CANCEL_OWN_ORDERS_WORKFLOW, {
      workflowId,
      taskQueue,
      args: [input],
      workflowExecutionTimeout: CANCEL_TIMEOUT,
      staticSummary: `btcbot halt --cancel-open: ${reason}`.slice(0, 200),
    });
    console.log(`cancelling the bot's own orders (${workflowId}); waiting up to ${CANCEL_WAIT_SECONDS} s for the exchange to list none`);
    // Show progress while it runs: one line whenever something changed.
    let shown = '';
    const outcome = handle.result() as Promise<CancelOwnOrdersResult>;
    let finished = false;
    void outcome.then(() => (finished = true), () => (finished = true));
    while (!finished) {
      const p = await handle.query(cancelProgressQuery).catch(() => null);
      const line = p !== null && p.round > 0 ? progressLine(p) : '';
      if (line !== '' && line !== shown) console.log((shown = line));
      await Promise.race([outcome.catch(() => undefined), new Promise((r) => setTimeout(r, 1_000))]);
    }
    result = await outcome;
  } catch (err) {
    if (!(err instanceof WorkflowFailedError)) throw err;
    const cause = err.cause?.message ?? err.message;
    return {
      lines: [['cancelled', `FAILED (${workflowId}): ${cause}; is a worker running on task queue ${taskQueue}?`]],
      exit: EXIT.failed,
    };
  }
  const lines: Array<[string, string]> = [];
  if (result.simulatedOnly) {
    lines.push(['cancelled', `${result.requested} dry-run order row(s) cancelled (gates allow no exchange writes), ${result.failed} failed (${workflowId})`]);
  } else {
    lines.push(['cancelled', `${result.requested} cancel(s) sent to the exchange, ${result.failed} failed (${workflowId})`]);
  }
  if (result.filled.length > 0) {
    lines.push(['filled', `${result.filled.length} order(s) filled while cancels were in flight: ${result.filled.join(', ')}; ${result.fillsApplied} fill(s) ingested`]);
  }
  if (result.done) {
    lines.push(['open orders', result.simulatedOnly ? 'none of ours left working' : 'none of ours: the exchange lists none and none is working, unresolved or may still appear']);
    return { lines, exit: EXIT.ok };
  }
  lines.push(['open orders', `NOT DONE after ${result.round} round(s)`]);
  if (result.stillWorking.length > 0) lines.push(['still working', result.stillWorking.join(', ')]);
  if (result.unresolved.length > 0) {
    lines.push(['unresolved', `${result.unresolved.join(', ')} (not found on the exchange yet; such an order may still appear: run halt --cancel-open again)`]);
  }
  if ((result.mayStillAppear ?? []).length > 0) {
    lines.push(['may still appear', `${result.mayStillAppear!.join(', ')} (closed only by inference: never seen over the absence window, but an accepted order can stay hidden longer; run halt --cancel-open again later, or check the exchange's UI)`]);
  }
  if ((result.readsFailed ?? []).length > 0) {
    lines.push(['reads failed', `open orders of ${result.readsFailed!.join(', ')} could not be read in the last round: what works there is not known`]);
  }
  if (result.simulatedOnly && result.stillWorking.length > 0) lines.push(['note', 'real orders are cancelled only when all four gates allow live writes']);
  return { lines, exit: EXIT.failed };
}

export async function resume(): Promise<number> {
  const { pool, url } = await openDatabase();
  try {
    const lifted = await clearHalt(pool);
    if (lifted === null) {
      console.log('trading was not halted; nothing to resume');
    } else {
      console.log(`halt lifted (was halted ${describeHalt(lifted)})`);
      alertOperator(resumeAlert(lifted, operator(), new Date().toISOString()));
      console.log('  Later cycles run normally; cycles that received the halt signal stay halted.');
    }
    console.log(`  database  ${redactUrl(url)}`);
    return EXIT.ok;
  } finally {
    await pool.end();
  }
}
