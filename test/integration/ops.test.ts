// Operator commands as a user runs them (real processes on the real stack): schedule, halt/resume,
// status, doctor. Assertions are on exit codes, printed facts, rows and workflow executions.
import { defaultPayloadConverter, ScheduleNotFoundError, type Client } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { runCycle } from '../../src/cli/cycles.js';
import { freePort } from '../../src/devenv/process.js';
import { Decimal } from '../../src/domain/decimal.js';
import type { PnlSnapshot } from '../../src/domain/pnl.js';
import { asClientOrderId, asExchangeOrderId, asFillId, toPairSymbol } from '../../src/domain/types.js';
import { createBtcturkExchange } from '../../src/exchange/btcturk/client.js';
import type { Exchange } from '../../src/exchange/port.js';
import { startSimulator, type RunningSimulator } from '../../src/simulator/server.js';
import { listCycleAudits, recordCycleAudit } from '../../src/store/audit.js';
import type { Pool } from '../../src/store/db.js';
import { ingestFills } from '../../src/store/fills.js';
import { applyOrderEvent, getOrderByClientId, recordPendingSubmit } from '../../src/store/orders.js';
import { recordSnapshot } from '../../src/store/pnl.js';
import { clearHalt, getHalt, setHalt } from '../../src/store/runtime.js';
import { createCycleWorker } from '../../src/worker.js';
import type { CycleInput } from '../../src/workflows/types.js';
import { btcbot } from './cli-harness.js';
import { connectTemporal, createTestDatabase, uniqueId } from './harness.js';

let temporal: Awaited<ReturnType<typeof connectTemporal>>;
let client: Client;
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let simulator: RunningSimulator;
const cleanups: Array<() => Promise<unknown>> = [];
const taskQueue = uniqueId('ops-test');

interface RunningWorker {
  simulator: RunningSimulator;
  stop(): Promise<void>;
}

/** A worker on `queue` trading against its own simulator, so faults stay local to one test. */
async function startWorker(queue: string, { sim, pool }: { sim?: RunningSimulator; pool?: Pool } = {}): Promise<RunningWorker> {
  const ownSim = sim ?? (await startSimulator());
  const exchange: Exchange = createBtcturkExchange({ baseUrl: ownSim.url, credentials: ownSim.credentials });
  const worker: Worker = await createCycleWorker({
    connection: temporal.nativeConnection,
    namespace: 'default',
    taskQueue: queue,
    deps: { pool: pool ?? db.pool, exchange, env: { SYMBOLS: 'BTC_TRY', FILLS_SETTLE_SECONDS: '0' }, hasCredentials: true },
    workflowBundle: temporal.workflowBundle,
  });
  const running = worker.run();
  return {
    simulator: ownSim,
    stop: async () => {
      worker.shutdown();
      await running;
      await exchange.close();
      if (!sim) await ownSim.close();
    },
  };
}

beforeAll(async () => {
  [temporal, db, simulator] = await Promise.all([connectTemporal(), createTestDatabase(), startSimulator()]);
  client = temporal.client;
  const w = await startWorker(taskQueue, { sim: simulator });
  cleanups.push(() => w.stop());
});

afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  await simulator?.close();
  await db?.drop();
  await temporal?.close();
});

const clientEnv = (queue = taskQueue): Record<string, string> => ({
  TEMPORAL_ADDRESS: inject('temporalAddress'),
  BTCBOT_TASK_QUEUE: queue,
  DATABASE_URL: db.url,
  SYMBOLS: 'BTC_TRY',
});

/** Poll until `fn` returns a truthy value; fail after `timeoutMs` naming what was awaited. */
async function eventually<T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function auditFor(pool: Pool, workflowIdPrefix: string) {
  return (await listCycleAudits(pool, { limit: 1000 })).filter((r) => r.workflowId.startsWith(workflowIdPrefix));
}

async function workflowIds(query: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const wf of client.workflow.list({ query })) ids.push(wf.workflowId);
  return ids.sort();
}

async function startInput(workflowId: string): Promise<unknown> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const payload = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
  return payload ? defaultPayloadConverter.fromPayload(payload) : undefined;
}

async function deleteScheduleQuietly(id: string): Promise<void> {
  await client.schedule.getHandle(id).delete().catch(() => {});
}

describe('btcbot schedule', () => {
  test('create → trigger runs a cycle → describe lists it → pause/unpause → delete; describe then exits 2', async () => {
    const id = uniqueId('ops-sched');
    const env = clientEnv();
    try {
      // --every 1h: nothing fires on its own during the test; `trigger` runs a cycle now.
      const created = await btcbot(['schedule', 'create', '--every', '1h', '--id', id, '--dry-run'], env).exited;
      expect(created.code, created.stderr).toBe(0);
      expect(created.stdout).toContain(`schedule ${id} created`);
      expect(created.stdout).toMatch(/mode\s+dry_run \(DRY_RUN=true and --dry-run\): no exchange writes/);

      const again = await btcbot(['schedule', 'create', '--every', '1h', '--id', id], env).exited;
      expect(again.code).toBe(2);
      expect(again.stderr).toContain(`schedule ${id} already exists`);

      const triggered = await btcbot(['schedule', 'trigger', '--id', id], env).exited;
      expect(triggered.code, triggered.stderr).toBe(0);
      const [row] = await eventually('the scheduled cycle\'s audit row', async () => {
        const rows = await auditFor(db.pool, `cycle-${id}-`);
        return rows.length > 0 && rows;
      });
      expect(row!.mode).toBe('dry_run');
      // The schedule starts tradingCycle with the creator's settings, marked as a scheduled run.
      expect(await startInput(row!.workflowId)).toMatchObject({
        dryRunRequested: true,
        symbols: ['BTCTRY'],
        trigger: 'schedule',
        gates: { killSwitch: true, dryRun: true, liveTrading: false },
      });

      const described = await btcbot(['schedule', 'describe', '--id', id], env).exited;
      expect(described.code, described.stderr).toBe(0);
      expect(described.stdout).toMatch(/state\s+active/);
      expect(described.stdout).toMatch(/spec\s+every 1h/);
      expect(described.stdout).toContain('overlap SKIP, catch-up window 1m, pause on failure no');
      expect(described.stdout).toMatch(/skipped for overlap\s+0/);
      expect(described.stdout).toContain(row!.workflowId); // in recent actions

      const paused = await btcbot(['schedule', 'pause', '--id', id], env).exited;
      expect(paused.code, paused.stderr).toBe(0);
      expect((await client.schedule.getHandle(id).describe()).state.paused).toBe(true);
      const whilePaused = await btcbot(['schedule', 'describe', '--id', id], env).exited;
      expect(whilePaused.stdout).toMatch(/state\s+paused/);
      expect(whilePaused.stdout).toMatch(/next runs\s+\(paused\)/);

      const unpaused = await btcbot(['schedule', 'unpause', '--id', id], env).exited;
      expect(unpaused.code, unpaused.stderr).toBe(0);
      expect((await client.schedule.getHandle(id).describe()).state.paused).toBe(false);
      const status = await btcbot(['status', '--schedule-id', id], env).exited;
      expect(status.code, status.stderr).toBe(0);
      expect(status.stdout).toMatch(new RegExp(`schedule ${id}: active, every 1h, next run \\d{4}-`));

      const deleted = await btcbot(['schedule', 'delete', '--id', id], env).exited;
      expect(deleted.code, deleted.stderr).toBe(0);
      expect(deleted.stdout).toContain(`schedule ${id} deleted`);
      expect(deleted.stdout).toContain('btcbot halt');
      await eventually('the schedule to be gone', async () =>
        client.schedule.getHandle(id).describe().then(() => false, (err) => err instanceof ScheduleNotFoundError));
      const gone = await btcbot(['schedule', 'describe', '--id', id], env).exited;
      expect(gone.code).toBe(2);
      expect(gone.stderr).toContain(`schedule ${id} not found`);
    } finally {
      await deleteScheduleQuietly(id);
    }
  });

  test('a trigger while a cycle is running is skipped (overlap SKIP): one execution, skipped count 1', async () => {
    const id = uniqueId('ops-overlap');
    const queue = uniqueId('ops-overlap-q');
    const w = await startWorker(queue);
    // The cycle's first exchange request takes 8 s, so the cycle is still running at the second trigger.
    w.simulator.faults.add({ route: '*', kind: 'latency', latencyMs: 8_000, times: 1 });
    const env = clientEnv(queue);
    try {
      const created = await btcbot(['schedule', 'create', '--every', '1h', '--id', id, '--dry-run'], env).exited;
      expect(created.code, created.stderr).toBe(0);
      const handle = client.schedule.getHandle(id);

      expect((await btcbot(['schedule', 'trigger', '--id', id], env).exited).code).toBe(0);
      const first = await eventually('the first cycle to be running', async () => {
        const d = await handle.describe();
        return d.info.runningActions[0]?.workflow.workflowId;
      });

      expect((await btcbot(['schedule', 'trigger', '--id', id], env).exited).code).toBe(0);
      const d = await eventually('the second trigger to be skipped', async () => {
        const desc = await handle.describe();
        return desc.info.numActionsSkippedOverlap >= 1 && desc;
      });
      expect(d.info.numActionsSkippedOverlap).toBe(1);
      expect(d.info.numActionsTaken).toBe(1);

      // The first cycle finishes; it stays the only execution this schedule started.
      await eventually('the first cycle\'s audit row', async () => (await auditFor(db.pool, first)).length === 1);
      expect(await workflowIds(`TemporalScheduledById="${id}"`)).toEqual([first]);
      expect(await auditFor(db.pool, `cycle-${id}-`)).toHaveLength(1);

      const described = await btcbot(['schedule', 'describe', '--id', id], env).exited;
      expect(described.stdout).toMatch(/skipped for overlap\s+1/);
    } finally {
      await deleteScheduleQuietly(id);
      await w.stop();
    }
  });
});

describe('btcbot halt / resume', () => {
  test('halt persists the halt, signals a running cycle with the reason, and resume lifts it', async () => {
    // A cycle on a task queue without a worker stays Running: the halt must reach it.
    const queue = uniqueId('ops-noworker');
    const workflowId = uniqueId('cycle-ops-halt');
    const input: CycleInput = {
      gates: { killSwitch: true, dryRun: true, liveTrading: false, liveTradingAck: null },
      dryRunRequested: true, symbols: ['BTCTRY'], trigger: 'test',
    };
    const handle = await client.workflow.start('tradingCycle', { workflowId, taskQueue: queue, args: [input], workflowExecutionTimeout: '5m' });
    const env = clientEnv(queue);
    try {
      await eventually('the cycle to be listed as running', async () =>
        (await workflowIds(`WorkflowType="tradingCycle" AND ExecutionStatus="Running" AND TaskQueue="${queue}"`)).includes(workflowId));

      const halted = await btcbot(['halt', '--reason', 'ops test: exchange incident'], env).exited;
      expect(halted.code, halted.stderr).toBe(0);
      expect(halted.stdout).toContain('trading HALTED');
      expect(halted.stdout).toMatch(new RegExp(`signalled\\s+1 running cycle\\(s\\) on task queue ${queue}: ${workflowId}`));
      expect(halted.stdout).toMatch(/cancelled\s+not requested/);
      expect(await getHalt(db.pool)).toMatchObject({ reason: 'ops test: exchange incident' });

      const history = await handle.fetchHistory();
      const signals = (history.events ?? [])
        .map((e) => e.workflowExecutionSignaledEventAttributes)
        .filter((a) => a?.signalName === 'halt');
      expect(signals).toHaveLength(1);
      expect(defaultPayloadConverter.fromPayload(signals[0]!.input!.payloads![0]!)).toMatchObject({
        reason: 'ops test: exchange incident',
        by: expect.stringMatching(/^cli/),
      });

      // The stored halt blocks a later cycle (on a queue with a worker) until resume.
      const blocked = await runCycle(client, { workflowId: uniqueId('cycle-ops-after-halt'), taskQueue, input });
      expect(blocked.result?.outcome).toBe('halted');
      expect(blocked.result?.message).toContain('ops test: exchange incident');

      // A second halt keeps the first one's reason and time.
      const again = await btcbot(['halt', '--reason', 'second'], env).exited;
      expect(again.code).toBe(0);
      expect(again.stdout).toContain('already halted since');
      expect(again.stdout).toContain('ops test: exchange incident');
      expect((await getHalt(db.pool))?.reason).toBe('ops test: exchange incident');

      const resumed = await btcbot(['resume'], env).exited;
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(resumed.stdout).toContain('halt lifted');
      expect(resumed.stdout).toContain('ops test: exchange incident');
      expect(await getHalt(db.pool)).toBeNull();

      const after = await runCycle(client, { workflowId: uniqueId('cycle-ops-after-resume'), taskQueue, input });
      expect(after.result?.outcome).toBe('ok');

      const idle = await btcbot(['resume'], env).exited;
      expect(idle.code).toBe(0);
      expect(idle.stdout).toContain('trading was not halted');
    } finally {
      await handle.terminate('ops test cleanup').catch(() => {});
      await clearHalt(db.pool);
    }
  });

  test('with Temporal unreachable, halt still persists the halt and exits 1 saying cycles were not signalled', async () => {
    const closed = await freePort();
    try {
      const { code, stdout } = await btcbot(['halt', '--reason', 'temporal down'], {
        ...clientEnv(),
        TEMPORAL_ADDRESS: `127.0.0.1:${closed}`,
      }).exited;
      expect(code).toBe(1);
      expect(stdout).toContain('trading HALTED');
      expect(stdout).toMatch(/signalled\s+NOT DONE: cannot reach Temporal/);
      expect((await getHalt(db.pool))?.reason).toBe('temporal down');
    } finally {
      await clearHalt(db.pool);
    }
  });

  test('--cancel-open cancels the bot\'s own open orders through cancelOwnOpenOrders and prints the result', async () => {
    // Its own database and worker: exactly one working order of ours, a dry-run one (with the
    // default gates only simulated rows can be cancelled), plus one that is already finished.
    const cdb = await createTestDatabase();
    const queue = uniqueId('ops-cancel-q');
    const w = await startWorker(queue, { pool: cdb.pool });
    const [working, done] = [asClientOrderId(uniqueId('s4-working')), asClientOrderId(uniqueId('s4-done'))];
    const now = Date.now();
    for (const cid of [working, done]) {
      await recordPendingSubmit(cdb.pool, {
        clientOrderId: cid, symbol: toPairSymbol('BTCTRY'), side: 'buy', price: new Decimal('99000'), qty: new Decimal('0.001'),
        mode: 'dry_run', cycleId: null, nowMs: now,
      });
      await applyOrderEvent(cdb.pool, cid, 'submit_acknowledged', { exchangeOrderId: asExchangeOrderId(`dry-${cid}`), nowMs: now });
    }
    await applyOrderEvent(cdb.pool, done, 'filled', { leftQty: new Decimal(0), nowMs: now });
    try {
      const { code, stdout, stderr } = await btcbot(['halt', '--cancel-open', '--reason', 'flatten'], {
        ...clientEnv(queue),
        DATABASE_URL: cdb.url,
      }).exited;
      expect(code, stdout + stderr).toBe(0);
      expect(stdout).toMatch(/cancelled\s+1 dry-run order row\(s\) cancelled \(gates allow no exchange writes\), 0 failed \(halt-cancel-\d{8}T\d{9}Z\)/);
      expect((await getOrderByClientId(cdb.pool, working))?.state).toBe('canceled');
      expect((await getOrderByClientId(cdb.pool, done))?.state).toBe('filled');
      expect((await getHalt(cdb.pool))?.reason).toBe('flatten');

      // The workflow got the reason and the starter's gates, nothing else.
      const cancelId = await eventually('the cancel workflow in visibility', async () =>
        (await workflowIds(`WorkflowType="cancelOwnOpenOrders" AND TaskQueue="${queue}"`))[0]);
      expect(await startInput(cancelId)).toEqual({
        reason: 'flatten',
        gates: { killSwitch: true, dryRun: true, liveTrading: false, liveTradingAck: null },
        waitSeconds: 90,
      });
    } finally {
      await w.stop();
      await cdb.drop();
    }
  });
});

describe('btcbot status', () => {
  const BTC = toPairSymbol('BTCTRY');

  async function prepare(pool: Pool): Promise<void> {
    const now = Date.now();
    await recordCycleAudit(pool, {
      cycleId: 'cycle-status-1', workflowId: 'cycle-status-1', runId: 'r1', mode: 'dry_run', outcome: 'ok',
      startedAt: new Date(now - 2000).toISOString(), finishedAt: new Date(now - 1000).toISOString(),
      counts: { orders_planned: 2 }, decisions: [], alerts: [], envelope: {}, errorClass: null, errorMessage: null,
    });
    await ingestFills(pool, {
      symbol: BTC,
      fills: [{
        fillId: asFillId('f-status-1'), exchangeOrderId: asExchangeOrderId('9001'), clientOrderId: null, symbol: BTC,
        side: 'buy', price: new Decimal('100000'), qty: new Decimal('0.5'), fee: new Decimal('10'), tax: new Decimal('0'),
        feeAsset: 'TRY', tsMs: now - 5000,
      }],
      marks: new Map(),
      cycleId: 'cycle-status-1',
    });
    const d = (s: string) => new Decimal(s);
    const snapshot: PnlSnapshot = {
      tsMs: now - 1000, tryCashTry: d('1000'), positionsValueTry: d('234.5'), totalEquityTry: d('1234.5'),
      unrealizedTry: d('0'), realizedTotalTry: d('7.5'), realizedTodayTry: d('1.25'), baselineRealizedTry: d('6.25'),
      dayStartMs: now - 3_600_000, highWaterMarkTry: d('1240.70'), drawdownPct: d('0.49962925696594427244582043343653250773993808049536'), unmarkedSymbols: [],
    };
    await recordSnapshot(pool, 'default', 'dry_run', 'cycle-status-1', snapshot);
    await recordPendingSubmit(pool, {
      clientOrderId: asClientOrderId('s4-status-buy-1'), symbol: BTC, side: 'buy', price: d('99000'), qty: d('0.001'),
      mode: 'live', cycleId: 'cycle-status-1', nowMs: now,
    });
    await setHalt(pool, { reason: 'status test', haltedAt: new Date(now).toISOString(), by: 'tester' });
  }

  test('shows halt, cycles, positions, PnL and open orders; --json carries decimal strings', async () => {
    const sdb = await createTestDatabase();
    try {
      await prepare(sdb.pool);
      const scheduleId = uniqueId('ops-none');
      const env = { ...clientEnv(), DATABASE_URL: sdb.url };

      const human = await btcbot(['status', '--schedule-id', scheduleId], env).exited;
      expect(human.code, human.stderr).toBe(0);
      expect(human.stdout).toContain('halt: HALTED since');
      expect(human.stdout).toContain('status test');
      expect(human.stdout).toContain('temporal: reachable');
      expect(human.stdout).toContain(`schedule ${scheduleId}: not found`);
      expect(human.stdout).toMatch(/cycle-status-1\s+orders_planned=2/);
      expect(human.stdout).toMatch(/BTCTRY\s+0\.5\s+50010\s+100020\s+0/); // qty, cost basis (fee included), avg cost, realized
      expect(human.stdout).toContain('equity 1234.5 TRY  realized today 1.25  total 7.5  drawdown 0.4996%  high-water mark 1240.7');
      // Labelled columns: left qty and qty apart, not an unlabelled `0.001/0.001`.
      expect(human.stdout).toMatch(/open orders \(1\)\n\s+symbol\s+side\s+left qty\s+qty\s+price\s+state\s+mode\s+client order id[^\n]*\n\s+BTCTRY\s+buy\s+0\.001\s+0\.001\s+99000\s+pending_submit\s+live\s+s4-status-buy-1/);

      const json = await btcbot(['status', '--json', '--schedule-id', scheduleId], env).exited;
      expect(json.code, json.stderr).toBe(0);
      const report = JSON.parse(json.stdout);
      expect(report.halt).toMatchObject({ reason: 'status test', by: 'tester' });
      expect(report.temporal.reachable).toBe(true);
      expect(report.schedule).toEqual({ id: scheduleId, exists: false });
      expect(report.cycles).toEqual([expect.objectContaining({ cycleId: 'cycle-status-1', outcome: 'ok', mode: 'dry_run', counts: { orders_planned: 2 } })]);
      expect(report.positions).toEqual([
        { symbol: 'BTCTRY', qty: '0.5', costBasisTry: '50010', avgCostTry: '100020', realizedPnlTry: '0', lastFillAt: expect.any(String), opening: null, adopted: null },
      ]);
      expect(report).toMatchObject({ quarantines: [], balanceDrift: [], adoptionsPending: [] });
      expect(report.pnl.live).toBeNull();
      expect(report.pnl.dry_run).toMatchObject({
        totalEquityTry: '1234.5', realizedTodayTry: '1.25', realizedTotalTry: '7.5', drawdownPct: '0.49962925696594427244582043343653250773993808049536', highWaterMarkTry: '1240.7',
      });
      expect(report.openOrders).toEqual([
        expect.objectContaining({ symbol: 'BTCTRY', side: 'buy', price: '99000', qty: '0.001', leftQty: '0.001', state: 'pending_submit', mode: 'live' }),
      ]);
    } finally {
      await sdb.drop();
    }
  });

  test('with Temporal unreachable it says so and still shows the database state, exit 0', async () => {
    const sdb = await createTestDatabase();
    try {
      await prepare(sdb.pool);
      const closed = await freePort();
      const env = { ...clientEnv(), DATABASE_URL: sdb.url, TEMPORAL_ADDRESS: `127.0.0.1:${closed}` };
      const { code, stdout, stderr } = await btcbot(['status'], env).exited;
      expect(code, stderr).toBe(0);
      expect(stdout).toContain('temporal: unreachable');
      expect(stdout).toContain('schedule: unknown (temporal unreachable)');
      expect(stdout).toContain('halt: HALTED since');
      expect(stdout).toContain('cycle-status-1');
      expect(stdout).toContain('s4-status-buy-1');

      const json = JSON.parse((await btcbot(['status', '--json'], env).exited).stdout);
      expect(json.temporal.reachable).toBe(false);
      expect(json.positions[0].qty).toBe('0.5');
    } finally {
      await sdb.drop();
    }
  });
});

describe('btcbot doctor', () => {
  const doctorEnv = () => ({
    ...clientEnv(),
    BTCTURK_BASE_URL: simulator.url,
    BTCTURK_API_KEY: simulator.credentials.apiKey,
    BTCTURK_API_SECRET: simulator.credentials.apiSecret,
  });

  test('against the test stack every check is ok, exit 0, and no credential is printed', async () => {
    const { code, stdout, stderr } = await btcbot(['doctor'], doctorEnv()).exited;
    expect(code, stdout + stderr).toBe(0);
    expect(stdout).toMatch(/^ok\s+config\s+.*symbols BTCTRY/m);
    expect(stdout).toMatch(/^ok\s+gates\s+mode dry_run \(DRY_RUN=true\): no exchange writes; notes kill_switch_active$/m);
    expect(stdout).toMatch(/^ok\s+postgres\s+.*schema version \d+ \(current\)/m);
    expect(stdout).toMatch(/^ok\s+temporal\s+.*BtcbotMode, BtcbotOutcome, BtcbotSymbols registered/m);
    expect(stdout).toMatch(new RegExp(`^ok\\s+worker\\s+\\d+ worker poller\\(s\\) on task queue ${taskQueue}`, 'm'));
    expect(stdout).toMatch(/^ok\s+exchange\s+.*reachable; clock skew [+-]\d+ ms/m);
    expect(stdout).toMatch(/^ok\s+credentials\s+key sim-…0001: balances readable/m);
    expect(stdout).toContain('all checks passed');
    expect(stdout + stderr).not.toContain(simulator.credentials.apiSecret);
    expect(stdout + stderr).not.toContain(simulator.credentials.apiKey);
  });

  test('an unreachable exchange fails the exchange check, exit 1', async () => {
    const closed = await freePort();
    const { code, stdout } = await btcbot(['doctor'], { ...doctorEnv(), BTCTURK_BASE_URL: `http://127.0.0.1:${closed}` }).exited;
    expect(code).toBe(1);
    expect(stdout).toMatch(new RegExp(`^FAIL\\s+exchange\\s+http://127\\.0\\.0\\.1:${closed}: `, 'm'));
    expect(stdout).toMatch(/^ok\s+temporal/m);
    expect(stdout).toContain('1 check(s) failed: exchange');
  });

  test('a malformed gate variable is a configuration error naming it, exit 2', async () => {
    const { code, stdout } = await btcbot(['doctor'], { ...doctorEnv(), KILL_SWITCH: 'maybe' }).exited;
    expect(code).toBe(2);
    expect(stdout).toMatch(/^FAIL\s+config\s+.*KILL_SWITCH/m);
    expect(stdout).toMatch(/^ok\s+postgres/m); // the rest is still checked
  });
});

describe('bad arguments', () => {
  test('each operator command rejects bad arguments with exit 2 and the usage text', async () => {
    const cases: Array<[string[], string]> = [
      [['schedule'], 'schedule needs one of create, describe'],
      [['schedule', 'stop'], 'schedule needs one of'],
      [['schedule', 'create', '--every', '5s'], '--every must be at least 10s'],
      [['schedule', 'create', '--every', 'often'], '--every must be a duration in d, h, m and s'],
      [['schedule', 'describe', '--id', 'no spaces allowed'], '--id may contain only'],
      [['schedule', 'pause', '--every', '1m'], "Unknown option '--every'"],
      [['halt', '--now'], "Unknown option '--now'"],
      [['halt', '--reason', ' '], '--reason must be 1-500 characters'],
      [['resume', 'please'], 'Unexpected argument'],
      [['status', '--cycles', 'many'], '--cycles must be 1-1000'],
      [['doctor', '--fix'], "Unknown option '--fix'"],
    ];
    const results = await Promise.all(cases.map(([args]) => btcbot(args, clientEnv()).exited));
    results.forEach((r, i) => {
      const [args, message] = cases[i]!;
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toContain(message);
      expect(r.stderr, args.join(' ')).toContain('usage: btcbot');
    });
  });
});
