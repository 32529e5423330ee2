import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Decimal } from '../../../src/domain/decimal.js';
import type { OrderState } from '../../../src/domain/lifecycle.js';
import {
  DEFAULT_ABSENCE_POLICY, reconcile, summarizeReconcile,
  type FillEvidence, type OrderLookup, type ReconcileOrder, type Sightings, type SymbolOpenOrders,
} from '../../../src/domain/reconcile.js';
import { asClientOrderId, asExchangeOrderId, type PairSymbol } from '../../../src/domain/types.js';
import { BTCTRY, D, ETHTRY, report, tracked } from './fixtures.js';

const NOW = 10_000_000;
const MIN = 60_000;
const ok = (...orders: ReturnType<typeof report>[]): SymbolOpenOrders => ({ status: 'ok', orders });
/** A row never seen and never sent. */
const NO_SIGHTINGS: Sightings = { lastSeenAtMs: null, notFoundCount: 0, lastNotFoundAtMs: null, submitEndedAtMs: null };
const own = (cid: string) => `s4-00000000000000aa-btctry-buy-${cid}`;

function row(p: Parameters<typeof tracked>[0] & { sightings?: Partial<Sightings> }): ReconcileOrder {
  const { sightings, ...rest } = p;
  return { ...tracked(rest), sightings: { ...NO_SIGHTINGS, ...sightings } };
}

function fill(p: { xid: string; cid: string | null; qty: string; symbol?: PairSymbol }): FillEvidence {
  return { exchangeOrderId: asExchangeOrderId(p.xid), clientOrderId: p.cid === null ? null : asClientOrderId(p.cid), symbol: p.symbol ?? BTCTRY, side: 'buy', qty: D(p.qty) };
}

function run(
  orders: ReconcileOrder[],
  snaps: [PairSymbol, SymbolOpenOrders][],
  extra: { lookups?: [string, OrderLookup][]; fills?: FillEvidence[]; nowMs?: number } = {},
) {
  return reconcile({
    orders,
    openOrders: new Map(snaps),
    lookups: new Map(extra.lookups ?? []),
    fills: extra.fills ?? [],
    nowMs: extra.nowMs ?? NOW,
  });
}

const without = (kind: string) => (d: { kind: string }) => d.kind !== kind;
const NOT_FOUND: OrderLookup = { status: 'not_found' };
const found = (...reports: ReturnType<typeof report>[]): OrderLookup => ({ status: 'found', reports });

describe('reconcile: matching', () => {
  it('§18 services test 7: a DB order without exchange id is enriched, and an order without client id is tracked separately', () => {
    const d = run([row({ cid: 'cid-1', xid: null })], [[BTCTRY, ok(report({ id: 'ex-1', clientOrderId: 'cid-1' }), report({ id: 'ex-2', clientOrderId: null }))]]);
    expect(d.filter((x) => x.kind === 'enrich_exchange_id')).toEqual([{ kind: 'enrich_exchange_id', clientOrderId: 'cid-1', exchangeOrderId: 'ex-1', from: 'open', evidence: 'open_orders' }]);
    expect(d.filter((x) => x.kind === 'import_external').map((x) => x.kind === 'import_external' && x.report.exchangeOrderId)).toEqual(['ex-2']);
    expect(summarizeReconcile(d)).toMatchObject({ enriched: 1, imported: 1, importedWithoutClientId: 1, unknownClosed: 0 });
  });

  it('exchange-only orders with a foreign client id are imported as external, each one (Q10: many carry "advanced")', () => {
    const d = run([], [[BTCTRY, ok(report({ id: 'ex-5', clientOrderId: 'advanced' }), report({ id: 'ex-6', clientOrderId: 'advanced' }))]]);
    expect(d).toMatchObject([
      { kind: 'import_external', report: { exchangeOrderId: 'ex-5', clientOrderId: 'advanced' } },
      { kind: 'import_external', report: { exchangeOrderId: 'ex-6', clientOrderId: 'advanced' } },
    ]);
  });

  it('defect 25: a known external order still listed is not imported again', () => {
    const d = run([row({ cid: null, xid: 'ex-5', mode: 'external' })], [[BTCTRY, ok(report({ id: 'ex-5' }))]]);
    expect(d.filter(without('seen'))).toEqual([]);
  });

  it("defect 2: a failed open-order fetch leaves that symbol's orders untouched", () => {
    const d = run(
      [row({ cid: 'a', xid: 'x1' }), row({ cid: 'b', xid: 'x2', symbol: ETHTRY })],
      [
        [BTCTRY, { status: 'failed', error: 'HTTP 503' }],
        [ETHTRY, ok(report({ id: 'x2', clientOrderId: 'b', symbol: ETHTRY }))],
      ],
    );
    expect(d.filter(without('seen'))).toEqual([{ kind: 'symbol_skipped', symbol: BTCTRY, reason: 'open_orders_fetch_failed', detail: { error: 'HTTP 503' } }]);
  });

  it('a symbol not fetched at all is skipped too', () => {
    expect(run([row({ cid: 'a' })], [])).toMatchObject([{ kind: 'symbol_skipped', reason: 'open_orders_not_fetched' }]);
  });

  it('a partial fill seen in open orders moves open → partial with the remaining quantity, and counts as a sighting', () => {
    const d = run([row({ cid: 'a', xid: 'x1', sightings: { notFoundCount: 2 } })], [[BTCTRY, ok(report({ id: 'x1', clientOrderId: 'a', status: 'partial', leftQty: '0.25' }))]]);
    expect(d).toMatchObject([{ kind: 'seen', clientOrderId: 'a' }, { kind: 'set_state', from: 'open', to: 'partial', leftQty: D('0.25') }]);
  });

  it('an order still listed while its cancel is pending stays cancel_requested', () => {
    expect(run([row({ cid: 'a', xid: 'x1', state: 'cancel_requested' })], [[BTCTRY, ok(report({ id: 'x1', clientOrderId: 'a' }))]]).filter(without('seen'))).toEqual([]);
  });

  it('a terminal order seen open again is an anomaly, not a silent reopen', () => {
    const d = run([row({ cid: 'a', xid: 'x1', state: 'filled' })], [[BTCTRY, ok(report({ id: 'x1', clientOrderId: 'a' }))]]);
    expect(d.filter(without('seen'))).toMatchObject([{ kind: 'anomaly', reason: 'illegal_transition', detail: { from: 'filled', event: 'seen_open' } }]);
  });
});

describe('reconcile: one absence closes nothing', () => {
  const missing = (o: ReconcileOrder, nowMs = NOW) => run([o], [[BTCTRY, ok()]], { lookups: [[o.exchangeOrderId ?? o.clientOrderId!, NOT_FOUND]], nowMs });

  it('an order missing from open orders is not closed on assumption: it needs a lookup', () => {
    const d = run([row({ cid: 'a', xid: 'x1' })], [[BTCTRY, ok()]]);
    expect(d).toEqual([{ kind: 'needs_lookup', lookupKey: 'x1', by: 'exchange_id', clientOrderId: 'a', exchangeOrderId: 'x1', symbol: BTCTRY, createdAtMs: 0, reason: 'missing_from_open_orders' }]);
  });

  it('an open order with a single 1152 "order not found" is only counted, long after its last sighting too', () => {
    const d = missing(row({ cid: 'a', xid: 'x1', sightings: { lastSeenAtMs: NOW - 60 * MIN } }));
    expect(d).toEqual([{ kind: 'absence_noted', clientOrderId: 'a', exchangeOrderId: 'x1', state: 'open', notFoundCount: 1, counted: true, closesAtMs: NOW - 57 * MIN }]);
  });

  it('repeated lookups inside the window close nothing: the window starts at the last sighting', () => {
    const d = missing(row({ cid: 'a', xid: 'x1', sightings: { lastSeenAtMs: NOW - 2 * MIN, notFoundCount: 5 } }));
    expect(d).toMatchObject([{ kind: 'absence_noted', notFoundCount: 6, closesAtMs: NOW + MIN }]);
  });

  it('the third not_found after the window has passed closes the row as unknown_closed', () => {
    const d = missing(row({ cid: 'a', xid: 'x1', sightings: { lastSeenAtMs: NOW - 3 * MIN, notFoundCount: 2 } }));
    expect(d).toMatchObject([{ kind: 'set_state', clientOrderId: 'a', from: 'open', to: 'unknown_closed', evidence: 'lookup_not_found' }]);
  });

  it('an unknown submit: the window starts when the attempt ended (the client gave up), not when the cycle started', () => {
    const createdLongAgo = { cid: 'u', xid: null, state: 'unknown' as const, createdAtMs: NOW - 30 * MIN };
    const endedJustNow = missing(row({ ...createdLongAgo, sightings: { submitEndedAtMs: NOW - 10_000, notFoundCount: 4 } }));
    expect(endedJustNow).toMatchObject([{ kind: 'absence_noted', state: 'unknown', notFoundCount: 5, closesAtMs: NOW - 10_000 + 3 * MIN }]);
    const endedLongAgo = missing(row({ ...createdLongAgo, sightings: { submitEndedAtMs: NOW - 4 * MIN, notFoundCount: 2 } }));
    expect(endedLongAgo).toMatchObject([{ kind: 'set_state', from: 'unknown', to: 'unknown_closed' }]);
  });

  it('Q11: a POST that hung for over a minute and was placed at its end is still inside the window when it appears', () => {
    // The client gave up at t0; the order is created 70 s later and listed from then on.
    const t0 = NOW;
    const o = row({ cid: 'u', xid: null, state: 'unknown', createdAtMs: t0 - 30_000, sightings: { submitEndedAtMs: t0 } });
    let sightings = o.sightings;
    for (const t of [t0 + 20_000, t0 + 40_000, t0 + 60_000]) {
      const d = reconcile({ orders: [{ ...o, sightings }], openOrders: new Map([[BTCTRY, ok()]]), lookups: new Map([['u', NOT_FOUND]]), nowMs: t });
      expect(d.map((x) => x.kind)).toEqual(['absence_noted']);
      sightings = { ...sightings, notFoundCount: sightings.notFoundCount + 1 };
    }
    const d = reconcile({ orders: [{ ...o, sightings }], openOrders: new Map([[BTCTRY, ok(report({ id: 'late', clientOrderId: 'u' }))]]), nowMs: t0 + 80_000 });
    expect(d).toMatchObject([{ kind: 'enrich_exchange_id', exchangeOrderId: 'late' }, { kind: 'seen' }, { kind: 'set_state', from: 'unknown', to: 'open' }]);
  });

  it('lookups must be spread over the window: a burst (halt sweeps every 2 s, a sweep racing a cycle) counts as one not_found', () => {
    // The window from the attempt's end has just passed when the burst starts.
    let o = row({ cid: 'u', xid: null, state: 'unknown', sightings: { submitEndedAtMs: NOW - 3 * MIN - 1 } });
    const lookupAt = (t: number) => {
      const d = reconcile({ orders: [o], openOrders: new Map([[BTCTRY, ok()]]), lookups: new Map([['u', NOT_FOUND]]), nowMs: t });
      for (const x of d) {
        if (x.kind === 'absence_noted' && x.counted) o = { ...o, sightings: { ...o.sightings, notFoundCount: x.notFoundCount, lastNotFoundAtMs: t } };
      }
      return d;
    };
    for (const t of [NOW - 4_000, NOW - 2_000, NOW, NOW + 1_000]) expect(lookupAt(t).map((x) => x.kind)).toEqual(['absence_noted']);
    expect(o.sightings.notFoundCount).toBe(1);
    // One lookup per third of the window: the second, then the third closes the row.
    expect(lookupAt(NOW - 4_000 + MIN)).toMatchObject([{ kind: 'absence_noted', notFoundCount: 2, counted: true }]);
    expect(lookupAt(NOW - 4_000 + MIN + 30_000)).toMatchObject([{ kind: 'absence_noted', notFoundCount: 2, counted: false }]);
    expect(lookupAt(NOW - 4_000 + 2 * MIN)).toMatchObject([{ kind: 'set_state', from: 'unknown', to: 'unknown_closed', evidence: 'lookup_not_found' }]);
  });

  it('a failed lookup asks again and changes nothing', () => {
    const d = run([row({ cid: 'a', xid: 'x1' })], [[BTCTRY, ok()]], { lookups: [['x1', { status: 'failed', error: 'timeout' }]] });
    expect(d).toMatchObject([{ kind: 'needs_lookup', reason: 'lookup_failed' }]);
  });

  it('defect 18: a lookup saying filled or canceled gives filled or canceled, not unknown_closed', () => {
    const filled = run([row({ cid: 'a', xid: 'x1' })], [[BTCTRY, ok()]], { lookups: [['x1', found(report({ id: 'x1', status: 'filled', leftQty: '0' }))]] });
    expect(filled.filter(without('seen'))).toMatchObject([{ kind: 'set_state', to: 'filled', evidence: 'order_lookup' }]);
    const canceled = run([row({ cid: 'a', xid: 'x1', state: 'cancel_requested' })], [[BTCTRY, ok()]], { lookups: [['x1', found(report({ id: 'x1', status: 'canceled', leftQty: '0.4' }))]] });
    expect(canceled.filter(without('seen'))).toMatchObject([{ kind: 'set_state', from: 'cancel_requested', to: 'canceled', leftQty: D('0.4') }]);
  });

  it('defect 18: fills covering the whole quantity are evidence of filled without a lookup', () => {
    const d = run([row({ cid: 'a', xid: 'x1', qty: D(1) })], [[BTCTRY, ok()]], { fills: [fill({ xid: 'x1', cid: 'a', qty: '1' })] });
    expect(d.filter(without('seen'))).toMatchObject([{ kind: 'set_state', to: 'filled', evidence: 'fills' }]);
  });

  it('dry-run: simulated orders absent from the exchange are never closed without a lookup', () => {
    const d = run([row({ cid: 'sim', xid: 'sim-sim', mode: 'dry_run' })], [[BTCTRY, ok()]]);
    expect(summarizeReconcile(d)).toMatchObject({ unknownClosed: 0, needsLookup: 1 });
  });
});

describe('reconcile: an exchange order carrying our client id always comes home', () => {
  it('defect 13: a pending submit found by client id in open orders is enriched and opened', () => {
    const d = run([row({ cid: 'p', xid: null, state: 'pending_submit' })], [[BTCTRY, ok(report({ id: 'ex-9', clientOrderId: 'p' }))]]);
    expect(d).toEqual([
      { kind: 'enrich_exchange_id', clientOrderId: 'p', exchangeOrderId: 'ex-9', from: 'pending_submit', evidence: 'open_orders' },
      { kind: 'seen', clientOrderId: 'p', exchangeOrderId: null },
      { kind: 'set_state', clientOrderId: 'p', exchangeOrderId: null, from: 'pending_submit', to: 'open', evidence: 'open_orders', leftQty: D(1) },
    ]);
    expect(summarizeReconcile(d)).toMatchObject({ enriched: 1, cameHome: 0 });
  });

  it.each<OrderState>(['unknown', 'unknown_closed', 'rejected'])('a row in %s without an exchange order gets the listed order carrying its client id', (state) => {
    const d = run([row({ cid: 'c', xid: null, state })], [[BTCTRY, ok(report({ id: 'ex-7', clientOrderId: 'c', status: 'partial', leftQty: '0.5' }))]]);
    expect(d).toMatchObject([
      { kind: 'enrich_exchange_id', clientOrderId: 'c', exchangeOrderId: 'ex-7', from: state },
      { kind: 'seen' },
      { kind: 'set_state', from: state, to: 'partial', leftQty: D('0.5') },
    ]);
    expect(summarizeReconcile(d)).toMatchObject({ cameHome: 1, imported: 0 });
  });

  it('an unknown_closed row that had its exchange id and reappears is reopened from evidence', () => {
    const d = run([row({ cid: 'a', xid: 'x1', state: 'unknown_closed' })], [[BTCTRY, ok(report({ id: 'x1', clientOrderId: 'a' }))]]);
    expect(d.filter(without('seen'))).toMatchObject([{ kind: 'set_state', from: 'unknown_closed', to: 'open' }]);
  });

  it('a client-id lookup that finds the order brings an unknown row home, with the lookup as evidence', () => {
    const d = run([row({ cid: 'u', xid: null, state: 'unknown' })], [[BTCTRY, ok()]], { lookups: [['u', found(report({ id: 'ex-3', clientOrderId: 'u', status: 'filled', leftQty: '0' }))]] });
    expect(d).toMatchObject([{ kind: 'enrich_exchange_id', exchangeOrderId: 'ex-3', evidence: 'order_lookup' }, { kind: 'seen' }, { kind: 'set_state', to: 'filled' }]);
  });

  it('an order with our client id format and no row of ours at all is adopted, never imported as external', () => {
    const d = run([], [[BTCTRY, ok(report({ id: 'ex-4', clientOrderId: own('0') }))]]);
    expect(d).toMatchObject([{ kind: 'adopt_own', report: { exchangeOrderId: 'ex-4' } }]);
  });
});

describe('reconcile: a further order under the same client id is a duplicate, never merged, never dropped', () => {
  it('our row already has its order: a second listed order with the client id is recorded as a duplicate', () => {
    const d = run([row({ cid: 'a', xid: 'x1' })], [[BTCTRY, ok(report({ id: 'x1', clientOrderId: 'a' }), report({ id: 'x2', clientOrderId: 'a' }))]]);
    expect(d.filter(without('seen'))).toMatchObject([{ kind: 'record_duplicate', duplicateOf: 'a', report: { exchangeOrderId: 'x2' }, evidence: 'open_orders' }]);
    expect(summarizeReconcile(d)).toMatchObject({ duplicates: 1, imported: 0 });
  });

  it('two listed orders for a row without one: the older becomes the row\'s, the newer is the duplicate', () => {
    const d = run([row({ cid: 'p', xid: null, state: 'unknown' })], [[BTCTRY, ok(report({ id: '31500000012', clientOrderId: 'p' }), report({ id: '31500000009', clientOrderId: 'p' }))]]);
    expect(d).toMatchObject([
      { kind: 'enrich_exchange_id', exchangeOrderId: '31500000009' },
      { kind: 'seen' },
      { kind: 'set_state', to: 'open' },
      { kind: 'record_duplicate', report: { exchangeOrderId: '31500000012' }, duplicateOf: 'p' },
    ]);
  });

  it('a client-id lookup returning two orders: one claimed, one duplicate', () => {
    const d = run([row({ cid: 'u', xid: null, state: 'unknown' })], [[BTCTRY, ok()]], {
      lookups: [['u', found(report({ id: '2', clientOrderId: 'u', status: 'canceled', leftQty: '1' }), report({ id: '1', clientOrderId: 'u' }))]],
    });
    expect(d).toMatchObject([{ kind: 'enrich_exchange_id', exchangeOrderId: '1' }, { kind: 'seen' }, { kind: 'set_state', to: 'open' }, { kind: 'record_duplicate', report: { exchangeOrderId: '2' } }]);
  });

  it('an order with our client id but another side is not ours to claim: a duplicate, and the row keeps looking', () => {
    const d = run([row({ cid: 'u', xid: null, state: 'unknown' })], [[BTCTRY, ok(report({ id: '5', clientOrderId: 'u', side: 'sell' }))]]);
    expect(d).toMatchObject([{ kind: 'record_duplicate', report: { exchangeOrderId: '5' } }, { kind: 'needs_lookup', lookupKey: 'u', by: 'client_id' }]);
  });

  it('our row already has its exchange id: a further order under its client id known only from fills is looked up, then recorded as a duplicate', () => {
    const ours = row({ cid: 'a', xid: '100', sightings: { lastSeenAtMs: NOW } });
    const listed: [PairSymbol, SymbolOpenOrders][] = [[BTCTRY, ok(report({ id: '100', clientOrderId: 'a' }))]];
    // Order 200 carries our client id and is part-filled, but is not listed (hidden, Q13).
    const fills = [fill({ xid: '200', cid: 'a', qty: '0.4' })];
    expect(run([ours], listed, { fills }).filter(without('seen'))).toEqual([
      { kind: 'needs_lookup', lookupKey: '200', by: 'exchange_id', clientOrderId: 'a', exchangeOrderId: '200', symbol: BTCTRY, createdAtMs: 0, reason: 'fill_evidence' },
    ]);
    const second = run([ours], listed, { fills, lookups: [['200', found(report({ id: '200', clientOrderId: 'a', status: 'partial', leftQty: '0.6' }))]] });
    expect(second.filter(without('seen'))).toMatchObject([
      { kind: 'record_duplicate', duplicateOf: 'a', report: { exchangeOrderId: '200', status: 'partial' }, evidence: 'order_lookup' },
    ]);
    // Once recorded it is a row of its own: nothing more is decided about it from the fills.
    const recorded = row({ cid: null, xid: '200', state: 'partial', duplicateOf: asClientOrderId('a') });
    expect(run([ours, recorded], listed, { fills }).filter((x) => x.kind === 'record_duplicate')).toEqual([]);
  });

  it('a known duplicate row is matched by its exchange id like any other order', () => {
    const dup = row({ cid: null, xid: 'x2', duplicateOf: asClientOrderId('a') });
    const d = run([row({ cid: 'a', xid: 'x1' }), dup], [[BTCTRY, ok(report({ id: 'x1', clientOrderId: 'a' }), report({ id: 'x2', clientOrderId: 'a' }))]]);
    expect(summarizeReconcile(d)).toMatchObject({ duplicates: 0, imported: 0 });
  });
});

describe('reconcile: fill evidence', () => {
  it('an unknown row never listed: a fill carrying its client id under an order id we do not track brings it home as filled', () => {
    const d = run([row({ cid: 'u', xid: null, state: 'unknown', qty: D('0.5') })], [[BTCTRY, ok()]], { fills: [fill({ xid: '77', cid: 'u', qty: '0.5' })] });
    expect(d).toMatchObject([
      { kind: 'enrich_exchange_id', clientOrderId: 'u', exchangeOrderId: '77', from: 'unknown', evidence: 'fills' },
      { kind: 'seen' },
      { kind: 'set_state', from: 'unknown', to: 'filled', evidence: 'fills', leftQty: D(0) },
    ]);
  });

  it('an unknown_closed row with part of its quantity in fills comes home as partial and asks for the order itself', () => {
    const d = run([row({ cid: 'u', xid: null, state: 'unknown_closed', qty: D(1) })], [[BTCTRY, ok()]], { fills: [fill({ xid: '78', cid: 'u', qty: '0.25' })] });
    expect(d).toMatchObject([
      { kind: 'enrich_exchange_id', exchangeOrderId: '78' },
      { kind: 'seen' },
      { kind: 'set_state', to: 'partial', leftQty: D('0.75') },
      { kind: 'needs_lookup', lookupKey: '78', by: 'exchange_id', reason: 'fill_evidence' },
    ]);
    const second = run([row({ cid: 'u', xid: null, state: 'unknown_closed', qty: D(1) })], [[BTCTRY, ok()]], {
      fills: [fill({ xid: '78', cid: 'u', qty: '0.25' })],
      lookups: [['78', found(report({ id: '78', clientOrderId: 'u', status: 'canceled', leftQty: '0.75' }))]],
    });
    expect(second).toMatchObject([{ kind: 'enrich_exchange_id', evidence: 'order_lookup' }, { kind: 'seen' }, { kind: 'set_state', to: 'canceled' }]);
  });

  it('a row closed by inference that has its exchange id: fills covering it make it filled, part of it partial', () => {
    const closed = row({ cid: 'a', xid: '100', state: 'unknown_closed', qty: D(1), updatedAtMs: NOW - MIN, sightings: { notFoundCount: 3 } });
    const full = run([closed], [[BTCTRY, ok()]], { fills: [fill({ xid: '100', cid: 'a', qty: '1' })] });
    expect(full.filter(without('seen'))).toMatchObject([{ kind: 'set_state', from: 'unknown_closed', to: 'filled', evidence: 'fills', leftQty: D(0) }]);
    const part = run([closed], [[BTCTRY, ok()]], { fills: [fill({ xid: '100', cid: 'a', qty: '0.3' })] });
    expect(part.filter(without('seen'))).toMatchObject([{ kind: 'set_state', from: 'unknown_closed', to: 'partial', evidence: 'fills', leftQty: D('0.7') }]);
  });

  it('fills under our client id for another order id than our row\'s: looked up, then recorded as a duplicate', () => {
    const ours = row({ cid: 'a', xid: null, state: 'unknown', sightings: { submitEndedAtMs: NOW } });
    const first = run([ours], [[BTCTRY, ok(report({ id: '10', clientOrderId: 'a' }))]], { fills: [fill({ xid: '11', cid: 'a', qty: '1' })] });
    expect(first).toMatchObject([{ kind: 'enrich_exchange_id', exchangeOrderId: '10' }, { kind: 'seen' }, { kind: 'set_state' }, { kind: 'needs_lookup', lookupKey: '11', reason: 'fill_evidence' }]);
    const second = run([ours], [[BTCTRY, ok(report({ id: '10', clientOrderId: 'a' }))]], {
      fills: [fill({ xid: '11', cid: 'a', qty: '1' })], lookups: [['11', found(report({ id: '11', clientOrderId: 'a', status: 'filled', leftQty: '0' }))]],
    });
    expect(second.filter((x) => x.kind === 'record_duplicate')).toMatchObject([{ report: { exchangeOrderId: '11', status: 'filled' }, duplicateOf: 'a' }]);
  });
});

describe('reconcile: a row closed only by inference is watched for its recovery window', () => {
  const closed = (p: { xid?: string | null; closedAgoMs: number }) =>
    row({ cid: 'h', xid: p.xid ?? null, state: 'unknown_closed', updatedAtMs: NOW - p.closedAgoMs, sightings: { notFoundCount: 3 } });

  it.each([
    [null, 'h', 'client_id'],
    ['7', '7', 'exchange_id'],
  ] as const)('inside the window it is looked up every cycle (exchange id %s), and comes home when the lookup finds it', (xid, key, by) => {
    const o = closed({ xid, closedAgoMs: 30 * MIN });
    expect(run([o], [[BTCTRY, ok()]])).toMatchObject([{ kind: 'needs_lookup', lookupKey: key, by, reason: 'may_still_appear' }]);
    const home = run([o], [[BTCTRY, ok()]], { lookups: [[key, found(report({ id: '7', clientOrderId: 'h', status: 'canceled', leftQty: '1' }))]] });
    expect(home.filter(without('enrich_exchange_id')).filter(without('seen'))).toMatchObject([{ kind: 'set_state', from: 'unknown_closed', to: 'canceled', evidence: 'order_lookup' }]);
    // Not found again: it stays as it is, closed by inference and still blocking its symbol and side.
    expect(run([o], [[BTCTRY, ok()]], { lookups: [[key, NOT_FOUND]] })).toEqual([]);
  });

  it('after the window it is no longer looked up (it can still come home if listed or filled)', () => {
    expect(run([closed({ closedAgoMs: 2 * 60 * MIN })], [[BTCTRY, ok()]])).toEqual([]);
    const listed = run([closed({ closedAgoMs: 5 * 60 * MIN })], [[BTCTRY, ok(report({ id: '8', clientOrderId: 'h' }))]]);
    expect(listed).toMatchObject([{ kind: 'enrich_exchange_id', exchangeOrderId: '8', from: 'unknown_closed' }, { kind: 'seen' }, { kind: 'set_state', to: 'open' }]);
  });
});

describe('reconcile: properties', () => {
  const states: OrderState[] = ['pending_submit', 'open', 'partial', 'cancel_requested', 'unknown', 'unknown_closed', 'rejected', 'filled', 'canceled'];
  const rows = fc.array(
    fc.record({
      state: fc.constantFrom(...states), sym: fc.constantFrom(BTCTRY, ETHTRY), hasX: fc.boolean(), listed: fc.nat({ max: 2 }),
      lookup: fc.constantFrom('none', 'not_found', 'filled', 'failed'), notFound: fc.nat({ max: 4 }), endedAgoMs: fc.nat({ max: 10 * MIN }),
      filledQty: fc.constantFrom(null, '0.5', '1'),
    }),
    { maxLength: 8 },
  );

  it('no listed order is ever dropped or imported when it carries our client id; unknown_closed only after the whole window', () => {
    fc.assert(
      fc.property(rows, fc.boolean(), (rs, btcFails) => {
        const orders = rs.map((r, i) =>
          row({
            cid: `c${i}`, xid: r.hasX ? `${100 + i}` : null, state: r.state, symbol: r.sym, createdAtMs: 0,
            sightings: { notFoundCount: r.notFound, submitEndedAtMs: NOW - r.endedAgoMs, lastSeenAtMs: r.hasX ? NOW - r.endedAgoMs : null },
          }),
        );
        const listedFor = (sym: PairSymbol) =>
          rs.flatMap((r, i) => (r.sym !== sym ? [] : Array.from({ length: r.listed }, (_, k) => report({ id: `${100 + i + k * 50}`, clientOrderId: `c${i}`, symbol: sym }))));
        const lookups: [string, OrderLookup][] = rs.flatMap((r, i): [string, OrderLookup][] => {
          const key = r.hasX ? `${100 + i}` : `c${i}`;
          if (r.lookup === 'not_found') return [[key, NOT_FOUND]];
          if (r.lookup === 'filled') return [[key, found(report({ id: `${100 + i}`, clientOrderId: `c${i}`, status: 'filled', leftQty: '0' }))]];
          if (r.lookup === 'failed') return [[key, { status: 'failed', error: 'x' }]];
          return [];
        });
        const fills = rs.flatMap((r, i) => (r.filledQty === null ? [] : [fill({ xid: `${100 + i + 25}`, cid: `c${i}`, qty: r.filledQty, symbol: r.sym })]));
        const snaps: [PairSymbol, SymbolOpenOrders][] = [[BTCTRY, btcFails ? { status: 'failed', error: 'down' } : ok(...listedFor(BTCTRY))], [ETHTRY, ok(...listedFor(ETHTRY))]];
        const d = reconcile({ orders, openOrders: new Map(snaps), lookups: new Map(lookups), fills, nowMs: NOW });

        // A failed symbol: none of its rows is touched.
        const touched = new Set(d.flatMap((x) => ('clientOrderId' in x && x.kind !== 'needs_lookup' ? [x.clientOrderId] : [])));
        for (const o of orders) if (btcFails && o.symbol === BTCTRY) expect(touched.has(o.clientOrderId)).toBe(false);
        // Every listed order of a fetched symbol is accounted for exactly once: a row's, claimed, or recorded.
        for (const [, snap] of snaps) {
          if (snap.status !== 'ok') continue;
          for (const r of snap.orders) {
            const byRow = orders.some((o) => o.exchangeOrderId === r.exchangeOrderId);
            const claims = d.filter((x) => x.kind === 'enrich_exchange_id' && x.exchangeOrderId === r.exchangeOrderId).length;
            const recorded = d.filter((x) => (x.kind === 'record_duplicate' || x.kind === 'import_external' || x.kind === 'adopt_own') && x.report.exchangeOrderId === r.exchangeOrderId).length;
            expect(Number(byRow) + claims + recorded, `listed ${r.exchangeOrderId}`).toBe(1);
            // Our client ids never end up as external rows.
            expect(d.some((x) => x.kind === 'import_external' && x.report.exchangeOrderId === r.exchangeOrderId)).toBe(false);
          }
        }
        // unknown_closed only after enough not_found lookups over the whole window.
        for (const x of d) {
          if (x.kind !== 'set_state' || x.to !== 'unknown_closed') continue;
          const o = orders.find((y) => y.clientOrderId === x.clientOrderId)!;
          expect(x.evidence).toBe('lookup_not_found');
          expect(o.sightings.notFoundCount + 1).toBeGreaterThanOrEqual(DEFAULT_ABSENCE_POLICY.minLookups);
          expect(NOW - Math.max(o.sightings.lastSeenAtMs ?? 0, o.sightings.submitEndedAtMs!)).toBeGreaterThanOrEqual(DEFAULT_ABSENCE_POLICY.windowMs);
        }
      }),
      { numRuns: 500 },
    );
  });
});
