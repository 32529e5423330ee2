// The worker decides what it trades. Anyone who can start a workflow on the task queue chooses the
// cycle's symbols; an armed worker trades only those in its own SYMBOLS and reports the rest.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runCycle } from '../../src/cli/cycles.js';
import type { GateSettings } from '../../src/domain/gates.js';
import { createBtcturkExchange } from '../../src/exchange/btcturk/client.js';
import type { Exchange } from '../../src/exchange/port.js';
import { startSimulator, type RunningSimulator } from '../../src/simulator/server.js';
import { listCycleAudits } from '../../src/store/audit.js';
import { listOrders } from '../../src/store/orders.js';
import { createCycleWorker } from '../../src/worker.js';
import type { Worker } from '@temporalio/worker';
import { connectTemporal, createTestDatabase, uniqueId } from './harness.js';

const ARMED: GateSettings = { killSwitch: false, dryRun: false, liveTrading: true, liveTradingAck: 'I_UNDERSTAND' };
const ARMED_ENV = { KILL_SWITCH: 'false', DRY_RUN: 'false', LIVE_TRADING: 'true', LIVE_TRADING_ACK: 'I_UNDERSTAND' };

let temporal: Awaited<ReturnType<typeof connectTemporal>>;
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let simulator: RunningSimulator;
let exchange: Exchange;
let worker: Worker;
let running: Promise<void>;
const taskQueue = uniqueId('symbols');

beforeAll(async () => {
  [temporal, db, simulator] = await Promise.all([connectTemporal(), createTestDatabase(), startSimulator({ seed: 11 })]);
  exchange = createBtcturkExchange({ baseUrl: simulator.url, credentials: simulator.credentials });
  worker = await createCycleWorker({
    connection: temporal.nativeConnection, namespace: 'default', taskQueue, workflowBundle: temporal.workflowBundle,
    // The worker is armed and configured for BTC_TRY only; the simulator lists ETHTRY and SOLTRY too.
    deps: { pool: db.pool, exchange, env: { ...ARMED_ENV, SYMBOLS: 'BTC_TRY' }, hasCredentials: true },
  });
  running = worker.run();
});

afterAll(async () => {
  worker?.shutdown();
  await running;
  await Promise.allSettled([exchange?.close(), simulator?.close()]);
  await db?.drop();
  await temporal?.close();
});

const cycle = (symbols: string[]) =>
  runCycle(temporal.client, {
    workflowId: uniqueId('cycle-symbols'), taskQueue,
    input: { gates: ARMED, dryRunRequested: false, symbols, trigger: 'test' },
  });

describe('the worker trades only its own SYMBOLS', () => {
  test('a live cycle asking for ETHTRY and SOLTRY too trades BTCTRY only; the others are reported in the audit, no order placed', async () => {
    const run = await cycle(['BTCTRY', 'ETHTRY', 'SOLTRY']);
    expect(run.result).toMatchObject({ mode: 'live', outcome: 'ok', counts: { submitted: 1 } });
    expect(run.result?.notes).toEqual(expect.arrayContaining(['symbol_not_configured:ETHTRY', 'symbol_not_configured:SOLTRY']));

    const onExchange = simulator.engine.groundTruth().orders;
    expect(onExchange.map((o) => o.symbol)).toEqual(['BTCTRY']);
    expect(simulator.requests.filter((r) => r.query.includes('ETHTRY') || r.query.includes('SOLTRY'))).toEqual([]); // not even read
    expect((await listOrders(db.pool)).map((o) => o.symbol)).toEqual(['BTCTRY']);
    const [audit] = await listCycleAudits(db.pool, { cycleId: run.workflowId });
    expect(audit!.alerts).toEqual(expect.arrayContaining(['symbol_not_configured:ETHTRY', 'symbol_not_configured:SOLTRY']));
  });

  test('a cycle asking only for symbols the worker does not configure is blocked by the worker and touches nothing', async () => {
    const ordersBefore = simulator.engine.groundTruth().orders.length;
    const run = await cycle(['ETHTRY']);
    expect(run.result).toMatchObject({ outcome: 'blocked', message: 'worker: none of the requested symbols is in its SYMBOLS' });
    expect(simulator.engine.groundTruth().orders).toHaveLength(ordersBefore);
    const [audit] = await listCycleAudits(db.pool, { cycleId: run.workflowId });
    expect(audit).toMatchObject({ outcome: 'blocked', decisions: ['policy_block:symbols_not_configured:worker'], alerts: ['symbol_not_configured:ETHTRY'] });
  });
});
