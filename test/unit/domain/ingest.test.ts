// One ingest of a symbol's fills, pure: the fills before one that cannot be applied are applied,
// it and what follows are held (and their buys reported for the exposure limit); an unreadable
// trade row holds itself and what follows; an adoption covers, resolves and re-bases, or waits.
import { describe, expect, it } from 'vitest';
import { emptyPosition, type Position } from '../../../src/domain/accounting.js';
import { planIngest, type IngestPlanInput } from '../../../src/domain/ingest.js';
import { asFillId, type FillReport } from '../../../src/domain/types.js';
import { BTCTRY, D, fill } from './fixtures.js';

const buy = (id: string, qty: string, ts: number): FillReport => fill({ id, side: 'buy', price: '100', qty, ts });
const sell = (id: string, qty: string, ts: number): FillReport => fill({ id, side: 'sell', price: '100', qty, ts });
const held = (qty: string): Position => ({ ...emptyPosition(BTCTRY), qty: D(qty), costBasisTry: D(qty).mul(100) });
const plan = (over: Partial<IngestPlanInput>) =>
  planIngest({ symbol: BTCTRY, base: 'BTC', position: emptyPosition(BTCTRY), fresh: [], unreadable: [], opening: null, adoption: null, marks: new Map(), atMs: 9, ...over });
const row = (id: string, tsMs: number | null) => ({ tradeId: asFillId(id), tsMs, reason: 'data[0].orderType is not buy or sell' });

describe('a batch that stops at a fill it cannot apply', () => {
  it('applies the fills before the oversell, holds it and every later fill, and reports the held buys', () => {
    const p = plan({ fresh: [buy('1', '1', 1_000), sell('2', '5', 2_000), buy('3', '2', 3_000)] });
    expect(p.applied.map((a) => a.fill.fillId)).toEqual(['1']);
    expect(p.position.qty.toFixed()).toBe('1');
    expect(p.held).toMatchObject({ fillId: '2', fromTsMs: 2_000 });
    expect(p.held!.error.reason).toBe('oversell_detected');
    expect(p.held!.fills.map((f) => f.fillId)).toEqual(['2', '3']);
    expect([p.held!.buyQty.toFixed(), p.held!.buyCostTry.toFixed()]).toEqual(['2', '200']);
  });

  it('an unreadable trade row holds itself and everything from its time on; what came before applies', () => {
    const p = plan({ fresh: [buy('1', '1', 1_000), buy('3', '2', 3_000)], unreadable: [row('2', 2_000)] });
    expect(p.applied.map((a) => a.fill.fillId)).toEqual(['1']);
    expect(p.held).toMatchObject({ fillId: '2', fromTsMs: 2_000 });
    expect(p.held!.error.message).toBe('unreadable_trade symbol=BTCTRY fill_id=2 cause=data[0].orderType is not buy or sell');
    expect(p.held!.fills.map((f) => f.fillId)).toEqual(['3']);
  });

  it('an unreadable row without a readable time holds the whole batch', () => {
    const p = plan({ fresh: [buy('1', '1', 1_000)], unreadable: [row('row-abc', null)] });
    expect([p.applied.length, p.held!.fromTsMs, p.held!.fills.length]).toEqual([0, -Infinity, 1]);
  });
});

describe('an adoption in the same ingest', () => {
  const adoption = { balance: { qty: D('0.5'), atMs: 5_000 }, othersQty: D(0), markTry: D(200), ledgerNetAfterQty: D(0) };

  it('covers the oversell, takes the unreadable row from the balance (recorded by id), and re-bases on the balance read', () => {
    const p = plan({ position: held('1'), fresh: [sell('2', '3', 2_000), buy('4', '0.25', 6_000)], unreadable: [row('3', 3_000)], adoption });
    expect(p.held).toBeNull();
    expect(p.adopted).toBe(true);
    expect(p.applied.map((a) => a.fill.fillId)).toEqual(['2', '4']);
    expect(p.adjustments.map((a) => [a.kind, a.qtyDelta.toFixed(), a.coveredFillId])).toEqual([
      ['adopted', '2', '2'], // the sell's shortfall, at the mark
      ['adopted', '0', '3'], // the unreadable row: the balance carries its effect
      ['adopted', '0.5', null], // 0.5 at the read, plus the 0.25 bought after it = 0.75
    ]);
    expect(p.position.qty.toFixed()).toBe('0.75');
  });

  it('waits when a fill still cannot be applied on adopted holdings; the batch then ingests as without it', () => {
    const bad = { ...buy('2', '0.1', 2_000), fee: D('1'), feeAsset: 'BTC' }; // a fee larger than the fill
    const p = plan({ position: held('1'), fresh: [buy('1', '1', 1_000), bad], adoption });
    expect([p.adopted, p.adoptionBlockedBy, p.held?.fillId]).toEqual([false, '2', '2']);
    expect(p.adjustments).toEqual([]);
    expect(p.position.qty.toFixed()).toBe('2');
  });
});
