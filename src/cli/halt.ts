// `btcbot halt [--reason TEXT] [--cancel-open]` and `btcbot resume`.
//
// Halt works in the order that matters most when something is wrong: first the persisted halt
// (every later cycle is blocked, even if Temporal is down), then the halt signal to every running
// cycle on our task queue (no new submits from that moment), then, when asked, a
// `cancelOwnOpenOrders` workflow for the bot's own open orders. Only the last needs the trading
// configuration, so a bad variable can never stop an operator from halting. It prints where each
// step went, and skips (loudly, exit 2) a step whose variables a malformed .env leaves in doubt.
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { WorkflowFailedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { clearHalt, setHalt, type HaltState } from '../store/runtime.js';
import {
  CANCEL_OWN_ORDERS_WORKFLOW,
  haltSignal,
  TRADING_CYCLE_WORKFLOW,
  type CancelOwnOrdersInput,
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
    const cancel = await cancelOwnOpenOrders(temporal.client, infra.taskQueue, reason);
    rows.push(['cancelled', cancel.line]);
    print(true);
    return cancel.exit === EXIT.ok ? done : cancel.exit;
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
  const { pool, url } = await openDatabase();
  try {
    const lifted = await clearHalt(pool);
    if (lifted === null) {
      console.log('trading was not halted; nothing to resume');
    } else {
      console.log(`halt lifted (was halted ${describeHalt(lifted)})`);
      console.log('  Later cycles run normally; cycles that received the halt signal stay halted.');
    }
    console.log(`  database  ${redactUrl(url)}`);
    return EXIT.ok;
  } finally {
    await pool.end();
  }
}
