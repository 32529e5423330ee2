// The paper ledger on a real Postgres: paper fills → paper position → order states → cursor in one
// transaction, with the live ledger's accounting, and cash derived from the fills.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { Decimal, toDecimalString } from '../../src/domain/decimal.js';
import { AccountingIntegrityError } from '../../src/domain/errors.js';
import { simulatePaperFills, type PublicTrade } from '../../src/domain/paper-fills.js';
import { asClientOrderId, asExchangeOrderId, toPairSymbol, type Side } from '../../src/domain/types.js';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../src/activities/index.js';
import { parseTradingConfig } from '../../src/domain/config.js';
import { ConfigError } from '../../src/domain/errors.js';
import { startSimulator } from '../../src/simulator/server.js';
import { getPaperAccount } from '../../src/store/paper.js';
import { plannedActionToWire, tradingConfigToWire } from '../../src/domain/wire.js';
import { createBtcturkExchange } from '../../src/exchange/btcturk/client.js';
import { applyOrderEvent, insertOrder, listOrders } from '../../src/store/orders.js';
import {
  getPaperCursor, ingestPaperFills, listPaperPositions, paperCashTry, paperCycleSummary, startPaperAccount,
} from '../../src/store/paper.js';
import { createTestDatabase } from './harness.js';

const BTC = toPairSymbol('BTCTRY');
const FEES = { makerBps: new Decimal(10), taxRate: new Decimal('0.2'), feeAsset: 'TRY' };

let db: Awaited<ReturnType<typeof createTestDatabase>>;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});
beforeEach(async () => {
  await db.pool.query('TRUNCATE paper_fills, paper_positions, paper_trade_cursors, paper_account, stage4_orders, stage4_fills, stage4_positions, cursors');
});

async function paperOrder(cid: string, side: Side, price: string, qty: string, symbol = BTC) {
  const o = await insertOrder(db.pool, {
    clientOrderId: asClientOrderId(cid), symbol, side, price: new Decimal(price), qty: new Decimal(qty), mode: 'dry_run',
    cycleId: 'c0', nowMs: 1_000, state: 'pending_submit',
  });
  await applyOrderEvent(db.pool, o.clientOrderId!, 'submit_acknowledged', { exchangeOrderId: asExchangeOrderId(`sim-${cid}`), nowMs: 1_000 });
  return { ...o, clientOrderId: o.clientOrderId!, exchangeOrderId: asExchangeOrderId(`sim-${cid}`), createdAtMs: 1_000 };
}
const t = (tradeId: string, tsMs: number, price: string, qty: string): PublicTrade => ({ tradeId, tsMs, price: new Decimal(price), qty: new Decimal(qty), side: 'sell' });

async function look(orders: Awaited<ReturnType<typeof paperOrder>>[], trades: PublicTrade[], cycleId: string) {
  const cursor = await getPaperCursor(db.pool, BTC);
  const m = simulatePaperFills({ symbol: BTC, orders, trades, cursor, pageLimit: 50, fees: FEES });
  return ingestPaperFills(db.pool, { symbol: BTC, fills: m.fills, marks: new Map(), cursor: m.cursor, gap: m.gap, cycleId, nowMs: 9_000, fees: FEES });
}

describe('paper ledger store', () => {
  test('a paper buy then a paper sell go through weighted-average cost: position, realized PnL and cash as by hand; live tables stay empty', async () => {
    const account = (await startPaperAccount(db.pool, { startTry: new Decimal(1000), source: 'fixed', nowMs: 1 })).account;
    const buy = await paperOrder('b1', 'buy', '100', '2');
    expect((await look([buy], [t('1', 2_000, '99', '2')], 'c1')).orders).toEqual([{ clientOrderId: 'b1', from: 'open', to: 'filled', leftQty: new Decimal(0) }]);
    const sell = await paperOrder('s1', 'sell', '110', '2');
    await look([sell], [t('2', 3_000, '111', '0.5')], 'c2');

    // Buy: 200 + fee 0.2 + VAT 0.04 → cost 200.24. Sell 0.5 @ 110: 55 − 50.06 − (0.055 + 0.011) = 4.874.
    const [pos] = await listPaperPositions(db.pool);
    expect([toDecimalString(pos!.qty), toDecimalString(pos!.costBasisTry), toDecimalString(pos!.realizedPnlTry)]).toEqual(['1.5', '150.18', '4.874']);
    expect(toDecimalString(await paperCashTry(db.pool, account))).toBe(toDecimalString(new Decimal(1000).sub('200.24').add('55').sub('0.066')));
    expect((await listOrders(db.pool, { modes: ['dry_run'] })).map((o) => [o.clientOrderId, o.state, toDecimalString(o.leftQty)])).toEqual([
      ['b1', 'filled', '0'], ['s1', 'partial', '1.5'],
    ]);
    const live = await db.pool.query('SELECT (SELECT count(*) FROM stage4_fills) + (SELECT count(*) FROM stage4_positions) + (SELECT count(*) FROM cursors) AS n');
    expect(Number(live.rows[0].n)).toBe(0);
  });

  test('the same look ingested twice applies nothing the second time, and the cursor never moves backwards', async () => {
    const buy = await paperOrder('b1', 'buy', '100', '2');
    const trades = [t('5', 2_000, '99', '1')];
    const m = simulatePaperFills({ symbol: BTC, orders: [buy], trades, cursor: null, pageLimit: 50, fees: FEES });
    const input = { symbol: BTC, fills: m.fills, marks: new Map(), cursor: m.cursor, gap: false, cycleId: 'c1', nowMs: 9_000, fees: FEES };
    expect((await ingestPaperFills(db.pool, input)).applied).toBe(1);
    const again = await ingestPaperFills(db.pool, { ...input, cursor: { tsMs: 1_000, tradeId: '1' } });
    expect([again.applied, again.duplicates]).toEqual([0, 1]);
    expect(await getPaperCursor(db.pool, BTC)).toEqual({ tsMs: 2_000, tradeId: '5' });
    expect(toDecimalString((await listPaperPositions(db.pool))[0]!.qty)).toBe('1');
  });

  test('two fills with one id in a look: the one applied (the first) is the one stored, so paper fills, position and cash agree', async () => {
    const account = (await startPaperAccount(db.pool, { startTry: new Decimal(1000), source: 'fixed', nowMs: 1 })).account;
    const buy = await paperOrder('b1', 'buy', '100', '2');
    const m = simulatePaperFills({ symbol: BTC, orders: [buy], trades: [t('7', 2_000, '99', '0.5')], cursor: null, pageLimit: 50, fees: FEES });
    const first = m.fills[0]!;
    const conflicting = { ...first, qty: new Decimal('0.3') };
    const r = await ingestPaperFills(db.pool, { symbol: BTC, fills: [first, conflicting], marks: new Map(), cursor: m.cursor, gap: false, cycleId: 'c1', nowMs: 9_000, fees: FEES });
    expect(r.applied).toBe(1);
    const [pos] = await listPaperPositions(db.pool);
    const stored = await db.pool.query<{ q: string }>('SELECT COALESCE(SUM(qty), 0)::text AS q FROM paper_fills');
    expect([toDecimalString(pos!.qty), stored.rows[0]!.q]).toEqual(['0.5', '0.5']);
    expect(toDecimalString(await paperCashTry(db.pool, account))).toBe(toDecimalString(new Decimal(1000).sub(pos!.costBasisTry)));
    expect((await listOrders(db.pool, { modes: ['dry_run'] }))[0]!.leftQty.toFixed()).toBe('1.5');
  });

  test('fills computed from a stale read never fill an order past its quantity: the last one is cut to what is left, fee and VAT on that', async () => {
    const buy = await paperOrder('b1', 'buy', '100', '1');
    // Two looks from the same read of the order (1 left): a raced or retried look.
    const m1 = simulatePaperFills({ symbol: BTC, orders: [buy], trades: [t('1', 2_000, '99', '0.6')], cursor: null, pageLimit: 50, fees: FEES });
    const m2 = simulatePaperFills({ symbol: BTC, orders: [buy], trades: [t('2', 3_000, '99', '1')], cursor: { tsMs: 2_000, tradeId: '1' }, pageLimit: 50, fees: FEES });
    const ingest = (m: typeof m1, cycleId: string) => ingestPaperFills(db.pool, { symbol: BTC, fills: m.fills, marks: new Map(), cursor: m.cursor, gap: false, cycleId, nowMs: 9_000, fees: FEES });
    await ingest(m1, 'c1');
    const second = await ingest(m2, 'c2');
    expect(second.notes).toContain('paper_fill_capped:paper-b1-2:0.4');
    const [pos] = await listPaperPositions(db.pool);
    expect(toDecimalString(pos!.qty)).toBe('1');
    const stored = await db.pool.query<{ fill_id: string; qty: string; fee: string; tax: string }>('SELECT fill_id, qty::text, fee::text, tax::text FROM paper_fills ORDER BY ts_ms');
    // 0.4 × 100 = 40 TRY: fee 10 bps = 0.04, VAT 20 % = 0.008.
    expect(stored.rows.map((r) => [r.fill_id, new Decimal(r.qty).toFixed(), new Decimal(r.fee).toFixed(), new Decimal(r.tax).toFixed()])).toEqual([
      ['paper-b1-1', '0.6', '0.06', '0.012'], ['paper-b1-2', '0.4', '0.04', '0.008'],
    ]);
    expect((await listOrders(db.pool, { modes: ['dry_run'] }))[0]!.state).toBe('filled');
  });

  test('a look computed before another look moved the cursor uses no trade at or before the stored cursor', async () => {
    const a = await paperOrder('a1', 'buy', '100', '1');
    const b = await paperOrder('b1', 'buy', '100', '2');
    const tape = [t('1', 2_000, '99', '1'), t('2', 3_000, '99', '1')];
    // The first look (cursor null) gives trade 1 to a and trade 2 to b (1 of 2); a second look read
    // the same null cursor but only order b, and would give trade 1 to b again.
    const m1 = simulatePaperFills({ symbol: BTC, orders: [a, b], trades: tape, cursor: null, pageLimit: 50, fees: FEES });
    const m2 = simulatePaperFills({ symbol: BTC, orders: [b], trades: tape.slice(0, 1), cursor: null, pageLimit: 50, fees: FEES });
    await ingestPaperFills(db.pool, { symbol: BTC, fills: m1.fills, marks: new Map(), cursor: m1.cursor, gap: false, cycleId: 'c1', nowMs: 9_000, fees: FEES });
    const stale = await ingestPaperFills(db.pool, { symbol: BTC, fills: m2.fills, marks: new Map(), cursor: m2.cursor, gap: false, cycleId: 'c2', nowMs: 9_000, fees: FEES });
    expect([stale.applied, stale.dropped]).toEqual([0, 1]);
    const stored = await db.pool.query<{ fill_id: string }>('SELECT fill_id FROM paper_fills ORDER BY fill_id');
    expect(stored.rows.map((r) => r.fill_id)).toEqual(['paper-a1-1', 'paper-b1-2']);
    expect(toDecimalString((await listPaperPositions(db.pool))[0]!.qty)).toBe('2');
  });

  test('fills for an order cancelled since it was read are dropped, not applied', async () => {
    const buy = await paperOrder('b1', 'buy', '100', '2');
    await applyOrderEvent(db.pool, buy.clientOrderId, 'cancel_requested', { nowMs: 1_500 });
    await applyOrderEvent(db.pool, buy.clientOrderId, 'canceled', { nowMs: 1_500 });
    const r = await look([buy], [t('1', 2_000, '99', '2')], 'c1');
    expect([r.applied, r.dropped]).toEqual([0, 1]);
    expect(r.notes).toEqual(['paper_fill_dropped:paper-b1-1:order_not_working']);
    expect(await listPaperPositions(db.pool)).toEqual([]);
  });

  test('a paper sell beyond the paper position is an integrity error and writes nothing', async () => {
    const sell = await paperOrder('s1', 'sell', '100', '1');
    await expect(look([sell], [t('1', 2_000, '101', '1')], 'c1')).rejects.toBeInstanceOf(AccountingIntegrityError);
    expect((await listOrders(db.pool, { modes: ['dry_run'] }))[0]!.state).toBe('open');
    expect(await getPaperCursor(db.pool, BTC)).toBeNull();
  });

  test("a full page of trades that does not reach the cursor is recorded as the cycle's gap", async () => {
    const buy = await paperOrder('b1', 'buy', '100', '2');
    await look([buy], [t('1', 1_500, '101', '1')], 'c1');
    await look([buy], Array.from({ length: 50 }, (_, i) => t(String(100 + i), 3_000 + i, '99', '0.01')), 'c2');
    expect(await paperCycleSummary(db.pool, 'c2')).toEqual({ fills: 50, gapSymbols: ['BTCTRY'] });
    expect(await paperCycleSummary(db.pool, 'c1')).toEqual({ fills: 0, gapSymbols: [] });
  });

  test('paper cash starts once: a later start (another worker, another snapshot) does not replace it', async () => {
    const first = await startPaperAccount(db.pool, { startTry: new Decimal('1234.5'), source: 'snapshot', nowMs: 1 });
    const second = await startPaperAccount(db.pool, { startTry: new Decimal(1000), source: 'fixed', nowMs: 2 });
    expect([first.created, second.created]).toEqual([true, false]);
    expect([toDecimalString(second.account.startTry), second.account.source]).toEqual(['1234.5', 'snapshot']);
  });

  test("the worker's write guard holds a dry-run sell against the paper position, not the live one", async () => {
    await look([await paperOrder('b1', 'buy', '100', '2')], [t('1', 2_000, '99', '2')], 'c1');
    // Never contacted: a dry-run submit is recorded, not sent.
    const exchange = createBtcturkExchange({ baseUrl: 'http://127.0.0.1:9' });
    const { executeAction } = createActivities({ pool: db.pool, exchange, env: { SYMBOLS: 'BTC_TRY' } });
    const sell = (cid: string, qty: string) => executeAction({
      cycleId: 'c2', mode: 'dry_run', nowMs: 5_000,
      action: plannedActionToWire({ kind: 'submit', clientOrderId: asClientOrderId(cid), symbol: BTC, side: 'sell', price: new Decimal(110), qty: new Decimal(qty), reason: 'new_intent', afterCancelOf: [] }),
    });
    expect(await sell('s-ok', '2')).toMatchObject({ outcome: 'simulated' });
    expect(await sell('s-over', '2.5')).toMatchObject({ outcome: 'rejected', detail: 'worker_refused:sell_over_position' });
    await exchange.close();
  });

  test('a paper oversell sits out only its symbol, noted as an integrity alert; the other symbol\'s paper fills land', async () => {
    const sim = await startSimulator();
    const exchange = createBtcturkExchange({ baseUrl: sim.url });
    try {
      const env = { SYMBOLS: 'BTC_TRY,ETH_TRY' };
      // A paper sell with no paper position behind it, and a paper buy; the market trades through both.
      await paperOrder('s-btc', 'sell', '100', '1');
      await paperOrder('b-eth', 'buy', '100', '1', toPairSymbol('ETHTRY'));
      sim.engine.printTrade('BTCTRY', new Decimal(101), new Decimal(1), 'buy');
      sim.engine.printTrade('ETHTRY', new Decimal(99), new Decimal(1), 'sell');
      const { fetchMarket } = createActivities({ pool: db.pool, exchange, env, hasCredentials: false });
      const input = { symbols: ['BTCTRY', 'ETHTRY'], mode: 'dry_run' as const, config: tradingConfigToWire(parseTradingConfig(env)), hasCredentials: false };
      const snap = (await new MockActivityEnvironment().run(fetchMarket, input)) as Awaited<ReturnType<typeof fetchMarket>>;
      expect(snap.openOrders.find((o) => o.symbol === 'BTCTRY')).toMatchObject({ status: 'failed', error: expect.stringMatching(/^paper_accounting:oversell_detected/) });
      expect(snap.notes.filter((n) => n.startsWith('integrity:'))).toEqual([expect.stringMatching(/^integrity:oversell_detected/)]);
      expect((await listPaperPositions(db.pool)).map((p) => [p.symbol, toDecimalString(p.qty)])).toEqual([['ETHTRY', '1']]);
    } finally {
      await exchange.close();
      await sim.close();
    }
  });

  test('a paper order is stamped when it is placed, not at the cycle start: a trade between the two does not fill it', async () => {
    const exchange = createBtcturkExchange({ baseUrl: 'http://127.0.0.1:9' });
    // The cycle started at 5 000; the activity places the order at 9 000 by the worker's clock.
    const { executeAction } = createActivities({ pool: db.pool, exchange, env: { SYMBOLS: 'BTC_TRY' }, now: () => 9_000 });
    await executeAction({
      cycleId: 'c1', mode: 'dry_run', nowMs: 5_000,
      action: plannedActionToWire({ kind: 'submit', clientOrderId: asClientOrderId('b-late'), symbol: BTC, side: 'buy', price: new Decimal(100), qty: new Decimal(1), reason: 'new_intent', afterCancelOf: [] }),
    });
    await exchange.close();
    const [placed] = await listOrders(db.pool, { modes: ['dry_run'] });
    expect(placed!.createdAtMs).toBe(9_000);
    const order = { ...placed!, clientOrderId: placed!.clientOrderId!, exchangeOrderId: placed!.exchangeOrderId! };
    const r = await look([order], [t('1', 7_000, '99', '1'), t('2', 9_500, '99', '0.25')], 'c2');
    expect(r.applied).toBe(1);
    expect(toDecimalString((await listPaperPositions(db.pool))[0]!.qty)).toBe('0.25');
  });

  test('PAPER_START=snapshot starts paper cash at the real TRY balance once; later real balances are never mixed back', async () => {
    const sim = await startSimulator({ balances: { TRY: '2500.5', BTC: '1' } });
    const exchange = createBtcturkExchange({ baseUrl: sim.url, credentials: sim.credentials });
    try {
      const env = { SYMBOLS: 'BTC_TRY', PAPER_START: 'snapshot' };
      const { fetchMarket } = createActivities({ pool: db.pool, exchange, env, hasCredentials: true });
      const input = { symbols: ['BTCTRY'], mode: 'dry_run' as const, config: tradingConfigToWire(parseTradingConfig(env)), hasCredentials: true };
      const first = (await new MockActivityEnvironment().run(fetchMarket, input)) as Awaited<ReturnType<typeof fetchMarket>>;
      expect([first.balanceSource, first.tryBalance]).toEqual(['paper', { asset: 'TRY', free: '2500.5', locked: '0' }]);
      sim.engine.setBalance('TRY', '10');
      const second = (await new MockActivityEnvironment().run(fetchMarket, input)) as Awaited<ReturnType<typeof fetchMarket>>;
      expect(second.tryBalance?.free).toBe('2500.5');
      expect((await getPaperAccount(db.pool))!.source).toBe('snapshot');

      // Without credentials there is no real balance to snapshot: a ConfigError naming the variable.
      await db.pool.query('TRUNCATE paper_account');
      const paperOnly = createActivities({ pool: db.pool, exchange, env, hasCredentials: false });
      await expect(new MockActivityEnvironment().run(paperOnly.fetchMarket, { ...input, hasCredentials: false })).rejects.toThrow(ConfigError);
      expect(await getPaperAccount(db.pool)).toBeNull();
    } finally {
      await exchange.close();
      await sim.close();
    }
  });
});
