// Shared vocabulary of the engine. Money and quantities are Decimal here and decimal strings at
// every boundary (Temporal payloads, JSON, DB). Identifiers are branded strings so a client order
// id can never be passed where an exchange order id is expected.
import { Decimal } from 'decimal.js';

export type Brand<T, B extends string> = T & { readonly __brand: B };

/** Canonical pair symbol: upper-case, no separator, e.g. `BTCTRY`. Made only by `toPairSymbol`. */
export type PairSymbol = Brand<string, 'PairSymbol'>;
/** Our deterministic id for an order (BTCTurk `newOrderClientId` / `orderClientId`, ≤ 50 chars). */
export type ClientOrderId = Brand<string, 'ClientOrderId'>;
/** The exchange's order id (an int64 on BTCTurk, kept as a string). */
export type ExchangeOrderId = Brand<string, 'ExchangeOrderId'>;
/** The exchange's trade id (int64 > 2^53 on BTCTurk, kept as a string) or a derived hash. */
export type FillId = Brand<string, 'FillId'>;

export type Side = 'buy' | 'sell';

export class InvalidSymbolError extends Error {
  override name = 'InvalidSymbolError';
}

const SYMBOL_PATTERN = /^[A-Z0-9]{2,20}$/;

/** The one conversion into the canonical form: `btc_try`, `BTC_TRY`, ` BtcTry ` → `BTCTRY`. */
export function toPairSymbol(raw: string): PairSymbol {
  const canonical = raw.trim().toUpperCase().replace(/[_\-/]/g, '');
  if (!SYMBOL_PATTERN.test(canonical)) {
    throw new InvalidSymbolError(`invalid pair symbol ${JSON.stringify(raw)}`);
  }
  return canonical as PairSymbol;
}

export const asClientOrderId = (s: string): ClientOrderId => s as ClientOrderId;
export const asExchangeOrderId = (s: string): ExchangeOrderId => s as ExchangeOrderId;
export const asFillId = (s: string): FillId => s as FillId;

/** Trading rules of one pair, parsed from exchange info. */
export interface ExchangeRules {
  readonly symbol: PairSymbol;
  readonly base: string; // numerator, e.g. BTC
  readonly quote: string; // denominator, e.g. TRY
  readonly tradable: boolean; // status === TRADING
  /** Price granularity: max(tickSize, 10^-pricePrecision), integer when the pair has no fraction. */
  readonly tickSize: Decimal;
  /** Quantity granularity: 10^-qtyPrecision (BTCTurk has no separate step filter). */
  readonly stepSize: Decimal;
  /** Minimum order total in quote currency (minExchangeValue). */
  readonly minNotional: Decimal;
  readonly pricePrecision: number; // denominatorScale
  readonly qtyPrecision: number; // numeratorScale
  readonly minPrice: Decimal | null;
  readonly maxPrice: Decimal | null;
}

export type ExchangeOrderStatus = 'open' | 'partial' | 'filled' | 'canceled';

/** Venue truth about one order (BTCTurk order row). */
export interface OrderStatusReport {
  readonly exchangeOrderId: ExchangeOrderId;
  readonly clientOrderId: ClientOrderId | null;
  readonly symbol: PairSymbol;
  readonly side: Side;
  readonly price: Decimal;
  readonly qty: Decimal; // original quantity
  readonly leftQty: Decimal; // remaining quantity
  readonly status: ExchangeOrderStatus;
  readonly createdAtMs: number; // 0 when the venue does not say (BTCTurk openOrders)
  readonly updatedAtMs: number;
}

/** Venue truth about one fill, normalised: positive quantity, positive costs. */
export interface FillReport {
  readonly fillId: FillId;
  /** Null when the row did not say (BTCTurk's 2018 documented rows carry no orderId). */
  readonly exchangeOrderId: ExchangeOrderId | null;
  readonly clientOrderId: ClientOrderId | null;
  readonly symbol: PairSymbol;
  readonly side: Side;
  readonly price: Decimal;
  readonly qty: Decimal; // > 0
  readonly fee: Decimal; // >= 0, in feeAsset
  readonly tax: Decimal; // >= 0, in feeAsset (Turkish VAT on the fee)
  readonly feeAsset: string;
  readonly tsMs: number;
}

/**
 * A trade row the venue sent that could not be read (an unknown orderType, a broken amount): never
 * skipped silently, since it may move the position. Held before the cursor until it is resolved.
 */
export interface UnreadableTradeReport {
  /** The row's trade id, or `row-<hash of the row>` when even that is unreadable (stable across polls). */
  readonly tradeId: FillId;
  /** Its timestamp when readable: fills from then on are held with it. */
  readonly tsMs: number | null;
  /** What was wrong, naming the field. */
  readonly reason: string;
}

export interface BalanceReport {
  readonly asset: string;
  readonly free: Decimal;
  readonly locked: Decimal;
}

/** Top of book for a mark price. */
export interface MarketQuote {
  readonly symbol: PairSymbol;
  readonly bid: Decimal | null;
  readonly ask: Decimal | null;
  readonly tsMs: number;
}
