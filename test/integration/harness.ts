// Helpers for integration tests on the real stack.
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import pg from 'pg';
import { inject } from 'vitest';
import { createMigratedDatabase } from '../../src/devenv/postgres.js';
import type { Pool } from '../../src/store/db.js';
import type { ActivityDeps } from '../../src/activities/index.js';
import { runCycle } from '../../src/cli/cycles.js';
import { createBtcturkExchange, type BtcturkExchangeOptions } from '../../src/exchange/btcturk/client.js';
import type { Exchange } from '../../src/exchange/port.js';
import type { GateSettings } from '../../src/domain/gates.js';
import { startSimulator, type RunningSimulator } from '../../src/simulator/server.js';
import { createCycleWorker, workflowsPath } from '../../src/worker.js';
import type { CycleInput } from '../../src/workflows/types.js';

export const uniqueId = (prefix: string): string => `${prefix}-${randomBytes(4).toString('hex')}`;

/** A fresh, migrated database for one test file. */
export async function createTestDatabase(
  { migrated = true }: { migrated?: boolean } = {},
): Promise<{ pool: Pool; url: string; drop(): Promise<void> }> {
  const adminUrl = inject('postgresAdminUrl');
  const name = `btcbot_test_${randomBytes(4).toString('hex')}`;
  const { url, pool } = await createMigratedDatabase({ adminUrl, url: inject('postgresUrl') }, name, { migrated });
  return {
    pool,
    url,
    drop: async () => {
      await pool.end();
      const admin = new pg.Client({ connectionString: adminUrl });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
      await admin.end();
    },
  };
}

let runtimeInstalled = false;

/** Temporal connections for one test file (call once, in beforeAll). */
export async function connectTemporal(): Promise<{
  client: Client;
  nativeConnection: NativeConnection;
  workflowBundle: WorkflowBundleWithSourceMap;
  close(): Promise<void>;
}> {
  if (!runtimeInstalled) {
    Runtime.install({ logger: new DefaultLogger('WARN') });
    runtimeInstalled = true;
  }
  const address = inject('temporalAddress');
  const [nativeConnection, connection, workflowBundle] = await Promise.all([
    NativeConnection.connect({ address }),
    Connection.connect({ address }),
    bundleWorkflowCode({ workflowsPath, logger: new DefaultLogger('WARN') }),
  ]);
  return {
    client: new Client({ connection, namespace: 'default' }),
    nativeConnection,
    workflowBundle,
    close: async () => {
      await connection.close();
      await nativeConnection.close();
    },
  };
}

/**
 * Someone else's worker, on their own task queue, running their own workflow code
 * (test/support/rogue-workflow.ts: it schedules btcbot's executeAction on btcbot's queue), with no
 * payload key. Call `run()` on it.
 */
export async function createRogueWorker(nativeConnection: NativeConnection, taskQueue: string): Promise<Worker> {
  const workflowBundle = await bundleWorkflowCode({
    workflowsPath: fileURLToPath(new URL('../support/rogue-workflow.ts', import.meta.url)), logger: new DefaultLogger('WARN'),
  });
  return Worker.create({ connection: nativeConnection, namespace: 'default', taskQueue, workflowBundle });
}

/** Everything a cycle needs, for one test file: Temporal, a fresh database, the simulator, a worker. */
export interface CycleStack {
  temporal: Awaited<ReturnType<typeof connectTemporal>>;
  db: Awaited<ReturnType<typeof createTestDatabase>>;
  simulator: RunningSimulator;
  exchange: Exchange;
  worker: Worker;
  taskQueue: string;
  close(): Promise<void>;
}

/**
 * Start the stack: the worker runs in this process on its own task queue, in paper mode (no API
 * credentials) with the worker's safe default gates unless `deps` says otherwise.
 */
export async function startCycleStack(
  queuePrefix: string,
  deps: Partial<Omit<ActivityDeps, 'pool' | 'exchange'>> = {},
): Promise<CycleStack> {
  const [temporal, db, simulator] = await Promise.all([connectTemporal(), createTestDatabase(), startSimulator()]);
  const exchange = createBtcturkExchange({ baseUrl: simulator.url });
  const taskQueue = uniqueId(queuePrefix);
  const worker = await createCycleWorker({
    connection: temporal.nativeConnection,
    namespace: 'default',
    taskQueue,
    deps: { pool: db.pool, exchange, ...deps },
    workflowBundle: temporal.workflowBundle,
  });
  const running = worker.run();
  return {
    temporal, db, simulator, exchange, worker, taskQueue,
    close: async () => {
      worker.shutdown();
      await running;
      await Promise.allSettled([exchange.close(), simulator.close()]);
      await db.drop();
      await temporal.close();
    },
  };
}

/** What a test of `btcbot` processes needs around them: a fresh database, a simulator and a Temporal client (no worker, no bundle). */
export async function startClientStack(): Promise<{
  db: Awaited<ReturnType<typeof createTestDatabase>>;
  simulator: RunningSimulator;
  client: Client;
  close(): Promise<void>;
}> {
  const [db, simulator, connection] = await Promise.all([createTestDatabase(), startSimulator(), Connection.connect({ address: inject('temporalAddress') })]);
  return {
    db, simulator,
    client: new Client({ connection, namespace: 'default' }),
    close: async () => {
      await Promise.allSettled([simulator.close(), db.drop()]);
      await connection.close();
    },
  };
}

export const ARMED_GATES = { killSwitch: false, dryRun: false, liveTrading: true, liveTradingAck: 'I_UNDERSTAND' } as const;
export const ARMED_WORKER_ENV = { KILL_SWITCH: 'false', DRY_RUN: 'false', LIVE_TRADING: 'true', LIVE_TRADING_ACK: 'I_UNDERSTAND' } as const;

/** A live-armed cycle stack on a shared Temporal connection: its own database, simulator (with credentials) and worker. */
export interface LiveStack {
  db: Awaited<ReturnType<typeof createTestDatabase>>;
  simulator: RunningSimulator;
  exchange: Exchange;
  worker: Worker;
  taskQueue: string;
  /** Run one cycle of BTCTRY and ETHTRY with armed gates. */
  cycle(overrides?: Partial<CycleInput>, workflowId?: string): ReturnType<typeof runCycle>;
  close(): Promise<void>;
}

/**
 * Start a live stack. The worker's env defaults to armed gates and SYMBOLS=BTC_TRY,ETH_TRY; the
 * account holds only what `balances` says (default TRY only: coins held before would be inferred
 * as opening positions and count toward the exposure limit).
 */
export async function startLiveStack(
  temporal: Awaited<ReturnType<typeof connectTemporal>>,
  opts: { queuePrefix: string; seed: number; balances?: Record<string, string>; workerEnv?: Record<string, string>; exchange?: Partial<BtcturkExchangeOptions> },
): Promise<LiveStack> {
  const [db, simulator] = await Promise.all([createTestDatabase(), startSimulator({ seed: opts.seed, balances: opts.balances ?? { TRY: '100000' } })]);
  const exchange = createBtcturkExchange({ baseUrl: simulator.url, credentials: simulator.credentials, ...opts.exchange });
  const taskQueue = uniqueId(opts.queuePrefix);
  const worker = await createCycleWorker({
    connection: temporal.nativeConnection,
    namespace: 'default',
    taskQueue,
    // The stack's cycles run seconds apart: no settle margin (fills-window.test.ts covers the margin).
    deps: { pool: db.pool, exchange, env: { SYMBOLS: 'BTC_TRY,ETH_TRY', FILLS_SETTLE_SECONDS: '0', ...(opts.workerEnv ?? ARMED_WORKER_ENV) }, hasCredentials: true },
    workflowBundle: temporal.workflowBundle,
  });
  const running = worker.run();
  return {
    db, simulator, exchange, worker, taskQueue,
    cycle: (overrides = {}, workflowId = uniqueId(`cycle-${opts.queuePrefix}`)) =>
      runCycle(temporal.client, {
        workflowId, taskQueue,
        input: { gates: ARMED_GATES, dryRunRequested: false, symbols: ['BTCTRY', 'ETHTRY'], trigger: 'test', ...overrides },
      }),
    close: async () => {
      worker.shutdown();
      await running;
      await Promise.allSettled([exchange.close(), simulator.close()]);
      await db.drop();
    },
  };
}
