// The BTCTurk implementation of the Exchange port over undici.
import { toDecimalString } from '../../domain/decimal.js';
import type { PublicTrade } from '../../domain/paper-fills.js';
import {
  asExchangeOrderId,
  type BalanceReport,
  type ClientOrderId,
  type ExchangeOrderId,
  type FillReport,
  type MarketQuote,
  type OrderStatusReport,
  type PairSymbol,
} from '../../domain/types.js';
import { AmbiguousWriteError, ExchangeConfigError, InvalidOrderError, LookupIncompleteError, MalformedResponseError, UnreadableTradeRowsError } from '../errors.js';
import {
  PUBLIC_TRADES_LIMIT,
  type AllOrdersQuery,
  type CancelAck,
  type Exchange,
  type ExchangeRulesReport,
  type OrderBookSnapshot,
  type SubmitAck,
  type SubmitLimitOrderRequest,
  type TimeWindow,
  type WriteControl,
} from '../port.js';
import { RateLimiter, realSleep, type LimiterRule, type Sleep } from '../rate-limits.js';
import { readUserTrades } from '../trades.js';
import { BtcturkSigner, type ApiCredentials } from './auth.js';
import { BTCTURK_BASE_URL, PATHS, RATE_LIMITS } from './constants.js';
import { BtcturkHttp, DEFAULT_RETRY, type RetryOptions } from './http.js';
import {
  parseAllOrders,
  parseBalances,
  parseExchangeInfo,
  parseOpenOrders,
  parseOrderBook,
  parsePublicTrades,
  parseSingleOrder,
  parseSubmitAck,
  parseTicker,
} from './parse.js';

export interface BtcturkExchangeOptions {
  /** `https://api.btcturk.com`, or `http://127.0.0.1:<port>` for the simulator. Anything else is refused. */
  readonly baseUrl: string;
  /** Needed for private endpoints. Validated (non-empty, base64 secret) when the client is built. */
  readonly credentials?: ApiCredentials;
  /** Per-request timeout (default 10 s). */
  readonly timeoutMs?: number;
  /**
   * A write leaves only while this much is left before its attempt's deadline, the time its answer
   * may need (default: the request timeout, at most 5 s).
   */
  readonly responseBudgetMs?: number;
  /** How many pages of allOrders (1000 rows each) a lookup by client id reads before it says "cannot tell" (default 5). */
  readonly lookupPages?: number;
  readonly retry?: Partial<RetryOptions>;
  /**
   * Client-side rate limiting (default: on, BTCTurk's published table). Pass a RateLimiter to share
   * one budget between several clients of the same account/IP, or `false` to disable.
   */
  readonly rateLimiter?: RateLimiter | false;
  /** Extra margin per rate-limit period (default 50 ms). */
  readonly rateLimitMarginMs?: number;
  /** Depth asked of the order book for quotes (default 25). */
  readonly orderBookLimit?: number;
  /** Injectable clock and sleep (tests). */
  readonly now?: () => number;
  readonly sleep?: Sleep;
}

export function createBtcturkRateLimiter(options: { now?: () => number; sleep?: Sleep; marginMs?: number } = {}): RateLimiter {
  return new RateLimiter({ rules: RATE_LIMITS as Readonly<Record<string, readonly LimiterRule[]>>, ...options });
}

/** See BtcturkExchangeOptions.responseBudgetMs. */
const DEFAULT_RESPONSE_BUDGET_MS = 5_000;
const ALL_ORDERS_PAGE = 1_000;

const CLIENT_ID_PATTERN = /^[A-Za-z0-9_-]{1,50}$/;

export function createBtcturkExchange(options: BtcturkExchangeOptions): Exchange {
  return new BtcturkExchange(options);
}

export class BtcturkExchange implements Exchange {
  readonly mode = 'live' as const;
  private readonly http: BtcturkHttp;
  private readonly now: () => number;
  private readonly orderBookLimit: number;
  private readonly lookupPages: number;

  constructor(options: BtcturkExchangeOptions) {
    if (typeof options?.baseUrl !== 'string' || options.baseUrl.trim() === '') {
      throw new ExchangeConfigError(`exchange base URL is required (e.g. ${BTCTURK_BASE_URL})`);
    }
    this.now = options.now ?? Date.now;
    const sleep = options.sleep ?? realSleep;
    const signer = options.credentials === undefined ? null : new BtcturkSigner(options.credentials);
    const limiter =
      options.rateLimiter === false
        ? null
        : (options.rateLimiter ??
          createBtcturkRateLimiter({ now: this.now, sleep, ...(options.rateLimitMarginMs !== undefined ? { marginMs: options.rateLimitMarginMs } : {}) }));
    this.orderBookLimit = options.orderBookLimit ?? 25;
    this.lookupPages = Math.max(1, options.lookupPages ?? 5);
    this.http = new BtcturkHttp({
      baseUrl: options.baseUrl.trim(),
      signer,
      limiter,
      timeoutMs: options.timeoutMs ?? 10_000,
      responseBudgetMs: options.responseBudgetMs ?? Math.min(options.timeoutMs ?? 10_000, DEFAULT_RESPONSE_BUDGET_MS),
      retry: { ...DEFAULT_RETRY, ...options.retry },
      now: this.now,
      sleep,
    });
  }

  toJSON(): string {
    return '[BtcturkExchange]';
  }

  async close(): Promise<void> {
    await this.http.close();
  }

  getServerTime(): Promise<number> {
    return this.http.syncClock();
  }

  async getExchangeRules(): Promise<ExchangeRulesReport> {
    const data = await this.http.call({
      endpoint: 'GET /api/v2/server/exchangeinfo',
      method: 'GET',
      path: PATHS.exchangeInfo,
      auth: false,
      operation: 'read',
    });
    return parseExchangeInfo(data);
  }

  async getOrderBook(symbol: PairSymbol, limit = this.orderBookLimit): Promise<OrderBookSnapshot> {
    const data = await this.http.call({
      endpoint: 'GET /api/v2/orderbook',
      method: 'GET',
      path: PATHS.orderBook,
      query: [
        ['pairSymbol', symbol],
        ['limit', String(limit)],
      ],
      auth: false,
      operation: 'read',
    });
    return parseOrderBook(symbol, data);
  }

  async getQuote(symbol: PairSymbol): Promise<MarketQuote> {
    const book = await this.getOrderBook(symbol, Math.min(this.orderBookLimit, 5));
    return { symbol, bid: book.bids[0]?.price ?? null, ask: book.asks[0]?.price ?? null, tsMs: book.tsMs };
  }

  async getPublicTrades(symbol: PairSymbol, last = PUBLIC_TRADES_LIMIT): Promise<PublicTrade[]> {
    const data = await this.http.call({
      endpoint: 'GET /api/v2/trades',
      method: 'GET',
      path: PATHS.publicTrades,
      query: [
        ['pairSymbol', symbol],
        ['last', String(Math.min(PUBLIC_TRADES_LIMIT, Math.max(1, last)))],
      ],
      auth: false,
      operation: 'read',
    });
    return parsePublicTrades(symbol, data);
  }

  async getTickerQuotes(): Promise<MarketQuote[]> {
    const data = await this.http.call({ endpoint: 'GET /api/v2/ticker', method: 'GET', path: PATHS.ticker, auth: false, operation: 'read' });
    return parseTicker(data);
  }

  async getBalances(): Promise<BalanceReport[]> {
    const data = await this.http.call({
      endpoint: 'GET /api/v1/users/balances',
      method: 'GET',
      path: PATHS.balances,
      auth: true,
      operation: 'read',
    });
    return parseBalances(data);
  }

  async getOpenOrders(symbol: PairSymbol): Promise<OrderStatusReport[]> {
    const data = await this.http.call({
      endpoint: 'GET /api/v1/openOrders',
      method: 'GET',
      path: PATHS.openOrders,
      query: [['pairSymbol', symbol]],
      auth: true,
      operation: 'read',
    });
    return parseOpenOrders(data).filter((o) => o.symbol === symbol);
  }

  async getAllOrders(symbol: PairSymbol, query: AllOrdersQuery = {}): Promise<OrderStatusReport[]> {
    const params: Array<[string, string]> = [['pairSymbol', symbol]];
    if (query.startMs !== undefined) params.push(['startTime', String(Math.trunc(query.startMs))]);
    if (query.endMs !== undefined) params.push(['endTime', String(Math.trunc(query.endMs))]);
    params.push(['limit', String(query.limit ?? ALL_ORDERS_PAGE)]);
    if (query.page !== undefined) params.push(['page', String(query.page)]);
    const data = await this.http.call({
      endpoint: 'GET /api/v1/allOrders',
      method: 'GET',
      path: PATHS.allOrders,
      query: params,
      auth: true,
      operation: 'read',
    });
    return parseAllOrders(data).filter((o) => o.symbol === symbol);
  }

  async getOrder(exchangeOrderId: ExchangeOrderId): Promise<OrderStatusReport> {
    const id = checkedOrderId(exchangeOrderId);
    const data = await this.http.call({
      endpoint: 'GET /api/v1/order/{id}',
      method: 'GET',
      path: `${PATHS.order}/${id}`,
      auth: true,
      operation: 'read',
    });
    const order = parseSingleOrder(data);
    if (order.exchangeOrderId !== id) {
      throw new MalformedResponseError(`GET /api/v1/order/{id}: asked for ${id}, got ${order.exchangeOrderId}`);
    }
    return order;
  }

  async getFills(symbol: PairSymbol, window: TimeWindow): Promise<FillReport[]> {
    const endMs = window.endMs ?? this.http.serverNow() + 5_000;
    const data = await this.http.call({
      endpoint: 'GET /api/v1/users/transactions/trade',
      method: 'GET',
      path: PATHS.userTrades,
      query: [
        ['pairSymbol', symbol],
        ['startDate', String(Math.trunc(window.startMs))],
        ['endDate', String(Math.trunc(endMs))],
      ],
      auth: true,
      operation: 'read',
    });
    const inWindow = (tsMs: number | null) => tsMs === null || (tsMs >= window.startMs && tsMs <= endMs);
    const { fills, unreadable } = readUserTrades(data, symbol);
    const readable = fills.filter((f) => inWindow(f.tsMs));
    const held = unreadable.filter((u) => inWindow(u.tsMs));
    if (held.length > 0) throw new UnreadableTradeRowsError(readable, held);
    return readable;
  }

  async submitLimitOrder(req: SubmitLimitOrderRequest, control?: WriteControl): Promise<SubmitAck> {
    if (!CLIENT_ID_PATTERN.test(req.clientOrderId)) {
      throw new InvalidOrderError(`client order id must be 1-50 chars of [A-Za-z0-9_-]: ${JSON.stringify(req.clientOrderId.slice(0, 60))}`);
    }
    if (!req.price.isFinite() || req.price.lte(0) || !req.qty.isFinite() || req.qty.lte(0)) {
      throw new InvalidOrderError(`price and quantity must be positive (price ${req.price.toString()}, qty ${req.qty.toString()})`);
    }
    const submittedAtMs = this.now();
    const data = await this.http.call({
      endpoint: 'POST /api/v1/order',
      method: 'POST',
      path: PATHS.order,
      body: {
        pairSymbol: req.symbol,
        orderType: req.side,
        orderMethod: 'limit',
        price: toDecimalString(req.price),
        quantity: toDecimalString(req.qty),
        newOrderClientId: req.clientOrderId,
      },
      auth: true,
      operation: 'submit',
      ...(control ? { write: control } : {}),
    });
    let ack;
    try {
      ack = parseSubmitAck(data);
    } catch (err) {
      // The exchange said success but we cannot read the order id: the order exists, we just do
      // not know its id. That is exactly an ambiguous outcome, to be resolved by client id.
      throw new AmbiguousWriteError('POST /api/v1/order: success without a readable order id; outcome unknown', 'submit', {
        endpoint: 'POST /api/v1/order',
        cause: err,
      });
    }
    return {
      exchangeOrderId: asExchangeOrderId(ack.exchangeOrderId),
      clientOrderId: req.clientOrderId,
      symbol: req.symbol,
      side: req.side,
      price: req.price,
      qty: req.qty,
      submittedAtMs: ack.datetime ?? submittedAtMs,
      simulated: false,
    };
  }

  async cancelOrder(exchangeOrderId: ExchangeOrderId, control?: WriteControl): Promise<CancelAck> {
    const id = checkedOrderId(exchangeOrderId);
    await this.http.call({
      endpoint: 'DELETE /api/v1/order',
      method: 'DELETE',
      path: PATHS.order,
      query: [['id', id]],
      auth: true,
      operation: 'cancel',
      ...(control ? { write: control } : {}),
    });
    return { exchangeOrderId: asExchangeOrderId(id), accepted: true, simulated: false };
  }

  findOrdersByClientId(symbol: PairSymbol, clientOrderId: ClientOrderId, sinceMs: number): Promise<OrderStatusReport[]> {
    return findOrdersByClientId(this, symbol, clientOrderId, sinceMs, this.lookupPages);
  }

  async findOrderByClientId(symbol: PairSymbol, clientOrderId: ClientOrderId, sinceMs: number): Promise<OrderStatusReport | null> {
    return (await this.findOrdersByClientId(symbol, clientOrderId, sinceMs))[0] ?? null;
  }
}

/**
 * Open orders first (fresh status), then allOrders since `sinceMs` (closed and canceled ones too),
 * page by page until a short page. allOrders is paged and its sort order undocumented (§6.3): when
 * `maxPages` pages all come back full, the lookup cannot tell whether the order exists and says so
 * (LookupIncompleteError), never "not found".
 */
export async function findOrdersByClientId(
  exchange: Pick<Exchange, 'getOpenOrders' | 'getAllOrders'>,
  symbol: PairSymbol,
  clientOrderId: ClientOrderId,
  sinceMs: number,
  maxPages = 5,
): Promise<OrderStatusReport[]> {
  const found = new Map<string, OrderStatusReport>();
  for (const o of await exchange.getOpenOrders(symbol)) {
    if (o.clientOrderId === clientOrderId) found.set(o.exchangeOrderId, o);
  }
  for (let page = 1; ; page++) {
    const rows = await exchange.getAllOrders(symbol, { startMs: sinceMs, limit: ALL_ORDERS_PAGE, page });
    for (const o of rows) {
      if (o.clientOrderId !== clientOrderId) continue;
      // allOrders carries the real creation time (openOrders says 0); keep whichever row is newer.
      const seen = found.get(o.exchangeOrderId);
      if (seen === undefined || o.updatedAtMs >= seen.updatedAtMs) found.set(o.exchangeOrderId, o);
      else found.set(o.exchangeOrderId, { ...seen, createdAtMs: o.createdAtMs });
    }
    if (rows.length < ALL_ORDERS_PAGE) break;
    if (page >= maxPages) {
      throw new LookupIncompleteError(
        `GET /api/v1/allOrders: ${maxPages} full pages of ${symbol} orders since ${new Date(sinceMs).toISOString()}; cannot tell whether ${clientOrderId} exists`,
        { endpoint: 'GET /api/v1/allOrders' },
      );
    }
  }
  return [...found.values()].sort(
    (a, b) =>
      a.createdAtMs - b.createdAtMs ||
      a.exchangeOrderId.length - b.exchangeOrderId.length ||
      (a.exchangeOrderId < b.exchangeOrderId ? -1 : a.exchangeOrderId > b.exchangeOrderId ? 1 : 0),
  );
}

function checkedOrderId(id: ExchangeOrderId): string {
  if (!/^\d{1,20}$/.test(id)) throw new InvalidOrderError(`exchange order id must be an integer id: ${JSON.stringify(String(id).slice(0, 40))}`);
  return id;
}
