// The store's side of account truth on a real Postgres: fills without order ids, openings under
// concurrency (a second worker, a retried activity), window starts that a rollback cannot move.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { Decimal, toDecimalString } from '../../src/domain/decimal.js';
import { AccountingIntegrityError } from '../../src/domain/errors.js';
import { asExchangeOrderId, asFillId, toPairSymbol, type FillReport, type PairSymbol, type Side } from '../../src/domain/types.js';
import { fallbackFillId, orderlessFallbackFillId } from '../../src/exchange/trades.js';
import { listAdjustments, listQuarantines, quarantineSymbol, requestAdoption } from '../../src/store/account.js';
import { createPool } from '../../src/store/db.js';
import { ensureFillsCursor, getCursorMs, ingestFills, listPositions, type HoldingsRequest } from '../../src/store/fills.js';
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
  await db.pool.query('TRUNCATE stage4_fills, stage4_positions, cursors, position_adjustments, symbol_quarantines, adoption_requests, balance_drift');
});

function fill(id: string, side: Side, qty: string, tsMs: number, orderId: string | null = `9${id}`): FillReport {
  return {
    fillId: asFillId(id), exchangeOrderId: orderId === null ? null : asExchangeOrderId(orderId), clientOrderId: null, symbol: BTC, side,
    price: new Decimal('100'), qty: new Decimal(qty), fee: new Decimal(0), tax: new Decimal(0), feeAsset: 'TRY', tsMs,
  };
}
const qtyOf = async (): Promise<string | undefined> => {
  const p = (await listPositions(db.pool)).find((x) => x.symbol === BTC);
  return p && toDecimalString(p.qty);
};
const inferred = (balance: string): HoldingsRequest => ({
  kind: 'inferred', base: 'BTC', balanceQty: new Decimal(balance), othersQty: new Decimal(0), markTry: new Decimal(100), windowStartMs: 0, atMs: 1,
});

describe('fills without an order id', () => {
  test('a fill first seen without its order id (2018 form), later with it, is applied once and gets the order id', async () => {
    await ingestFills(db.pool, { symbol: BTC, fills: [fill('1190000000000000001', 'buy', '1', 1000, null)], marks: NO_MARKS, cycleId: 'c1' });
    const again = await ingestFills(db.pool, { symbol: BTC, fills: [fill('1190000000000000001', 'buy', '1', 1000, '31500000001')], marks: NO_MARKS, cycleId: 'c2' });
    expect(again).toMatchObject({ applied: 0, duplicates: 1, orderIdsFilledIn: 1 });
    const rows = (await db.pool.query('SELECT fill_id, exchange_order_id FROM stage4_fills')).rows;
    expect(rows).toEqual([{ fill_id: '1190000000000000001', exchange_order_id: '31500000001' }]);
    expect(await qtyOf()).toBe('1');
  });

  test('a row with neither trade id nor order id, then the same fill with both, is one fill under the trade id', async () => {
    const orderless = { ...fill('x', 'buy', '1', 1000, null), fillId: orderlessFallbackFillId(BTC, 'buy', 1000, new Decimal('100'), new Decimal('1')) };
    await ingestFills(db.pool, { symbol: BTC, fills: [orderless], marks: NO_MARKS, cycleId: 'c1' });
    const r = await ingestFills(db.pool, { symbol: BTC, fills: [fill('1190000000000000009', 'buy', '1', 1000, '31500000009')], marks: NO_MARKS, cycleId: 'c2' });
    expect(r).toMatchObject({ applied: 0, duplicates: 1 });
    const rows = (await db.pool.query('SELECT fill_id, exchange_order_id FROM stage4_fills')).rows;
    expect(rows).toEqual([{ fill_id: '1190000000000000009', exchange_order_id: '31500000009' }]);
  });

  test('two fills with the same time, price and quantity on different orders stay two fills', async () => {
    const a = fill('a', 'buy', '1', 1000, '31500000001');
    const b = fill('b', 'buy', '1', 1000, '31500000002');
    const derived = (f: FillReport) => ({ ...f, fillId: fallbackFillId(f.exchangeOrderId!, f.tsMs, f.price, f.qty) });
    await ingestFills(db.pool, { symbol: BTC, fills: [derived(a), derived(b)], marks: NO_MARKS, cycleId: 'c1' });
    expect(await qtyOf()).toBe('2');
  });
});

describe('openings under concurrency and failure', () => {
  test('two workers inferring the same new symbol at once record one opening; the position is the balance', async () => {
    const other = createPool(db.url, 2);
    try {
      const window = [fill('1', 'sell', '0.5', 1000)];
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
    const window = [fill('1', 'buy', '0.5', 1000)];
    await ingestFills(db.pool, { symbol: BTC, fills: window, marks: NO_MARKS, cycleId: 'c1', holdings: inferred('1') });
    const retry = await ingestFills(db.pool, { symbol: BTC, fills: window, marks: NO_MARKS, cycleId: 'c1', holdings: inferred('1') });
    expect(retry).toMatchObject({ applied: 0, holdingsSkipped: true, adjustments: [] });
    expect(await listAdjustments(db.pool, BTC)).toHaveLength(1);
    expect(await qtyOf()).toBe('1');
  });

  test('an oversell rolls back the opening with the fills; the window start chosen first stays', async () => {
    const { cursorMs } = await ensureFillsCursor(db.pool, BTC, 5000);
    expect(await ensureFillsCursor(db.pool, BTC, 9000)).toEqual({ cursorMs: 5000, created: false });
    const zero: HoldingsRequest = { kind: 'zero', base: 'BTC', windowStartMs: 0, atMs: 1 };
    await expect(ingestFills(db.pool, { symbol: BTC, fills: [fill('1', 'sell', '1', 4000)], marks: NO_MARKS, cycleId: 'c1', holdings: zero, polledUntilMs: 9000 }))
      .rejects.toBeInstanceOf(AccountingIntegrityError);
    expect(await getCursorMs(db.pool, BTC)).toBe(cursorMs);
    expect(await listAdjustments(db.pool, BTC)).toEqual([]);
    expect(await qtyOf()).toBeUndefined();
  });

  test('a clean ingest of a quarantined symbol lifts the quarantine; an adoption already carried out is not repeated', async () => {
    await ingestFills(db.pool, { symbol: BTC, fills: [], marks: NO_MARKS, cycleId: 'c0', holdings: inferred('0') });
    await quarantineSymbol(db.pool, { symbol: BTC, reason: 'oversell_detected', fillId: 'f', detail: 'x', cycleId: 'c1' });
    expect(await quarantineSymbol(db.pool, { symbol: BTC, reason: 'oversell_detected', fillId: 'f', detail: 'x', cycleId: 'c2' })).toEqual({ created: false, cycles: 2 });
    await requestAdoption(db.pool, BTC, 'test');
    const adopt: HoldingsRequest = { kind: 'adopted', base: 'BTC', balanceQty: new Decimal('0.5'), othersQty: new Decimal(0), markTry: new Decimal(100), complete: true, atMs: 2 };
    const sell = [fill('1', 'sell', '0.25', 1000)];
    const done = await ingestFills(db.pool, { symbol: BTC, fills: sell, marks: NO_MARKS, cycleId: 'c3', holdings: adopt });
    expect(done).toMatchObject({ applied: 1, quarantineCleared: true });
    expect(done.adjustments.map((a) => [a.kind, toDecimalString(a.qtyDelta), a.coveredFillId])).toEqual([['adopted', '0.25', '1'], ['adopted', '0.5', null]]);
    expect(await listQuarantines(db.pool)).toEqual([]);
    const again = await ingestFills(db.pool, { symbol: BTC, fills: sell, marks: NO_MARKS, cycleId: 'c4', holdings: adopt });
    expect(again).toMatchObject({ holdingsSkipped: true, adjustments: [] });
    expect(await qtyOf()).toBe('0.5');
  });
});
