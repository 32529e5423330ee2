import { describe, expect, it } from 'vitest';
import { applyFills } from '../../../src/domain/accounting.js';
import { parseTradingConfig } from '../../../src/domain/config.js';
import { DecimalParseError } from '../../../src/domain/decimal.js';
import { planLifecycle } from '../../../src/domain/lifecycle.js';
import { computePnlSnapshot } from '../../../src/domain/pnl.js';
import { InvalidSymbolError } from '../../../src/domain/types.js';
import {
  balanceFromWire,
  balanceToWire,
  fillFromWire,
  fillToWire,
  orderReportFromWire,
  orderReportToWire,
  plannedActionFromWire,
  plannedActionToWire,
  pnlSnapshotFromWire,
  pnlSnapshotToWire,
  positionFromWire,
  positionToWire,
  quoteFromWire,
  quoteToWire,
  rulesFromWire,
  rulesToWire,
  trackedOrderFromWire,
  trackedOrderToWire,
  tradingConfigFromWire,
  tradingConfigToWire,
} from '../../../src/domain/wire.js';
import { BTCTRY, D, fill, intent, report, rules, tracked } from './fixtures.js';

/** Through JSON, as a Temporal payload or a JSONB column would carry it. */
const viaJson = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

describe('wire forms', () => {
  it('a position round-trips exactly with decimal strings, never exponents', () => {
    const [p] = applyFills([], [fill({ id: '1', side: 'buy', price: '0.00000001', qty: '3', fee: '0.0000001' })], { marks: new Map() }).positions;
    const w = viaJson(positionToWire(p!));
    expect(w).toEqual({ symbol: 'BTCTRY', qty: '3', costBasisTry: '0.00000013', realizedPnlTry: '0', lastFillTsMs: 1000 });
    expect(positionFromWire(w)).toEqual(p);
  });

  it('fills, orders, reports, rules, quotes and balances round-trip through JSON', () => {
    const f = fill({ id: '1190000000000000007', side: 'sell', price: '3415000', qty: '0.004', fee: '6.83', tax: '1.366', clientOrderId: 'c' });
    expect(fillFromWire(viaJson(fillToWire(f)))).toEqual(f);
    const o = tracked({ cid: 'a', xid: null, leftQty: D('0.5') });
    expect(trackedOrderFromWire(viaJson(trackedOrderToWire(o)))).toEqual(o);
    const r = report({ id: 'x', clientOrderId: null, status: 'partial', leftQty: '0.1' });
    expect(orderReportFromWire(viaJson(orderReportToWire(r)))).toEqual(r);
    const ru = rules({ minPrice: D('0.0000000000001'), maxPrice: null });
    expect(rulesFromWire(viaJson(rulesToWire(ru)))).toEqual(ru);
    expect(rulesToWire(ru).minPrice).toBe('0.0000000000001');
    const q = { symbol: BTCTRY, bid: D(100), ask: null, tsMs: 5 };
    expect(quoteFromWire(viaJson(quoteToWire(q)))).toEqual(q);
    const b = { asset: 'TRY', free: D('11166.0336'), locked: D('4084.4064') };
    expect(balanceFromWire(viaJson(balanceToWire(b)))).toEqual(b);
  });

  it('planned submits and cancels round-trip', () => {
    const plan = planLifecycle({
      intents: [intent({ cid: 'n', price: '101', qty: '1' })],
      orders: [tracked({ cid: 'old', xid: 'x', createdAtMs: 0 })],
      mids: new Map(),
      nowMs: 1_000_000,
      params: { staleAfterMs: 1, staleDriftBps: D(25), dedupePriceBps: D(5), dedupeQtyRatio: D('0.01'), recoveryWindowMs: 7_200_000 },
    });
    expect(plan.actions).toHaveLength(2);
    for (const a of plan.actions) expect(plannedActionFromWire(viaJson(plannedActionToWire(a)))).toEqual(a);
  });

  it('a PnL snapshot round-trips', () => {
    const s = computePnlSnapshot({ nowMs: 1, positions: [], marks: new Map(), tryBalance: { free: D(1), locked: D(2) }, baselineRealizedTry: null, previousHighWaterMarkTry: D(4), utcOffsetMinutes: 180 });
    expect(pnlSnapshotFromWire(viaJson(pnlSnapshotToWire(s)))).toEqual(s);
  });

  it('the trading config round-trips as the workflow input form', () => {
    const c = parseTradingConfig({ SYMBOLS: 'btc_try', FEE_BPS_TAKER: '12.5' });
    const w = viaJson(tradingConfigToWire(c));
    expect(w.feeBpsTaker).toBe('12.5');
    expect(tradingConfigFromWire(w)).toEqual(c);
  });

  it('a corrupted row fails loudly instead of becoming NaN or a wrong symbol', () => {
    const w = positionToWire(applyFills([], [fill({ id: '1', side: 'buy', price: '1', qty: '1' })], { marks: new Map() }).positions[0]!);
    expect(() => positionFromWire({ ...w, qty: '1e-7' })).toThrow(DecimalParseError);
    expect(() => positionFromWire({ ...w, symbol: 'BTC TRY' })).toThrow(InvalidSymbolError);
  });
});
