// Account truth on the real stack (issue 13): holdings the bot did not buy, one symbol's trouble
// never stopping the others, cancels that always run, causes that reach the audit. Real Temporal
// dev server, real Postgres, the simulator over HTTP with API credentials.
import { afterAll, afterEach, beforeAll, describe, expect, inject, test } from 'vitest';
import { Decimal, toDecimalString } from '../../src/domain/decimal.js';
import { toPairSymbol } from '../../src/domain/types.js';
import { fillRestingBuys } from '../../src/simulator/scenarios.js';
import { listAdjustments, listAdoptionRequests, listQuarantines, requestAdoption } from '../../src/store/account.js';
import { listCycleAudits } from '../../src/store/audit.js';
import { getCursorMs, listPositions } from '../../src/store/fills.js';
import { btcbot } from './cli-harness.js';
import { ARMED_WORKER_ENV, connectTemporal, createTestDatabase, startLiveStack, type LiveStack } from './harness.js';

let temporal: Awaited<ReturnType<typeof connectTemporal>>;
beforeAll(async () => {
  temporal = await connectTemporal();
});
afterAll(async () => {
  await temporal?.close();
});

interface Fixture extends LiveStack {
  /** Make every working order of ours older than TTL_SECONDS, so the next plan cancels it as stale. */
  ageOrders(): Promise<void>;
  audit(cycleId: string): ReturnType<typeof listCycleAudits>;
}

const fixtures: Fixture[] = [];
afterEach(async () => {
  await Promise.all(fixtures.splice(0).map((f) => f.close()));
});

async function fixture({ balances, env = {} }: { balances: Record<string, string>; env?: Record<string, string> }): Promise<Fixture> {
  const stack = await startLiveStack(temporal, {
    queuePrefix: 'account', seed: 13, balances, workerEnv: { ...ARMED_WORKER_ENV, ...env },
    // Failing reads fail fast: the cause is what these tests look at, not the retries.
    exchange: { retry: { maxAttempts: 2, baseDelayMs: 5, maxDelayMs: 20 } },
  });
  const f: Fixture = {
    ...stack,
    ageOrders: async () => {
      await stack.db.pool.query("UPDATE stage4_orders SET created_at = created_at - interval '1 hour' WHERE status IN ('open', 'partial')");
    },
    audit: (cycleId) => listCycleAudits(stack.db.pool, { cycleId }),
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
    await f.simulator.control.manualTrade({ symbol: 'BTCTRY', side: 'sell', qty: '0.005' });
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
    expect(audit!.decisions.filter((d) => /:max_position_notional_try( |$)/.test(d))).toHaveLength(2);
  });
});

describe('a quarantine and the exposure limit', () => {
  test('the bot\'s own buy that fills while its symbol is quarantined still counts: the next buy elsewhere is refused by the cap', async () => {
    // Two canary buys of ~100 TRY fit under 250 TRY; a third does not.
    const f = await fixture({ balances: { TRY: '100000', BTC: '0.01' }, env: { INFER_OPENING_POSITIONS: 'false', MAX_POSITION_NOTIONAL_TRY: '250' } });
    expect((await f.cycle()).result).toMatchObject({ outcome: 'ok', counts: { submitted: 2 } });
    await f.simulator.control.manualTrade({ symbol: 'BTCTRY', side: 'sell', qty: '0.005' });
    expect((await f.cycle()).result!.counts['quarantined_symbols']).toBe(1);
    fillRestingBuys(f.simulator); // the bot's BTC buy (held behind the quarantined sell) and its ETH buy fill
    const run = await f.cycle();
    expect(run.result?.outcome).toBe('ok');
    const [audit] = await f.audit(run.workflowId);
    // ETH (~100 TRY held) + BTC's held buy (~100 TRY) + a new ETH buy (~100 TRY) > 250.
    expect(audit!.decisions.filter((d) => /:max_position_notional_try( |$)/.test(d))).toHaveLength(1);
    expect(run.result!.counts['submitted'] ?? 0).toBe(0);
    const [q] = await listQuarantines(f.db.pool);
    expect({ held: q!.heldFills, buys: q!.heldBuyQty.gt(0) }).toEqual({ held: 2, buys: true });
  });
});

describe('positions adopt as a command', () => {
  test('refuses a pair the bot does not account (not in SYMBOLS, or not quoted in TRY) with exit 2 naming it; --cancel withdraws a request', async () => {
    const db = await createTestDatabase();
    try {
      const env = { DATABASE_URL: db.url, SYMBOLS: 'BTC_TRY,ETH_TRY' };
      const doge = await btcbot(['positions', 'adopt', 'DOGETRY'], env).exited;
      const usdt = await btcbot(['positions', 'adopt', 'BTCUSDT'], env).exited;
      expect([doge.code, usdt.code]).toEqual([2, 2]);
      expect(doge.stderr).toContain('DOGETRY is not among SYMBOLS (BTCTRY, ETHTRY)');
      expect(usdt.stderr).toContain('BTCUSDT is not quoted in TRY');
      expect(await listAdoptionRequests(db.pool)).toEqual([]);

      expect((await btcbot(['positions', 'adopt', 'btc_try'], env).exited).code).toBe(0);
      expect((await listAdoptionRequests(db.pool)).map((a) => a.symbol)).toEqual(['BTCTRY']);
      const cancel = await btcbot(['positions', 'adopt', 'BTCTRY', '--cancel'], env).exited;
      expect([cancel.code, cancel.stdout.trim()]).toEqual([0, 'adoption request for BTCTRY withdrawn']);
      expect(await listAdoptionRequests(db.pool)).toEqual([]);
    } finally {
      await db.drop();
    }
  });
});

describe('a symbol that sits the cycle out', () => {
  test('an order-book 503 costs the symbols their submits, not their age-based cancels', async () => {
    const f = await fixture({ balances: { TRY: '100000' } });
    expect((await f.cycle()).result).toMatchObject({ outcome: 'ok', counts: { submitted: 2 } });
    await f.ageOrders();
    f.simulator.faults.add({ route: 'GET /api/v2/orderbook', kind: 'http503', times: null });

    const run = await f.cycle();
    expect(run.result?.outcome).toBe('ok');
    expect(run.result!.counts['canceled']).toBe(2);
    expect(run.result!.counts['submitted'] ?? 0).toBe(0);
    expect(f.simulator.engine.groundTruth().orders.map((o) => o.status)).toEqual(['Canceled', 'Canceled']);
  });

  test('a failed balance read means no buys and no PnL snapshot, but cancels still run', async () => {
    const f = await fixture({ balances: { TRY: '100000' } });
    expect((await f.cycle()).result).toMatchObject({ outcome: 'ok', counts: { submitted: 2 } });
    await f.ageOrders();
    f.simulator.faults.add({ route: 'GET /api/v1/users/balances', kind: 'http500', times: null });

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
    f.simulator.engine.malformPair('XYZTRY', 'bad_name');
    f.simulator.engine.malformPair('ETHTRY', 'no_min_notional');

    const run = await f.cycle();
    expect(run.failure).toBeNull();
    expect(run.result?.outcome).toBe('ok');
    expect(run.result!.counts['submitted']).toBe(1);
    expect(f.simulator.engine.groundTruth().orders.map((o) => o.symbol)).toEqual(['BTCTRY']);
    const alerts = run.result!.notes.join('\n');
    expect(alerts).toMatch(/ETHTRY.*minExchangeValue/);
    expect(alerts).toMatch(/pair_skipped/);
  });
});

describe('causes are kept', () => {
  test('a failed fills fetch names its cause in the audit row and the cycle result', async () => {
    const f = await fixture({ balances: { TRY: '100000' } });
    f.simulator.faults.add({ route: 'GET /api/v1/users/transactions/trade', kind: 'emptyBody', times: null });

    const run = await f.cycle();
    expect(run.result?.outcome).toBe('ok');
    const [audit] = await f.audit(run.workflowId);
    const failure = audit!.alerts.find((a) => a.includes('BTCTRY') && a.includes('MalformedResponseError'));
    expect(failure).toMatch(/empty body/);
    expect(run.result!.notes).toContain(failure);
  });
});

describe('ten cycles on an account with 0.01 BTC and a manual sell of 0.005 BTC, trading BTCTRY and ETHTRY', () => {
  const ENV = {
    MAX_POSITION_NOTIONAL_TRY: '100000', TRY_CASH_TARGET: '0', TRY_CASH_MAX: '100000', BALANCE_DRIFT_CYCLES: '2',
  };
  const LOOKBACK_MS = 30 * 60_000;

  /** Every fill on the exchange is in the ledger, or held before its symbol's cursor by a quarantine that names why. */
  async function fillsAccountedFor(f: Fixture): Promise<string[]> {
    const truth = f.simulator.engine.groundTruth();
    const ledger = new Set((await f.db.pool.query<{ fill_id: string }>('SELECT fill_id FROM stage4_fills')).rows.map((r) => r.fill_id));
    const quarantines = await listQuarantines(f.db.pool);
    const problems: string[] = [];
    for (const fill of truth.fills) {
      if (ledger.has(fill.id)) continue;
      const q = quarantines.find((x) => x.symbol === fill.symbol);
      const cursor = await getCursorMs(f.db.pool, toPairSymbol(fill.symbol));
      const held = q !== undefined && q.reason === 'oversell_detected' && q.fillId !== null && cursor !== null && fill.tsMs >= cursor - LOOKBACK_MS;
      if (!held) problems.push(`${fill.id} ${fill.symbol} ${fill.side} ${fill.qty}: neither applied nor held`);
    }
    return problems;
  }

  /** The bot's orders working on the exchange now (every one is past its TTL: ageOrders runs after each cycle). */
  const workingOrders = (f: Fixture): string[] =>
    f.simulator.engine.groundTruth().orders.filter((o) => o.clientId !== 'advanced' && (o.status === 'Untouched' || o.status === 'Partial')).map((o) => o.id);
  /** Of `ids`, those still working: a stale order the cycle did not cancel. */
  const stillWorking = (f: Fixture, ids: readonly string[]): string[] => workingOrders(f).filter((id) => ids.includes(id));

  const balanceOf = (f: Fixture, asset: string): string => {
    const b = f.simulator.engine.groundTruth().balances[asset] ?? { free: '0', locked: '0' };
    return toDecimalString(new Decimal(b.free).add(b.locked));
  };
  const positionOf = async (f: Fixture, symbol: string): Promise<string> =>
    toDecimalString((await listPositions(f.db.pool)).find((p) => p.symbol === symbol)?.qty ?? new Decimal(0));

  test('inference on: the opening is inferred and recorded, every cycle ok with its cancels, drift only where a balance really moved', async () => {
    const f = await fixture({ balances: { TRY: '100000', BTC: '0.01' }, env: ENV });
    const runs = [];
    let cancelCycles = 0;
    for (let i = 1; i <= 10; i++) {
      if (i === 2) await f.simulator.control.manualTrade({ symbol: 'BTCTRY', side: 'sell', qty: '0.005' });
      if (i === 4 || i === 8) fillRestingBuys(f.simulator);
      // 0.001 BTC leaves the account without a trade (a withdrawal): the balances really differ.
      if (i === 5) f.simulator.engine.setBalance('BTC', new Decimal(f.simulator.engine.balance('BTC').free).sub('0.001').toFixed(), f.simulator.engine.balance('BTC').locked.toFixed());
      if (i === 8) await requestAdoption(f.db.pool, toPairSymbol('BTCTRY'), 'test');
      const stale = workingOrders(f);
      const run = await f.cycle();
      runs.push(run);
      expect(run.failure, `cycle ${i}`).toBeNull();
      expect(run.result?.outcome, `cycle ${i}`).toBe('ok');
      expect(stillWorking(f, stale), `cycle ${i}: stale orders left working`).toEqual([]);
      if (stale.length > 0) cancelCycles += 1;
      const drift = run.result!.notes.filter((n) => n.startsWith('balance_drift:'));
      // Raised at the second check after the withdrawal; gone once the holdings are adopted (cycle 8).
      expect(drift.map((n) => n.split(' ')[0]), `cycle ${i} drift`).toEqual(i === 6 || i === 7 ? ['balance_drift:BTC'] : []);
      if (i === 6) expect(run.result!.notes.join('\n')).toMatch(/^balance_drift:BTC balance=\S+ positions=\S+ diff=-0\.001 cycles=2$/m);
      await f.ageOrders();
    }
    expect(cancelCycles).toBeGreaterThanOrEqual(4);
    const [first] = runs;
    expect(first!.result!.notes).toContainEqual(expect.stringMatching(/^opening_inferred:BTCTRY qty=0\.01 balance=0\.01 fills_net=0 mark=\d+/));
    expect(first!.result!.notes).toContainEqual(expect.stringMatching(/^opening_inferred:ETHTRY qty=0 balance=0 fills_net=0/));
    const [opening] = await listAdjustments(f.db.pool, toPairSymbol('BTCTRY'));
    expect(opening).toMatchObject({ kind: 'inferred', windowStartMs: expect.any(Number) });
    expect(toDecimalString(opening!.qtyDelta)).toBe('0.01');
    // While drifting (cycles 6 and 7), BTC buys nothing; ETH trades on.
    const drifting = [...(await f.audit(runs[5]!.workflowId)), ...(await f.audit(runs[6]!.workflowId))];
    expect(drifting.flatMap((a) => a.decisions).filter((d) => /:balance_drift( |$)/.test(d)).length).toBeGreaterThanOrEqual(1);
    const placedWhileDrifting = f.simulator.engine.groundTruth().orders.filter((o) => o.createdMs >= Date.parse(drifting[0]!.startedAt) && o.createdMs <= Date.parse(drifting[1]!.finishedAt));
    expect([...new Set(placedWhileDrifting.map((o) => o.symbol))]).toEqual(['ETHTRY']);
    expect(runs[7]!.result!.notes).toContain('balance_drift_resolved:BTC');

    expect(await positionOf(f, 'BTCTRY')).toBe(balanceOf(f, 'BTC'));
    expect(await positionOf(f, 'ETHTRY')).toBe(balanceOf(f, 'ETH'));
    expect(f.simulator.engine.groundTruth().fills.filter((x) => x.symbol === 'ETHTRY').length).toBeGreaterThanOrEqual(1);
    expect(await fillsAccountedFor(f)).toEqual([]);
    expect(await listQuarantines(f.db.pool)).toEqual([]);
  });

  test('inference off: the manual sell quarantines BTC with an alert naming the fill; ETH keeps trading and cancels keep running', async () => {
    const f = await fixture({ balances: { TRY: '100000', BTC: '0.01' }, env: { ...ENV, INFER_OPENING_POSITIONS: 'false' } });
    let sellId = '';
    let cancelCycles = 0;
    for (let i = 1; i <= 10; i++) {
      if (i === 2) sellId = (await f.simulator.control.manualTrade({ symbol: 'BTCTRY', side: 'sell', qty: '0.005' })).fillId;
      if (i === 4 || i === 8) fillRestingBuys(f.simulator);
      const stale = workingOrders(f);
      const run = await f.cycle();
      expect(run.failure, `cycle ${i}`).toBeNull();
      expect(run.result?.outcome, `cycle ${i}`).toBe('ok');
      expect(stillWorking(f, stale), `cycle ${i}: stale orders left working`).toEqual([]);
      if (stale.length > 0) cancelCycles += 1;
      if (i >= 2) {
        expect(run.result!.notes).toContainEqual(expect.stringMatching(new RegExp(`^quarantined:BTCTRY:oversell_detected fill_id=${sellId} `)));
        expect(run.result!.counts['quarantined_symbols']).toBe(1);
      }
      await f.ageOrders();
    }
    expect(cancelCycles).toBeGreaterThanOrEqual(4);
    const truth = f.simulator.engine.groundTruth();
    // After the quarantine no new BTC order; ETH's kept being replaced.
    const botOrders = truth.orders.filter((o) => o.clientId !== 'advanced');
    expect(botOrders.filter((o) => o.symbol === 'BTCTRY')).toHaveLength(1);
    expect(botOrders.filter((o) => o.symbol === 'ETHTRY').length).toBeGreaterThanOrEqual(4);
    expect(truth.orders.filter((o) => o.status === 'Untouched' && o.symbol === 'BTCTRY')).toEqual([]);
    expect(await positionOf(f, 'ETHTRY')).toBe(balanceOf(f, 'ETH'));
    expect(await fillsAccountedFor(f)).toEqual([]);
    expect(await listQuarantines(f.db.pool)).toEqual([expect.objectContaining({ symbol: 'BTCTRY', fillId: sellId, cycles: 9 })]);

    // The operator's view and the way out, as commands.
    const env = { DATABASE_URL: f.db.url, TEMPORAL_ADDRESS: inject('temporalAddress') };
    const shown = JSON.parse((await btcbot(['positions', '--json'], env).exited).stdout);
    expect(shown.quarantines).toEqual([expect.objectContaining({ symbol: 'BTCTRY', reason: 'oversell_detected', fillId: sellId, cycles: 9 })]);
    expect(shown.positions.find((p: { symbol: string }) => p.symbol === 'ETHTRY').opening).toMatchObject({ kind: 'zero' });
    const status = await btcbot(['status'], env).exited;
    expect(status.stdout).toMatch(new RegExp(`QUARANTINED BTCTRY since .*fill_id=${sellId}.*btcbot positions adopt BTCTRY`));
    const adopt = await btcbot(['positions', 'adopt', 'btc_try'], env).exited;
    expect(adopt.code, adopt.stderr).toBe(0);
    expect(adopt.stdout).toContain('adoption requested for BTCTRY');

    const after = await f.cycle();
    expect(after.result).toMatchObject({ outcome: 'ok', counts: { quarantined_symbols: 0 } });
    expect(after.result!.notes).toContain('quarantine_lifted:BTCTRY');
    expect(await positionOf(f, 'BTCTRY')).toBe(balanceOf(f, 'BTC'));
    expect(await fillsAccountedFor(f)).toEqual([]);
    expect(await f.db.pool.query('SELECT 1 FROM stage4_fills WHERE fill_id = $1', [sellId])).toMatchObject({ rowCount: 1 });
  });
});
