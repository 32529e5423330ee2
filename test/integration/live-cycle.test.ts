// Live-armed cycles end to end: real Temporal dev server, real Postgres, the BTCTurk simulator over
// HTTP with API credentials. Compared with the simulator's ground truth to the last decimal.
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { Decimal, toDecimalString } from '../../src/domain/decimal.js';
import { fillRestingBuys } from '../../src/simulator/scenarios.js';
import { listCycleAudits } from '../../src/store/audit.js';
import { listPositions } from '../../src/store/fills.js';
import { acquireLease } from '../../src/store/leases.js';
import { listOrders } from '../../src/store/orders.js';
import { clearHalt, setHalt } from '../../src/store/runtime.js';
import { haltSignal, progressQuery } from '../../src/workflows/definitions.js';
import { ARMED_WORKER_ENV as ARMED_ENV, connectTemporal, startLiveStack, uniqueId, type LiveStack } from './harness.js';

let temporal: Awaited<ReturnType<typeof connectTemporal>>;
beforeAll(async () => {
  temporal = await connectTemporal();
});
afterAll(async () => {
  await temporal?.close();
});

type Fixture = LiveStack;

const fixtures: Fixture[] = [];
afterEach(async () => {
  await Promise.all(fixtures.splice(0).map((f) => f.close()));
});

/** A fresh stack; the worker's own gates are armed unless overridden; the account holds TRY only unless `balances` says otherwise. */
async function liveFixture(workerEnv: Record<string, string> = ARMED_ENV, balances?: Record<string, string>): Promise<Fixture> {
  const f = await startLiveStack(temporal, { queuePrefix: 'live', seed: 7, workerEnv, ...(balances ? { balances } : {}) });
  fixtures.push(f);
  return f;
}

describe('live-armed cycles against the simulator', () => {
  test('submit, fill, account and reconcile across cycles: positions equal the simulator truth, no duplicate or ghost order', async () => {
    const f = await liveFixture();

    const first = await f.cycle();
    expect(first.result).toMatchObject({ mode: 'live', outcome: 'ok', counts: { submitted: 2 } });
    for (let i = 0; i < 3; i++) {
      fillRestingBuys(f.simulator);
      const next = await f.cycle();
      expect(next.result?.outcome).toBe('ok');
    }

    const truth = f.simulator.engine.groundTruth();
    const ours = await listOrders(f.db.pool);
    // No duplicates: every client id is on the exchange once. No ghosts: every exchange order is ours and known.
    const clientIds = truth.orders.map((o) => o.clientId);
    expect(new Set(clientIds).size).toBe(clientIds.length);
    expect(truth.orders.map((o) => o.id).sort()).toEqual(ours.map((o) => o.exchangeOrderId).sort());
    expect(truth.fills.length).toBeGreaterThanOrEqual(4);

    // Positions equal the truth: quantity, and cost basis including fee and tax, to the last decimal.
    const positions = new Map((await listPositions(f.db.pool)).map((p) => [p.symbol as string, p]));
    for (const symbol of ['BTCTRY', 'ETHTRY']) {
      const fills = truth.fills.filter((x) => x.symbol === symbol);
      const qty = fills.reduce((s, x) => s.add(x.qty), new Decimal(0));
      const cost = fills.reduce((s, x) => s.add(new Decimal(x.price).mul(x.qty)).add(x.fee).add(x.tax), new Decimal(0));
      expect(toDecimalString(positions.get(symbol)!.qty)).toBe(toDecimalString(qty));
      expect(toDecimalString(positions.get(symbol)!.costBasisTry)).toBe(toDecimalString(cost));
    }
    // Filled orders were reconciled from evidence, not left open.
    const filledOnExchange = truth.orders.filter((o) => o.status === 'Closed').map((o) => o.id);
    const filledHere = ours.filter((o) => o.state === 'filled').map((o) => o.exchangeOrderId);
    expect(filledHere.sort()).toEqual(filledOnExchange.sort());
  });

  test('a submit whose response is dropped after the exchange accepted it yields exactly one order, found by client id', async () => {
    const f = await liveFixture();
    f.simulator.faults.add({ route: 'POST /api/v1/order', kind: 'dropAfterCommit', times: 1 });

    const run = await f.cycle({ symbols: ['BTCTRY'] });
    expect(run.result).toMatchObject({ outcome: 'ok', counts: { submitted: 1 } });
    const truth = f.simulator.engine.groundTruth();
    expect(truth.orders).toHaveLength(1);
    const [row] = await listOrders(f.db.pool);
    expect(row).toMatchObject({ state: 'open', exchangeOrderId: truth.orders[0]!.id, clientOrderId: truth.orders[0]!.clientId });
    const audit = (await listCycleAudits(f.db.pool, { cycleId: run.workflowId }))[0]!;
    expect(audit.decisions.some((d) => d.includes(':submitted:resolved_by_client_id:AmbiguousWriteError'))).toBe(true);
  });

  test('an ambiguous submit that cannot be resolved at once stays unknown, blocks a second buy, and a later cycle resolves it', async () => {
    const f = await liveFixture();
    f.simulator.faults.add({ route: 'POST /api/v1/order', kind: 'emptyAfterCommit', times: 1 });
    // After the market step's read, open-order reads fail: the immediate resolution cannot run.
    f.simulator.faults.add({ route: 'GET /api/v1/openOrders', kind: 'http500', skip: 1, times: null });

    const first = await f.cycle({ symbols: ['BTCTRY'] });
    expect(first.result?.outcome).toBe('ok');
    expect((await listOrders(f.db.pool)).map((o) => o.state)).toEqual(['unknown']);

    f.simulator.faults.clear();
    const second = await f.cycle({ symbols: ['BTCTRY'] });
    expect(second.result?.outcome).toBe('ok');
    const truth = f.simulator.engine.groundTruth();
    expect(truth.orders).toHaveLength(1); // the unresolved order blocked a new buy on the same symbol
    const rows = await listOrders(f.db.pool);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ state: 'open', exchangeOrderId: truth.orders[0]!.id });
  });

  test('a halt signal mid-cycle stops every submit; the cycle records the halt', async () => {
    const f = await liveFixture();
    // Slow the fills read so the halt arrives before the execute step.
    f.simulator.faults.add({ route: 'GET /api/v1/users/transactions/trade', kind: 'latency', latencyMs: 1500, times: null });
    const workflowId = uniqueId('cycle-halt');
    const pending = f.cycle({}, workflowId);
    const handle = temporal.client.workflow.getHandle(workflowId);
    await expect.poll(() => handle.query(progressQuery).catch(() => 'starting'), { timeout: 20_000, interval: 50 }).toBe('accounting');
    await handle.signal(haltSignal, { reason: 'operator test', by: 'vitest' });

    const run = await pending;
    // The halt reached the plan: risk rejected both buys as halted, nothing was sent.
    expect(run.result).toMatchObject({ outcome: 'halted', counts: { intents: 2, accepted_actions: 0, rejected_by_risk: 2 } });
    expect(run.result?.counts.submitted ?? 0).toBe(0);
    const audit = (await listCycleAudits(f.db.pool, { cycleId: workflowId }))[0]!;
    expect(audit.decisions.filter((d) => /:halted( |$)/.test(d))).toHaveLength(2);
    expect(f.simulator.engine.groundTruth().orders).toHaveLength(0);
    expect((await listCycleAudits(f.db.pool, { cycleId: workflowId }))[0]).toMatchObject({ outcome: 'halted' });
  });

  test('a persisted halt blocks later cycles until resume', async () => {
    const f = await liveFixture();
    await setHalt(f.db.pool, { reason: 'maintenance', haltedAt: new Date().toISOString(), by: 'test' });
    const blocked = await f.cycle();
    expect(blocked.result).toMatchObject({ outcome: 'halted' });
    expect(blocked.result?.message).toContain('maintenance');
    expect(f.simulator.engine.groundTruth().orders).toHaveLength(0);

    await clearHalt(f.db.pool);
    const resumed = await f.cycle();
    expect(resumed.result).toMatchObject({ outcome: 'ok', counts: { submitted: 2 } });
  });

  test("the worker's own kill switch blocks a live cycle even when the starter's gates are armed", async () => {
    const f = await liveFixture({ ...ARMED_ENV, KILL_SWITCH: 'true' });
    const run = await f.cycle();
    expect(run.result).toMatchObject({ outcome: 'blocked', message: 'worker: KILL_SWITCH=true blocks side effects' });
    expect((await listCycleAudits(f.db.pool, { cycleId: run.workflowId }))[0]?.decisions).toEqual(['policy_block:kill_switch:worker']);
    expect(f.simulator.engine.groundTruth().orders).toHaveLength(0);
  });

  test('a cycle that meets another running cycle of the same account is skipped', async () => {
    const f = await liveFixture();
    await acquireLease(f.db.pool, 'default', 'cycle-scheduled-elsewhere', 60_000);
    const run = await f.cycle();
    expect(run.result).toMatchObject({ outcome: 'skipped' });
    expect(run.result?.message).toContain('cycle-scheduled-elsewhere');
    expect(f.simulator.engine.groundTruth().orders).toHaveLength(0);
  });

  test('with inference off, an oversell quarantines that symbol with an integrity alert and applies nothing from it on; the cycle goes on', async () => {
    const f = await liveFixture({ ...ARMED_ENV, INFER_OPENING_POSITIONS: 'false' }, { TRY: '100000', BTC: '0.01' });
    // Someone sells BTC the account held before the bot: the bot never saw it bought.
    const sell = await f.exchange.submitLimitOrder({
      symbol: 'BTCTRY' as never, side: 'sell', price: new Decimal(f.simulator.engine.groundTruth().mids['BTCTRY']!).mul('0.9').toDecimalPlaces(0),
      qty: new Decimal('0.001'), clientOrderId: 'manual-sell-1' as never,
    });
    expect(f.simulator.engine.groundTruth().fills.map((x) => x.orderId)).toContain(sell.exchangeOrderId);

    const run = await f.cycle();
    expect(run.result).toMatchObject({ outcome: 'ok', counts: { quarantined_symbols: 1, submitted: 1 } });
    const audit = (await listCycleAudits(f.db.pool, { cycleId: run.workflowId }))[0]!;
    expect(audit.alerts.some((a) => a.startsWith('integrity:oversell_detected symbol=BTCTRY'))).toBe(true);
    expect(audit.decisions.some((d) => /:quarantined( |$)/.test(d))).toBe(true);
    // The zero opening is recorded; the sell is held, not applied.
    expect((await listPositions(f.db.pool)).find((p) => p.symbol === 'BTCTRY')?.qty.toFixed()).toBe('0');
    expect((await f.db.pool.query("SELECT 1 FROM stage4_fills WHERE symbol = 'BTCTRY'")).rowCount).toBe(0);
    // ETH traded: its buy is the cycle's one submit.
    expect(f.simulator.engine.groundTruth().orders.filter((o) => o.clientId !== 'manual-sell-1').map((o) => o.symbol)).toEqual(['ETHTRY']);
  });
});
