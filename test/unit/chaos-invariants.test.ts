// The chaos run's new promises are pure functions of the simulator's truth and the database rows:
// each one fails on the case it exists for.
import { describe, expect, it } from 'vitest';
import { checkHalts, checkNoOrphan, sampleOrders, type HaltRecord } from '../../chaos/invariants.js';
import type { GroundTruth } from '../../src/simulator/state.js';

type TruthOrder = GroundTruth['orders'][number];
const order = (id: string, clientId: string, status: TruthOrder['status'] = 'Untouched', symbol = 'BTCTRY'): TruthOrder => ({
  id, clientId, symbol, side: 'buy', method: 'limit', price: '100', qty: '1', leftQty: '1', status, createdMs: 0, updatedMs: 0, cancelPending: false, visible: true,
});
const truth = (...orders: TruthOrder[]): GroundTruth => ({ clockMs: 0, orders, fills: [], balances: {}, mids: {} });
const row = (cid: string | null, xid: string | null, status: string) => ({ client_order_id: cid, exchange_order_id: xid, status });

describe('chaos invariants: sampled instants', () => {
  it('a live order of ours that no working row tracks is untracked (the ghost the old "ghost" check could not see)', () => {
    const t = truth(order('1', 's4-a'));
    expect(sampleOrders(t, [row('s4-a', null, 'unknown_closed')], t).untracked).toEqual(['BTCTRY s4-a(1) Untouched']);
    expect(sampleOrders(t, [], t).untracked).toHaveLength(1);
  });

  it('an order hidden past the absence window whose row is closed by inference but still recovering is counted apart, not untracked; a second order beside it is over-planned', () => {
    const t = truth(order('1', 's4-a'));
    const r = sampleOrders(t, [{ ...row('s4-a', null, 'unknown_closed'), recovering: true }], t);
    expect(r).toMatchObject({ untracked: [], recovering: ['BTCTRY s4-a(1) Untouched'] });
    const two = truth({ ...order('1', 's4-a'), visible: false }, order('2', 's4-b'));
    expect(sampleOrders(two, [{ ...row('s4-a', null, 'unknown_closed'), recovering: true }, row('s4-b', '2', 'open')], two).overPlanned).toEqual(['BTCTRY: s4-a(1), s4-b(2)']);
  });

  it('tracked by exchange id, or by client id while the row has no exchange id yet', () => {
    const t = truth(order('1', 's4-a'), order('2', 's4-b'));
    expect(sampleOrders(t, [row('s4-a', '1', 'open'), row('s4-b', null, 'pending_submit')], t).untracked).toEqual([]);
  });

  it('an order that closed between the two truth reads is not counted (the row may already say so)', () => {
    expect(sampleOrders(truth(order('1', 's4-a')), [row('s4-a', '1', 'filled')], truth(order('1', 's4-a', 'Closed'))).untracked).toEqual([]);
  });

  it('someone else\'s orders do not count; two live bot orders on one symbol are more than planned', () => {
    const t = truth(order('1', 's4-a'), order('2', 's4-b'), order('3', 'chaos-ext-1'));
    const r = sampleOrders(t, [row('s4-a', '1', 'open'), row('s4-b', '2', 'open')], t);
    expect(r.untracked).toEqual([]);
    expect(r.overPlanned).toEqual(['BTCTRY: s4-a(1), s4-b(2)']);
  });
});

describe('chaos invariants: halts', () => {
  const halt = (p: Partial<HaltRecord>): HaltRecord => ({ cycle: 1, cancelOpen: false, whileLimiterWait: true, storedAtMs: 1_000, exitCode: 0, stdout: '', liveAfter: [], ...p });

  it('a POST after the halt was stored fails, beyond the allowance and before the resume', () => {
    const [writes] = checkHalts([halt({})], [{ wallMs: 990 }, { wallMs: 1_050 }, { wallMs: 1_400 }, { wallMs: 9_000 }], [5_000], 100);
    expect(writes).toMatchObject({ pass: false, detail: expect.stringContaining('late_writes=1') });
    expect(writes!.examples).toEqual(['halt at cycle 1: a POST arrived 400 ms after the halt was stored']);
  });

  it('the write check cannot pass vacuously: no halt that coincided with a waiting submit fails it', () => {
    expect(checkHalts([halt({ whileLimiterWait: false })], [], [5_000], 100)[0]).toMatchObject({ pass: false, detail: expect.stringContaining('while_limiter_wait=0') });
    expect(checkHalts([halt({})], [], [5_000], 100)[0]!.pass).toBe(true);
  });

  it('a halt while a POST awaited its answer must leave nothing of that cycle unresolved, and at least one such halt must have happened', () => {
    const results = (hs: HaltRecord[]) => checkHalts(hs, [], [5_000, 5_000], 100)[2]!;
    expect(results([halt({})]).pass).toBe(false);
    expect(results([halt({}), halt({ whileLimiterWait: false, whileInFlight: true, leftUnresolved: [] })]).pass).toBe(true);
    expect(results([halt({}), halt({ whileLimiterWait: false, whileInFlight: true, leftUnresolved: ['s4-x'] })])).toMatchObject({ pass: false, examples: ['halt at cycle 1: s4-x left unresolved although its POST was answered'] });
  });

  it('halt --cancel-open that exits 0 with an order of ours still live fails; exiting 1 naming it passes', () => {
    const live = [{ id: '7', clientId: 's4-x', symbol: 'ETHTRY' }];
    expect(checkHalts([halt({ cancelOpen: true, liveAfter: live })], [], [5_000], 100)[1]!.pass).toBe(false);
    expect(checkHalts([halt({ cancelOpen: true, exitCode: 1, stdout: 'still working  ETHTRY s4-x(7) open', liveAfter: live })], [], [5_000], 100)[1]!.pass).toBe(true);
    expect(checkHalts([halt({ cancelOpen: true, exitCode: 1, stdout: 'nothing', liveAfter: live })], [], [5_000], 100)[1]!.pass).toBe(false);
  });
});

describe('chaos invariants: no orphan', () => {
  it('every exchange order must be known by its exchange id: a row, or (someone else\'s) its fills', () => {
    const t = truth(order('1', 's4-a', 'Closed'), order('2', 'chaos-ext-1', 'Closed'), order('3', 's4-b', 'Closed'));
    const rows = [{ client_order_id: 's4-a', exchange_order_id: '1', symbol: 'BTCTRY', status: 'filled', mode: 'live' }];
    const [r] = checkNoOrphan(t, rows, new Set(['2', '3']));
    expect(r).toMatchObject({ pass: false, detail: expect.stringContaining('orphans_of_ours=1') });
    expect(r!.examples).toEqual(['BTCTRY s4-b(3) Closed']);
  });

  it("someone else's order done before the symbol's first fills window is out of sight (part of the opening); one done after it is an orphan", () => {
    const early = { ...order('7', 'chaos-ext-manual-1', 'Closed'), updatedMs: 1_000 };
    const late = { ...order('8', 'chaos-ext-manual-2', 'Closed'), updatedMs: 5_000 };
    const [r] = checkNoOrphan(truth(early, late), [], new Set(), new Map([['BTCTRY', 2_000]]));
    expect(r).toMatchObject({ pass: false, detail: expect.stringContaining('orphans_external=1') });
    expect(r!.detail).toContain('external_before_first_window=1');
    expect(r!.examples).toEqual(['BTCTRY chaos-ext-manual-2(8) Closed']);
  });
});
