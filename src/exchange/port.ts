// The Exchange port: everything the rest of the engine may ask of a venue. Decimal-native (prices,
// quantities and fees are Decimal), ids are branded strings, and every failure is one of the
// classes in ./errors.ts. Implementations: BTCTurk over HTTP (./btcturk/client.ts) and the dry-run
// wrapper (./dry-run.ts: real reads, simulated writes).
import type { Decimal } from '../domain/decimal.js';
import type { PublicTrade } from '../domain/paper-fills.js';
import type {
  BalanceReport,
  ClientOrderId,
  ExchangeOrderId,
  ExchangeRules,
  FillReport,
  MarketQuote,
  OrderStatusReport,
  PairSymbol,
  Side,
} from '../domain/types.js';

export type ExchangeMode = 'live' | 'dry_run';

/** The most rows `/api/v2/trades` returns (reference §5.5, §12). */
export const PUBLIC_TRADES_LIMIT = 50;

export interface OrderBookLevel {
  readonly price: Decimal;
  readonly qty: Decimal;
}

export interface OrderBookSnapshot {
  readonly symbol: PairSymbol;
  /** Best first: bids descending, asks ascending. */
  readonly bids: readonly OrderBookLevel[];
  readonly asks: readonly OrderBookLevel[];
  readonly tsMs: number;
}

export interface SubmitLimitOrderRequest {
  readonly symbol: PairSymbol;
  readonly side: Side;
  /** Already quantised to the pair's tick; sent as a plain decimal string. */
  readonly price: Decimal;
  /** Already quantised to the pair's step; sent as a plain decimal string. */
  readonly qty: Decimal;
  /** Sent as `newOrderClientId` (≤ 50 chars, [A-Za-z0-9_-]). Not an idempotency key on BTCTurk. */
  readonly clientOrderId: ClientOrderId;
}

/**
 * How one write attempt bounds itself (activities pass their own): the request leaves only while its
 * answer can still arrive before `notAfterMs` (the client's response budget), never once `signal`
 * aborted, and `beforeSend` runs right before it leaves (after any rate-limit wait), to re-check what
 * may have changed meanwhile (a halt, the gates). Any of these stopping it is a WriteNotSentError.
 * Once it has left, `signal` no longer stops it: its answer is read (until `notAfterMs` at most, then
 * the outcome is an AmbiguousWriteError), so an order placed is known.
 */
export interface WriteControl {
  readonly signal?: AbortSignal;
  /** Epoch ms (the client's clock): the attempt is done with the exchange by then. */
  readonly notAfterMs?: number;
  /** Throw (typically a WriteNotSentError) to stop the send. */
  readonly beforeSend?: () => Promise<void>;
}

export interface SubmitAck {
  readonly exchangeOrderId: ExchangeOrderId;
  readonly clientOrderId: ClientOrderId;
  readonly symbol: PairSymbol;
  readonly side: Side;
  readonly price: Decimal;
  readonly qty: Decimal;
  readonly submittedAtMs: number;
  /** True when produced by the dry-run wrapper: nothing was sent to the exchange. */
  readonly simulated: boolean;
}

export interface CancelAck {
  readonly exchangeOrderId: ExchangeOrderId;
  /**
   * BTCTurk cancels asynchronously: a 200 means "accepted"; the order may still be listed open, and
   * may still fill, for a short time. Confirm with getOrder (status canceled or filled).
   */
  readonly accepted: true;
  readonly simulated: boolean;
}

/** A pair exchangeinfo lists in a form we cannot read: left out of the rules, reported. */
export interface MalformedPair {
  /** The pair it names, when its name is readable. */
  readonly symbol: PairSymbol | null;
  /** What is wrong, naming the field (MalformedResponseError text; no payload content). */
  readonly reason: string;
}

export interface ExchangeRulesReport {
  readonly rules: readonly ExchangeRules[];
  readonly malformed: readonly MalformedPair[];
}

export interface TimeWindow {
  /** Inclusive lower bound, epoch ms. */
  readonly startMs: number;
  /** Inclusive upper bound, epoch ms; defaults to now. */
  readonly endMs?: number;
}

export interface AllOrdersQuery extends Partial<TimeWindow> {
  /** Rows per page (BTCTurk default 100, max 1000). */
  readonly limit?: number;
  /** Page number, from 1. */
  readonly page?: number;
}

export interface Exchange {
  readonly mode: ExchangeMode;

  /** Exchange server time in ms (`/api/v2/server/time`). */
  getServerTime(): Promise<number>;
  /**
   * Trading rules of every listed pair (tick, step, min notional, scales, tradable status). A pair
   * listed in a form we cannot read is left out and reported in `malformed`.
   */
  getExchangeRules(): Promise<ExchangeRulesReport>;
  /** Order book levels (public). A 503 "stale book" answer is ExchangeUnavailableError. */
  getOrderBook(symbol: PairSymbol, limit?: number): Promise<OrderBookSnapshot>;
  /** Top of book for a mark price (from the order book; bid/ask null when a side is empty). */
  getQuote(symbol: PairSymbol): Promise<MarketQuote>;
  /** Ticker bid/ask for every pair, one request (public). */
  getTickerQuotes(): Promise<MarketQuote[]>;
  /**
   * The newest public trades of one pair (`/api/v2/trades`, public), oldest first. BTCTurk returns
   * at most PUBLIC_TRADES_LIMIT rows: older trades are simply not in the answer.
   */
  getPublicTrades(symbol: PairSymbol, last?: number): Promise<PublicTrade[]>;

  /** Every asset's free and locked balance. */
  getBalances(): Promise<BalanceReport[]>;
  /** Open orders of one pair (bids and asks). `createdAtMs` is 0: BTCTurk reports `time: 0` here. */
  getOpenOrders(symbol: PairSymbol): Promise<OrderStatusReport[]>;
  /** All orders of one pair, every status, in a time window (newest first as the exchange sends them). */
  getAllOrders(symbol: PairSymbol, query?: AllOrdersQuery): Promise<OrderStatusReport[]>;
  /** One order by exchange id. Unknown id: OrderNotFoundError. */
  getOrder(exchangeOrderId: ExchangeOrderId): Promise<OrderStatusReport>;
  /**
   * Own fills of one pair in a window, normalised (positive qty, side from the order type, fee and
   * tax as positive costs in the quote asset unless stated), deduplicated by fill id and sorted
   * chronologically (ts, then fill id). An empty list means no fills. Rows that cannot be read:
   * UnreadableTradeRowsError, carrying the readable rows and each unreadable one by trade id.
   */
  getFills(symbol: PairSymbol, window: TimeWindow): Promise<FillReport[]>;

  /**
   * Submit a limit order. Sent exactly once: a timeout, 5xx, empty/HTML body or connection reset
   * after sending raises AmbiguousWriteError; resolve it with findOrderByClientId, never resend.
   */
  submitLimitOrder(request: SubmitLimitOrderRequest, control?: WriteControl): Promise<SubmitAck>;
  /** Cancel by exchange id (`DELETE /api/v1/order?id=`). Cancelling a canceled order succeeds. */
  cancelOrder(exchangeOrderId: ExchangeOrderId, control?: WriteControl): Promise<CancelAck>;

  /**
   * Resolve an ambiguous submit: every order of `symbol` carrying `clientOrderId`, looked up in open
   * orders and then in all orders since `sinceMs`, oldest first, deduplicated by exchange id.
   * BTCTurk does not enforce unique client ids, so more than one match is possible.
   */
  findOrdersByClientId(symbol: PairSymbol, clientOrderId: ClientOrderId, sinceMs: number): Promise<OrderStatusReport[]>;
  /** The first (oldest) order carrying `clientOrderId`, or null when the exchange has none. */
  findOrderByClientId(symbol: PairSymbol, clientOrderId: ClientOrderId, sinceMs: number): Promise<OrderStatusReport | null>;

  /** Release connections. */
  close(): Promise<void>;
}
