import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Decimal } from '../../../src/domain/decimal.js';
import type { OrderState, TrackedOrder } from '../../../src/domain/lifecycle.js';
import { reconcile, summarizeReconcile, type OrderLookup, type SymbolOpenOrders } from '../../../src/domain/reconcile.js';
import { asExchangeOrderId, type PairSymbol } from '../../../src/domain/types.js';
import { BTCTRY, D, ETHTRY, report, tracked } from './fixtures.js';

const NOW = 10_000_000;
const ok = (...orders: ReturnType<typeof report>[]): SymbolOpenOrders => ({ status: 'ok', orders });

function run(orders: TrackedOrder[], snaps: [PairSymbol, SymbolOpenOrders][], extra: { lookups?: [string, OrderLookup][]; filled?: [string, Decimal][] } = {}) {
  return reconcile({
    orders,
    openOrders: new Map(snaps),
    lookups: new Map(extra.lookups ?? []),
    filledQty: new Map((extra.filled ?? []).map(([k, v]) => [asExchangeOrderId(k), v])),
    nowMs: NOW,
  });
}

describe('reconcile', () => {
  it('§18 services test 7: a DB order without exchange id is enriched, and an order without client id is tracked separately', () => {
    const d = run([tracked({ cid: 'cid-1', xid: null })], [[BTCTRY, ok(report({ id: 'ex-1', clientOrderId: 'cid-1' }), report({ id: 'ex-2', clientOrderId: null }))]]);
    expect(d.filter((x) => x.kind === 'enrich_exchange_id')).toEqual([{ kind: 'enrich_exchange_id', clientOrderId: 'cid-1', exchangeOrderId: 'ex-1' }]);
    expect(d.filter((x) => x.kind === 'import_external').map((x) => x.kind === 'import_external' && x.report.exchangeOrderId)).toEqual(['ex-2']);
    expect(summarizeReconcile(d)).toMatchObject({ enriched: 1, imported: 1, importedWithoutClientId: 1, unknownClosed: 0 });
  });

  it('exchange-only orders with a foreign client id are imported as external', () => {
    const d = run([], [[BTCTRY, ok(report({ id: 'ex-5', clientOrderId: 'advanced' }))]]);
    expect(d).toMatchObject([{ kind: 'import_external', report: { exchangeOrderId: 'ex-5', clientOrderId: 'advanced' } }]);
  });

  it('defect 25: a known external order still listed is not imported again', () => {
    const d = run([tracked({ cid: null, xid: 'ex-5', mode: 'external' })], [[BTCTRY, ok(report({ id: 'ex-5' }))]]);
    expect(d).toEqual([]);
  });

  it('defect 2: a failed open-order fetch leaves that symbol\'s orders untouched', () => {
    const d = run(
      [tracked({ cid: 'a', xid: 'x1' }), tracked({ cid: 'b', xid: 'x2', symbol: ETHTRY })],
      [
        [BTCTRY, { status: 'failed', error: 'HTTP 503' }],
        [ETHTRY, ok(report({ id: 'x2', clientOrderId: 'b', symbol: ETHTRY }))],
      ],
    );
    expect(d).toEqual([{ kind: 'symbol_skipped', symbol: BTCTRY, reason: 'open_orders_fetch_failed', detail: { error: 'HTTP 503' } }]);
  });

  it('a symbol not fetched at all is skipped too', () => {
    expect(run([tracked({ cid: 'a' })], [])).toMatchObject([{ kind: 'symbol_skipped', reason: 'open_orders_not_fetched' }]);
  });

  it('an order missing from open orders is not closed on assumption: it needs a lookup', () => {
    const d = run([tracked({ cid: 'a', xid: 'x1' })], [[BTCTRY, ok()]]);
    expect(d).toEqual([{ kind: 'needs_lookup', lookupKey: 'x1', clientOrderId: 'a', exchangeOrderId: 'x1', symbol: BTCTRY, reason: 'missing_from_open_orders' }]);
  });

  it('an explicit lookup that finds nothing marks it unknown_closed', () => {
    const d = run([tracked({ cid: 'a', xid: 'x1' })], [[BTCTRY, ok()]], { lookups: [['x1', { status: 'not_found' }]] });
    expect(d).toMatchObject([{ kind: 'set_state', clientOrderId: 'a', from: 'open', to: 'unknown_closed', evidence: 'lookup_not_found' }]);
  });

  it('defect 18: a lookup saying filled or canceled gives filled or canceled, not unknown_closed', () => {
    const filled = run([tracked({ cid: 'a', xid: 'x1' })], [[BTCTRY, ok()]], { lookups: [['x1', { status: 'found', report: report({ id: 'x1', status: 'filled', leftQty: '0' }) }]] });
    expect(filled).toMatchObject([{ kind: 'set_state', to: 'filled', evidence: 'order_lookup' }]);
    const canceled = run([tracked({ cid: 'a', xid: 'x1', state: 'cancel_requested' })], [[BTCTRY, ok()]], { lookups: [['x1', { status: 'found', report: report({ id: 'x1', status: 'canceled', leftQty: '0.4' }) }]] });
    expect(canceled).toMatchObject([{ kind: 'set_state', from: 'cancel_requested', to: 'canceled', leftQty: D('0.4') }]);
  });

  it('defect 18: fills covering the whole quantity are evidence of filled without a lookup', () => {
    const d = run([tracked({ cid: 'a', xid: 'x1', qty: D(1) })], [[BTCTRY, ok()]], { filled: [['x1', D(1)]] });
    expect(d).toMatchObject([{ kind: 'set_state', to: 'filled', evidence: 'fills' }]);
  });

  it('a failed lookup asks again and changes nothing', () => {
    const d = run([tracked({ cid: 'a', xid: 'x1' })], [[BTCTRY, ok()]], { lookups: [['x1', { status: 'failed', error: 'timeout' }]] });
    expect(d).toMatchObject([{ kind: 'needs_lookup', reason: 'lookup_failed' }]);
  });

  it('defect 13: a pending submit found by client id is enriched and opened', () => {
    const d = run([tracked({ cid: 'p', xid: null, state: 'pending_submit' })], [[BTCTRY, ok(report({ id: 'ex-9', clientOrderId: 'p' }))]]);
    expect(d).toEqual([
      { kind: 'enrich_exchange_id', clientOrderId: 'p', exchangeOrderId: 'ex-9' },
      { kind: 'set_state', clientOrderId: 'p', exchangeOrderId: null, from: 'pending_submit', to: 'open', evidence: 'open_orders', leftQty: D(1) },
    ]);
  });

  it('an unknown submit not found within the visibility grace is looked up again; after it, unknown_closed', () => {
    const young = tracked({ cid: 'u', xid: null, state: 'unknown', createdAtMs: NOW - 5_000 });
    expect(run([young], [[BTCTRY, ok()]], { lookups: [['u', { status: 'not_found' }]] })).toMatchObject([{ kind: 'needs_lookup', lookupKey: 'u', reason: 'awaiting_visibility' }]);
    const old = { ...young, createdAtMs: NOW - 60_000 };
    expect(run([old], [[BTCTRY, ok()]], { lookups: [['u', { status: 'not_found' }]] })).toMatchObject([{ kind: 'set_state', from: 'unknown', to: 'unknown_closed' }]);
  });

  it('a partial fill seen in open orders moves open → partial with the remaining quantity', () => {
    const d = run([tracked({ cid: 'a', xid: 'x1' })], [[BTCTRY, ok(report({ id: 'x1', clientOrderId: 'a', status: 'partial', leftQty: '0.25' }))]]);
    expect(d).toMatchObject([{ kind: 'set_state', from: 'open', to: 'partial', leftQty: D('0.25') }]);
  });

  it('an order still listed while its cancel is pending stays cancel_requested', () => {
    expect(run([tracked({ cid: 'a', xid: 'x1', state: 'cancel_requested' })], [[BTCTRY, ok(report({ id: 'x1', clientOrderId: 'a' }))]])).toEqual([]);
  });

  it('a terminal order seen open again is an anomaly, not a silent reopen', () => {
    const d = run([tracked({ cid: 'a', xid: 'x1', state: 'filled' })], [[BTCTRY, ok(report({ id: 'x1', clientOrderId: 'a' }))]]);
    expect(d).toMatchObject([{ kind: 'anomaly', reason: 'illegal_transition', detail: { from: 'filled', event: 'seen_open' } }]);
  });

  it('an unknown_closed order that reappears is reopened from evidence', () => {
    const d = run([tracked({ cid: 'a', xid: 'x1', state: 'unknown_closed' })], [[BTCTRY, ok(report({ id: 'x1', clientOrderId: 'a' }))]]);
    expect(d).toMatchObject([{ kind: 'set_state', from: 'unknown_closed', to: 'open' }]);
  });

  it('dry-run: simulated orders absent from the exchange are never closed without a lookup', () => {
    const d = run([tracked({ cid: 'sim', xid: 'sim-sim', mode: 'dry_run' })], [[BTCTRY, ok()]]);
    expect(summarizeReconcile(d)).toMatchObject({ unknownClosed: 0, needsLookup: 1 });
  });

  it('property: no order on a symbol whose fetch failed ever changes state', () => {
    const states: OrderState[] = ['pending_submit', 'open', 'partial', 'cancel_requested', 'unknown', 'unknown_closed'];
    fc.assert(
      fc.property(
        fc.array(fc.record({ state: fc.constantFrom(...states), sym: fc.constantFrom(BTCTRY, ETHTRY), hasX: fc.boolean(), listed: fc.boolean(), lookup: fc.constantFrom('none', 'not_found', 'filled', 'failed') }), { maxLength: 8 }),
        fc.boolean(),
        (rows, btcFails) => {
          const orders = rows.map((r, i) => tracked({ cid: `c${i}`, xid: r.hasX ? `x${i}` : null, state: r.state, symbol: r.sym, createdAtMs: 0 }));
          const listed = (sym: PairSymbol) => rows.flatMap((r, i) => (r.listed && r.sym === sym ? [report({ id: `x${i}`, clientOrderId: `c${i}`, symbol: sym })] : []));
          const lookups: [string, OrderLookup][] = rows.flatMap((r, i): [string, OrderLookup][] => {
            const key = r.hasX ? `x${i}` : `c${i}`;
            if (r.lookup === 'not_found') return [[key, { status: 'not_found' }]];
            if (r.lookup === 'filled') return [[key, { status: 'found', report: report({ id: `x${i}`, status: 'filled', leftQty: '0' }) }]];
            if (r.lookup === 'failed') return [[key, { status: 'failed', error: 'x' }]];
            return [];
          });
          const d = run(orders, [[BTCTRY, btcFails ? { status: 'failed', error: 'down' } : ok(...listed(BTCTRY))], [ETHTRY, ok(...listed(ETHTRY))]], { lookups });
          const touched = new Set(d.flatMap((x) => ('clientOrderId' in x ? [x.clientOrderId] : [])));
          for (const o of orders) if (btcFails && o.symbol === BTCTRY) expect(touched.has(o.clientOrderId)).toBe(false);
          // unknown_closed only ever follows an explicit not_found lookup.
          for (const x of d) if (x.kind === 'set_state' && x.to === 'unknown_closed') expect(x.evidence).toBe('lookup_not_found');
        },
      ),
      { numRuns: 500 },
    );
  });
});
