import { describe, expect, it } from 'vitest';
import { emptyPosition, type Position } from '../../../src/domain/accounting.js';
import { parseTradingConfig } from '../../../src/domain/config.js';
import type { CancelAction, PlannedAction, SubmitAction } from '../../../src/domain/lifecycle.js';
import {
  countDecisions,
  evaluateRisk,
  feeHeadroomBps,
  formatRiskDecision,
  minSellPrice,
  riskLimits,
  spendableTry,
  type RiskInput,
  type RiskLimits,
  paperTryBalance,
} from '../../../src/domain/risk.js';
import { asClientOrderId, asExchangeOrderId, type Side } from '../../../src/domain/types.js';
import { BTCTRY, D, ETHTRY, tracked } from './fixtures.js';

const limits: RiskLimits = riskLimits({
  ...parseTradingConfig({}),
  maxOpenOrders: 5,
  tryCashTarget: D(0),
  tryCashMax: D(1_000_000),
});

function submit(cid: string, side: Side, price: string, qty: string, symbol = BTCTRY): SubmitAction {
  return { kind: 'submit', clientOrderId: asClientOrderId(cid), symbol, side, price: D(price), qty: D(qty), reason: 'new_intent', afterCancelOf: [] };
}
function cancel(cid: string): CancelAction {
  return { kind: 'cancel', clientOrderId: asClientOrderId(cid), exchangeOrderId: asExchangeOrderId(`x-${cid}`), symbol: BTCTRY, side: 'buy', price: D(100), qty: D(1), reason: 'stale', detail: {} };
}
function run(actions: PlannedAction[], over: Partial<RiskInput> = {}) {
  return evaluateRisk({
    actions,
    limits,
    openOrders: [],
    positions: [],
    marks: new Map(),
    pnl: { realizedTodayTry: D(0), drawdownPct: D(0) },
    tryBalance: { free: D(100_000), locked: D(0) },
    ...over,
  });
}
const held = (qty: string, avg: string): Position => ({ ...emptyPosition(BTCTRY), qty: D(qty), costBasisTry: D(qty).mul(avg) });

describe('risk: sell profit floor', () => {
  it('§18 services test 5: fee 10 + slippage 10 + profit 20 bps on avg 100 needs 100.4, so a sell at 100.2 is rejected', () => {
    const l = { ...limits, feeBpsTaker: D(10), slippageBpsBuffer: D(10), minProfitBps: D(20) };
    const r = run([submit('s', 'sell', '100.2', '1')], { limits: l, positions: [held('1', '100')] });
    expect(r.accepted).toEqual([]);
    expect(r.decisions[0]).toMatchObject({ reason: 'min_profit_threshold', detail: { price: '100.2', min_price: '100.4' } });
  });

  it('with the defaults (15 + 10 + 30 bps) the floor on avg 100 is 100.55', () => {
    expect(minSellPrice(D(100), limits).toFixed()).toBe('100.55');
    expect(run([submit('s', 'sell', '100.55', '1')], { positions: [held('1', '100')] }).decisions[0]?.reason).toBe('accepted');
  });

  it('defect 16: the profit floor finds the position by canonical symbol', () => {
    const r = run([submit('s', 'sell', '90', '1')], { positions: [held('1', '100')] });
    expect(r.decisions[0]?.reason).toBe('min_profit_threshold');
  });

  it('a sell beyond the free position (held minus working sells) is insufficient_position', () => {
    const r = run([submit('s', 'sell', '200', '0.6')], {
      positions: [held('1', '100')],
      openOrders: [tracked({ cid: 'o', side: 'sell', qty: D('0.5'), price: D(200) })],
    });
    expect(r.decisions[0]).toMatchObject({ reason: 'insufficient_position', detail: { qty: '0.6', available: '0.5' } });
  });
});

describe('risk: open orders and notional', () => {
  it('§10.4: MAX_OPEN_ORDERS 2 with 1 open and 3 submits accepts the first and rejects the others', () => {
    const r = run([submit('a', 'buy', '100', '1'), submit('b', 'buy', '100', '1'), submit('c', 'buy', '100', '1')], {
      limits: { ...limits, maxOpenOrders: 2 },
      openOrders: [tracked({ cid: 'o' })],
    });
    expect(r.decisions.map((d) => d.reason)).toEqual(['accepted', 'max_open_orders', 'max_open_orders']);
  });

  it('defect 15: a cancel in the same cycle does not free a slot before it is confirmed (worst case)', () => {
    const r = run([cancel('o'), submit('a', 'buy', '100', '1'), submit('b', 'buy', '100', '1')], {
      limits: { ...limits, maxOpenOrders: 2 },
      openOrders: [tracked({ cid: 'o' })],
    });
    expect(r.decisions.map((d) => d.reason)).toEqual(['accepted', 'accepted', 'max_open_orders']);
  });

  it('defect 17: external orders count toward the open-order limit', () => {
    const r = run([submit('a', 'buy', '100', '1')], {
      limits: { ...limits, maxOpenOrders: 1 },
      openOrders: [tracked({ cid: 'ext', mode: 'external' })],
    });
    expect(r.decisions[0]?.reason).toBe('max_open_orders');
  });

  it('§10.4: notional cap 5,000 with 4,980 held rejects a 50 TRY buy', () => {
    const r = run([submit('a', 'buy', '50', '1')], {
      limits: { ...limits, maxPositionNotionalTry: D(5000) },
      positions: [held('49.8', '100')],
      marks: new Map([[BTCTRY, D(100)]]),
    });
    expect(r.decisions[0]).toMatchObject({ reason: 'max_position_notional_try', detail: { projected_try: '5030', limit: '5000' } });
  });

  it('buys a quarantine holds before the cursor count as exposure (at the mark, at their cost when unmarked), though no position has them yet', () => {
    const base = { limits: { ...limits, maxPositionNotionalTry: D(5000) }, marks: new Map([[BTCTRY, D(100)]]) };
    const held = [{ symbol: BTCTRY, qty: D('49.8'), costTry: D(4000) }];
    expect(run([submit('a', 'buy', '50', '1', ETHTRY)], base).decisions[0]?.reason).toBe('accepted');
    expect(run([submit('a', 'buy', '50', '1', ETHTRY)], { ...base, heldBuys: held }).decisions[0]).toMatchObject({
      reason: 'max_position_notional_try', detail: { projected_try: '5030' },
    });
    const unmarked = run([submit('a', 'buy', '50', '1', ETHTRY)], { ...base, marks: new Map(), heldBuys: held });
    expect(unmarked.decisions[0]).toMatchObject({ reason: 'accepted' }); // 4,000 + 50 under the cap: the cost counts
    expect(run([submit('a', 'buy', '1001', '1', ETHTRY)], { ...base, marks: new Map(), heldBuys: held }).decisions[0]?.reason).toBe('max_position_notional_try');
  });

  it('defect 17: open buy orders count as exposure', () => {
    const r = run([submit('a', 'buy', '100', '1')], {
      limits: { ...limits, maxPositionNotionalTry: D(150) },
      openOrders: [tracked({ cid: 'o', price: D(100), qty: D(1), leftQty: D('0.6') })],
    });
    expect(r.decisions[0]).toMatchObject({ reason: 'max_position_notional_try', detail: { projected_try: '160' } });
  });

  it('defect 17: a rejected sell does not lower projected exposure for a later buy', () => {
    const r = run([submit('s', 'sell', '50', '1'), submit('b', 'buy', '100', '1')], {
      limits: { ...limits, maxPositionNotionalTry: D(150) },
      positions: [held('1', '100')],
      marks: new Map([[BTCTRY, D(100)]]),
    });
    expect(r.decisions.map((d) => d.reason)).toEqual(['min_profit_threshold', 'max_position_notional_try']);
  });
});

describe('risk: cash reserve and cap', () => {
  it('spendable TRY is min(free, TRY_CASH_MAX − locked) − TRY_CASH_TARGET, never negative', () => {
    const l = { ...limits, tryCashTarget: D(300), tryCashMax: D(600) };
    expect(spendableTry({ free: D(1000), locked: D(0) }, l).toFixed()).toBe('300');
    expect(spendableTry({ free: D(1000), locked: D(200) }, l).toFixed()).toBe('100');
    expect(spendableTry({ free: D(450), locked: D(0) }, l).toFixed()).toBe('150');
    expect(spendableTry({ free: D(100), locked: D(0) }, l).toFixed()).toBe('0');
  });

  it('defect 17: cash is decremented per accepted buy so one TRY is not budgeted twice', () => {
    // 3 × 100 TRY buys with 250 spendable: the third does not fit (fee headroom 18 bps = 15 × 1.2).
    const l = { ...limits, tryCashTarget: D(300), tryCashMax: D(550) };
    const r = run([submit('a', 'buy', '100', '1'), submit('b', 'buy', '100', '1', ETHTRY), submit('c', 'buy', '50', '1')], {
      limits: l,
      tryBalance: { free: D(1000), locked: D(0) },
    });
    expect(feeHeadroomBps(l).toFixed()).toBe('18');
    expect(r.decisions.map((d) => d.reason)).toEqual(['accepted', 'accepted', 'insufficient_try_cash']);
    expect(r.decisions[2]?.detail).toEqual({ cost_try: '50.09', spendable_try: '49.64', reserve_try: '300' });
  });
});

describe('risk: loss limits and trading state', () => {
  const loss = { realizedTodayTry: D(-1000), drawdownPct: D(0) };

  it('realized today at −MAX_DAILY_LOSS_TRY switches to reduce-only: buys rejected max_daily_loss', () => {
    const r = run([submit('b', 'buy', '100', '1')], { pnl: loss });
    expect(r.tradingState).toBe('reduce_only');
    expect(r.decisions[0]).toMatchObject({ reason: 'max_daily_loss', detail: { realized_today_try: '-1000', limit: '1000' } });
  });

  it('defect 6: loss limits never block cancels', () => {
    const r = run([cancel('a'), cancel('b')], { pnl: { realizedTodayTry: D(-5000), drawdownPct: D(70) } });
    expect(r.decisions.every((d) => d.accepted)).toBe(true);
    expect(r.accepted).toHaveLength(2);
  });

  it('reduce-only still allows a profitable sell', () => {
    const r = run([submit('s', 'sell', '120', '1')], { pnl: { realizedTodayTry: D(0), drawdownPct: D(10) }, positions: [held('1', '100')] });
    expect(r.tradingState).toBe('reduce_only');
    expect(r.tradingStateReason).toBe('max_drawdown');
    expect(r.decisions[0]?.reason).toBe('accepted');
  });

  it('a symbol with an unconvertible fee accepts no buys', () => {
    const r = run([submit('b', 'buy', '100', '1'), submit('e', 'buy', '100', '1', ETHTRY)], { symbolLimits: new Map([[BTCTRY, { reason: 'fee_conversion_missing' as const }]]) });
    expect(r.decisions.map((d) => d.reason)).toEqual(['fee_conversion_missing', 'accepted']);
  });

  it('balance drift on a symbol blocks its buys, not its sells or other symbols', () => {
    const r = run([submit('b', 'buy', '100', '1'), submit('s', 'sell', '120', '1'), submit('e', 'buy', '100', '1', ETHTRY)], {
      positions: [held('1', '100')],
      symbolLimits: new Map([[BTCTRY, { reason: 'balance_drift' as const, detail: { asset: 'BTC' } }]]),
    });
    expect(r.decisions.map((d) => d.reason)).toEqual(['balance_drift', 'accepted', 'accepted']);
    expect(r.decisions[0]!.detail).toEqual({ symbol: 'BTCTRY', asset: 'BTC' });
  });

  it('a quarantined symbol gets no submit of either side; its cancels and other symbols go on', () => {
    const r = run([cancel('a'), submit('b', 'buy', '100', '1'), submit('s', 'sell', '120', '1'), submit('e', 'buy', '100', '1', ETHTRY)], {
      positions: [held('1', '100')],
      symbolLimits: new Map([[BTCTRY, { reason: 'quarantined' as const }]]),
    });
    expect(r.decisions.map((d) => d.reason)).toEqual(['accepted', 'quarantined', 'quarantined', 'accepted']);
  });

  it('without a balance this cycle: no buys, sells and cancels still pass', () => {
    const r = run([cancel('a'), submit('b', 'buy', '100', '1'), submit('s', 'sell', '120', '1')], { tryBalance: null, positions: [held('1', '100')] });
    expect(r.decisions.map((d) => d.reason)).toEqual(['accepted', 'balance_unavailable', 'accepted']);
  });

  it('a halt rejects every submit and still lets cancels through', () => {
    const r = run([cancel('a'), submit('b', 'buy', '100', '1')], { halted: true });
    expect(r.tradingState).toBe('halted');
    expect(r.decisions.map((d) => d.reason)).toEqual(['accepted', 'halted']);
  });
});

describe('risk: counting', () => {
  it('defect 12: rejected_by_risk is counted from the decisions, not from strings', () => {
    const r = run([submit('a', 'buy', '100', '1'), submit('b', 'buy', '100', '1')], { limits: { ...limits, maxOpenOrders: 1 } });
    expect(r.counts).toEqual({ accepted: 1, rejected: 1, byReason: { accepted: 1, max_open_orders: 1 } });
    expect(countDecisions(r.decisions)).toEqual(r.counts);
    expect(r.decisions.map(formatRiskDecision)).toEqual(['risk:a:accepted', 'risk:b:max_open_orders open=1 limit=1']);
  });
});

describe('paperTryBalance', () => {
  it('locks what working simulated buys hold (price × left qty) and frees the rest of the budget', () => {
    const orders = [
      tracked({ cid: 'a', mode: 'dry_run', price: D(100), qty: D(2), leftQty: D('0.5') }), // holds 50
      tracked({ cid: 'b', mode: 'dry_run', price: D(200), qty: D(1), state: 'filled', leftQty: D(0) }), // closed
      tracked({ cid: 'c', mode: 'dry_run', side: 'sell', price: D(300), qty: D(1) }), // a sell locks base, not TRY
    ];
    const b = paperTryBalance(D(1000), orders);
    expect([b.free.toFixed(), b.locked.toFixed()]).toEqual(['950', '50']);
  });

  it('never reports negative free cash', () => {
    const b = paperTryBalance(D(10), [tracked({ mode: 'dry_run', price: D(100), qty: D(1) })]);
    expect([b.free.toFixed(), b.locked.toFixed()]).toEqual(['0', '100']);
  });
});
