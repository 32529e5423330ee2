// `npm run record-histories`: record the workflow histories that the replay gate
// (test/unit/replay.test.ts) replays against the current workflow code on every `npm test`.
//
// It starts its own throwaway stack on loopback — a headless Temporal CLI dev server on a free
// port, a private Postgres cluster in a temp dir, one BTCTurk simulator per scenario and a worker
// built by `createCycleWorker` — runs one representative execution per scenario, and writes each
// history as JSON (the same format as `temporal workflow show --output json`) to
// test/replay/histories/<scenario>.json, with workflow id `replay-<scenario>`. Worker/client
// `identity` fields are replaced by a constant (they hold host name and pid; replay ignores them).
// Every scenario checks its outcome first, so a wrong history is never written.
//
// When to re-record: only after an INTENTIONAL change to workflow code (src/workflows/**, or
// domain code the workflow runs) that alters the sequence of commands — activities scheduled,
// their order or types, timers, search-attribute upserts. The replay gate failing is the point:
// such a change breaks every cycle that is in flight when the new worker starts. If runs could be
// in flight (a schedule is active, or you cannot drain the task queue before deploying), guard the
// change with `if (wf.patched('change-id')) { new } else { old }` (later `wf.deprecatePatch`), keep
// the old histories (they must still replay through the old branch) and ADD new recordings next
// to them (rename the old files, e.g. `dry-run.v1.json`). Only when all old runs are closed may the
// patch and the old histories go. Never re-record just to make the gate pass.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, type Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { runCycle, type CycleRun } from '../src/cli/cycles.js';
import { createMigratedDatabase, startLocalPostgres, type RunningPostgres } from '../src/devenv/postgres.js';
import { redactUrl } from '../src/redaction.js';
import { fillRestingBuys } from '../src/simulator/scenarios.js';
import { freePort } from '../src/devenv/process.js';
import { ensureTemporalCli, startTemporalDevServer } from '../src/devenv/temporal.js';
import type { GateSettings } from '../src/domain/gates.js';
import { createBtcturkExchange } from '../src/exchange/btcturk/client.js';
import type { Exchange } from '../src/exchange/port.js';
import { startSimulator, type RunningSimulator } from '../src/simulator/server.js';
import type { Pool } from '../src/store/db.js';
import { acquireLease } from '../src/store/leases.js';
import { setHalt } from '../src/store/runtime.js';
import { CANCEL_OWN_ORDERS_WORKFLOW, haltSignal, progressQuery, type CancelOwnOrdersInput, type CancelOwnOrdersResult } from '../src/workflows/definitions.js';
import type { CycleInput } from '../src/workflows/types.js';
import { createCycleWorker, workflowsPath } from '../src/worker.js';

const projectRoot = fileURLToPath(new URL('..', import.meta.url));
export const HISTORIES_DIR = join(projectRoot, 'test/replay/histories');

const ARMED: GateSettings = { killSwitch: false, dryRun: false, liveTrading: true, liveTradingAck: 'I_UNDERSTAND' };
const SAFE: GateSettings = { killSwitch: true, dryRun: true, liveTrading: false, liveTradingAck: null };
const ARMED_ENV = { KILL_SWITCH: 'false', DRY_RUN: 'false', LIVE_TRADING: 'true', LIVE_TRADING_ACK: 'I_UNDERSTAND' };
// Cycles here run seconds apart: no settle margin, so a first cycle infers its openings at once.
const WORKER_SYMBOLS = { SYMBOLS: 'BTC_TRY,ETH_TRY', FILLS_SETTLE_SECONDS: '0' };
const SYMBOLS = ['BTCTRY', 'ETHTRY'];

const log = (line: string): void => console.error(`[record-histories] ${line}`);

interface Stack {
  client: Client;
  nativeConnection: NativeConnection;
  workflowBundle: WorkflowBundleWithSourceMap;
  postgres: Pick<RunningPostgres, 'url' | 'adminUrl'>;
}

/** One scenario's world: its own database, simulator, exchange client and worker. */
interface Fixture {
  pool: Pool;
  simulator: RunningSimulator;
  exchange: Exchange;
  taskQueue: string;
  cycle(workflowId: string, input?: Partial<CycleInput>): Promise<CycleRun>;
  close(): Promise<void>;
}

let dbCounter = 0;

async function fixture(
  stack: Stack,
  opts: {
    workerEnv?: Record<string, string>; credentials?: boolean; gates?: GateSettings; dryRunRequested?: boolean;
    /** The account's balances (default TRY only: coins held before would be inferred as positions). */
    balances?: Record<string, string>;
  } = {},
): Promise<Fixture> {
  const name = `btcbot_replay_${++dbCounter}`;
  const { pool } = await createMigratedDatabase(stack.postgres, name);
  const simulator = await startSimulator({ seed: 7, balances: opts.balances ?? { TRY: '100000' } });
  const credentials = opts.credentials ?? true;
  const exchange = createBtcturkExchange({ baseUrl: simulator.url, ...(credentials ? { credentials: simulator.credentials } : {}) });
  const taskQueue = `replay-recording-${dbCounter}`;
  const worker: Worker = await createCycleWorker({
    connection: stack.nativeConnection,
    namespace: 'default',
    taskQueue,
    deps: { pool, exchange, env: { ...WORKER_SYMBOLS, ...(opts.workerEnv ?? ARMED_ENV) }, hasCredentials: credentials },
    workflowBundle: stack.workflowBundle,
  });
  const running = worker.run();
  return {
    pool, simulator, exchange, taskQueue,
    cycle: (workflowId, input = {}) =>
      runCycle(stack.client, {
        workflowId, taskQueue,
        input: { gates: opts.gates ?? ARMED, dryRunRequested: opts.dryRunRequested ?? false, symbols: SYMBOLS, trigger: 'replay-recording', ...input },
      }),
    close: async () => {
      worker.shutdown();
      await running;
      await Promise.allSettled([exchange.close(), simulator.close()]);
      await pool.end();
    },
  };
}

async function pollUntil<T>(what: string, fn: () => Promise<T>, done: (v: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (done(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(v)})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function expectThat(ok: boolean, scenario: string, detail: unknown): void {
  if (!ok) throw new Error(`scenario ${scenario} did not produce the expected outcome: ${JSON.stringify(detail)}`);
}

/** Replace `identity` values (host name and pid of worker and client) with a constant. */
function scrubIdentities(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(scrubIdentities);
  if (node !== null && typeof node === 'object') {
    return Object.fromEntries(
      Object.entries(node).map(([k, v]) => [k, k === 'identity' && typeof v === 'string' ? 'btcbot-replay-recorder' : scrubIdentities(v)]),
    );
  }
  return node;
}

async function saveHistory(stack: Stack, scenario: string, workflowId: string): Promise<void> {
  const history = await stack.client.workflow.getHandle(workflowId).fetchHistory();
  const json = scrubIdentities(JSON.parse(historyToJSON(history)));
  const text = `${JSON.stringify(json, null, 1)}\n`;
  writeFileSync(join(HISTORIES_DIR, `${scenario}.json`), text);
  log(`${scenario}: ${history.events?.length ?? 0} events, ${(text.length / 1024).toFixed(1)} KiB`);
}

/** Scenario name → what to run. Each returns the workflow id whose history is recorded. */
const SCENARIOS: Record<string, (stack: Stack, id: string) => Promise<void>> = {
  // Paper mode: no credentials, the starter's safe gates plus --dry-run; bootstrap buys are simulated.
  'dry-run': async (stack, id) => {
    const f = await fixture(stack, { credentials: false, workerEnv: {}, gates: SAFE, dryRunRequested: true });
    try {
      const run = await f.cycle(id);
      expectThat(run.result?.outcome === 'ok' && run.result.mode === 'dry_run' && (run.result.counts.simulated ?? 0) > 0, 'dry-run', run);
    } finally {
      await f.close();
    }
  },
  // Live, first cycle: two bootstrap buys sent to the exchange and left resting.
  'live-submit': async (stack, id) => {
    const f = await fixture(stack);
    try {
      const run = await f.cycle(id);
      expectThat(run.result?.outcome === 'ok' && run.result.counts.submitted === 2, 'live-submit', run);
    } finally {
      await f.close();
    }
  },
  // Live, a later cycle: the resting buys filled in between; this cycle ingests the fills and reconciles.
  'live-fills': async (stack, id) => {
    const f = await fixture(stack);
    try {
      const first = await f.cycle(`${id}-setup`);
      expectThat(first.result?.counts.submitted === 2, 'live-fills (setup)', first);
      expectThat(fillRestingBuys(f.simulator) === 2, 'live-fills (fill)', f.simulator.engine.groundTruth().orders);
      const run = await f.cycle(id);
      expectThat(run.result?.outcome === 'ok' && (run.result.counts.fills_applied ?? 0) >= 2, 'live-fills', run);
    } finally {
      await f.close();
    }
  },
  // A halt signal arrives while the cycle is in the accounting step: no submit goes out.
  'halted-signal': async (stack, id) => {
    const f = await fixture(stack);
    try {
      f.simulator.faults.add({ route: 'GET /api/v1/users/transactions/trade', kind: 'latency', latencyMs: 1500, times: null });
      const pending = f.cycle(id);
      const handle = stack.client.workflow.getHandle(id);
      await pollUntil('the accounting step', () => handle.query(progressQuery).catch(() => 'starting'), (s) => s === 'accounting');
      await handle.signal(haltSignal, { reason: 'replay recording', by: 'record-histories' });
      const run = await pending;
      expectThat(run.result?.outcome === 'halted' && (run.result.counts.submitted ?? 0) === 0, 'halted-signal', run);
    } finally {
      await f.close();
    }
  },
  // A halt while a submit waits on the rate limiter (the first POST got Retry-After: 8): the halt
  // cancels the waiting submit (RequestCancelActivityTask), nothing is sent.
  'halted-submit-in-flight': async (stack, id) => {
    const f = await fixture(stack);
    try {
      f.simulator.faults.add({ route: 'POST /api/v1/order', kind: 'http429', retryAfterSec: 8, times: 1 });
      const pending = f.cycle(id);
      const handle = stack.client.workflow.getHandle(id);
      await pollUntil('a submit waiting on the limiter', async () =>
        f.simulator.requests.some((r) => r.route === 'POST /api/v1/order' && r.status === 429) &&
        (await f.pool.query(`SELECT count(*)::int AS n FROM stage4_orders WHERE status = 'pending_submit'`)).rows[0].n === 1, (ready) => ready);
      await setHalt(f.pool, { reason: 'replay recording', haltedAt: '2026-01-01T00:00:00.000Z', by: 'record-histories' });
      await handle.signal(haltSignal, { reason: 'replay recording', by: 'record-histories' });
      const run = await pending;
      expectThat(run.result?.outcome === 'halted' && (run.result.counts.halted_submits ?? 0) === 1 && f.simulator.engine.groundTruth().orders.length === 0,
        'halted-submit-in-flight', run);
    } finally {
      await f.close();
    }
  },
  // A persisted halt (`btcbot halt`) stops the cycle right after prepare.
  'halted-persisted': async (stack, id) => {
    const f = await fixture(stack);
    try {
      await setHalt(f.pool, { reason: 'maintenance', haltedAt: '2026-01-01T00:00:00.000Z', by: 'record-histories' });
      const run = await f.cycle(id);
      expectThat(run.result?.outcome === 'halted', 'halted-persisted', run);
    } finally {
      await f.close();
    }
  },
  // Someone sold BTC the account held before the bot (inference off): the fills oversell, BTC is
  // quarantined, the cycle goes on.
  'quarantined-oversell': async (stack, id) => {
    const f = await fixture(stack, { workerEnv: { ...ARMED_ENV, INFER_OPENING_POSITIONS: 'false' }, balances: { TRY: '100000', BTC: '0.01' } });
    try {
      await f.simulator.control.manualTrade({ symbol: 'BTCTRY', side: 'sell', qty: '0.001' });
      const run = await f.cycle(id);
      expectThat(run.result?.outcome === 'ok' && run.result.counts.quarantined_symbols === 1, 'quarantined-oversell', run);
    } finally {
      await f.close();
    }
  },
  // A hand-corrupted positions row: the accounting step fails for good, the cycle fails with an audit row.
  'failed-corrupt-row': async (stack, id) => {
    const f = await fixture(stack);
    try {
      await f.pool.query("INSERT INTO stage4_positions (symbol, qty, cost_basis_try, realized_pnl_try) VALUES ('not a symbol', 0, 0, 0)");
      const run = await f.cycle(id);
      expectThat(run.result === null && /not a symbol/.test(run.failure ?? ''), 'failed-corrupt-row', run);
    } finally {
      await f.close();
    }
  },
  // The starter's kill switch (no --dry-run): blocked by the workflow's pure gate before any I/O.
  'blocked-kill-switch': async (stack, id) => {
    const f = await fixture(stack, { gates: { ...ARMED, killSwitch: true } });
    try {
      const run = await f.cycle(id);
      expectThat(run.result?.outcome === 'blocked' && run.result.blockReason === 'kill_switch', 'blocked-kill-switch', run);
    } finally {
      await f.close();
    }
  },
  // The starter is armed but the worker's own kill switch is on: blocked after prepare.
  'blocked-worker-kill-switch': async (stack, id) => {
    const f = await fixture(stack, { workerEnv: { ...ARMED_ENV, KILL_SWITCH: 'true' } });
    try {
      const run = await f.cycle(id);
      expectThat(run.result?.outcome === 'blocked' && /KILL_SWITCH/.test(run.result.message ?? ''), 'blocked-worker-kill-switch', run);
    } finally {
      await f.close();
    }
  },
  // Another cycle of the same account holds the lease: this one is skipped.
  'skipped-lease': async (stack, id) => {
    const f = await fixture(stack);
    try {
      await acquireLease(f.pool, 'default', 'cycle-held-elsewhere', 60_000);
      const run = await f.cycle(id);
      expectThat(run.result?.outcome === 'skipped', 'skipped-lease', run);
    } finally {
      await f.close();
    }
  },
  // `btcbot halt --cancel-open`, armed: the two resting buys of a live cycle are cancelled on the exchange.
  'cancel-own-open-orders': async (stack, id) => {
    const f = await fixture(stack);
    try {
      const setup = await f.cycle(`${id}-setup`);
      expectThat(setup.result?.counts.submitted === 2, 'cancel-own-open-orders (setup)', setup);
      const input: CancelOwnOrdersInput = { reason: 'replay recording', gates: ARMED };
      const result = (await stack.client.workflow.execute(CANCEL_OWN_ORDERS_WORKFLOW, {
        workflowId: id, taskQueue: f.taskQueue, args: [input], workflowExecutionTimeout: '2m',
      })) as CancelOwnOrdersResult;
      expectThat(result.requested === 2 && result.failed === 0 && !result.simulatedOnly && result.done, 'cancel-own-open-orders', result);
    } finally {
      await f.close();
    }
  },
};

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  for (const name of only) if (!SCENARIOS[name]) throw new Error(`unknown scenario ${name}; known: ${Object.keys(SCENARIOS).join(', ')}`);
  const dir = mkdtempSync(join(tmpdir(), 'btcbot-record-'));
  chmodSync(dir, 0o711); // the Postgres cluster runs as the postgres user when we are root: it passes through
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const stops: Array<() => Promise<void>> = [];
  try {
    const cli = await ensureTemporalCli(projectRoot, log);
    const [server, postgres, workflowBundle] = await Promise.all([
      freePort().then((port) => startTemporalDevServer({ cliPath: cli.path, port, uiPort: null, logFile: join(dir, 'temporal.log') })),
      startLocalPostgres({ dataDir: join(dir, 'postgres'), ephemeral: true }),
      bundleWorkflowCode({ workflowsPath, logger: new DefaultLogger('WARN') }),
    ]);
    stops.push(() => server.stop(), () => postgres.stop());
    log(`Temporal ${server.address}, Postgres ${redactUrl(postgres.url)}`);
    const [nativeConnection, connection] = await Promise.all([
      NativeConnection.connect({ address: server.address }),
      Connection.connect({ address: server.address }),
    ]);
    stops.unshift(() => nativeConnection.close(), () => connection.close());
    const stack: Stack = {
      client: new Client({ connection, namespace: 'default', identity: 'btcbot-replay-recorder' }),
      nativeConnection,
      workflowBundle,
      postgres,
    };
    mkdirSync(HISTORIES_DIR, { recursive: true });
    for (const [scenario, run] of Object.entries(SCENARIOS)) {
      if (only.length > 0 && !only.includes(scenario)) continue;
      const workflowId = `replay-${scenario}`;
      await run(stack, workflowId);
      await saveHistory(stack, scenario, workflowId);
    }
  } finally {
    for (const stop of stops) await stop().catch((err: unknown) => log(`cleanup: ${(err as Error).message}`));
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
