// The store on a real Postgres: fills → positions → cursor in one transaction (with openings and adoptions under
// concurrency and failure, fills without order ids), order bookkeeping.
import fc from 'fast-check';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { Decimal, toDecimalString } from '../../src/domain/decimal.js';
import { IllegalTransitionError } from '../../src/domain/errors.js';
import {
  asClientOrderId,
  asExchangeOrderId,
  asFillId,
  toPairSymbol,
  type FillReport,
  type PairSymbol,
  type Side,
} from '../../src/domain/types.js';
import { fallbackFillId, orderlessFallbackFillId } from '../../src/exchange/trades.js';
import { createPool, inTransaction, type Pool } from '../../src/store/db.js';
import { DuplicateClientOrderIdError } from '../../src/store/errors.js';
import { listAdjustments, listQuarantines, quarantineSymbol, requestAdoption } from '../../src/store/account.js';
import { countFills, ensureFillsCursor, getCursorMs, ingestFills, listPositions, type HoldingsRequest } from '../../src/store/fills.js';
import { migrate, MIGRATIONS } from '../../src/store/migrations.js';
import {
  applyOrderEvent, enrichExchangeOrderId, getOrderByClientId, insertOrder, listFillEvidence, listOrders, listReconcileOrders, markSeen,
  noteAbsence, recordPendingSubmit, trackExchangeOrder, type NewOrder,
} from '../../src/store/orders.js';
import type { OrderStatusReport } from '../../src/domain/types.js';
import { cycleAlerts } from '../../src/domain/alerts.js';
import { alertPayload } from '../../src/observability/notifier.js';
import { claimAlert, listAlerts, settleAlert, settleInterrupted } from '../../src/store/alerts.js';
import { readOperatorState } from '../../src/store/operator-state.js';
import { listCycleAudits, recordCycleAudit, type CycleAuditRecord } from '../../src/store/audit.js';
import { createTestDatabase } from './harness.js';

const BTC = toPairSymbol('BTCTRY');
const NO_MARKS = new Map<PairSymbol, Decimal>();

let db: Awaited<ReturnType<typeof createTestDatabase>>;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});
beforeEach(async () => {
  await db.pool.query(
    'TRUNCATE stage4_fills, stage4_positions, cursors, stage4_orders, position_adjustments, symbol_quarantines, adoption_requests, balance_drift, balance_snapshots',
  );
});

function fill(id: string, side: Side, qty: string, price: string, tsMs: number, fee = '0', orderId: string | null = `9${id}`): FillReport {
  return {
    fillId: asFillId(id),
    exchangeOrderId: orderId === null ? null : asExchangeOrderId(orderId),
    clientOrderId: null,
    symbol: BTC,
    side,
    price: new Decimal(price),
    qty: new Decimal(qty),
    fee: new Decimal(fee),
    tax: new Decimal(0),
    feeAsset: 'TRY',
    tsMs,
  };
}

async function positionOf(pool: Pool, symbol: PairSymbol) {
  const p = (await listPositions(pool)).find((x) => x.symbol === symbol);
  return p && { qty: toDecimalString(p.qty), cost: toDecimalString(p.costBasisTry), realized: toDecimalString(p.realizedPnlTry) };
}

describe('ingestFills', () => {
  test('applies fills with weighted-average cost, fees in cost, and advances the cursor to the newest fill', async () => {
    const r = await ingestFills(db.pool, {
      symbol: BTC,
      fills: [fill('1190000000000000002', 'sell', '0.5', '120', 3000, '0.6'), fill('1190000000000000001', 'buy', '1', '100', 1000, '1')],
      marks: NO_MARKS,
      cycleId: 'c1',
    });
    expect(r).toMatchObject({ applied: 2, duplicates: 0, cursorBeforeMs: null, cursorAfterMs: 3000 });
    // buy 1 @ 100 + 1 fee → basis 101; sell 0.5 @ 120 − 0.6 fee: realized 60 − 50.5 − 0.6 = 8.9
    expect(await positionOf(db.pool, BTC)).toEqual({ qty: '0.5', cost: '50.5', realized: '8.9' });
    expect(await getCursorMs(db.pool, BTC)).toBe(3000);
  });

  test('the same fills fetched twice are applied once', async () => {
    const fills = [fill('1', 'buy', '1', '100', 1000), fill('2', 'buy', '2', '130', 2000)];
    await ingestFills(db.pool, { symbol: BTC, fills, marks: NO_MARKS, cycleId: 'c1' });
    const again = await ingestFills(db.pool, { symbol: BTC, fills: [...fills, fills[0]!], marks: NO_MARKS, cycleId: 'c2' });

    expect(again).toMatchObject({ applied: 0, duplicates: 3 });
    expect(await countFills(db.pool, BTC)).toBe(2);
    expect(await positionOf(db.pool, BTC)).toEqual({ qty: '3', cost: '360', realized: '0' });
  });

  test('a fill seen with its trade id in one poll and without it in another is applied once, under the trade id', async () => {
    const withId = [fill('1190000000000000001', 'buy', '1', '100', 1000), fill('1190000000000000002', 'buy', '2', '130', 2000)];
    const withoutId = withId.map((f) => ({ ...f, fillId: fallbackFillId(f.exchangeOrderId!, f.tsMs, f.price, f.qty) }));

    // Id first, then the same rows without ids (the chaos run's missingTradeIds fault).
    await ingestFills(db.pool, { symbol: BTC, fills: [withId[0]!], marks: NO_MARKS, cycleId: 'c1' });
    expect(await ingestFills(db.pool, { symbol: BTC, fills: withoutId, marks: NO_MARKS, cycleId: 'c2' })).toMatchObject({ applied: 1, duplicates: 1 });
    // Then with ids again: the row stored under the derived id takes the trade id, nothing is re-applied.
    expect(await ingestFills(db.pool, { symbol: BTC, fills: withId, marks: NO_MARKS, cycleId: 'c3' })).toMatchObject({ applied: 0, duplicates: 2 });
    expect(await ingestFills(db.pool, { symbol: BTC, fills: withoutId, marks: NO_MARKS, cycleId: 'c4' })).toMatchObject({ applied: 0, duplicates: 2 });

    const ids = (await db.pool.query<{ fill_id: string }>('SELECT fill_id FROM stage4_fills ORDER BY ts_ms')).rows.map((r) => r.fill_id);
    expect(ids).toEqual(['1190000000000000001', '1190000000000000002']);
    expect(await positionOf(db.pool, BTC)).toEqual({ qty: '3', cost: '360', realized: '0' });
  });

  test('an oversell applies the fills before it, holds it and the rest before the cursor, and quarantines the symbol in the same transaction', async () => {
    await ingestFills(db.pool, { symbol: BTC, fills: [fill('1', 'buy', '1', '100', 1000)], marks: NO_MARKS, cycleId: 'c1' });
    const batch = [fill('2', 'buy', '0.5', '110', 2000), fill('3', 'sell', '5', '120', 3000), fill('4', 'buy', '0.25', '100', 4000)];
    const r = await ingestFills(db.pool, { symbol: BTC, fills: batch, marks: NO_MARKS, cycleId: 'c2', settledThroughMs: 9000 });

    expect(r).toMatchObject({ applied: 1, held: { fillId: '3', fromTsMs: 3000 } });
    expect(r.held!.fills.map((f) => f.fillId)).toEqual(['3', '4']);
    expect(await positionOf(db.pool, BTC)).toEqual({ qty: '1.5', cost: '155', realized: '0' });
    expect(await getCursorMs(db.pool, BTC)).toBe(2999); // the sell is fetched again next poll
    expect(await listQuarantines(db.pool)).toEqual([
      expect.objectContaining({ symbol: BTC, reason: 'oversell_detected', fillId: '3', heldFills: 2, heldBuyQty: new Decimal('0.25'), cycles: 1 }),
    ]);
  });

  test('two concurrent ingestions of overlapping fills on two connections apply each fill once', async () => {
    const other = createPool(db.url, 2);
    try {
      const all = Array.from({ length: 200 }, (_, i) => fill(String(1000 + i), 'buy', '0.01', String(100 + i), 1000 + i));
      const a = all.slice(0, 150);
      const b = all.slice(50);
      const [ra, rb] = await Promise.all([
        ingestFills(db.pool, { symbol: BTC, fills: a, marks: NO_MARKS, cycleId: 'a' }),
        ingestFills(other, { symbol: BTC, fills: b, marks: NO_MARKS, cycleId: 'b' }),
      ]);
      expect(ra.applied + rb.applied).toBe(200);
      expect(await countFills(db.pool, BTC)).toBe(200);
      const expectedCost = all.reduce((s, f) => s.add(f.price.mul(f.qty)), new Decimal(0));
      expect(await positionOf(db.pool, BTC)).toEqual({ qty: '2', cost: toDecimalString(expectedCost), realized: '0' });
    } finally {
      await other.end();
    }
  });

  test('the cursor never moves backwards', async () => {
    await ingestFills(db.pool, { symbol: BTC, fills: [fill('1', 'buy', '1', '100', 5000)], marks: NO_MARKS, cycleId: 'c1' });
    // A later poll that only sees an older (late-arriving) fill and ends earlier keeps the cursor.
    const r = await ingestFills(db.pool, {
      symbol: BTC, fills: [fill('2', 'buy', '1', '100', 4000)], marks: NO_MARKS, cycleId: 'c2', settledThroughMs: 4500,
    });
    expect(r.applied).toBe(1);
    expect(await getCursorMs(db.pool, BTC)).toBe(5000);
    // An idle poll moves it forward to the end of the polled window.
    await ingestFills(db.pool, { symbol: BTC, fills: [], marks: NO_MARKS, cycleId: 'c3', settledThroughMs: 8000 });
    expect(await getCursorMs(db.pool, BTC)).toBe(8000);
  });

  test('a fee in a third asset without a conversion mark is noted and the symbol reported reduce-only', async () => {
    const f = { ...fill('1', 'buy', '1', '100', 1000), fee: new Decimal('0.1'), feeAsset: 'USDT' };
    const r = await ingestFills(db.pool, { symbol: BTC, fills: [f], marks: NO_MARKS, cycleId: 'c1' });
    expect(r.notes).toEqual(['fee_conversion_missing:1:USDT']);
    expect(r.reduceOnly).toBe(true);
  });
});

describe('ingestFills under hostile batches', () => {
  test('a batch with one bad fill anywhere applies exactly the fills before it and leaves the cursor before it', async () => {
    const corruptions: Array<(f: FillReport) => FillReport> = [
      (f) => ({ ...f, qty: new Decimal(0) }),
      (f) => ({ ...f, qty: new Decimal('-0.5') }),
      (f) => ({ ...f, price: new Decimal(0) }),
      (f) => ({ ...f, fee: new Decimal('-1') }),
      (f) => ({ ...f, tax: new Decimal(NaN) }),
      (f) => ({ ...f, side: 'sell', qty: new Decimal('1000') }), // oversell
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 30 }), fc.nat(), fc.integer({ min: 0, max: corruptions.length - 1 }),
        async (n, pos, which) => {
          await db.pool.query('TRUNCATE stage4_fills, stage4_positions, cursors, symbol_quarantines');
          await ingestFills(db.pool, { symbol: BTC, fills: [fill('seed', 'buy', '1', '100', 1000)], marks: NO_MARKS, cycleId: 'seed' });
          const batch = Array.from({ length: n }, (_, i) => fill(`f${i}`, 'buy', '0.01', String(100 + i), 2000 + i));
          const at = pos % n;
          batch[at] = corruptions[which]!(batch[at]!);
          const r = await ingestFills(db.pool, { symbol: BTC, fills: batch, marks: NO_MARKS, cycleId: 'fuzz', settledThroughMs: 99_999 });
          expect(r.held?.fillId).toBe(`f${at}`);
          expect(await countFills(db.pool)).toBe(1 + at);
          expect(await getCursorMs(db.pool, BTC)).toBe(Math.max(1000, 2000 + at - 1));
          expect((await positionOf(db.pool, BTC))?.qty).toBe(toDecimalString(new Decimal('0.01').mul(at).add(1)));
        },
      ),
      { numRuns: 40 },
    );
  });
});

const qtyOf = async (): Promise<string | undefined> => (await positionOf(db.pool, BTC))?.qty;
/** An opening from a balance read after every fill of these tests. */
const inferred = (balance: string): HoldingsRequest => ({
  kind: 'inferred', base: 'BTC', balance: { qty: new Decimal(balance), atMs: 1_000_000 }, othersQty: new Decimal(0), markTry: new Decimal(100),
  windowStartMs: 0, atMs: 1,
});
/** The account-truth tests' fills: price 100, no fee. */
const fillAt = (id: string, side: Side, qty: string, tsMs: number, orderId: string | null = `9${id}`): FillReport => fill(id, side, qty, '100', tsMs, '0', orderId);

describe('fills without an order id', () => {
  test('a fill first seen without its order id (2018 form), later with it, is applied once and gets the order id', async () => {
    await ingestFills(db.pool, { symbol: BTC, fills: [fillAt('1190000000000000001', 'buy', '1', 1000, null)], marks: NO_MARKS, cycleId: 'c1' });
    const again = await ingestFills(db.pool, { symbol: BTC, fills: [fillAt('1190000000000000001', 'buy', '1', 1000, '31500000001')], marks: NO_MARKS, cycleId: 'c2' });
    expect(again).toMatchObject({ applied: 0, duplicates: 1, orderIdsFilledIn: 1 });
    const rows = (await db.pool.query('SELECT fill_id, exchange_order_id FROM stage4_fills')).rows;
    expect(rows).toEqual([{ fill_id: '1190000000000000001', exchange_order_id: '31500000001' }]);
    expect(await qtyOf()).toBe('1');
  });

  test('a row with neither trade id nor order id, then the same fill with both, is one fill under the trade id', async () => {
    const orderless = { ...fillAt('x', 'buy', '1', 1000, null), fillId: orderlessFallbackFillId(BTC, 'buy', 1000, new Decimal('100'), new Decimal('1')) };
    await ingestFills(db.pool, { symbol: BTC, fills: [orderless], marks: NO_MARKS, cycleId: 'c1' });
    const r = await ingestFills(db.pool, { symbol: BTC, fills: [fillAt('1190000000000000009', 'buy', '1', 1000, '31500000009')], marks: NO_MARKS, cycleId: 'c2' });
    expect(r).toMatchObject({ applied: 0, duplicates: 1 });
    const rows = (await db.pool.query('SELECT fill_id, exchange_order_id FROM stage4_fills')).rows;
    expect(rows).toEqual([{ fill_id: '1190000000000000009', exchange_order_id: '31500000009' }]);
  });

  test('two fills with the same time, price and quantity on different orders stay two fills', async () => {
    const a = fillAt('a', 'buy', '1', 1000, '31500000001');
    const b = fillAt('b', 'buy', '1', 1000, '31500000002');
    const derived = (f: FillReport) => ({ ...f, fillId: fallbackFillId(f.exchangeOrderId!, f.tsMs, f.price, f.qty) });
    await ingestFills(db.pool, { symbol: BTC, fills: [derived(a), derived(b)], marks: NO_MARKS, cycleId: 'c1' });
    expect(await qtyOf()).toBe('2');
  });
});

describe('openings under concurrency and failure', () => {
  test('two workers inferring the same new symbol at once record one opening; the position is the balance', async () => {
    const other = createPool(db.url, 2);
    try {
      const window = [fillAt('1', 'sell', '0.5', 1000)];
      const [a, b] = await Promise.all([
        ingestFills(db.pool, { symbol: BTC, fills: window, marks: NO_MARKS, cycleId: 'a', holdings: inferred('1.5') }),
        ingestFills(other, { symbol: BTC, fills: window, marks: NO_MARKS, cycleId: 'b', holdings: inferred('1.5') }),
      ]);
      expect([a.adjustments.length + b.adjustments.length, Number(a.holdingsSkipped) + Number(b.holdingsSkipped)]).toEqual([1, 1]);
      expect((await listAdjustments(db.pool, BTC)).map((x) => [x.kind, toDecimalString(x.qtyDelta)])).toEqual([['inferred', '2']]);
      expect(await qtyOf()).toBe('1.5');
    } finally {
      await other.end();
    }
  });

  test('a retried ingest (the first attempt committed, its answer was lost) records nothing twice', async () => {
    const window = [fillAt('1', 'buy', '0.5', 1000)];
    await ingestFills(db.pool, { symbol: BTC, fills: window, marks: NO_MARKS, cycleId: 'c1', holdings: inferred('1') });
    const retry = await ingestFills(db.pool, { symbol: BTC, fills: window, marks: NO_MARKS, cycleId: 'c1', holdings: inferred('1') });
    expect(retry).toMatchObject({ applied: 0, holdingsSkipped: true, adjustments: [] });
    expect(await listAdjustments(db.pool, BTC)).toHaveLength(1);
    expect(await qtyOf()).toBe('1');
  });

  test('an oversell at first sight records the opening and holds the sell; the window start chosen first stays', async () => {
    const { cursorMs } = await ensureFillsCursor(db.pool, BTC, 5000);
    expect(await ensureFillsCursor(db.pool, BTC, 9000)).toEqual({ cursorMs: 5000, created: false });
    const zero: HoldingsRequest = { kind: 'zero', base: 'BTC', windowStartMs: 0, atMs: 1 };
    const r = await ingestFills(db.pool, { symbol: BTC, fills: [fillAt('1', 'sell', '1', 4000)], marks: NO_MARKS, cycleId: 'c1', holdings: zero, settledThroughMs: 9000 });
    expect(r.held?.fillId).toBe('1');
    expect(await getCursorMs(db.pool, BTC)).toBe(cursorMs);
    expect((await listAdjustments(db.pool, BTC)).map((a) => a.kind)).toEqual(['zero']);
    expect(await qtyOf()).toBe('0');
    expect((await listQuarantines(db.pool)).map((q) => q.fillId)).toEqual(['1']);
  });

  test('a clean ingest of a quarantined symbol lifts the quarantine; an adoption already carried out is not repeated', async () => {
    await ingestFills(db.pool, { symbol: BTC, fills: [], marks: NO_MARKS, cycleId: 'c0', holdings: inferred('0') });
    await quarantineSymbol(db.pool, { symbol: BTC, reason: 'oversell_detected', fillId: 'f', detail: 'x', cycleId: 'c1' });
    expect(await quarantineSymbol(db.pool, { symbol: BTC, reason: 'oversell_detected', fillId: 'f', detail: 'x', cycleId: 'c2' })).toEqual({ created: false, cycles: 2 });
    await requestAdoption(db.pool, BTC, 'test');
    // A read taken after the request (requested_at is the database's now()).
    const read = { qty: new Decimal('0.5'), atMs: Date.now() + 60_000 };
    const adopt: HoldingsRequest = { kind: 'adopted', base: 'BTC', balance: read, othersQty: new Decimal(0), markTry: new Decimal(100), atMs: 2 };
    const sell = [fillAt('1', 'sell', '0.25', 1000)];
    const done = await ingestFills(db.pool, { symbol: BTC, fills: sell, marks: NO_MARKS, cycleId: 'c3', holdings: adopt });
    expect(done).toMatchObject({ applied: 1, quarantineCleared: true });
    expect(done.adjustments.map((a) => [a.kind, toDecimalString(a.qtyDelta), a.coveredFillId])).toEqual([['adopted', '0.25', '1'], ['adopted', '0.5', null]]);
    expect(await listQuarantines(db.pool)).toEqual([]);
    const again = await ingestFills(db.pool, { symbol: BTC, fills: sell, marks: NO_MARKS, cycleId: 'c4', holdings: adopt });
    expect(again).toMatchObject({ holdingsSkipped: true, adjustments: [] });
    expect(await qtyOf()).toBe('0.5');
  });
});

describe('orders', () => {
  const order = (cid: string): NewOrder => ({
    clientOrderId: asClientOrderId(cid), symbol: BTC, side: 'buy', price: new Decimal('3400000'), qty: new Decimal('0.0001'),
    mode: 'live', cycleId: 'c1', nowMs: Date.UTC(2026, 10, 25),
  });

  test('duplicate client order ids are rejected by the database itself', async () => {
    await insertOrder(db.pool, { ...order('s4-dup'), state: 'open' });
    await expect(insertOrder(db.pool, { ...order('s4-dup'), state: 'open' })).rejects.toBeInstanceOf(DuplicateClientOrderIdError);
    // Not only through our code: a raw insert is refused by the unique index too.
    await expect(
      db.pool.query(
        `INSERT INTO stage4_orders (client_order_id, symbol, side, price, qty, left_qty, status, mode, created_at, updated_at)
         VALUES ('s4-dup', 'BTCTRY', 'buy', 1, 1, 1, 'open', 'live', now(), now())`,
      ),
    ).rejects.toMatchObject({ code: '23505' });
    expect(await listOrders(db.pool)).toHaveLength(1);
  });

  test('recording a pending submit for a known client order id is a no-op that returns the existing order', async () => {
    const first = await recordPendingSubmit(db.pool, order('s4-once'));
    await applyOrderEvent(db.pool, asClientOrderId('s4-once'), 'submit_acknowledged', { exchangeOrderId: asExchangeOrderId('31500000124'), nowMs: Date.now() });
    const second = await recordPendingSubmit(db.pool, order('s4-once'));

    expect(first.created).toBe(true);
    expect(first.order.state).toBe('pending_submit');
    expect(second.created).toBe(false);
    expect(second.order).toMatchObject({ state: 'open', exchangeOrderId: '31500000124' });
    expect(await listOrders(db.pool)).toHaveLength(1);
  });

  test('an ambiguous submit stays unknown until evidence resolves it', async () => {
    const cid = asClientOrderId('s4-ambiguous');
    await recordPendingSubmit(db.pool, order('s4-ambiguous'));
    await applyOrderEvent(db.pool, cid, 'submit_ambiguous', { lastError: 'AmbiguousWriteError', nowMs: Date.now() });
    expect((await getOrderByClientId(db.pool, cid))?.state).toBe('unknown');
    await applyOrderEvent(db.pool, cid, 'seen_open', { exchangeOrderId: asExchangeOrderId('31500000125'), nowMs: Date.now() });
    expect(await getOrderByClientId(db.pool, cid)).toMatchObject({ state: 'open', exchangeOrderId: '31500000125', lastError: 'AmbiguousWriteError' });
  });

  test('an illegal transition is refused and changes nothing', async () => {
    const cid = asClientOrderId('s4-filled');
    await insertOrder(db.pool, { ...order('s4-filled'), state: 'filled' });
    await expect(applyOrderEvent(db.pool, cid, 'seen_open', { nowMs: Date.now() })).rejects.toBeInstanceOf(IllegalTransitionError);
    expect((await getOrderByClientId(db.pool, cid))?.state).toBe('filled');
  });
});

describe('orders: one row per exchange order, our client ids ours, nothing dropped', () => {
  const order = (cid: string): NewOrder => ({
    clientOrderId: asClientOrderId(cid), symbol: BTC, side: 'buy', price: new Decimal('3400000'), qty: new Decimal('0.0001'),
    mode: 'live', cycleId: 'c1', nowMs: Date.now(),
  });
  const report = (id: string, cid: string | null, status: OrderStatusReport['status'] = 'open'): OrderStatusReport => ({
    exchangeOrderId: asExchangeOrderId(id), clientOrderId: cid === null ? null : asClientOrderId(cid), symbol: BTC, side: 'buy',
    price: new Decimal('3400000'), qty: new Decimal('0.0001'), leftQty: new Decimal('0.0001'), status, createdAtMs: 0, updatedAtMs: 0,
  });

  test('external orders may share a client id (Q10: the web UI sends "advanced"): each one gets its row, none twice', async () => {
    expect(await trackExchangeOrder(db.pool, report('1', 'advanced'), { kind: 'external' }, Date.now())).toBe('recorded');
    expect(await trackExchangeOrder(db.pool, report('2', 'advanced'), { kind: 'external' }, Date.now())).toBe('recorded');
    expect(await trackExchangeOrder(db.pool, report('2', 'advanced'), { kind: 'external' }, Date.now())).toBe('already_tracked');
    expect((await listOrders(db.pool)).map((o) => [o.exchangeOrderId, o.mode])).toEqual([['1', 'external'], ['2', 'external']]);
    // An external row never answers for one of ours.
    expect(await getOrderByClientId(db.pool, asClientOrderId('advanced'))).toBeNull();
  });

  test('a duplicate is its own working row, tracked by exchange id, pointing at ours; ours is untouched', async () => {
    await recordPendingSubmit(db.pool, order('s4-dup-home'));
    await applyOrderEvent(db.pool, asClientOrderId('s4-dup-home'), 'submit_acknowledged', { exchangeOrderId: asExchangeOrderId('10'), nowMs: Date.now() });
    expect(await trackExchangeOrder(db.pool, report('11', 's4-dup-home'), { kind: 'duplicate', of: asClientOrderId('s4-dup-home') }, Date.now())).toBe('recorded');
    const rows = await listOrders(db.pool);
    expect(rows.map((o) => [o.clientOrderId, o.exchangeOrderId, o.state, o.mode, o.duplicateOf])).toEqual([
      ['s4-dup-home', '10', 'open', 'live', null],
      [null, '11', 'open', 'live', 's4-dup-home'],
    ]);
    // "Ours, no row" that turns out to have a row after all is recorded as a duplicate, never dropped.
    expect(await trackExchangeOrder(db.pool, report('12', 's4-dup-home'), { kind: 'own' }, Date.now())).toBe('recorded_as_duplicate');
    expect(await trackExchangeOrder(db.pool, report('13', 's4-no-row'), { kind: 'own' }, Date.now())).toBe('recorded');
    expect(await getOrderByClientId(db.pool, asClientOrderId('s4-no-row'))).toMatchObject({ exchangeOrderId: '13', mode: 'live', state: 'open' });
  });

  test('an event naming another exchange order than the row\'s never overwrites it: that order is recorded as a duplicate', async () => {
    const cid = asClientOrderId('s4-two-acks');
    await recordPendingSubmit(db.pool, order('s4-two-acks'));
    await applyOrderEvent(db.pool, cid, 'seen_open', { exchangeOrderId: asExchangeOrderId('20'), nowMs: Date.now() });
    await applyOrderEvent(db.pool, cid, 'submit_acknowledged', { exchangeOrderId: asExchangeOrderId('21'), nowMs: Date.now() });
    expect((await listOrders(db.pool)).map((o) => [o.clientOrderId, o.exchangeOrderId, o.duplicateOf])).toEqual([
      ['s4-two-acks', '20', null],
      [null, '21', 's4-two-acks'],
    ]);
    // And a claim never takes an id another row tracks, nor replaces a known one.
    await recordPendingSubmit(db.pool, order('s4-claimer'));
    expect(await enrichExchangeOrderId(db.pool, asClientOrderId('s4-claimer'), asExchangeOrderId('21'), Date.now())).toBe('id_tracked_elsewhere');
    expect(await enrichExchangeOrderId(db.pool, cid, asExchangeOrderId('22'), Date.now())).toBe('has_other_id');
  });

  test('sightings: absences are counted per state, a sighting starts them over; the attempt\'s deadline bounds an unreported send', async () => {
    const now = Date.now();
    const cid = asClientOrderId('s4-seen');
    await recordPendingSubmit(db.pool, { ...order('s4-seen'), sendDeadlineMs: now + 28_000 });
    const ref = { clientOrderId: cid, exchangeOrderId: null };
    expect(await noteAbsence(db.pool, ref, 'pending_submit', now + 1_000)).toBe(true);
    expect(await noteAbsence(db.pool, ref, 'unknown', now + 2_000)).toBe(false); // the row moved on meanwhile: nothing counted
    let [row] = await listReconcileOrders(db.pool, { modes: ['live'], closedSinceMs: now, clientOrderIds: [], exchangeOrderIds: [] });
    expect(row!.sightings).toEqual({ lastSeenAtMs: null, notFoundCount: 1, lastNotFoundAtMs: now + 1_000, submitEndedAtMs: now + 28_000 });
    await applyOrderEvent(db.pool, cid, 'submit_ambiguous', { submitEndedMs: now + 5_000, nowMs: now });
    await markSeen(db.pool, [ref], now + 6_000);
    [row] = await listReconcileOrders(db.pool, { modes: ['live'], closedSinceMs: now, clientOrderIds: [], exchangeOrderIds: [] });
    expect(row!.sightings).toEqual({ lastSeenAtMs: now + 6_000, notFoundCount: 0, lastNotFoundAtMs: null, submitEndedAtMs: now + 5_000 });
  });

  test('reconcile sees closed rows for a while, and any row the exchange names, whatever its age', async () => {
    const old = Date.UTC(2020, 0, 1);
    await insertOrder(db.pool, { ...order('s4-old-closed'), nowMs: old, state: 'unknown_closed' });
    await insertOrder(db.pool, { ...order('s4-new-closed'), state: 'canceled' });
    const names = async (ids: string[]) =>
      (await listReconcileOrders(db.pool, { modes: ['live'], closedSinceMs: Date.now() - 60_000, clientOrderIds: ids, exchangeOrderIds: [] })).map((o) => o.clientOrderId);
    expect(await names([])).toEqual(['s4-new-closed']);
    expect((await names(['s4-old-closed'])).sort()).toEqual(['s4-new-closed', 's4-old-closed']);
  });

  test('fill evidence: executed quantity per exchange order, by exchange id or by our client id', async () => {
    const f = (id: string, orderId: string, cid: string | null, qty: string, ts: number): FillReport => ({
      ...fill(id, 'buy', qty, '100', ts), exchangeOrderId: asExchangeOrderId(orderId), clientOrderId: cid === null ? null : asClientOrderId(cid),
    });
    await ingestFills(db.pool, { symbol: BTC, fills: [f('a', '50', 's4-x', '0.1', 1), f('b', '50', 's4-x', '0.2', 2), f('c', '51', null, '1', 3)], marks: NO_MARKS, cycleId: null });
    const ev = await listFillEvidence(db.pool, { exchangeOrderIds: ['51'], clientOrderIds: ['s4-x'] });
    expect(ev.map((e) => [e.exchangeOrderId, e.clientOrderId, toDecimalString(e.qty)]).sort()).toEqual([['50', 's4-x', '0.3'], ['51', null, '1']]);
  });
});

describe('connections', () => {
  test('a connection dropped between two queries of a transaction fails that transaction, does not crash the process, and is not reused', async () => {
    const pool = createPool(db.url, 1);
    try {
      const attempt = inTransaction(pool, async (client) => {
        const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        // What a Postgres restart does to a session: the server ends it while we are between queries.
        await db.pool.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
        await expect.poll(async () => (await db.pool.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = $1', [rows[0]!.pid])).rows[0].n).toBe(0);
        await client.query('SELECT 1');
      });
      await expect(attempt).rejects.toThrow(/connection|terminat/i);
      // The pool (of one) hands out a fresh, working connection.
      expect((await pool.query('SELECT 42 AS n')).rows[0].n).toBe(42);
    } finally {
      await pool.end();
    }
  });
});

describe('migrations', () => {
  test('run once from several processes at once on an empty database, and are safe to re-run', async () => {
    const fresh = await createTestDatabase({ migrated: false });
    const pools = [createPool(fresh.url, 1), createPool(fresh.url, 1)];
    try {
      const reports = await Promise.all(pools.map((p) => migrate(p)));
      const applied = reports.flatMap((r) => r.applied).sort();
      // Each migration applied exactly once, by one of the two.
      expect(applied).toEqual(MIGRATIONS.map((m) => m.version));
      expect((await migrate(pools[0]!)).applied).toEqual([]);
      const tables = await fresh.pool.query("SELECT count(*)::int AS n FROM information_schema.tables WHERE table_name = 'stage4_fills'");
      expect(tables.rows[0].n).toBe(1);
    } finally {
      await Promise.all(pools.map((p) => p.end()));
      await fresh.drop();
    }
  });
});

describe('cycle audit and its alerts', () => {
  const failed = (cycleId: string, errorMessage: string): CycleAuditRecord => ({
    cycleId, workflowId: cycleId, runId: 'r', mode: 'live', outcome: 'failed',
    startedAt: new Date(1_000).toISOString(), finishedAt: new Date(2_000).toISOString(),
    counts: {}, decisions: ['failed_at:market'], alerts: [], envelope: {}, errorClass: 'MalformedResponseError', errorMessage,
  });

  test('a failed cycle whose long error holds an emoji wherever the text is cut records its audit row and queues its alert', async () => {
    for (let pad = 1_800; pad < 2_000; pad++) {
      const record = failed(`emoji-${pad}`, `${'x'.repeat(pad)}\u{1F680} rest of the message`);
      const alerts = cycleAlerts(record, null).map((a) => ({ kind: a.kind, channel: 'webhook' as const, payload: alertPayload(a, 'default') }));
      expect(alerts).toHaveLength(1);
      await expect(recordCycleAudit(db.pool, record, alerts)).resolves.toEqual({ inserted: true });
      expect(await listAlerts(db.pool, record.cycleId)).toHaveLength(1);
    }
  });

  test('alerts the outbox refuses are not queued and the failure is reported, but the audit row still lands', async () => {
    const record = failed('refused-alert', 'boom');
    const [alert] = cycleAlerts(record, null);
    // Half a surrogate pair: jsonb refuses the row.
    const bad = { kind: alert!.kind, channel: 'webhook' as const, payload: { ...alertPayload(alert!, 'default'), text: 'cut \uD83D' } };
    const result = await recordCycleAudit(db.pool, record, [bad]);
    expect(result.inserted).toBe(true);
    expect(result.alertsNotQueued).toMatch(/json|unicode|escape/i);
    expect((await listCycleAudits(db.pool, { cycleId: 'refused-alert' })).map((r) => r.outcome)).toEqual(['failed']);
    expect(await listAlerts(db.pool, 'refused-alert')).toEqual([]);
  });

  test('alerts that reached no channel are counted for status and the gauges: failed after every attempt, unknown after a stop mid-send', async () => {
    const record = failed('undelivered-alerts', 'boom');
    const [alert] = cycleAlerts(record, null);
    const rows = (['webhook', 'telegram'] as const).map((channel) => ({ kind: alert!.kind, channel, payload: alertPayload(alert!, 'default') }));
    await recordCycleAudit(db.pool, record, rows);
    // Webhook: claimed, refused with a 500 (and retries run out: it stays failed). Telegram: claimed, then the worker died mid-send.
    await claimAlert(db.pool, record.cycleId, alert!.kind, 'webhook');
    await settleAlert(db.pool, record.cycleId, alert!.kind, 'webhook', { status: 'failed', error: 'the webhook answered HTTP 500' });
    await claimAlert(db.pool, record.cycleId, alert!.kind, 'telegram');
    await settleInterrupted(db.pool, record.cycleId);
    const state = await readOperatorState(db.pool, 'default');
    expect(state.alertsUndelivered).toMatchObject({ failed: 1, rejected: 0, unknown: 1, newest: { sourceId: 'undelivered-alerts', kind: alert!.kind } });
    // The receiver refusing it (a wrong chat id: HTTP 400) is undelivered too.
    await settleAlert(db.pool, record.cycleId, alert!.kind, 'webhook', { status: 'rejected', error: 'the webhook answered HTTP 400' });
    expect((await readOperatorState(db.pool, 'default')).alertsUndelivered).toMatchObject({ failed: 0, rejected: 1, unknown: 1 });
    // An outage of long ago ages out of the window: it does not stay on the board for good.
    await db.pool.query("UPDATE alerts_sent SET updated_at = now() - interval '30 days' WHERE source_id = $1", [record.cycleId]);
    expect((await readOperatorState(db.pool, 'default')).alertsUndelivered).toEqual({ failed: 0, rejected: 0, unknown: 0, newest: null });
  });
});
