// The worker's own rule for every exchange write, whoever scheduled it. Workflow code decides what
// a cycle trades, but any workflow in the namespace can schedule btcbot's write activity on its
// task queue with an order of its choosing; so the activity boundary re-checks each order against
// the worker's configuration before anything is recorded or sent. Pure: the activity shell passes
// the worker's config and, for a sell or a cancel, what the store says we hold.
//
// The rule, and why each part needs no trust in the caller:
// - submit: the symbol is one of the worker's SYMBOLS; price and quantity are positive.
// - buy: its notional (price × qty) is at most MAX_POSITION_NOTIONAL_TRY. The risk step never
//   accepts a buy that would take the position past that cap, so no buy the bot plans is larger.
// - sell: we hold at least that quantity, and the price is not below the position's minimum sell
//   price (average cost plus fees, slippage buffer and MIN_PROFIT_BPS), as the risk step requires.
//   A sell is bounded by what it gives away, not by its notional: a sell at a tenth of the market
//   has a small notional.
// - cancel: the order is one of ours (a tracked live or dry-run row, not an imported external
//   order) with the same exchange order id and symbol. Not limited to SYMBOLS: an order placed
//   before SYMBOLS changed must stay cancellable.
import { avgCostTry, type Position } from './accounting.js';
import { Decimal } from './decimal.js';
import type { Detail } from './errors.js';
import type { CancelAction, SubmitAction, TrackedOrder } from './lifecycle.js';
import { minSellPrice, type RiskLimits } from './risk.js';
import type { PairSymbol } from './types.js';

export type WriteRefusalCode =
  | 'malformed_action'
  | 'symbol_not_configured'
  | 'invalid_price_or_qty'
  | 'order_notional_over_cap'
  | 'sell_over_position'
  | 'sell_below_floor'
  | 'not_our_order';

export interface WriteRefusal {
  readonly code: WriteRefusalCode;
  readonly detail: Detail;
}

export interface WriteGuardConfig {
  readonly symbols: readonly PairSymbol[];
  readonly limits: RiskLimits;
}

const s = (d: Decimal): string => d.toFixed();

/** Why the worker refuses this submit, or null. A sell needs `position` (what the store holds for its symbol). */
export function refuseSubmit(a: SubmitAction, config: WriteGuardConfig, position: Position | null): WriteRefusal | null {
  if (!config.symbols.includes(a.symbol)) {
    return { code: 'symbol_not_configured', detail: { symbol: a.symbol } };
  }
  if (a.side !== 'buy' && a.side !== 'sell') return { code: 'malformed_action', detail: { side: String(a.side) } };
  if (!a.price.isFinite() || !a.qty.isFinite() || a.price.lte(0) || a.qty.lte(0)) {
    return { code: 'invalid_price_or_qty', detail: { price: s(a.price), qty: s(a.qty) } };
  }
  if (a.side === 'buy') {
    const notional = a.price.mul(a.qty);
    const cap = config.limits.maxPositionNotionalTry;
    return notional.gt(cap) ? { code: 'order_notional_over_cap', detail: { notional_try: s(notional), limit: s(cap) } } : null;
  }
  const held = position?.qty ?? new Decimal(0);
  if (position === null || a.qty.gt(held)) return { code: 'sell_over_position', detail: { qty: s(a.qty), held: s(held) } };
  const floor = minSellPrice(avgCostTry(position), config.limits);
  return a.price.lt(floor) ? { code: 'sell_below_floor', detail: { price: s(a.price), min_price: s(floor) } } : null;
}

/** Why the worker refuses this cancel, or null. `own` is our row for the action's exchange order id (else its client order id). */
export function refuseCancel(a: CancelAction, own: TrackedOrder | null): WriteRefusal | null {
  const ours =
    own !== null &&
    own.mode !== 'external' &&
    own.exchangeOrderId === a.exchangeOrderId &&
    own.clientOrderId === a.clientOrderId && // the row the cancel will update is the order it cancels
    own.symbol === a.symbol;
  return ours ? null : { code: 'not_our_order', detail: { exchange_order_id: a.exchangeOrderId, client_order_id: a.clientOrderId ?? 'none' } };
}
