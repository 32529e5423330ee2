// Helpers for integration tests on the real stack.
import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import pg from 'pg';
import { inject } from 'vitest';
import { createMigratedDatabase } from '../../src/devenv/postgres.js';
import type { Pool } from '../../src/store/db.js';
import type { Worker } from '@temporalio/worker';
import type { ActivityDeps } from '../../src/activities/index.js';
import { createBtcturkExchange } from '../../src/exchange/btcturk/client.js';
import type { Exchange } from '../../src/exchange/port.js';
import { runCycle } from '../../src/cli/cycles.js';
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
  const { url, pool } = await createMigratedDatabase(adminUrl, name, { migrated });
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

export const ARMED: GateSettings = { killSwitch: false, dryRun: false, liveTrading: true, liveTradingAck: 'I_UNDERSTAND' };
export const ARMED_ENV = { KILL_SWITCH: 'false', DRY_RUN: 'false', LIVE_TRADING: 'true', LIVE_TRADING_ACK: 'I_UNDERSTAND' };

/** A live-armed world for one test: its own simulator (with credentials), database and worker. */
export interface LiveFixture {
  db: Awaited<ReturnType<typeof createTestDatabase>>;
  simulator: RunningSimulator;
  exchange: Exchange;
  worker: Worker;
  taskQueue: string;
  /** A cycle with the starter's gates armed, on BTCTRY and ETHTRY unless overridden. */
  cycle(overrides?: Partial<CycleInput>, workflowId?: string): ReturnType<typeof runCycle>;
  close(): Promise<void>;
}

/**
 * Start a LiveFixture on a file's Temporal connection. The worker's own gates are armed unless
 * `workerEnv` says otherwise; `timeoutMs` is the exchange client's request timeout.
 */
export async function startLiveFixture(
  temporal: Awaited<ReturnType<typeof connectTemporal>>,
  opts: { workerEnv?: Record<string, string>; seed?: number; timeoutMs?: number } = {},
): Promise<LiveFixture> {
  const [db, simulator] = await Promise.all([createTestDatabase(), startSimulator({ seed: opts.seed ?? 7 })]);
  const exchange = createBtcturkExchange({
    baseUrl: simulator.url, credentials: simulator.credentials, ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
  });
  const taskQueue = uniqueId('live');
  const worker = await createCycleWorker({
    connection: temporal.nativeConnection,
    namespace: 'default',
    taskQueue,
    deps: { pool: db.pool, exchange, env: { SYMBOLS: 'BTC_TRY,ETH_TRY', ...(opts.workerEnv ?? ARMED_ENV) }, hasCredentials: true },
    workflowBundle: temporal.workflowBundle,
  });
  const running = worker.run();
  return {
    db, simulator, exchange, worker, taskQueue,
    cycle: (overrides = {}, workflowId = uniqueId('cycle-live')) =>
      runCycle(temporal.client, {
        workflowId, taskQueue,
        input: { gates: ARMED, dryRunRequested: false, symbols: ['BTCTRY', 'ETHTRY'], trigger: 'test', ...overrides },
      }),
    close: async () => {
      worker.shutdown();
      await running;
      await Promise.allSettled([exchange.close(), simulator.close()]);
      await db.drop();
    },
  };
}
