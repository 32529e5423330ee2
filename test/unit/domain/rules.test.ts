import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Decimal } from '../../../src/domain/decimal.js';
import {
  priceIncrement,
  qtyIncrement,
  quantizeOrder,
  quantizePrice,
  quantizeQty,
  satisfiesRules,
  sizeBuy,
} from '../../../src/domain/rules.js';
import { D, rules } from './fixtures.js';

describe('exchange rules: quantization', () => {
  it('§13/§18 services test 2: 123.456 × 1.23456 with tick 0.1, step 0.0001, min 100 → 123.4 × 1.2345', () => {
    const r = quantizeOrder({ price: D('123.456'), qty: D('1.23456') }, rules({ minNotional: D(100) }));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.price.toFixed()).toBe('123.4');
    expect(r.qty.toFixed()).toBe('1.2345');
    expect(r.notional.toFixed()).toBe('152.3373');
  });

  it('tick 10 turns 123.99 into 120; step 0.0001 turns 0.12349 into 0.1234', () => {
    const r = rules({ tickSize: D(10), pricePrecision: 0 });
    expect(quantizePrice(D('123.99'), r).toFixed()).toBe('120');
    expect(quantizeQty(D('0.12349'), r).toFixed()).toBe('0.1234');
  });

  it('without a tick the price scale is the grid: 123.456 at scale 2 → 123.45', () => {
    expect(quantizePrice(D('123.456'), rules({ tickSize: D(0), pricePrecision: 2 })).toFixed()).toBe('123.45');
  });

  it('the coarser of tick and scale wins (BTCTurk enforces both)', () => {
    const r = rules({ tickSize: D('0.001'), pricePrecision: 2, stepSize: D(0), qtyPrecision: 4 });
    expect(priceIncrement(r).toFixed()).toBe('0.01');
    expect(qtyIncrement(r).toFixed()).toBe('0.0001');
  });

  it('defect 21: a quantity that rounds to zero is rejected even when the minimum total is 0', () => {
    const r = quantizeOrder({ price: D(100), qty: D('0.00001') }, rules({ minNotional: D(0) }));
    expect(r).toEqual({ ok: false, reason: 'qty_rounds_to_zero', detail: { qty: '0.00001', step: '0.0001' } });
  });

  it('an order under the minimum total is rejected min_notional_violation with the numbers', () => {
    const r = quantizeOrder({ price: D(101), qty: D('0.49504950495') }, rules({ minNotional: D(100) }));
    expect(r).toEqual({ ok: false, reason: 'min_notional_violation', detail: { notional: '49.995', min_notional: '100' } });
  });

  it('the minimum total is inclusive', () => {
    expect(quantizeOrder({ price: D(100), qty: D(1) }, rules({ minNotional: D(100) })).ok).toBe(true);
  });

  it('non-positive input, price band and untradable symbols are rejected with codes', () => {
    expect(quantizeOrder({ price: D(0), qty: D(1) }, rules())).toMatchObject({ reason: 'invalid_price' });
    expect(quantizeOrder({ price: D(100), qty: D(-1) }, rules())).toMatchObject({ reason: 'invalid_qty' });
    expect(quantizeOrder({ price: D('0.05'), qty: D(1000) }, rules())).toMatchObject({ reason: 'price_rounds_to_zero' });
    expect(quantizeOrder({ price: D(5), qty: D(10) }, rules({ minPrice: D(10) }))).toMatchObject({ reason: 'price_below_min' });
    expect(quantizeOrder({ price: D(500), qty: D(1) }, rules({ maxPrice: D(400) }))).toMatchObject({ reason: 'price_above_max' });
    expect(quantizeOrder({ price: D(100), qty: D(1) }, rules({ tradable: false }))).toMatchObject({ reason: 'symbol_not_tradable' });
  });
});

describe('exchange rules: buy sizing', () => {
  const btc = rules({ tickSize: D(1), pricePrecision: 0, stepSize: D('0.00000001'), minNotional: D('99.91') });

  it('defect 9: a 50 TRY bootstrap at 3,000,000 is sized up to the 99.91 minimum, qty rounded up', () => {
    const r = sizeBuy({ price: D(3_000_000), targetNotional: D(50), budget: D(1000) }, btc);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    // 99.91 / 3e6 = 0.0000333033…; rounding down (the original) would give 99.9 < 99.91.
    expect(r.qty.toFixed()).toBe('0.00003331');
    expect(r.notional.toFixed()).toBe('99.93');
  });

  it('a target above the minimum is floored to the step', () => {
    const r = sizeBuy({ price: D(101), targetNotional: D(50), budget: D(100) }, rules());
    expect(r).toMatchObject({ ok: true });
    if (!r.ok) return;
    expect(r.price.toFixed()).toBe('101');
    expect(r.qty.toFixed()).toBe('0.495');
    expect(r.notional.toFixed()).toBe('49.995');
  });

  it('sizing up is refused with insufficient_budget when the minimum does not fit the budget', () => {
    const r = sizeBuy({ price: D(3_000_000), targetNotional: D(50), budget: D(90) }, btc);
    expect(r).toMatchObject({ ok: false, reason: 'insufficient_budget', detail: { budget: '90', min_notional: '99.91' } });
  });

  it('fee headroom counts against the budget', () => {
    // 100 TRY notional needs 100.15 with 15 bps; a budget of exactly 100 cannot buy the minimum.
    const r = rules({ tickSize: D(1), pricePrecision: 0, stepSize: D('0.01'), minNotional: D(100) });
    expect(sizeBuy({ price: D(100), targetNotional: D(100), budget: D(100), feeHeadroomBps: D(15) }, r)).toMatchObject({ ok: false, reason: 'insufficient_budget' });
    expect(sizeBuy({ price: D(100), targetNotional: D(100), budget: D('100.15'), feeHeadroomBps: D(15) }, r)).toMatchObject({ ok: true });
  });

  it('a target above the budget is cut down to what the budget affords', () => {
    const r = sizeBuy({ price: D(100), targetNotional: D(500), budget: D(250) }, rules());
    if (!r.ok) throw new Error(r.reason);
    expect(r.qty.toFixed()).toBe('2.5');
  });
});

describe('exchange rules: properties', () => {
  const decimalIn = (maxInt: number, dp: number) =>
    fc.tuple(fc.integer({ min: 0, max: maxInt }), fc.integer({ min: 0, max: 10 ** dp - 1 })).map(([i, f]) => new Decimal(`${i}.${String(f).padStart(dp, '0')}`));
  const rulesArb = fc.record({
    tickExp: fc.integer({ min: -4, max: 2 }),
    tickMant: fc.constantFrom(1, 2, 5),
    stepExp: fc.integer({ min: -8, max: 0 }),
    pricePrecision: fc.integer({ min: 0, max: 8 }),
    qtyPrecision: fc.integer({ min: 0, max: 8 }),
    min: decimalIn(500, 2),
  }).map((x) =>
    rules({
      tickSize: new Decimal(x.tickMant).mul(new Decimal(10).pow(x.tickExp)),
      stepSize: new Decimal(10).pow(x.stepExp),
      pricePrecision: x.pricePrecision,
      qtyPrecision: x.qtyPrecision,
      minNotional: x.min,
    }),
  );

  it('property: every accepted quantized order sits on the tick and step grid and meets the minimum total', () => {
    fc.assert(
      fc.property(rulesArb, decimalIn(5_000_000, 6), decimalIn(1000, 8), (r, price, qty) => {
        const q = quantizeOrder({ price, qty }, r);
        if (!q.ok) return;
        expect(q.price.mod(priceIncrement(r)).isZero()).toBe(true);
        expect(q.qty.mod(qtyIncrement(r)).isZero()).toBe(true);
        expect(q.price.decimalPlaces()).toBeLessThanOrEqual(r.pricePrecision);
        expect(q.qty.decimalPlaces()).toBeLessThanOrEqual(r.qtyPrecision);
        expect(q.price.lte(price) && q.qty.lte(qty)).toBe(true);
        expect(q.qty.gt(0) && q.price.mul(q.qty).gte(r.minNotional)).toBe(true);
        expect(satisfiesRules(q.price, q.qty, r)).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it('property: a sized buy satisfies every rule and never costs more than its budget', () => {
    fc.assert(
      fc.property(rulesArb, decimalIn(5_000_000, 4), decimalIn(300, 2), decimalIn(2000, 2), fc.integer({ min: 0, max: 100 }), (r, price, target, budget, fee) => {
        const q = sizeBuy({ price, targetNotional: target, budget, feeHeadroomBps: new Decimal(fee) }, r);
        if (!q.ok) {
          expect(['insufficient_budget', 'invalid_price', 'price_rounds_to_zero']).toContain(q.reason);
          return;
        }
        expect(satisfiesRules(q.price, q.qty, r)).toBe(true);
        expect(q.notional.mul(10_000 + fee).div(10_000).lte(budget)).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });
});
