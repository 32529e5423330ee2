import { describe, expect, it } from 'vitest';
import { Decimal } from '../../../src/domain/decimal.js';
import { IllegalTransitionError } from '../../../src/domain/errors.js';
import {
  canTransition,
  formatLifecycleDecision,
  planHaltCancels,
  planLifecycle,
  staleness,
  transition,
  type LifecycleParams,
  type OrderEvent,
  type OrderState,
  type TrackedOrder,
} from '../../../src/domain/lifecycle.js';
import { asClientOrderId } from '../../../src/domain/types.js';
import { BTCTRY, D, ETHTRY, intent, tracked } from './fixtures.js';

const RECOVERY_MS = 2 * 60 * 60_000;
const params: LifecycleParams = { staleAfterMs: 60_000, staleDriftBps: D(25), dedupePriceBps: D(5), dedupeQtyRatio: D('0.01'), recoveryWindowMs: RECOVERY_MS };
const NOW = 1_000_000;

function plan(orders: TrackedOrder[], intents = [] as ReturnType<typeof intent>[], mids = new Map<typeof BTCTRY, Decimal>()) {
  return planLifecycle({ intents, orders, mids, nowMs: NOW, params });
}

describe('order state machine', () => {
  const ok: [OrderState, OrderEvent, OrderState][] = [
    ['pending_submit', 'submit_acknowledged', 'open'],
    ['pending_submit', 'submit_rejected', 'rejected'],
    ['pending_submit', 'submit_ambiguous', 'unknown'],
    ['unknown', 'seen_open', 'open'],
    ['unknown', 'not_found', 'unknown_closed'],
    ['open', 'seen_partial', 'partial'],
    ['open', 'cancel_requested', 'cancel_requested'],
    ['partial', 'filled', 'filled'],
    ['cancel_requested', 'seen_open', 'cancel_requested'],
    ['cancel_requested', 'cancel_failed', 'open'],
    ['cancel_requested', 'canceled', 'canceled'],
    ['cancel_requested', 'filled', 'filled'],
    ['unknown_closed', 'filled', 'filled'],
    ['unknown_closed', 'seen_open', 'open'],
    // An exchange order carrying the client id of a row that never got one becomes the row's ("comes home").
    ['rejected', 'seen_open', 'open'],
    ['rejected', 'seen_partial', 'partial'],
    ['rejected', 'filled', 'filled'],
    ['rejected', 'canceled', 'canceled'],
    ['filled', 'filled', 'filled'],
  ];
  it.each(ok)('%s + %s → %s', (from, event, to) => {
    expect(transition(from, event)).toBe(to);
  });

  const illegal: [OrderState, OrderEvent][] = [
    ['filled', 'seen_open'],
    ['canceled', 'filled'],
    ['rejected', 'submit_acknowledged'],
    ['partial', 'seen_open'],
    ['open', 'submit_ambiguous'],
    ['open', 'cancel_failed'],
    ['pending_submit', 'cancel_requested'],
    ['canceled', 'seen_open'],
    ['rejected', 'not_found'],
  ];
  it.each(illegal)('%s + %s is an IllegalTransitionError', (from, event) => {
    expect(canTransition(from, event)).toBe(false);
    expect(() => transition(from, event)).toThrow(IllegalTransitionError);
    expect(() => transition(from, event)).toThrow(`illegal_transition from=${from} event=${event}`);
  });

  it('an ambiguous submit is never turned into rejected without evidence', () => {
    expect(transition('pending_submit', 'submit_ambiguous')).toBe('unknown');
    expect(canTransition('unknown', 'submit_ambiguous')).toBe(false);
  });
});

describe('staleness', () => {
  it('an order as old as TTL is stale by age, measured from creation', () => {
    expect(staleness(tracked({ createdAtMs: NOW - 60_000, updatedAtMs: NOW }), undefined, NOW, params)).toEqual({ why: 'age', age_ms: '60000' });
    expect(staleness(tracked({ createdAtMs: NOW - 59_999 }), undefined, NOW, params)).toBeNull();
  });

  it('§8 drift: an order at 100.3 with mid 100 is 30 bps away and stale', () => {
    expect(staleness(tracked({ createdAtMs: NOW, price: D('100.3') }), D(100), NOW, params)).toEqual({ why: 'drift', drift_bps: '30', mid: '100' });
    expect(staleness(tracked({ createdAtMs: NOW, price: D('100.2') }), D(100), NOW, params)).toBeNull();
  });

  it('defect 10: stale drift uses each symbol\'s own mid', () => {
    const btc = tracked({ cid: 'b', xid: 'x1', symbol: BTCTRY, price: D(3_000_000), createdAtMs: NOW });
    const eth = tracked({ cid: 'e', xid: 'x2', symbol: ETHTRY, price: D(100_000), createdAtMs: NOW });
    const mids = new Map([
      [BTCTRY, D(3_000_000)],
      [ETHTRY, D(100_000)],
    ]);
    expect(plan([btc, eth], [], mids).actions).toEqual([]);
  });
});

describe('lifecycle planner', () => {
  it('§18 services test 4: a stale buy plus a new intent on the same key is [CANCEL(replace_cancel), SUBMIT(replace_submit)]', () => {
    const old = tracked({ cid: 'old', xid: 'ex-9', createdAtMs: NOW - 300_000 });
    const p = plan([old], [intent({ cid: 'new', price: '101', qty: '1' })]);
    expect(p.actions.map((a) => `${a.kind}:${a.reason}`)).toEqual(['cancel:replace_cancel', 'submit:replace_submit']);
    const submit = p.actions[1];
    expect(submit?.kind === 'submit' && submit.afterCancelOf).toEqual(['old']);
    const cancel = p.actions[0];
    expect(cancel?.kind === 'cancel' && cancel.exchangeOrderId).toBe('ex-9');
  });

  it('§8 dedupe: intent 100 × 1 against an open 100.04 × 1.005 is deduped', () => {
    const p = plan([tracked({ createdAtMs: NOW, price: D('100.04'), qty: D('1.005') })], [intent({ cid: 'i', price: '100', qty: '1' })]);
    expect(p.actions).toEqual([]);
    expect(p.decisions.map(formatLifecycleDecision)).toEqual(['deduped:i']);
  });

  it('defect 16: intents and orders share the canonical symbol, so dedupe fires across spellings', () => {
    const p = plan([tracked({ createdAtMs: NOW })], [intent({ cid: 'i', symbol: BTCTRY, price: '100', qty: '1' })]);
    expect(p.decisions[0]?.kind).toBe('deduped');
  });

  it('just outside the tolerances is a new submit', () => {
    const p = plan([tracked({ createdAtMs: NOW, price: D('100.06') })], [intent({ cid: 'i', price: '100', qty: '1' })]);
    expect(p.actions.map((a) => `${a.kind}:${a.reason}`)).toEqual(['submit:new_intent']);
  });

  it('an intent whose client id already exists is deduped, whatever the state', () => {
    const p = plan([tracked({ cid: 'i', state: 'rejected', createdAtMs: NOW })], [intent({ cid: 'i', price: '50', qty: '3' })]);
    expect(p.decisions).toEqual([{ kind: 'deduped', clientOrderId: 'i', symbol: BTCTRY, detail: { match: 'client_order_id' } }]);
  });

  it('invalid intents are recorded and skipped', () => {
    const p = plan([], [intent({ cid: 'z', price: '0', qty: '1' })]);
    expect(p.decisions.map(formatLifecycleDecision)).toEqual(['invalid_intent:z']);
    expect(p.actions).toEqual([]);
  });

  it('defect 13: an unresolved submit on the same symbol and side blocks a new one', () => {
    const pending = tracked({ cid: 'p', xid: null, state: 'unknown', createdAtMs: NOW - 500_000, price: D(90) });
    const p = plan([pending], [intent({ cid: 'n', price: '100', qty: '1' })]);
    expect(p.actions).toEqual([]);
    expect(p.decisions.map((d) => d.kind)).toEqual(['unresolved_order']);
  });

  it('leftover stale orders are cancelled with reason stale', () => {
    const p = plan([tracked({ cid: 'a', xid: 'x', createdAtMs: NOW - 120_000 })]);
    expect(p.actions).toMatchObject([{ kind: 'cancel', reason: 'stale', clientOrderId: 'a', exchangeOrderId: 'x', detail: { why: 'age' } }]);
  });

  it('defect 14: a stale order without an exchange id is not cancelled and stays open', () => {
    const p = plan([tracked({ cid: 'a', xid: null, createdAtMs: NOW - 120_000 })]);
    expect(p.actions).toEqual([]);
    expect(p.decisions.map(formatLifecycleDecision)).toEqual(['cancel_needs_exchange_id:a']);
  });

  it('external and terminal orders are never cancelled', () => {
    const p = plan([
      tracked({ cid: 'e', mode: 'external', createdAtMs: 0 }),
      tracked({ cid: 'f', state: 'filled', createdAtMs: 0 }),
    ]);
    expect(p.actions).toEqual([]);
  });

  it('a cancel carries the remaining quantity of a partly filled order', () => {
    const p = plan([tracked({ cid: 'a', qty: D(1), leftQty: D('0.4'), state: 'partial', createdAtMs: 0 })]);
    expect(p.actions[0]?.qty.toFixed()).toBe('0.4');
  });

  it('actions are sorted by symbol, side, cancels first, then client id', () => {
    const p = plan(
      [tracked({ cid: 'z', xid: 'x1', symbol: ETHTRY, createdAtMs: 0 }), tracked({ cid: 'y', xid: 'x2', createdAtMs: 0, side: 'sell' })],
      [intent({ cid: 'a', symbol: ETHTRY, side: 'sell', price: '5', qty: '1' }), intent({ cid: 'b', price: '100', qty: '3' })],
    );
    expect(p.actions.map((a) => `${a.symbol}:${a.side}:${a.kind}:${a.clientOrderId}`)).toEqual([
      'BTCTRY:buy:submit:b',
      'BTCTRY:sell:cancel:y',
      'ETHTRY:buy:cancel:z',
      'ETHTRY:sell:submit:a',
    ]);
  });

  it('halt cancels every working order of ours that has an exchange id', () => {
    const c = planHaltCancels([
      tracked({ cid: 'a', xid: 'x1' }),
      tracked({ cid: 'b', xid: null }),
      tracked({ cid: 'c', xid: 'x3', mode: 'external' }),
      tracked({ cid: 'd', xid: 'x4', state: 'canceled' }),
    ]);
    expect(c.map((x) => x.clientOrderId)).toEqual(['a']);
    expect(c[0]?.reason).toBe('halt_cancel');
  });

  it('halt cancels duplicates too: they are ours and working', () => {
    const c = planHaltCancels([tracked({ cid: null, xid: 'x9', duplicateOf: asClientOrderId('a') })]);
    expect(c).toMatchObject([{ kind: 'cancel', clientOrderId: null, exchangeOrderId: 'x9', reason: 'halt_cancel' }]);
  });
});

describe('a row closed only by inference may still be working (an order hidden longer than the absence window, Q13)', () => {
  const buy = intent({ cid: 'new', price: '100', qty: '2' });
  const closedByInference = (closedAgoMs: number, xid: string | null = null) =>
    tracked({ cid: 'hidden', xid, state: 'unknown_closed', price: D(90), createdAtMs: NOW - closedAgoMs - 240_000, updatedAtMs: NOW - closedAgoMs });

  it.each([null, 'x9'])('inside its recovery window it blocks a new submit on its symbol and side, like an unknown row (exchange id %s)', (xid) => {
    const r = plan([closedByInference(10 * 60_000, xid)], [buy]);
    expect(r.actions).toEqual([]);
    expect(r.decisions).toMatchObject([{ kind: 'unresolved_order', clientOrderId: 'new', detail: { side: 'buy' } }]);
    expect(plan([tracked({ cid: 'u', xid: null, state: 'unknown' })], [buy]).decisions).toMatchObject([{ kind: 'unresolved_order' }]);
  });

  it('it blocks only its own symbol and side', () => {
    const r = plan([closedByInference(60_000)], [intent({ cid: 'eth', symbol: ETHTRY, price: '100', qty: '2' }), intent({ cid: 'sell', side: 'sell', price: '100', qty: '2' })]);
    expect(r.actions.map((a) => a.clientOrderId)).toEqual(['sell', 'eth']); // sorted by symbol: BTCTRY, then ETHTRY
  });

  it('once its recovery window has ended it no longer blocks (the bound: RECOVERY_MS after it was closed)', () => {
    expect(plan([closedByInference(RECOVERY_MS)], [buy]).actions).toMatchObject([{ kind: 'submit', clientOrderId: 'new' }]);
    expect(plan([closedByInference(RECOVERY_MS - 1)], [buy]).actions).toEqual([]);
  });

  it('a row seen closed (canceled, filled, rejected) never blocks', () => {
    for (const state of ['canceled', 'filled', 'rejected'] as const) {
      expect(plan([tracked({ cid: 'c', state, updatedAtMs: NOW - 1_000 })], [buy]).actions).toMatchObject([{ kind: 'submit', clientOrderId: 'new' }]);
    }
  });
});

describe('duplicates (a second exchange order under one of our client ids)', () => {
  const dup = tracked({ cid: null, xid: 'x2', duplicateOf: asClientOrderId('a'), price: D(100), qty: D(1) });

  it('a working duplicate is cancelled every cycle, with its duplicate_of in the detail', () => {
    const p = plan([tracked({ cid: 'a', xid: 'x1', createdAtMs: NOW }), dup]);
    expect(p.actions).toMatchObject([{ kind: 'cancel', clientOrderId: null, exchangeOrderId: 'x2', reason: 'duplicate', detail: { duplicate_of: 'a' } }]);
    expect(plan([{ ...dup, state: 'cancel_requested' }]).actions).toMatchObject([{ kind: 'cancel', reason: 'duplicate' }]);
  });

  it('a duplicate never dedupes an intent (it is going away) and a closed one is left alone', () => {
    const p = plan([dup], [intent({ cid: 'new', price: '100', qty: '1' })]);
    expect(p.actions.map((a) => `${a.kind}:${a.reason}`)).toEqual(['cancel:duplicate', 'submit:new_intent']);
    expect(plan([{ ...dup, state: 'canceled' }]).actions).toEqual([]);
  });
});
