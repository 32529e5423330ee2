// Exchange rules and quantization. Prices and quantities are rounded DOWN onto the exchange grid
// (a buy never pays more, a sell never offers more than asked); an order that rounds to zero or
// falls under the minimum total is rejected with a reason instead of being sent.
import { Decimal, toDecimalString } from './decimal.js';
import type { Detail } from './errors.js';
import type { ExchangeRules } from './types.js';

export type RuleRejectReason =
  | 'symbol_not_tradable'
  | 'invalid_price'
  | 'invalid_qty'
  | 'price_rounds_to_zero'
  | 'qty_rounds_to_zero'
  | 'price_below_min'
  | 'price_above_max'
  | 'min_notional_violation'
  | 'insufficient_budget';

export interface RuleRejection {
  readonly ok: false;
  readonly reason: RuleRejectReason;
  readonly detail: Detail;
}

export interface QuantizedOrder {
  readonly ok: true;
  readonly price: Decimal;
  readonly qty: Decimal;
  readonly notional: Decimal;
}

export type QuantizeResult = QuantizedOrder | RuleRejection;

const TEN = new Decimal(10);
const BPS = new Decimal(10_000);

/** Price grid: the coarser of tickSize and the price scale (BTCTurk enforces both). */
export function priceIncrement(rules: ExchangeRules): Decimal {
  const scale = TEN.pow(-rules.pricePrecision);
  return rules.tickSize.gt(0) ? Decimal.max(rules.tickSize, scale) : scale;
}

/** Quantity grid: the coarser of stepSize and numeratorScale. */
export function qtyIncrement(rules: ExchangeRules): Decimal {
  const scale = TEN.pow(-rules.qtyPrecision);
  return rules.stepSize.gt(0) ? Decimal.max(rules.stepSize, scale) : scale;
}

export function floorTo(x: Decimal, increment: Decimal): Decimal {
  return x.div(increment).floor().mul(increment);
}

export function ceilTo(x: Decimal, increment: Decimal): Decimal {
  return x.div(increment).ceil().mul(increment);
}

export function quantizePrice(price: Decimal, rules: ExchangeRules): Decimal {
  return floorTo(price, priceIncrement(rules));
}

export function quantizeQty(qty: Decimal, rules: ExchangeRules): Decimal {
  return floorTo(qty, qtyIncrement(rules));
}

function reject(reason: RuleRejectReason, detail: Record<string, string>): RuleRejection {
  return { ok: false, reason, detail: { ...detail } };
}

const s = toDecimalString;

/** Checks that do not depend on quantity: tradable, positive on-grid price inside the band. */
function quantizePriceChecked(price: Decimal, rules: ExchangeRules): Decimal | RuleRejection {
  if (!rules.tradable) return reject('symbol_not_tradable', { symbol: rules.symbol });
  if (!price.isFinite() || price.lte(0)) return reject('invalid_price', { price: s(price) });
  const p = quantizePrice(price, rules);
  if (p.lte(0)) return reject('price_rounds_to_zero', { price: s(price), tick: s(priceIncrement(rules)) });
  if (rules.minPrice !== null && p.lt(rules.minPrice)) {
    return reject('price_below_min', { price: s(p), min_price: s(rules.minPrice) });
  }
  if (rules.maxPrice !== null && p.gt(rules.maxPrice)) {
    return reject('price_above_max', { price: s(p), max_price: s(rules.maxPrice) });
  }
  return p;
}

/** Round price and qty down onto the grid and check every rule; rejections carry a reason code. */
export function quantizeOrder(
  order: { readonly price: Decimal; readonly qty: Decimal },
  rules: ExchangeRules,
): QuantizeResult {
  const p = quantizePriceChecked(order.price, rules);
  if (!(p instanceof Decimal)) return p;
  if (!order.qty.isFinite() || order.qty.lte(0)) return reject('invalid_qty', { qty: s(order.qty) });
  const q = quantizeQty(order.qty, rules);
  if (q.lte(0)) return reject('qty_rounds_to_zero', { qty: s(order.qty), step: s(qtyIncrement(rules)) });
  const notional = p.mul(q);
  if (notional.lt(rules.minNotional)) {
    return reject('min_notional_violation', { notional: s(notional), min_notional: s(rules.minNotional) });
  }
  return { ok: true, price: p, qty: q, notional };
}

/** True when an order already sits on the grid and passes every rule (used to verify, not to fix). */
export function satisfiesRules(price: Decimal, qty: Decimal, rules: ExchangeRules): boolean {
  const r = quantizeOrder({ price, qty }, rules);
  return r.ok && r.price.eq(price) && r.qty.eq(qty);
}

/** Quote cost of a buy including the fee headroom the exchange locks (BTCTurk Q16). */
export function buyCost(notional: Decimal, feeHeadroomBps: Decimal): Decimal {
  return notional.mul(BPS.add(feeHeadroomBps)).div(BPS);
}

/**
 * Size a limit buy at `price` for about `targetNotional`. When the target is below the exchange's
 * minimum total, the quantity is rounded UP to the step that meets it (defect 9: the original's
 * 50 TRY bootstrap always fell under BTCTurk's ~100 TRY minimum). The result never costs more than
 * `budget` (fee headroom included); when even the minimum does not fit, it is rejected.
 */
export function sizeBuy(
  args: {
    readonly price: Decimal;
    readonly targetNotional: Decimal;
    readonly budget: Decimal;
    readonly feeHeadroomBps?: Decimal;
  },
  rules: ExchangeRules,
): QuantizeResult {
  const p = quantizePriceChecked(args.price, rules);
  if (!(p instanceof Decimal)) return p;
  const step = qtyIncrement(rules);
  const fee = args.feeHeadroomBps ?? new Decimal(0);
  let wanted = floorTo(Decimal.max(args.targetNotional, 0).div(p), step);
  if (wanted.lte(0) || p.mul(wanted).lt(rules.minNotional)) {
    wanted = Decimal.max(ceilTo(rules.minNotional.div(p), step), step);
  }
  const affordable = args.budget.gt(0) ? floorTo(args.budget.mul(BPS).div(p.mul(BPS.add(fee))), step) : new Decimal(0);
  const q = Decimal.min(wanted, affordable);
  const notional = p.mul(q);
  if (q.lte(0) || notional.lt(rules.minNotional)) {
    return reject('insufficient_budget', {
      required: s(buyCost(p.mul(wanted), fee)),
      budget: s(args.budget),
      min_notional: s(rules.minNotional),
    });
  }
  return { ok: true, price: p, qty: q, notional };
}

