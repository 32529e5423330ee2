// Paper trading on the real stack (Temporal dev server, Postgres, the simulator over HTTP): dry-run
// orders fill when the simulator's public market trades through them, into the paper ledger, with
// the same accounting as live fills, and every live row is left exactly as it was.
import type { Worker } from '@temporalio/worker';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { runCycle } from '../../src/cli/cycles.js';
import { formatPaper, readPaperAccount } from '../../src/cli/positions.js';
import { Decimal, toDecimalString } from '../../src/domain/decimal.js';
import type { GateSettings } from '../../src/domain/gates.js';
import { markFromQuote } from '../../src/domain/market.js';
import { toPairSymbol } from '../../src/domain/types.js';
import { createBtcturkExchange } from '../../src/exchange/btcturk/client.js';
import type { Exchange } from '../../src/exchange/port.js';
import { startSimulator, type RunningSimulator } from '../../src/simulator/server.js';
import { fillRestingBuys } from '../../src/simulator/scenarios.js';
import { listFills } from '../../src/store/history.js';
import { listOrders } from '../../src/store/orders.js';
import { listPaperPositions } from '../../src/store/paper.js';
import { getHighWaterMark, latestSnapshot } from '../../src/store/pnl.js';
import { createCycleWorker } from '../../src/worker.js';
import type { CycleInput } from '../../src/workflows/types.js';
import { connectTemporal, createTestDatabase, uniqueId } from './harness.js';

const SAFE: GateSettings = { killSwitch: true, dryRun: true, liveTrading: false, liveTradingAck: null };
const ARMED: GateSettings = { killSwitch: false, dryRun: false, liveTrading: true, liveTradingAck: 'I_UNDERSTAND' };
const ARMED_ENV = { KILL_SWITCH: 'false', DRY_RUN: 'false', LIVE_TRADING: 'true', LIVE_TRADING_ACK: 'I_UNDERSTAND' };
const BTCTRY = toPairSymbol('BTCTRY');

let temporal: Awaited<ReturnType<typeof connectTemporal>>;
beforeAll(async () => {
  temporal = await connectTemporal();
});
afterAll(async () => {
  await temporal?.close();
});

interface Fixture {
  db: Awaited<ReturnType<typeof createTestDatabase>>;
  simulator: RunningSimulator;
  exchange: Exchange;
  cycle(input: Partial<CycleInput>): ReturnType<typeof runCycle>;
}
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c()));
});

async function fixture(opts: { credentials: boolean; env: Record<string, string> }): Promise<Fixture> {
  // Cash only: no coins from before the bot, whose inferred value would fill the exposure limit.
  const [db, simulator] = await Promise.all([createTestDatabase(), startSimulator({ seed: 11, balances: { TRY: '100000' } })]);
  const exchange = createBtcturkExchange({ baseUrl: simulator.url, ...(opts.credentials ? { credentials: simulator.credentials } : {}) });
  const taskQueue = uniqueId('paper');
  const worker: Worker = await createCycleWorker({
    connection: temporal.nativeConnection, namespace: 'default', taskQueue,
    deps: { pool: db.pool, exchange, env: opts.env, hasCredentials: opts.credentials },
    workflowBundle: temporal.workflowBundle,
  });
  const running = worker.run();
  closers.push(async () => {
    worker.shutdown();
    await running;
    await Promise.allSettled([exchange.close(), simulator.close()]);
    await db.drop();
  });
  return {
    db, simulator, exchange,
    cycle: (input) => runCycle(temporal.client, {
      workflowId: uniqueId('cycle-paper'), taskQueue,
      input: { gates: SAFE, dryRunRequested: true, symbols: ['BTCTRY'], trigger: 'test', ...input },
    }),
  };
}

/** Every live-ledger row as Postgres renders it: compared as text, byte for byte. */
async function liveRows(f: Fixture): Promise<Record<string, string[]>> {
  const q = async (sql: string) => (await f.db.pool.query<{ r: string }>(sql)).rows.map((x) => x.r);
  return {
    stage4_fills: await q('SELECT row_to_json(t)::text AS r FROM stage4_fills t ORDER BY fill_id'),
    stage4_positions: await q('SELECT row_to_json(t)::text AS r FROM stage4_positions t ORDER BY symbol'),
    cursors: await q('SELECT row_to_json(t)::text AS r FROM cursors t ORDER BY key'),
    high_water_marks: await q(`SELECT row_to_json(t)::text AS r FROM high_water_marks t WHERE mode = 'live' ORDER BY account_id`),
    pnl_snapshots: await q(`SELECT row_to_json(t)::text AS r FROM pnl_snapshots t WHERE mode = 'live' ORDER BY id`),
  };
}

const fee8 = (d: Decimal) => d.toDecimalPlaces(8, Decimal.ROUND_HALF_UP);

describe('paper trading', () => {
  test('a dry-run order the market trades through is filled, not left open for the TTL to cancel', async () => {
    const f = await fixture({ credentials: false, env: { SYMBOLS: 'BTC_TRY,ETH_TRY' } });
    expect((await f.cycle({ symbols: ['BTCTRY', 'ETHTRY'] })).result?.outcome).toBe('ok');
    const placed = await listOrders(f.db.pool, { modes: ['dry_run'] });
    expect(placed.map((o) => o.state)).toEqual(['open', 'open']);
    // The market falls 2 % below each paper buy: it trades through them.
    for (const o of placed) f.simulator.engine.setMid(o.symbol, o.price.mul('0.98').toDecimalPlaces(0));

    expect((await f.cycle({ symbols: ['BTCTRY', 'ETHTRY'] })).result?.outcome).toBe('ok');
    const after = await listOrders(f.db.pool, { modes: ['dry_run'] });
    expect(after.filter((o) => placed.some((p) => p.clientOrderId === o.clientOrderId)).map((o) => o.state)).toEqual(['filled', 'filled']);
  });

  test('after live fills, dry-run cycles fill a paper order through touch, partial and full fills, equal to a hand computation, report a page gap, and leave every live row unchanged', async () => {
    // No settle margin: the second live cycle applies the fill of the first one's buy at once.
    const f = await fixture({ credentials: true, env: { SYMBOLS: 'BTC_TRY', FILLS_SETTLE_SECONDS: '0', ...ARMED_ENV } });

    // Live first: a live buy, filled by the simulator, gives live fills, a position and a live peak.
    expect((await f.cycle({ gates: ARMED, dryRunRequested: false })).result).toMatchObject({ mode: 'live', outcome: 'ok' });
    fillRestingBuys(f.simulator);
    expect((await f.cycle({ gates: ARMED, dryRunRequested: false })).result).toMatchObject({ mode: 'live', outcome: 'ok', counts: { fills_applied: 1 } });
    const before = await liveRows(f);
    expect(before.stage4_fills).toHaveLength(1);
    expect(before.stage4_positions).toHaveLength(1);
    expect(before.high_water_marks).toHaveLength(1);

    // Dry run 1 places a paper buy (paper cash starts at DRY_RUN_TRY_BALANCE = 1000).
    const d1 = await f.cycle({});
    expect(d1.result).toMatchObject({ mode: 'dry_run', outcome: 'ok', counts: { simulated: 1 } });
    const [order] = await listOrders(f.db.pool, { modes: ['dry_run'] });
    const { price, qty } = order!;
    const part = qty.mul('0.4').toDecimalPlaces(8, Decimal.ROUND_DOWN);

    // A touch at our price fills nothing; a trade one tick below fills part of the order.
    await f.simulator.control.printTrade('BTCTRY', price.toFixed(), qty.toFixed(), 'sell');
    await f.simulator.control.printTrade('BTCTRY', price.sub(1).toFixed(), part.toFixed(), 'sell');
    expect((await f.cycle({})).result).toMatchObject({ outcome: 'ok', counts: { paper_fills_applied: 1 } });
    let row = (await listOrders(f.db.pool, { modes: ['dry_run'] })).find((o) => o.clientOrderId === order!.clientOrderId)!;
    expect([row.state, toDecimalString(row.leftQty)]).toEqual(['partial', toDecimalString(qty.sub(part))]);

    // More volume through the price than is left: the rest fills, never more than the order.
    await f.simulator.control.printTrade('BTCTRY', price.sub(2).toFixed(), qty.toFixed(), 'sell');
    const d3 = await f.cycle({});
    expect(d3.result).toMatchObject({ outcome: 'ok', counts: { paper_fills_applied: 1 } });
    row = (await listOrders(f.db.pool, { modes: ['dry_run'] })).find((o) => o.clientOrderId === order!.clientOrderId)!;
    expect([row.state, toDecimalString(row.leftQty)]).toEqual(['filled', '0']);

    // By hand: two maker fills at our limit, fee 10 bps (FEE_BPS_MAKER) and 20 % VAT on it, 8 decimals.
    const legs = [part, qty.sub(part)].map((q) => {
      const fee = fee8(price.mul(q).mul(10).div(10_000));
      return { q, fee, tax: fee8(fee.mul('0.2')) };
    });
    const cost = legs.reduce((s, l) => s.add(price.mul(l.q)).add(l.fee).add(l.tax), new Decimal(0));
    const fills = await listFills(f.db.pool, { modes: ['dry_run'] });
    expect(fills.map((x) => [x.side, x.price, x.qty, x.fee, x.tax, x.feeAsset])).toEqual(
      legs.map((l) => ['buy', toDecimalString(price), toDecimalString(l.q), toDecimalString(l.fee), toDecimalString(l.tax), 'TRY']),
    );
    const [pos] = await listPaperPositions(f.db.pool);
    expect([pos!.symbol, toDecimalString(pos!.qty), toDecimalString(pos!.costBasisTry), toDecimalString(pos!.realizedPnlTry)])
      .toEqual(['BTCTRY', toDecimalString(qty), toDecimalString(cost), '0']);
    // The paper PnL of the cycle that completed the fill: cash 1000 − cost, plus the position at the mark.
    const { mark } = markFromQuote(await f.exchange.getQuote(BTCTRY));
    const snap = (await latestSnapshot(f.db.pool, 'default', 'dry_run'))!;
    expect(snap.cycleId).toBe(d3.result!.cycleId);
    expect(toDecimalString(snap.totalEquityTry)).toBe(toDecimalString(new Decimal(1000).sub(cost).add(qty.mul(mark!))));
    expect(toDecimalString(snap.realizedTotalTry)).toBe('0');
    expect(toDecimalString((await getHighWaterMark(f.db.pool, 'default', 'dry_run'))!)).toBe('1000');
    // What `btcbot positions --mode dry_run` shows: the same position, and the cash left after the cost.
    const view = await readPaperAccount(f.db.pool);
    expect(view.cash).toMatchObject({ startTry: '1000', source: 'fixed', cashTry: toDecimalString(new Decimal(1000).sub(cost)) });
    expect(view.positions).toEqual([expect.objectContaining({ symbol: 'BTCTRY', qty: toDecimalString(qty), costBasisTry: toDecimalString(cost), realizedPnlTry: '0' })]);
    expect(formatPaper(view).join('\n')).toMatch(new RegExp(`^ {2}BTCTRY\\s+${toDecimalString(qty).replace('.', '\\.')}\\s`, 'm'));

    // The live ledger saw none of it: fills, positions, cursors, the live peak and snapshots, byte for byte.
    expect(await liveRows(f)).toEqual(before);
    expect((await listFills(f.db.pool, { modes: ['live'] })).map((x) => x.fillId)).toHaveLength(1);

    // More trades than one page of 50 since the last look: the cycle says so and fills only from what it saw.
    const next = (await listOrders(f.db.pool, { modes: ['dry_run'], states: ['open'] }))[0]!;
    for (let i = 0; i < 60; i++) f.simulator.engine.printTrade('BTCTRY', next.price.sub(1), new Decimal('0.00000001'), 'sell');
    const d4 = await f.cycle({});
    expect(d4.result).toMatchObject({ outcome: 'ok', counts: { paper_fills_applied: 50, paper_trades_gaps: 1 } });
    expect(d4.result!.notes).toContain('paper_trades_gap:BTCTRY');
    expect(await liveRows(f)).toEqual(before);

    // The account really trades (other hands) during the dry phase: the dry run still ingests that
    // real fill into the live ledger, and still leaves the live peak and live snapshots alone.
    const paperBefore = await listPaperPositions(f.db.pool);
    const manual = await f.simulator.control.manualTrade({ symbol: 'BTCTRY', side: 'buy', qty: '0.0001', price: toDecimalString(price), atMs: f.simulator.engine.now() });
    const d5 = await f.cycle({});
    expect(d5.result).toMatchObject({ mode: 'dry_run', outcome: 'ok', counts: { fills_applied: 1 } });
    const afterReal = await liveRows(f);
    expect((await listFills(f.db.pool, { modes: ['live'] })).map((x) => x.fillId)).toContain(manual.fillId);
    expect({ hwm: afterReal.high_water_marks, snapshots: afterReal.pnl_snapshots }).toEqual({ hwm: before.high_water_marks, snapshots: before.pnl_snapshots });
    expect(await listPaperPositions(f.db.pool)).toEqual(paperBefore);
  });
});
