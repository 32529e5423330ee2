import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Decimal, ZERO } from '../../../src/domain/decimal.js';
import { boundPaperFills, paperFee, simulatePaperFills, type PaperFees, type PaperOrder, type PublicTrade, type TradesCursor } from '../../../src/domain/paper-fills.js';
import { asClientOrderId, asExchangeOrderId, type Side } from '../../../src/domain/types.js';
import { BTCTRY, D } from './fixtures.js';

const FEES: PaperFees = { makerBps: D('10'), taxRate: D('0.2'), feeAsset: 'TRY' };

function order(cid: string, side: Side, price: string, qty: string, createdAtMs = 1_000, leftQty = qty): PaperOrder {
  return {
    clientOrderId: asClientOrderId(cid), exchangeOrderId: asExchangeOrderId(`sim-${cid}`), symbol: BTCTRY,
    side, price: D(price), qty: D(qty), leftQty: D(leftQty), createdAtMs,
  };
}
const trade = (tradeId: string, tsMs: number, price: string, qty: string, side: Side = 'sell'): PublicTrade => ({ tradeId, tsMs, price: D(price), qty: D(qty), side });
const run = (orders: PaperOrder[], trades: PublicTrade[], cursor: TradesCursor | null = null, pageLimit = 50) =>
  simulatePaperFills({ symbol: BTCTRY, orders, trades, cursor, pageLimit, fees: FEES });

describe('paper fill model', () => {
  it('a trade below a paper buy fills it at its own limit price as maker, with fee and VAT rounded as BTCTurk reports them', () => {
    const r = run([order('b1', 'buy', '100', '2')], [trade('7', 2_000, '99', '5')]);
    expect(r.fills).toHaveLength(1);
    const f = r.fills[0]!;
    expect([f.fillId, f.exchangeOrderId, f.side, f.price.toFixed(), f.qty.toFixed(), f.fee.toFixed(), f.tax.toFixed(), f.feeAsset, f.tsMs])
      .toEqual(['paper-b1-7', 'sim-b1', 'buy', '100', '2', '0.2', '0.04', 'TRY', 2_000]);
    expect(r.cursor).toEqual({ tsMs: 2_000, tradeId: '7' });
  });

  it('a trade exactly at the limit price (a touch) fills nothing', () => {
    expect(run([order('b1', 'buy', '100', '1'), order('s1', 'sell', '120', '1')], [trade('1', 2_000, '100', '9'), trade('2', 2_001, '120', '9')]).fills).toEqual([]);
  });

  it('a trade above a paper sell fills it; a trade above a buy or below a sell does not', () => {
    const r = run([order('b1', 'buy', '100', '1'), order('s1', 'sell', '120', '1')], [trade('1', 2_000, '121', '0.4', 'buy'), trade('2', 2_001, '110', '5')]);
    expect(r.fills.map((f) => [f.clientOrderId, f.qty.toFixed()])).toEqual([['s1', '0.4']]);
  });

  it('partial fills are bounded by the volume traded through, cumulative across trades until the quantity is done', () => {
    const r = run([order('b1', 'buy', '100', '1')], [trade('1', 2_000, '99', '0.3'), trade('2', 2_001, '98', '0.5'), trade('3', 2_002, '97', '9')]);
    expect(r.fills.map((f) => f.qty.toFixed())).toEqual(['0.3', '0.5', '0.2']);
  });

  it('trades at or before the order was created and trades already seen fill nothing', () => {
    const o = order('b1', 'buy', '100', '1', 5_000);
    expect(run([o], [trade('1', 4_000, '90', '1'), trade('2', 5_000, '90', '1')]).fills).toEqual([]);
    const seen = run([o], [trade('3', 6_000, '90', '0.5'), trade('4', 7_000, '90', '0.25')], { tsMs: 6_000, tradeId: '3' });
    expect(seen.fills.map((f) => f.fillId)).toEqual(['paper-b1-4']);
    expect(seen.newTrades).toBe(1);
  });

  it('a public trade repeated in the page (one trade id twice) is used once: one fill per order and trade, volume counted once', () => {
    const r = run([order('a1', 'buy', '100', '0.5'), order('b1', 'buy', '100', '2')], [trade('7', 2_000, '99', '1'), trade('7', 2_000, '99', '1')]);
    expect(r.fills.map((f) => [f.fillId, f.qty.toFixed()])).toEqual([['paper-a1-7', '0.5'], ['paper-b1-7', '0.5']]);
    expect(r.newTrades).toBe(1);
  });

  it('one trade is shared across our orders in price-time priority, never counted twice', () => {
    const r = run([order('old', 'buy', '100', '1', 1_000), order('best', 'buy', '101', '1', 1_500), order('new', 'buy', '100', '1', 1_200)], [trade('1', 2_000, '99', '1.5')]);
    expect(r.fills.map((f) => [f.clientOrderId, f.qty.toFixed()])).toEqual([['best', '1'], ['old', '0.5']]);
  });

  it('a full page that does not reach back to the cursor is reported as a gap, and only the trades seen fill', () => {
    const page = Array.from({ length: 50 }, (_, i) => trade(String(100 + i), 10_000 + i, '99', '0.001'));
    const r = run([order('b1', 'buy', '100', '1')], page, { tsMs: 9_000, tradeId: '50' });
    expect(r.gap).toBe(true);
    expect(r.fills.reduce((s, f) => s.add(f.qty), ZERO).toFixed()).toBe('0.05');
    // The same page reaching back to the cursor is no gap.
    expect(run([order('b1', 'buy', '100', '1')], page, { tsMs: 10_000, tradeId: '100' }).gap).toBe(false);
    // A page that is not full shows everything since the last look.
    expect(run([order('b1', 'buy', '100', '1')], page.slice(0, 49), { tsMs: 9_000, tradeId: '50' }).gap).toBe(false);
  });

  it('a cursor left from looks long before the working orders existed is no gap: the page only has to reach back to the oldest order', () => {
    const page = Array.from({ length: 50 }, (_, i) => trade(String(100 + i), 4_000 + i * 100, '99', '0.001'));
    // The last look was at 1,000 (the symbol then had no orders for a while); the order rests from 5,000, the page from 4,000.
    expect(run([order('b1', 'buy', '100', '1', 5_000)], page, { tsMs: 1_000, tradeId: '9' }).gap).toBe(false);
    // An order older than the page's oldest trade still may have missed trades: a gap.
    expect(run([order('b1', 'buy', '100', '1', 3_000)], page, { tsMs: 1_000, tradeId: '9' }).gap).toBe(true);
  });

  it('fills held against the ledger as stored: a trade at or before the stored cursor is dropped, a fill past what its order has left is cut, fee and VAT on what is kept', () => {
    const r = run([order('b1', 'buy', '100', '1')], [trade('1', 2_000, '99', '0.3'), trade('2', 3_000, '99', '1')]);
    const held = boundPaperFills(r.fills, { cursor: { tsMs: 2_000, tradeId: '1' }, leftQty: new Map([['b1', D('0.4')]]) }, FEES);
    expect(held.fills.map((f) => [f.fillId, f.qty.toFixed(), f.fee.toFixed(), f.tax.toFixed()])).toEqual([['paper-b1-2', '0.4', '0.04', '0.008']]);
    expect(held.dropped).toBe(1);
    expect(held.notes).toEqual(['paper_fill_dropped:paper-b1-1:trade_already_used', 'paper_fill_capped:paper-b1-2:0.4']);
  });

  it('the cursor never moves backwards', () => {
    const r = run([], [trade('1', 1_000, '99', '1')], { tsMs: 5_000, tradeId: '9' });
    expect(r.cursor).toEqual({ tsMs: 5_000, tradeId: '9' });
  });
});

describe('paper fill model: properties', () => {
  const units = (max: number, dp: number) => fc.integer({ min: 1, max }).map((n) => new Decimal(n).div(new Decimal(10).pow(dp)));
  const ordersArb = fc.array(
    fc.record({ side: fc.constantFrom<Side>('buy', 'sell'), price: fc.integer({ min: 90, max: 110 }), qty: units(5_000, 3), created: fc.integer({ min: 0, max: 50 }) }),
    { minLength: 1, maxLength: 5 },
  ).map((os) => os.map((o, i) => order(`o${i}`, o.side, String(o.price), o.qty.toFixed(), o.created)));
  const tapeArb = fc.array(fc.record({ price: fc.integer({ min: 85, max: 115 }), qty: units(3_000, 3), dt: fc.integer({ min: 0, max: 5 }) }), { maxLength: 40 })
    .map((ts) => { let at = 0; return ts.map((t, i) => trade(String(i + 1), (at += t.dt), String(t.price), t.qty.toFixed())); });

  it('never fills more than an order has left, never on a touch or a worse trade, and never more than each trade traded', () => {
    fc.assert(fc.property(ordersArb, tapeArb, (orders, tape) => {
      const r = run(orders, tape);
      for (const o of orders) {
        const mine = r.fills.filter((f) => f.clientOrderId === o.clientOrderId);
        expect(mine.reduce((s, f) => s.add(f.qty), ZERO).lte(o.leftQty)).toBe(true);
        for (const f of mine) {
          const t = tape.find((x) => f.fillId === `paper-${o.clientOrderId}-${x.tradeId}`)!;
          expect(o.side === 'buy' ? t.price.lt(o.price) : t.price.gt(o.price)).toBe(true);
          expect(t.tsMs).toBeGreaterThan(o.createdAtMs);
          expect(f.price.eq(o.price)).toBe(true);
        }
      }
      for (const t of tape) {
        const used = r.fills.filter((f) => f.fillId.endsWith(`-${t.tradeId}`)).reduce((s, f) => s.add(f.qty), ZERO);
        expect(used.lte(t.qty)).toBe(true);
      }
    }));
  });

  it('fills are monotone: seeing more of the tape only adds fills, and looking twice is the same as looking once', () => {
    fc.assert(fc.property(ordersArb, tapeArb, fc.nat(), (orders, tape, cut) => {
      const k = tape.length === 0 ? 0 : cut % (tape.length + 1);
      const whole = run(orders, tape);
      const first = run(orders, tape.slice(0, k));
      const filled = new Map<string, Decimal>();
      for (const f of first.fills) filled.set(f.clientOrderId!, (filled.get(f.clientOrderId!) ?? ZERO).add(f.qty));
      const rest = run(orders.map((o) => ({ ...o, leftQty: o.leftQty.sub(filled.get(o.clientOrderId) ?? ZERO) })), tape, first.cursor);
      expect([...first.fills, ...rest.fills].map((f) => [f.fillId, f.qty.toFixed()])).toEqual(whole.fills.map((f) => [f.fillId, f.qty.toFixed()]));
      for (const f of first.fills) expect(whole.fills.some((w) => w.fillId === f.fillId && w.qty.gte(f.qty))).toBe(true);
    }));
  });

  it('fee and VAT are exact decimals: fee = round8(notional × bps / 10000), tax = round8(fee × VAT), nothing lost in floating point', () => {
    fc.assert(fc.property(units(10_000_000_000, 8), fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 30 }), (notional, bps, vatPct) => {
      const fees = { makerBps: new Decimal(bps), taxRate: new Decimal(vatPct).div(100), feeAsset: 'TRY' };
      const { fee, tax } = paperFee(notional, fees);
      const exactFee = notional.mul(bps).div(10_000);
      expect(fee.decimalPlaces()).toBeLessThanOrEqual(8);
      expect(fee.sub(exactFee).abs().lte('0.000000005')).toBe(true);
      expect(tax.sub(fee.mul(fees.taxRate)).abs().lte('0.000000005')).toBe(true);
      expect(fee.toFixed()).toBe(exactFee.toDecimalPlaces(8, Decimal.ROUND_HALF_UP).toFixed());
    }));
  });
});
