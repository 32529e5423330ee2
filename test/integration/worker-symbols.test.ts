// The worker decides what it trades. Anyone who can start a workflow on the task queue chooses the
// cycle's symbols; an armed worker trades only those in its own SYMBOLS and reports the rest. And
// anyone who can run a workflow can schedule btcbot's write activity directly: the worker checks
// every write at the activity boundary too.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runCycle } from '../../src/cli/cycles.js';
import type { GateSettings } from '../../src/domain/gates.js';
import { createBtcturkExchange } from '../../src/exchange/btcturk/client.js';
import type { Exchange } from '../../src/exchange/port.js';
import { startSimulator, type RunningSimulator } from '../../src/simulator/server.js';
import { listCycleAudits } from '../../src/store/audit.js';
import { applyOrderEvent, getOrderByClientId, listOrders, recordPendingSubmit } from '../../src/store/orders.js';
import { asClientOrderId, toPairSymbol } from '../../src/domain/types.js';
import { Decimal } from '../../src/domain/decimal.js';
import { createCycleWorker } from '../../src/worker.js';
import { CANCEL_OWN_ORDERS_WORKFLOW, type CancelOwnOrdersResult } from '../../src/workflows/definitions.js';
import type { Worker } from '@temporalio/worker';
import { connectTemporal, createRogueWorker, createTestDatabase, uniqueId } from './harness.js';

const ARMED: GateSettings = { killSwitch: false, dryRun: false, liveTrading: true, liveTradingAck: 'I_UNDERSTAND' };
const ARMED_ENV = { KILL_SWITCH: 'false', DRY_RUN: 'false', LIVE_TRADING: 'true', LIVE_TRADING_ACK: 'I_UNDERSTAND' };

let temporal: Awaited<ReturnType<typeof connectTemporal>>;
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let simulator: RunningSimulator;
let exchange: Exchange;
let worker: Worker;
let rogueWorker: Worker;
let running: Promise<unknown>;
const taskQueue = uniqueId('symbols');
const rogueQueue = uniqueId('rogue');

beforeAll(async () => {
  [temporal, db, simulator] = await Promise.all([connectTemporal(), createTestDatabase(), startSimulator({ seed: 11, balances: { TRY: '100000' } })]);
  exchange = createBtcturkExchange({ baseUrl: simulator.url, credentials: simulator.credentials });
  worker = await createCycleWorker({
    connection: temporal.nativeConnection, namespace: 'default', taskQueue, workflowBundle: temporal.workflowBundle,
    // The worker is armed and configured for BTC_TRY only; the simulator lists ETHTRY and SOLTRY too.
    // No settle margin: the cycles run seconds apart (fills-window.test.ts covers the margin).
    deps: { pool: db.pool, exchange, env: { ...ARMED_ENV, SYMBOLS: 'BTC_TRY', FILLS_SETTLE_SECONDS: '0' }, hasCredentials: true },
  });
  rogueWorker = await createRogueWorker(temporal.nativeConnection, rogueQueue);
  running = Promise.all([worker.run(), rogueWorker.run()]);
});

afterAll(async () => {
  worker?.shutdown();
  rogueWorker?.shutdown();
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

/** btcbot's executeAction, scheduled on the btcbot worker's queue by a workflow that is not btcbot's. */
const rogue = (action: Record<string, unknown>) =>
  temporal.client.workflow.execute('rogueExecute', {
    taskQueue: rogueQueue, workflowId: uniqueId('rogue'),
    args: [taskQueue, { cycleId: 'rogue-cycle', mode: 'live', nowMs: Date.now(), action }],
  });
const submit = (p: { cid: string; symbol: string; side: 'buy' | 'sell'; price: string; qty: string }) =>
  ({ kind: 'submit', clientOrderId: p.cid, symbol: p.symbol, side: p.side, price: p.price, qty: p.qty, reason: 'new_intent', afterCancelOf: [] });
const cancelOf = (p: { cid: string; exchangeOrderId: string; symbol: string }) =>
  ({ kind: 'cancel', clientOrderId: p.cid, exchangeOrderId: p.exchangeOrderId, symbol: p.symbol, side: 'buy', price: '1', qty: '1', reason: 'halt_cancel', detail: {} });
const openOnExchange = (id: string) => simulator.engine.groundTruth().orders.find((o) => o.id === id)?.status;

describe('a workflow that is not btcbot\'s cannot make the armed worker trade', () => {
  test('an ETHTRY sell at a tenth of the market, scheduled straight onto executeAction, is refused and never sent', async () => {
    const result = await rogue(submit({ cid: 'rogue-eth-dump-1', symbol: 'ETHTRY', side: 'sell', price: '12000', qty: '1.5' }));
    expect(result).toEqual({ outcome: 'rejected', clientOrderId: 'rogue-eth-dump-1', detail: 'worker_refused:symbol_not_configured' });
    expect(simulator.engine.groundTruth().orders.filter((o) => o.symbol === 'ETHTRY')).toEqual([]);
    expect(await getOrderByClientId(db.pool, asClientOrderId('rogue-eth-dump-1'))).toBeNull(); // not even recorded
  });

  test('on a configured symbol: a buy over MAX_POSITION_NOTIONAL_TRY and a sell of a position we do not hold are refused', async () => {
    const posts = () => simulator.requests.filter((r) => r.route === 'POST /api/v1/order').length;
    const before = posts();
    const big = await rogue(submit({ cid: 'rogue-btc-big-1', symbol: 'BTCTRY', side: 'buy', price: '3000000', qty: '1' }));
    const dump = await rogue(submit({ cid: 'rogue-btc-dump-1', symbol: 'BTCTRY', side: 'sell', price: '340000', qty: '0.5' }));
    expect([big, dump]).toEqual([
      { outcome: 'rejected', clientOrderId: 'rogue-btc-big-1', detail: 'worker_refused:order_notional_over_cap' },
      { outcome: 'rejected', clientOrderId: 'rogue-btc-dump-1', detail: 'worker_refused:sell_over_position' },
    ]);
    expect(posts()).toBe(before); // neither was sent (the exchange would have refused them only for want of funds)
  });

  test('a cancel of an order that is not ours (the operator\'s own, placed by hand) is refused; the order stays open', async () => {
    const manual = await exchange.submitLimitOrder({
      symbol: toPairSymbol('ETHTRY'), side: 'buy', price: new Decimal('100000'), qty: new Decimal('0.01'), clientOrderId: asClientOrderId('operator-manual-1'),
    });
    const result = await rogue(cancelOf({ cid: 'operator-manual-1', exchangeOrderId: manual.exchangeOrderId, symbol: 'ETHTRY' }));
    expect(result).toEqual({ outcome: 'cancel_failed', clientOrderId: 'operator-manual-1', detail: 'worker_refused:not_our_order' });
    expect(openOnExchange(manual.exchangeOrderId)).toBe('Untouched');
  });

  test('halt --cancel-open still cancels our own order on a symbol the worker no longer configures', async () => {
    // Placed by this bot when SYMBOLS still had ETH_TRY: on the exchange and tracked as ours.
    const cid = asClientOrderId('own-eth-order-1');
    const order = { symbol: toPairSymbol('ETHTRY'), side: 'buy' as const, price: new Decimal('100000'), qty: new Decimal('0.01') };
    await recordPendingSubmit(db.pool, { clientOrderId: cid, ...order, mode: 'live', cycleId: 'earlier-cycle', nowMs: Date.now() });
    const ack = await exchange.submitLimitOrder({ ...order, clientOrderId: cid });
    await applyOrderEvent(db.pool, cid, 'submit_acknowledged', { exchangeOrderId: ack.exchangeOrderId, nowMs: Date.now() });

    const result = (await temporal.client.workflow.execute(CANCEL_OWN_ORDERS_WORKFLOW, {
      taskQueue, workflowId: uniqueId('cancel-own'), args: [{ reason: 'test', gates: ARMED }],
    })) as CancelOwnOrdersResult;
    expect(result).toMatchObject({ failed: 0, simulatedOnly: false });
    expect(openOnExchange(ack.exchangeOrderId)).toBe('Canceled');
    expect((await getOrderByClientId(db.pool, cid))?.state).toBe('canceled'); // halt waits until the exchange lists it canceled
    // Only ours: the operator's manual order of the test before is still working.
    expect(simulator.engine.groundTruth().orders.filter((o) => o.clientId === 'operator-manual-1').map((o) => o.status)).toEqual(['Untouched']);
  });
});
