import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { emptyPosition, type Position } from '../../../src/domain/accounting.js';
import { parseTradingConfig } from '../../../src/domain/config.js';
import type { CancelAction, SubmitAction } from '../../../src/domain/lifecycle.js';
import { evaluateRisk, riskLimits } from '../../../src/domain/risk.js';
import { asClientOrderId, asExchangeOrderId, type Side } from '../../../src/domain/types.js';
import { refuseCancel, refuseSubmit, type WriteGuardConfig } from '../../../src/domain/write-guard.js';
import { BTCTRY, D, ETHTRY, tracked } from './fixtures.js';

// The worker configures BTC_TRY only; MAX_POSITION_NOTIONAL_TRY 5000 (the default).
const workerConfig = parseTradingConfig({ SYMBOLS: 'BTC_TRY' });
const config: WriteGuardConfig = { symbols: workerConfig.symbols, limits: riskLimits(workerConfig) };

function submit(side: Side, price: string, qty: string, symbol = BTCTRY): SubmitAction {
  return { kind: 'submit', clientOrderId: asClientOrderId('c1'), symbol, side, price: D(price), qty: D(qty), reason: 'new_intent', afterCancelOf: [] };
}
const held = (qty: string, avg: string): Position => ({ ...emptyPosition(BTCTRY), qty: D(qty), costBasisTry: D(qty).mul(avg) });

describe('write guard: submits', () => {
  it('refuses a symbol the worker does not configure, whatever the order (the rogue ETHTRY sell)', () => {
    expect(refuseSubmit(submit('sell', '12000', '1.5', ETHTRY), config, null)).toEqual({ code: 'symbol_not_configured', detail: { symbol: 'ETHTRY' } });
    expect(refuseSubmit(submit('buy', '100', '0.01', ETHTRY), config, null)?.code).toBe('symbol_not_configured');
  });

  it('refuses a buy whose notional is over MAX_POSITION_NOTIONAL_TRY, and passes one at the cap', () => {
    expect(refuseSubmit(submit('buy', '3400000', '0.0015', BTCTRY), config, null)).toEqual({
      code: 'order_notional_over_cap', detail: { notional_try: '5100', limit: '5000' },
    });
    expect(refuseSubmit(submit('buy', '100000', '0.05'), config, null)).toBeNull();
  });

  it('refuses zero or negative prices and quantities', () => {
    expect(refuseSubmit(submit('buy', '0', '1'), config, null)?.code).toBe('invalid_price_or_qty');
    expect(refuseSubmit(submit('buy', '100', '-1'), config, null)?.code).toBe('invalid_price_or_qty');
  });

  it('refuses a sell of more than the position holds, or with no position', () => {
    expect(refuseSubmit(submit('sell', '3500000', '0.002'), config, null)).toEqual({ code: 'sell_over_position', detail: { qty: '0.002', held: '0' } });
    expect(refuseSubmit(submit('sell', '3500000', '0.002'), config, held('0.001', '3400000'))?.code).toBe('sell_over_position');
  });

  it('refuses a sell below the position\'s minimum sell price (a tenth of the market), passes one at the floor', () => {
    // Defaults: taker 15 + slippage 10 + profit 30 bps over an average cost of 100 000: floor 100 550.
    expect(refuseSubmit(submit('sell', '10000', '1'), config, held('1', '100000'))).toEqual({
      code: 'sell_below_floor', detail: { price: '10000', min_price: '100550' },
    });
    expect(refuseSubmit(submit('sell', '100550', '1'), config, held('1', '100000'))).toBeNull();
  });

  it('never refuses a submit the risk step accepts for a configured symbol', () => {
    const accepted = { buy: 0, sell: 0 };
    fc.assert(
      fc.property(
        fc.constantFrom<Side>('buy', 'sell'),
        fc.integer({ min: 1, max: 10_000_000 }),
        fc.integer({ min: 1, max: 100_000 }),
        fc.integer({ min: 0, max: 100_000 }),
        fc.integer({ min: 1, max: 10_000_000 }),
        (side, price, qtyMilli, heldMilli, avg) => {
          const action = submit(side, String(price), D(qtyMilli).div(1000).toFixed());
          const position = held(D(heldMilli).div(1000).toFixed(), String(avg));
          const risk = evaluateRisk({
            actions: [action], limits: config.limits, openOrders: [], positions: [position], marks: new Map([[BTCTRY, D(price)]]),
            pnl: { realizedTodayTry: D(0), drawdownPct: D(0) }, tryBalance: { free: D(1e12), locked: D(0) },
          });
          if (risk.accepted.length === 0) return;
          accepted[side] += 1;
          expect(refuseSubmit(action, config, position)).toBeNull();
        },
      ),
      { numRuns: 500 },
    );
    expect(accepted.buy).toBeGreaterThan(0); // the property was exercised on both sides
    expect(accepted.sell).toBeGreaterThan(0);
  });
});

describe('write guard: cancels', () => {
  const cancel = (p: Partial<CancelAction> = {}): CancelAction => ({
    kind: 'cancel', clientOrderId: asClientOrderId('c1'), exchangeOrderId: asExchangeOrderId('x1'), symbol: ETHTRY, side: 'buy',
    price: D(100), qty: D(1), reason: 'halt_cancel', detail: {}, ...p,
  });

  it('passes a cancel of our own tracked order, also on a symbol no longer in SYMBOLS', () => {
    expect(refuseCancel(cancel(), tracked({ cid: 'c1', xid: 'x1', symbol: ETHTRY, mode: 'live' }))).toBeNull();
    expect(refuseCancel(cancel(), tracked({ cid: 'c1', xid: 'x1', symbol: ETHTRY, mode: 'dry_run' }))).toBeNull();
  });

  it('refuses a cancel that names no row of ours, an external order, or another exchange order id than our row\'s', () => {
    expect(refuseCancel(cancel(), null)?.code).toBe('not_our_order');
    expect(refuseCancel(cancel({ clientOrderId: null }), null)?.code).toBe('not_our_order');
    expect(refuseCancel(cancel(), tracked({ cid: 'c1', xid: 'x1', symbol: ETHTRY, mode: 'external' }))?.code).toBe('not_our_order');
    expect(refuseCancel(cancel({ exchangeOrderId: asExchangeOrderId('operator-order') }), tracked({ cid: 'c1', xid: 'x1', symbol: ETHTRY, mode: 'live' }))).toEqual({
      code: 'not_our_order', detail: { exchange_order_id: 'operator-order', client_order_id: 'c1' },
    });
  });

  it('refuses a cancel pairing one of our client ids with another of our orders (it would cancel one and mark the other)', () => {
    // The row is found by the exchange id (x1 is our c2's order); the action says c1.
    expect(refuseCancel(cancel(), tracked({ cid: 'c2', xid: 'x1', symbol: ETHTRY, mode: 'live' }))?.code).toBe('not_our_order');
    // A duplicate (our row without a client id) is cancelled by its exchange id alone.
    expect(refuseCancel(cancel({ clientOrderId: null }), tracked({ cid: null, xid: 'x1', symbol: ETHTRY, mode: 'live' }))).toBeNull();
  });
});
