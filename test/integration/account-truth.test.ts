// Account truth on the real stack (issue 13): holdings the bot did not buy, one symbol's trouble
// never stopping the others, cancels that always run, causes that reach the audit. Real Temporal
// dev server, real Postgres, the simulator over HTTP with API credentials.
import type { Worker } from '@temporalio/worker';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { runCycle } from '../../src/cli/cycles.js';
import { toDecimalString } from '../../src/domain/decimal.js';
import type { GateSettings } from '../../src/domain/gates.js';
import { createBtcturkExchange } from '../../src/exchange/btcturk/client.js';
import type { Exchange } from '../../src/exchange/port.js';
import { startSimulator, type RunningSimulator } from '../../src/simulator/server.js';
import { listCycleAudits } from '../../src/store/audit.js';
import { listPositions } from '../../src/store/fills.js';
import { createCycleWorker } from '../../src/worker.js';
import type { CycleInput } from '../../src/workflows/types.js';
import { connectTemporal, createTestDatabase, uniqueId } from './harness.js';

const ARMED: GateSettings = { killSwitch: false, dryRun: false, liveTrading: true, liveTradingAck: 'I_UNDERSTAND' };
const ARMED_ENV = { KILL_SWITCH: 'false', DRY_RUN: 'false', LIVE_TRADING: 'true', LIVE_TRADING_ACK: 'I_UNDERSTAND', SYMBOLS: 'BTC_TRY,ETH_TRY' };

let temporal: Awaited<ReturnType<typeof connectTemporal>>;
beforeAll(async () => {
  temporal = await connectTemporal();
});
afterAll(async () => {
  await temporal?.close();
});

interface Fixture {
  db: Awaited<ReturnType<typeof createTestDatabase>>;
  sim: RunningSimulator;
  exchange: Exchange;
  cycle(overrides?: Partial<CycleInput>): ReturnType<typeof runCycle>;
  /** Make every working order of ours older than TTL_SECONDS, so the next plan cancels it as stale. */
  ageOrders(): Promise<void>;
  audit(cycleId: string): ReturnType<typeof listCycleAudits>;
  close(): Promise<void>;
}

const fixtures: Fixture[] = [];
afterEach(async () => {
  await Promise.all(fixtures.splice(0).map((f) => f.close()));
});

async function fixture({ balances, env = {} }: { balances: Record<string, string>; env?: Record<string, string> }): Promise<Fixture> {
  const [db, sim] = await Promise.all([createTestDatabase(), startSimulator({ seed: 13, balances })]);
  const exchange = createBtcturkExchange({ baseUrl: sim.url, credentials: sim.credentials, retry: { maxAttempts: 2, baseDelayMs: 5, maxDelayMs: 20 } });
  const taskQueue = uniqueId('account');
  const worker: Worker = await createCycleWorker({
    connection: temporal.nativeConnection,
    namespace: 'default',
    taskQueue,
    deps: { pool: db.pool, exchange, env: { ...ARMED_ENV, ...env }, hasCredentials: true },
    workflowBundle: temporal.workflowBundle,
  });
  const running = worker.run();
  const f: Fixture = {
    db, sim, exchange,
    cycle: (overrides = {}) =>
      runCycle(temporal.client, {
        workflowId: uniqueId('cycle-account'), taskQueue,
        input: { gates: ARMED, dryRunRequested: false, symbols: ['BTCTRY', 'ETHTRY'], trigger: 'test', ...overrides },
      }),
    ageOrders: async () => {
      await db.pool.query("UPDATE stage4_orders SET created_at = created_at - interval '1 hour' WHERE status IN ('open', 'partial')");
    },
    audit: (cycleId) => listCycleAudits(db.pool, { cycleId }),
    close: async () => {
      worker.shutdown();
      await running;
      await Promise.allSettled([exchange.close(), sim.close()]);
      await db.drop();
    },
  };
  fixtures.push(f);
  return f;
}

describe('holdings the bot did not buy', () => {
  test('a manual sell of holdings that predate the bot is no oversell: the cycle runs, stale orders are cancelled, the position equals the balance', async () => {
    // 0.01 BTC is ~34,000 TRY of exposure: room for it under the position limit.
    const f = await fixture({ balances: { TRY: '100000', BTC: '0.01' }, env: { MAX_POSITION_NOTIONAL_TRY: '100000' } });
    const first = await f.cycle();
    expect(first.result).toMatchObject({ outcome: 'ok', counts: { submitted: 2, openings_recorded: 2 } });
    expect(first.result!.notes.find((n) => n.startsWith('opening_inferred:BTCTRY'))).toMatch(/^opening_inferred:BTCTRY qty=0\.01 balance=0\.01 fills_net=0 mark=\d+/);

    await f.ageOrders();
    await f.sim.control.manualTrade({ symbol: 'BTCTRY', side: 'sell', qty: '0.005' });
    const second = await f.cycle();
    expect(second.failure).toBeNull();
    expect(second.result).toMatchObject({ outcome: 'ok' });
    expect(second.result!.counts['canceled']).toBe(2);
    const btc = (await listPositions(f.db.pool)).find((p) => p.symbol === 'BTCTRY');
    expect(toDecimalString(btc!.qty)).toBe('0.005');
  });

  test('inferred holdings count toward the exposure limit', async () => {
    // Default MAX_POSITION_NOTIONAL_TRY is 5,000 TRY; 0.01 BTC at ~3.4M TRY is ~34,000.
    const f = await fixture({ balances: { TRY: '100000', BTC: '0.01' } });
    const run = await f.cycle();
    expect(run.result).toMatchObject({ outcome: 'ok', counts: { intents: 2, rejected_by_risk: 2 } });
    const [audit] = await f.audit(run.workflowId);
    expect(audit!.decisions.filter((d) => d.endsWith(':max_position_notional_try'))).toHaveLength(2);
  });
});

describe('a symbol that sits the cycle out', () => {
  test('an order-book 503 costs the symbols their submits, not their age-based cancels', async () => {
    const f = await fixture({ balances: { TRY: '100000' } });
    expect((await f.cycle()).result).toMatchObject({ outcome: 'ok', counts: { submitted: 2 } });
    await f.ageOrders();
    f.sim.faults.add({ route: 'GET /api/v2/orderbook', kind: 'http503', times: null });

    const run = await f.cycle();
    expect(run.result?.outcome).toBe('ok');
    expect(run.result!.counts['canceled']).toBe(2);
    expect(run.result!.counts['submitted'] ?? 0).toBe(0);
    expect(f.sim.engine.groundTruth().orders.map((o) => o.status)).toEqual(['Canceled', 'Canceled']);
  });

  test('a failed balance read means no buys and no PnL snapshot, but cancels still run', async () => {
    const f = await fixture({ balances: { TRY: '100000' } });
    expect((await f.cycle()).result).toMatchObject({ outcome: 'ok', counts: { submitted: 2 } });
    await f.ageOrders();
    f.sim.faults.add({ route: 'GET /api/v1/users/balances', kind: 'http500', times: null });

    const run = await f.cycle();
    expect(run.failure).toBeNull();
    expect(run.result?.outcome).toBe('ok');
    expect(run.result!.counts['canceled']).toBe(2);
    expect(run.result!.counts['submitted'] ?? 0).toBe(0);
    const snapshots = await f.db.pool.query('SELECT 1 FROM pnl_snapshots WHERE cycle_id = $1', [run.workflowId]);
    expect(snapshots.rowCount).toBe(0);
  });
});

describe('exchange info with a broken pair', () => {
  test('an unconfigured malformed pair is skipped with an alert; a configured one fails only itself', async () => {
    const f = await fixture({ balances: { TRY: '100000' } });
    f.sim.engine.malformPair('XYZTRY', 'bad_name');
    f.sim.engine.malformPair('ETHTRY', 'no_min_notional');

    const run = await f.cycle();
    expect(run.failure).toBeNull();
    expect(run.result?.outcome).toBe('ok');
    expect(run.result!.counts['submitted']).toBe(1);
    expect(f.sim.engine.groundTruth().orders.map((o) => o.symbol)).toEqual(['BTCTRY']);
    const alerts = run.result!.notes.join('\n');
    expect(alerts).toMatch(/ETHTRY.*minExchangeValue/);
    expect(alerts).toMatch(/pair_skipped/);
  });
});

describe('causes are kept', () => {
  test('a failed fills fetch names its cause in the audit row and the cycle result', async () => {
    const f = await fixture({ balances: { TRY: '100000' } });
    f.sim.faults.add({ route: 'GET /api/v1/users/transactions/trade', kind: 'emptyBody', times: null });

    const run = await f.cycle();
    expect(run.result?.outcome).toBe('ok');
    const [audit] = await f.audit(run.workflowId);
    const failure = audit!.alerts.find((a) => a.includes('BTCTRY') && a.includes('MalformedResponseError'));
    expect(failure).toMatch(/empty body/);
    expect(run.result!.notes).toContain(failure);
  });
});
