// The store on a real Postgres: fills → positions → cursor in one transaction, order bookkeeping.
import fc from 'fast-check';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { Decimal, toDecimalString } from '../../src/domain/decimal.js';
import { AccountingIntegrityError, IllegalTransitionError } from '../../src/domain/errors.js';
import {
  asClientOrderId,
  asExchangeOrderId,
  asFillId,
  toPairSymbol,
  type FillReport,
  type PairSymbol,
  type Side,
} from '../../src/domain/types.js';
import { fallbackFillId } from '../../src/exchange/trades.js';
import { createPool, inTransaction, type Pool } from '../../src/store/db.js';
import { DuplicateClientOrderIdError } from '../../src/store/errors.js';
import { countFills, getCursorMs, ingestFills, listPositions } from '../../src/store/fills.js';
import { migrate, MIGRATIONS } from '../../src/store/migrations.js';
import {
  applyOrderEvent, enrichExchangeOrderId, getOrderByClientId, insertOrder, listFillEvidence, listOrders, listReconcileOrders, markSeen,
  noteAbsence, recordPendingSubmit, trackExchangeOrder, type NewOrder,
} from '../../src/store/orders.js';
import type { OrderStatusReport } from '../../src/domain/types.js';
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
  await db.pool.query('TRUNCATE stage4_fills, stage4_positions, cursors, stage4_orders');
});

function fill(id: string, side: Side, qty: string, price: string, tsMs: number, fee = '0'): FillReport {
  return {
    fillId: asFillId(id),
    exchangeOrderId: asExchangeOrderId(`9${id}`),
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
    const withoutId = withId.map((f) => ({ ...f, fillId: fallbackFillId(f.exchangeOrderId, f.tsMs, f.price, f.qty) }));

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

  test('an oversell in a batch rolls back the whole batch: no fill, position or cursor change', async () => {
    await ingestFills(db.pool, { symbol: BTC, fills: [fill('1', 'buy', '1', '100', 1000)], marks: NO_MARKS, cycleId: 'c1' });
    const before = { pos: await positionOf(db.pool, BTC), cursor: await getCursorMs(db.pool, BTC), fills: await countFills(db.pool) };

    const batch = [fill('2', 'buy', '0.5', '110', 2000), fill('3', 'sell', '5', '120', 3000)];
    await expect(ingestFills(db.pool, { symbol: BTC, fills: batch, marks: NO_MARKS, cycleId: 'c2', polledUntilMs: 9000 }))
      .rejects.toBeInstanceOf(AccountingIntegrityError);

    expect({ pos: await positionOf(db.pool, BTC), cursor: await getCursorMs(db.pool, BTC), fills: await countFills(db.pool) })
      .toEqual(before);
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
      symbol: BTC, fills: [fill('2', 'buy', '1', '100', 4000)], marks: NO_MARKS, cycleId: 'c2', polledUntilMs: 4500,
    });
    expect(r.applied).toBe(1);
    expect(await getCursorMs(db.pool, BTC)).toBe(5000);
    // An idle poll moves it forward to the end of the polled window.
    await ingestFills(db.pool, { symbol: BTC, fills: [], marks: NO_MARKS, cycleId: 'c3', polledUntilMs: 8000 });
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
  test('a batch with one malformed fill anywhere writes nothing: fills, position and cursor unchanged', async () => {
    await ingestFills(db.pool, { symbol: BTC, fills: [fill('seed', 'buy', '1', '100', 1000)], marks: NO_MARKS, cycleId: 'seed' });
    const snapshot = async () => ({ pos: await positionOf(db.pool, BTC), cursor: await getCursorMs(db.pool, BTC), fills: await countFills(db.pool) });
    const before = await snapshot();
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
        fc.integer({ min: 1, max: 30 }), fc.nat(), fc.integer({ min: 0, max: corruptions.length - 1 }), fc.nat(),
        async (n, pos, which, salt) => {
          const batch = Array.from({ length: n }, (_, i) => fill(`f${salt}-${i}`, 'buy', '0.01', String(100 + i), 2000 + i));
          const at = pos % n;
          batch[at] = corruptions[which]!(batch[at]!);
          await expect(ingestFills(db.pool, { symbol: BTC, fills: batch, marks: NO_MARKS, cycleId: 'fuzz', polledUntilMs: 99_999 }))
            .rejects.toBeInstanceOf(AccountingIntegrityError);
          expect(await snapshot()).toEqual(before);
        },
      ),
      { numRuns: 40 },
    );
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
