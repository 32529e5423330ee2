// `btcbot up [--once]`: the whole local system from one command. Starts (or reuses) the Temporal
// dev server and Postgres, starts the BTCTurk simulator and a worker, runs one dry-run cycle and
// prints what happened. With --once it exits after that cycle; otherwise the worker keeps serving
// cycles (schedules, `btcbot stage4-run`) until Ctrl-C. It records where Temporal and Postgres are
// (`<data dir>/stack.json`); every later command uses that record (src/devenv/stack.ts).
import { Client, Connection } from '@temporalio/client';
import { pino } from 'pino';
import { NativeConnection } from '@temporalio/worker';
import { dataConverterFromEnv } from '../codec.js';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { packageVersion } from '../build-info.js';
import { ensureLocalStack, writeStackRecord } from '../devenv/stack.js';
import { parseTradingConfig, tradingConfigHash } from '../domain/config.js';
import { createBtcturkExchange } from '../exchange/btcturk/client.js';
import { DEFAULT_PAIRS } from '../simulator/pairs.js';
import { startSimulator } from '../simulator/server.js';
import { DEFAULT_TASK_QUEUE } from '../shared.js';
import { createPool } from '../store/db.js';
import { migrate } from '../store/migrations.js';
import { createCycleWorker } from '../worker.js';
import { loadCycleSettings } from './cycle-settings.js';
import { exitCodeOf, formatCycleSummary, newCycleId, runCycle, workflowUiUrl } from './cycles.js';
import { createLogger } from '../observability/logger.js';
import { createNotifier, notifierSettingsFromEnv } from '../observability/notifier.js';
import { installRuntime, metricsAddressFromEnv } from '../observability/runtime.js';
import { redactUrl } from '../redaction.js';
import { log, projectRoot } from './context.js';
import { exposureLine, exposureOf } from './exposure.js';

/** The sandbox market's step: up to ±25 bps every 5 s (about ±0.5 % a minute, typically). */
const SANDBOX_STEP_MS = 5_000;
const SANDBOX_WALK_BPS = 25;
const SANDBOX_TRY = '100000';

export async function up({ once }: { once: boolean }): Promise<number> {
  const settings = loadCycleSettings();
  // JSON logs to stderr (quiet by default): stdout is the human summary.
  const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'warn', destination: pino.destination({ dest: 2, sync: true }) });
  const metricsAddress = metricsAddressFromEnv(process.env, null);
  installRuntime({ logger, sdkLevel: process.env.BTCBOT_SDK_LOG_LEVEL, metricsAddress });
  const notifier = createNotifier(notifierSettingsFromEnv());
  const taskQueue = process.env.BTCBOT_TASK_QUEUE?.trim() || DEFAULT_TASK_QUEUE;
  const stack = await ensureLocalStack(projectRoot, log);
  writeStackRecord(stack.dataDir, {
    temporal: { address: stack.temporalAddress, namespace: stack.namespace, uiUrl: stack.uiUrl, pid: stack.temporalPid },
    postgres: process.env.DATABASE_URL ? { local: false, url: redactUrl(process.env.DATABASE_URL) } : { local: true, dataDir: join(stack.dataDir, 'postgres') },
    recordedAt: new Date().toISOString(),
  });

  const pool = createPool(stack.databaseUrl);
  await migrate(pool);
  // `up` is the local sandbox: it always trades against the simulator, never a real exchange. Its
  // market moves (a seeded random walk, every pair, up to ±SANDBOX_WALK_BPS every SANDBOX_STEP_MS),
  // and each move prints a public trade, so paper orders fill here as they would on a real market.
  // The account starts with cash only (SANDBOX_TRY), so a canary run with the checklist's small
  // limits has room to buy: coins held from before would count toward MAX_POSITION_NOTIONAL_TRY.
  const simulator = await startSimulator({
    balances: { TRY: SANDBOX_TRY },
    engine: { priceStepMs: SANDBOX_STEP_MS },
    pricePaths: Object.fromEntries(DEFAULT_PAIRS.map((p) => [`${p.base}${p.quote}`, { kind: 'walk', stepBps: SANDBOX_WALK_BPS } as const])),
  });
  const exchange = createBtcturkExchange({ baseUrl: simulator.url, credentials: simulator.credentials });
  const nativeConnection = await NativeConnection.connect(stack.temporalOptions);
  const connection = await Connection.connect(stack.temporalOptions);
  const dataConverter = dataConverterFromEnv();
  const client = new Client({ connection, namespace: stack.namespace, dataConverter });
  const worker = await createCycleWorker({
    connection: nativeConnection, namespace: stack.namespace, taskQueue, dataConverter,
    identity: `${process.pid}@${hostname()} btcbot/${packageVersion()} up cfg:${tradingConfigHash(parseTradingConfig(process.env))}`,
    deps: { pool, exchange, env: process.env, hasCredentials: true, logger, notifier, metrics: metricsAddress !== null },
  });
  const running = worker.run();
  log(`worker polling task queue ${taskQueue}; simulator at ${simulator.url}`);

  let code = 0;
  try {
    const workflowId = newCycleId(Date.now(), 'up');
    const run = await runCycle(client, {
      workflowId, taskQueue,
      input: { gates: settings.gates, dryRunRequested: true, symbols: settings.symbols, trigger: 'up' },
    });
    code = exitCodeOf(run);
    const cli = stack.temporalCli.path;
    console.log(`\nbtcbot dry-run cycle finished\n${formatCycleSummary(run, [
      ['exchange', `BTCTurk simulator at ${simulator.url}`],
      ['database', redactUrl(stack.databaseUrl)],
      ['temporal', `${stack.temporalAddress} (namespace ${stack.namespace})`],
      ['exposure', exposureLine(exposureOf(stack.temporalOptions, dataConverter !== undefined))],
      ...(stack.uiUrl ? ([['ui', workflowUiUrl(stack.uiUrl, stack.namespace, workflowId)]] as Array<[string, string]>) : []),
      ['list', `${cli} workflow list --address ${stack.temporalAddress}`],
    ])}\n`);
    if (stack.uiUrl) console.log(`Temporal UI: ${stack.uiUrl}`);
    if (!once) {
      log('worker keeps running; press Ctrl-C to stop (Temporal and Postgres stay up; `btcbot down` stops them)');
      await running;
    }
  } finally {
    if (worker.getState() === 'RUNNING') worker.shutdown();
    await running.catch(() => {});
    await Promise.allSettled([simulator.close(), exchange.close(), pool.end(), connection.close(), notifier.close()]);
    await nativeConnection.close();
  }
  return code;
}
