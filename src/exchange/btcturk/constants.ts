// BTCTurk facts in one place: base URL, paths, the published rate-limit table (reference §7) and
// the error-token catalogue (§2.4). Tokens are matched first; integer codes are only hints.

export const BTCTURK_BASE_URL = 'https://api.btcturk.com';

export const PATHS = {
  serverTime: '/api/v2/server/time',
  exchangeInfo: '/api/v2/server/exchangeinfo',
  ticker: '/api/v2/ticker',
  orderBook: '/api/v2/orderbook',
  publicTrades: '/api/v2/trades',
  balances: '/api/v1/users/balances',
  openOrders: '/api/v1/openOrders',
  allOrders: '/api/v1/allOrders',
  order: '/api/v1/order',
  userTrades: '/api/v1/users/transactions/trade',
} as const;

/**
 * Endpoint keys used by the rate limiter, retry policy and error messages. `GET /api/v1/order/{id}`
 * is one key whatever the id.
 */
export type EndpointKey =
  | 'GET /api/v2/server/time'
  | 'GET /api/v2/server/exchangeinfo'
  | 'GET /api/v2/ticker'
  | 'GET /api/v2/orderbook'
  | 'GET /api/v2/trades'
  | 'GET /api/v1/users/balances'
  | 'GET /api/v1/openOrders'
  | 'GET /api/v1/allOrders'
  | 'GET /api/v1/order/{id}'
  | 'POST /api/v1/order'
  | 'DELETE /api/v1/order'
  | 'GET /api/v1/users/transactions/trade';

export interface RateLimitRule {
  readonly limit: number;
  readonly periodMs: number;
}

/**
 * BTCTurk's published per-endpoint limits (docs "rate-limits"). Unlisted public endpoints get a
 * conservative budget of our own (the exchange publishes none).
 */
export const RATE_LIMITS: Readonly<Record<EndpointKey, readonly RateLimitRule[]>> = {
  'GET /api/v2/server/time': [{ limit: 60, periodMs: 60_000 }],
  'GET /api/v2/server/exchangeinfo': [{ limit: 60, periodMs: 60_000 }],
  'GET /api/v2/ticker': [{ limit: 600, periodMs: 60_000 }],
  'GET /api/v2/orderbook': [{ limit: 180, periodMs: 60_000 }],
  // Unpublished; budgeted like its v1 twin's 90/min (reference §7).
  'GET /api/v2/trades': [{ limit: 90, periodMs: 60_000 }],
  'GET /api/v1/users/balances': [{ limit: 120, periodMs: 60_000 }],
  'GET /api/v1/openOrders': [{ limit: 300, periodMs: 60_000 }],
  'GET /api/v1/allOrders': [{ limit: 300, periodMs: 60_000 }],
  'GET /api/v1/order/{id}': [
    { limit: 900, periodMs: 60_000 },
    { limit: 30, periodMs: 1_000 },
  ],
  'POST /api/v1/order': [
    { limit: 300, periodMs: 60_000 },
    { limit: 10, periodMs: 1_000 },
  ],
  'DELETE /api/v1/order': [
    { limit: 300, periodMs: 60_000 },
    { limit: 10, periodMs: 1_000 },
  ],
  'GET /api/v1/users/transactions/trade': [{ limit: 120, periodMs: 60_000 }],
};

export type ErrorClassKey = 'auth' | 'funds' | 'invalidOrder' | 'notFound' | 'notCancelable' | 'rateLimit' | 'server';

/** Message token → error class. Keys are upper-cased before lookup. */
export const ERROR_TOKENS: Readonly<Record<string, ErrorClassKey>> = {
  FAILED_ORDER_WITH_OPEN_ORDERS: 'funds',
  BALANCE_NOT_ENOUGH: 'funds',
  BALANCE_NOT_ENOUGH_WITHOUT_OPEN_ORDERS: 'funds',
  FAILED_MIN_TOTAL_AMOUNT: 'invalidOrder',
  MIN_TOTAL: 'invalidOrder',
  FAILED_INVALID_PRICE_SCALE: 'invalidOrder',
  FAILED_INVALID_QUANTITY_SCALE: 'invalidOrder',
  FAILED_INVALID_STOP_PRICE_SCALE: 'invalidOrder',
  PRICE_MUST_BE_LESS_THAN_MAXPRICE: 'invalidOrder',
  PRICE_MUST_BE_LESS_THAN_MINPRICE: 'invalidOrder',
  ORDER_MIN_PRICE_EXCEEDED: 'invalidOrder',
  ORDER_MAX_PRICE_EXCEEDED: 'invalidOrder',
  FAILED_LIMIT_ORDER: 'invalidOrder',
  FAILED_MARKET_ORDER: 'invalidOrder',
  FAILED_ORDER_PARAMETER: 'invalidOrder',
  PARAMETERS_ERROR: 'invalidOrder',
  ORDER_TYPE_NOT_SUPPORTED: 'invalidOrder',
  ORDER_METHOD_NOT_SUPPORTED: 'invalidOrder',
  ORDER_INSERT_BLOCKED: 'invalidOrder',
  FAILED_STOP_PRICE_GREATER_THAN_BEST_ASK: 'invalidOrder',
  FAILED_STOP_PRICE_LESS_THAN_BEST_BID: 'invalidOrder',
  'ORDER NOT FOUND': 'notFound',
  NO_ORDER_MATCHES_YOUR_REQUEST: 'notFound',
  ORDER_COULD_NOT_BE_CANCELED: 'notCancelable',
  ORDER_CANCEL_BLOCKED: 'notCancelable',
  TOO_MANY_REQUESTS: 'rateLimit',
  'TOO MANY REQUESTS': 'rateLimit',
  INTERNAL_ERROR: 'server',
};

export function classifyToken(message: string | null): ErrorClassKey | null {
  if (message === null) return null;
  const key = message.trim().toUpperCase();
  if (key.startsWith('UNAUTHORIZED')) return 'auth';
  return ERROR_TOKENS[key] ?? null;
}
