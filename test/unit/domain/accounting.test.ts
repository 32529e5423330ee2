import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  advanceFillsCursor,
  applyFills,
  avgCostTry,
  emptyPosition,
  filledQtyByOrder,
  fillsPollSinceMs,
  type Position,
} from '../../../src/domain/accounting.js';
import { Decimal, ZERO } from '../../../src/domain/decimal.js';
import { AccountingIntegrityError } from '../../../src/domain/errors.js';
import { toPairSymbol, type FillReport } from '../../../src/domain/types.js';
import { BTCTRY, D, ETHTRY, fill } from './fixtures.js';

const noMarks = { marks: new Map() };

function only(positions: readonly Position[], symbol = BTCTRY): Position {
  const p = positions.find((x) => x.symbol === symbol);
  if (p === undefined) throw new Error(`no position ${symbol}`);
  return p;
}

describe('accounting: weighted-average cost', () => {
  it('§12.4 step 1: BUY 1 @ 100 with a 1 TRY fee gives qty 1, avg 101', () => {
    const r = applyFills([], [fill({ id: 'f-buy', side: 'buy', price: '100', qty: '1', fee: '1' })], noMarks);
    const p = only(r.positions);
    expect(p.qty.toFixed()).toBe('1');
    expect(avgCostTry(p).toFixed()).toBe('101');
    expect(p.realizedPnlTry.toFixed()).toBe('0');
  });

  it('§12.4 step 3: SELL 1 @ 120 with a USDT fee and no USDTTRY mark realizes 19, notes the fee and goes reduce-only', () => {
    const start = applyFills([], [fill({ id: 'f-buy', side: 'buy', price: '100', qty: '1', fee: '1' })], noMarks).positions;
    const r = applyFills(start, [fill({ id: 'f-sell', side: 'sell', price: '120', qty: '1', fee: '0.1', feeAsset: 'USDT', ts: 2000 })], noMarks);
    const p = only(r.positions);
    expect(p.realizedPnlTry.toFixed()).toBe('19');
    expect(p.qty.isZero()).toBe(true);
    expect(avgCostTry(p).toFixed()).toBe('0');
    expect(r.notes).toEqual(['fee_conversion_missing:f-sell:USDT']);
    expect(r.reduceOnlySymbols).toEqual([BTCTRY]);
  });

  it('defect 20: a USDT fee is converted through the USDTTRY mark and deducted from realized PnL', () => {
    const start = applyFills([], [fill({ id: 'b', side: 'buy', price: '100', qty: '1', fee: '1' })], noMarks).positions;
    const marks = new Map([[toPairSymbol('USDT_TRY'), D('34')]]);
    const r = applyFills(start, [fill({ id: 's', side: 'sell', price: '120', qty: '1', fee: '0.1', feeAsset: 'usdt', ts: 2000 })], { marks });
    expect(only(r.positions).realizedPnlTry.toFixed()).toBe('15.6'); // 19 − 0.1 × 34
    expect(r.notes).toEqual([]);
    expect(r.reduceOnlySymbols).toEqual([]);
    expect(r.applied[0]?.feeTry.toFixed()).toBe('3.4');
  });

  it('§12.4 step 4: oversell raises AccountingIntegrityError and applies nothing', () => {
    const start = applyFills([], [fill({ id: 'b', side: 'buy', price: '100', qty: '1' })], noMarks).positions;
    const snapshot = JSON.stringify(start);
    const batch = [
      fill({ id: 'e', side: 'buy', price: '10', qty: '1', symbol: ETHTRY, ts: 1500 }),
      fill({ id: 's', side: 'sell', price: '120', qty: '2', ts: 2000 }),
    ];
    let caught: unknown;
    try {
      applyFills(start, batch, noMarks);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(AccountingIntegrityError);
    const err = caught as AccountingIntegrityError;
    expect(err.name).toBe('AccountingIntegrityError');
    expect(err.reason).toBe('oversell_detected');
    expect(err.message).toBe('oversell_detected symbol=BTCTRY position_qty=1 fill_qty=2 fill_id=s');
    expect(JSON.stringify(start)).toBe(snapshot);
  });

  it('selling with no position at all is an oversell', () => {
    expect(() => applyFills([], [fill({ id: 's', side: 'sell', price: '1', qty: '0.1' })], noMarks)).toThrow(AccountingIntegrityError);
  });

  it('BTCTurk fee and tax in TRY are both added to cost on a buy (defect 5)', () => {
    // The api reference's buy row: 0.0018 @ 3,400,000, fee 3.06, tax 0.612 (signs already normalised).
    const r = applyFills([], [fill({ id: '1190000000000000007', side: 'buy', price: '3400000', qty: '0.0018', fee: '3.06', tax: '0.612' })], noMarks);
    const p = only(r.positions);
    expect(p.costBasisTry.toFixed()).toBe('6123.672');
    expect(avgCostTry(p).toFixed()).toBe('3402040');
  });

  it('fee and tax in TRY are deducted from realized PnL on a sell', () => {
    const start = applyFills([], [fill({ id: 'b', side: 'buy', price: '3400000', qty: '0.004' })], noMarks).positions;
    const r = applyFills(start, [fill({ id: 's', side: 'sell', price: '3415000', qty: '0.004', fee: '6.83', tax: '1.366', ts: 2000 })], noMarks);
    // (3,415,000 − 3,400,000) × 0.004 = 60; minus 8.196 fee + tax.
    expect(only(r.positions).realizedPnlTry.toFixed()).toBe('51.804');
  });

  it('weighted average across two buys and a partial sell keeps the average', () => {
    const r = applyFills(
      [],
      [
        fill({ id: '1', side: 'buy', price: '100', qty: '1', ts: 1 }),
        fill({ id: '2', side: 'buy', price: '130', qty: '2', ts: 2 }),
        fill({ id: '3', side: 'sell', price: '150', qty: '1.5', ts: 3 }),
      ],
      noMarks,
    );
    const p = only(r.positions);
    expect(avgCostTry(p).toFixed()).toBe('120'); // (100 + 260) / 3
    expect(p.qty.toFixed()).toBe('1.5');
    expect(p.costBasisTry.toFixed()).toBe('180');
    expect(p.realizedPnlTry.toFixed()).toBe('45'); // (150 − 120) × 1.5
    expect(p.lastFillTsMs).toBe(3);
  });

  it('a fee charged in the base asset reduces the quantity received, not the TRY cost (defect 20)', () => {
    const r = applyFills([], [fill({ id: 'b', side: 'buy', price: '100', qty: '1', fee: '0.001', feeAsset: 'BTC' })], noMarks);
    const p = only(r.positions);
    expect(p.qty.toFixed()).toBe('0.999');
    expect(p.costBasisTry.toFixed()).toBe('100');
    // Selling all 0.999 is allowed; 1 would be an oversell.
    expect(() => applyFills(r.positions, [fill({ id: 's', side: 'sell', price: '100', qty: '1', ts: 2000 })], noMarks)).toThrow(AccountingIntegrityError);
    const closed = applyFills(r.positions, [fill({ id: 's', side: 'sell', price: '110', qty: '0.999', ts: 2000 })], noMarks);
    expect(only(closed.positions).realizedPnlTry.toFixed()).toBe('9.89'); // 109.89 − 100
  });

  it('defect 4: a newest-first batch is applied chronologically, so a sell after its buy is no oversell', () => {
    const newestFirst = [
      fill({ id: '2', side: 'sell', price: '120', qty: '1', ts: 2000 }),
      fill({ id: '1', side: 'buy', price: '100', qty: '1', ts: 1000 }),
    ];
    const r = applyFills([], newestFirst, noMarks);
    expect(r.applied.map((a) => a.fill.fillId)).toEqual(['1', '2']);
    expect(only(r.positions).realizedPnlTry.toFixed()).toBe('20');
  });

  it('same-timestamp fills are ordered by numeric trade id, not by string', () => {
    const r = applyFills(
      [],
      [fill({ id: '10', side: 'sell', price: '120', qty: '1', ts: 5 }), fill({ id: '9', side: 'buy', price: '100', qty: '1', ts: 5 })],
      noMarks,
    );
    expect(r.applied.map((a) => a.fill.fillId)).toEqual(['9', '10']);
  });

  it('duplicate fill ids within a batch are applied once; a conflicting duplicate is noted', () => {
    const a = fill({ id: 'x', side: 'buy', price: '100', qty: '1' });
    const conflicting = fill({ id: 'x', side: 'buy', price: '100', qty: '2' });
    const r = applyFills([], [a, a, conflicting], noMarks);
    expect(only(r.positions).qty.toFixed()).toBe('1');
    expect(r.skippedFillIds).toEqual(['x', 'x']);
    expect(r.notes).toEqual(['duplicate_fill_conflict:x']);
  });

  it('fills already in the ledger are skipped', () => {
    const f = fill({ id: 'x', side: 'buy', price: '100', qty: '1' });
    const r = applyFills([], [f], { marks: new Map(), appliedFillIds: new Set([f.fillId]) });
    expect(r.applied).toEqual([]);
    expect(r.positions).toEqual([]);
  });

  it('defect 5: a negative quantity or fee (BTCTurk raw signs) is an integrity error, not a position increase', () => {
    expect(() => applyFills([], [fill({ id: 'n', side: 'sell', price: '100', qty: '-0.3384' })], noMarks)).toThrow(/invalid_fill fill_id=n qty=-0.3384/);
    expect(() => applyFills([], [fill({ id: 'n', side: 'buy', price: '100', qty: '1', fee: '-1' })], noMarks)).toThrow(/invalid_fill/);
  });

  it('a pair not quoted in TRY is refused', () => {
    expect(() => applyFills([], [fill({ id: 'u', side: 'buy', price: '1', qty: '1', symbol: toPairSymbol('BTC_USDT') })], noMarks)).toThrow(/unsupported_quote/);
  });

  it('input positions are never mutated and untouched symbols are carried over', () => {
    const eth: Position = { ...emptyPosition(ETHTRY), qty: D(2), costBasisTry: D(200) };
    const input = [eth];
    const r = applyFills(input, [fill({ id: 'b', side: 'buy', price: '100', qty: '1' })], noMarks);
    expect(input).toEqual([eth]);
    expect(r.positions.map((p) => p.symbol)).toEqual([BTCTRY, ETHTRY]);
    expect(only(r.positions, ETHTRY)).toBe(eth);
  });
});

describe('accounting: fills cursor and linkage', () => {
  it('§18 services test 8: cursor 3,600,000 with a 30 minute lookback polls from 1,800,000', () => {
    expect(fillsPollSinceMs(3_600_000, 30, 10_000_000)).toBe(1_800_000);
  });

  it('the first poll starts at now − lookback', () => {
    expect(fillsPollSinceMs(null, 30, 10_000_000)).toBe(8_200_000);
  });

  it('defect 11: a quiet poll leaves the cursor where it was; it never moves backwards', () => {
    expect(advanceFillsCursor(3_600_000, [])).toBe(3_600_000);
    expect(advanceFillsCursor(3_600_000, [fill({ id: 'old', side: 'buy', price: '1', qty: '1', ts: 1_000 })])).toBe(3_600_000);
    expect(advanceFillsCursor(3_600_000, [fill({ id: 'new', side: 'buy', price: '1', qty: '1', ts: 3_700_000 })])).toBe(3_700_000);
    expect(advanceFillsCursor(null, [])).toBeNull();
  });

  it('defect 18: filled quantity per exchange order is summed from deduped fills', () => {
    const m = filledQtyByOrder([
      fill({ id: 'a', side: 'buy', price: '1', qty: '0.3', orderId: '77' }),
      fill({ id: 'a', side: 'buy', price: '1', qty: '0.3', orderId: '77' }),
      fill({ id: 'b', side: 'buy', price: '1', qty: '0.2', orderId: '77' }),
    ]);
    expect(m.get('77' as never)?.toFixed()).toBe('0.5');
  });
});

describe('accounting: properties', () => {
  const amount = (maxUnits: number, dp: number) =>
    fc.integer({ min: 1, max: maxUnits }).map((n) => new Decimal(n).div(new Decimal(10).pow(dp)));
  const op = fc.record({
    side: fc.constantFrom<'buy' | 'sell'>('buy', 'buy', 'sell'),
    symbol: fc.constantFrom(BTCTRY, ETHTRY),
    price: amount(10_000_000, 2),
    qty: amount(100_000, 4),
    fee: fc.option(amount(10_000, 2), { nil: undefined }),
    feeAsset: fc.constantFrom('TRY', 'TRY', 'USDT', 'BTC'),
    ts: fc.integer({ min: 0, max: 1_000_000 }),
  });
  const batches = fc.array(fc.array(op, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 8 });
  const marks = new Map([[toPairSymbol('USDTTRY'), D('34.125')]]);

  it('property: quantity never goes negative and cost basis is conserved across random fill sequences', () => {
    fc.assert(
      fc.property(batches, (bs) => {
        let positions: readonly Position[] = [];
        let n = 0;
        let costIn = ZERO;
        let costOut = ZERO;
        for (const ops of bs) {
          const fills: FillReport[] = ops.map((o) => {
            n += 1;
            // A BTC fee is only meaningful on the BTC pair; elsewhere it stays a TRY fee.
            const feeAsset = o.feeAsset === 'BTC' && o.symbol !== BTCTRY ? 'TRY' : o.feeAsset;
            const fee = o.fee === undefined ? '0' : feeAsset === 'BTC' ? o.fee.div(1_000_000).toFixed() : o.fee.toFixed();
            return fill({ id: String(n), side: o.side, symbol: o.symbol, price: o.price.toFixed(), qty: o.qty.toFixed(), fee, feeAsset, ts: o.ts });
          });
          const before = JSON.stringify(positions);
          let result;
          try {
            result = applyFills(positions, fills, { marks });
          } catch (e) {
            expect(e).toBeInstanceOf(AccountingIntegrityError);
            expect(['oversell_detected', 'fee_exceeds_qty']).toContain((e as AccountingIntegrityError).reason);
            expect(JSON.stringify(positions)).toBe(before);
            continue;
          }
          for (const a of result.applied) {
            if (a.fill.side === 'buy') costIn = costIn.add(a.fill.price.mul(a.fill.qty)).add(a.feeTry);
            costOut = costOut.add(a.costBasisRemovedTry);
          }
          positions = result.positions;
          for (const p of positions) {
            expect(p.qty.isNeg()).toBe(false);
            expect(p.costBasisTry.isNeg()).toBe(false);
            if (p.qty.isZero()) expect(p.costBasisTry.isZero()).toBe(true);
          }
        }
        const held = positions.reduce((acc, p) => acc.add(p.costBasisTry), ZERO);
        expect(held.add(costOut).eq(costIn)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('property: realized PnL of a round trip equals proceeds − cost − fees', () => {
    fc.assert(
      fc.property(amount(1_000_000, 2), amount(1_000_000, 2), amount(10_000, 4), amount(1000, 2), amount(1000, 2), (buyPx, sellPx, qty, f1, f2) => {
        const r = applyFills(
          [],
          [
            fill({ id: '1', side: 'buy', price: buyPx.toFixed(), qty: qty.toFixed(), fee: f1.toFixed(), ts: 1 }),
            fill({ id: '2', side: 'sell', price: sellPx.toFixed(), qty: qty.toFixed(), fee: f2.toFixed(), ts: 2 }),
          ],
          noMarks,
        );
        const expected = sellPx.sub(buyPx).mul(qty).sub(f1).sub(f2);
        expect(only(r.positions).realizedPnlTry.eq(expected)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
