// One error taxonomy for the exchange boundary (ccxt style). Every class has a stable `name`, which
// Temporal uses for non-retryable matching. Retry policy is decided by class in one place:
// `RETRY_POLICY` below. Messages never contain secrets: signatures and API secrets are not passed
// to these constructors, and `redact()` scrubs anything that looks like one from server text.
import { redact } from '../redaction.js';
import type { FillReport, UnreadableTradeReport } from '../domain/types.js';

export type ErrorDisposition =
  /** The exchange answered and said no. Retrying the same request gives the same answer. */
  | 'definitive'
  /** Transient: safe to retry a read (the client does, with backoff); the caller may retry later. */
  | 'retryable'
  /** A write whose outcome is unknown. Never resend; resolve by client order id first. */
  | 'ambiguous';

export interface ExchangeErrorDetails {
  /** Endpoint key, e.g. `POST /api/v1/order`. */
  readonly endpoint?: string;
  readonly httpStatus?: number;
  /** BTCTurk `message` token, e.g. `FAILED_MIN_TOTAL_AMOUNT`. */
  readonly token?: string;
  /** BTCTurk `code` as text (it is sometimes a string on the wire). */
  readonly code?: string;
  readonly cause?: unknown;
}

export abstract class ExchangeError extends Error {
  abstract readonly disposition: ErrorDisposition;
  readonly endpoint: string | undefined;
  readonly httpStatus: number | undefined;
  readonly token: string | undefined;
  readonly code: string | undefined;

  constructor(message: string, details: ExchangeErrorDetails = {}) {
    super(redact(message), details.cause === undefined ? undefined : { cause: sanitizeCause(details.cause) });
    this.endpoint = details.endpoint;
    this.httpStatus = details.httpStatus;
    // Token and code are server text: scrubbed like the message (a hostile or buggy server could
    // echo a request header back in them).
    this.token = details.token === undefined ? undefined : redact(details.token);
    this.code = details.code === undefined ? undefined : redact(details.code);
  }
}

/** Bad or missing configuration (credentials, base URL). Raised before any request is sent. */
export class ExchangeConfigError extends ExchangeError {
  override readonly name = 'ExchangeConfigError';
  readonly disposition = 'definitive';
}

/** 401: bad key or signature, stamp outside the window, missing permission, IP not whitelisted. */
export class AuthenticationError extends ExchangeError {
  override readonly name = 'AuthenticationError';
  readonly disposition = 'definitive';
}

/** Free balance does not cover the order (BTCTurk `FAILED_ORDER_WITH_OPEN_ORDERS`, 1122). */
export class InsufficientFundsError extends ExchangeError {
  override readonly name = 'InsufficientFundsError';
  readonly disposition = 'definitive';
}

/** The order breaks a pair rule: min total, price/quantity scale, price band, bad parameter. */
export class InvalidOrderError extends ExchangeError {
  override readonly name = 'InvalidOrderError';
  readonly disposition = 'definitive';
}

/** Unknown order id (`Order not found` 1152 on lookup, `NO_ORDER_MATCHES_YOUR_REQUEST` 1052 on cancel). */
export class OrderNotFoundError extends ExchangeError {
  override readonly name = 'OrderNotFoundError';
  readonly disposition = 'definitive';
}

/**
 * A lookup could not read everything it had to (allOrders returned full pages up to the lookup's
 * page limit): it cannot tell whether the order exists. Never a "not found".
 */
export class LookupIncompleteError extends ExchangeError {
  override readonly name = 'LookupIncompleteError';
  readonly disposition = 'retryable';
}

/** Cancel refused: the order is closed (usually filled) or the pair is blocked. Check its status. */
export class OrderNotCancelableError extends ExchangeError {
  override readonly name = 'OrderNotCancelableError';
  readonly disposition = 'definitive';
}

/** Any other definitive 4xx (404, 405, 411, 415, unknown token): a client bug, not transient. */
export class BadRequestError extends ExchangeError {
  override readonly name = 'BadRequestError';
  readonly disposition = 'definitive';
}

/** 429. The request was not processed (also for writes), so it may be sent again after the wait. */
export class RateLimitedError extends ExchangeError {
  override readonly name = 'RateLimitedError';
  readonly disposition = 'retryable';
  readonly retryAfterMs: number;
  constructor(message: string, retryAfterMs: number, details: ExchangeErrorDetails = {}) {
    super(message, details);
    this.retryAfterMs = retryAfterMs;
  }
}

/** 5xx, timeout or transport failure on a read (after the client's own retries), or a refused connection. */
export class ExchangeUnavailableError extends ExchangeError {
  override readonly name = 'ExchangeUnavailableError';
  readonly disposition = 'retryable';
}

/** A read answered with a payload we cannot understand (HTML, wrong shape, sign mismatch). */
export class MalformedResponseError extends ExchangeError {
  override readonly name = 'MalformedResponseError';
  readonly disposition = 'retryable';
}

/**
 * A trade list in which some rows could not be read. The rest is carried, so one bad row holds
 * only itself and what comes after it (the accounting step quarantines the symbol at that row),
 * instead of making the whole symbol unreadable.
 */
export class UnreadableTradeRowsError extends MalformedResponseError {
  constructor(
    readonly readable: readonly FillReport[],
    readonly unreadable: readonly UnreadableTradeReport[],
  ) {
    const [first] = unreadable;
    super(
      `user trades: trade ${first?.tradeId ?? '?'} unreadable (${first?.reason ?? '?'})` +
        (unreadable.length > 1 ? ` and ${unreadable.length - 1} more: ${unreadable.slice(1, 6).map((u) => u.tradeId).join(', ')}` : ''),
    );
  }
}

/**
 * Submit or cancel whose outcome is unknown: timeout, 5xx, empty or HTML body, connection reset
 * after the request was sent. The exchange may have acted. Resolve (findOrderByClientId / getOrder)
 * before doing anything else; never resend blindly.
 */
export class AmbiguousWriteError extends ExchangeError {
  override readonly name = 'AmbiguousWriteError';
  readonly disposition = 'ambiguous';
  readonly operation: 'submit' | 'cancel';
  constructor(message: string, operation: 'submit' | 'cancel', details: ExchangeErrorDetails = {}) {
    super(message, details);
    this.operation = operation;
  }
}

/** Why a write stopped before it left (see WriteNotSentError). */
export type NotSentReason = 'deadline' | 'rate_limit_wait_exceeds_deadline' | 'canceled' | 'halted' | 'gate_closed';

/**
 * A submit or cancel that was stopped before it left: its attempt's deadline, a rate-limit wait
 * longer than the time left, a cancellation, or a halt or closed gate seen right before the send.
 * Nothing reached the exchange, so this is definitive. (An abort after the request started is an
 * AmbiguousWriteError instead.)
 */
export class WriteNotSentError extends ExchangeError {
  override readonly name = 'WriteNotSentError';
  readonly disposition = 'definitive';
  constructor(
    message: string,
    readonly reason: NotSentReason,
    details: ExchangeErrorDetails = {},
  ) {
    super(message, details);
  }
}

/**
 * Retry policy by class, in one place.
 * - `clientRetriesReads`: the HTTP client retries a read itself (backoff, Retry-After).
 * - `temporalRetryable`: an activity failing with this error may be retried by Temporal.
 *   Ambiguous writes are NOT retryable as such: the activity must resolve them first.
 */
export const RETRY_POLICY: Readonly<Record<string, { clientRetriesReads: boolean; temporalRetryable: boolean }>> = {
  ExchangeConfigError: { clientRetriesReads: false, temporalRetryable: false },
  AuthenticationError: { clientRetriesReads: false, temporalRetryable: false },
  InsufficientFundsError: { clientRetriesReads: false, temporalRetryable: false },
  InvalidOrderError: { clientRetriesReads: false, temporalRetryable: false },
  OrderNotFoundError: { clientRetriesReads: false, temporalRetryable: false },
  OrderNotCancelableError: { clientRetriesReads: false, temporalRetryable: false },
  BadRequestError: { clientRetriesReads: false, temporalRetryable: false },
  AmbiguousWriteError: { clientRetriesReads: false, temporalRetryable: false },
  WriteNotSentError: { clientRetriesReads: false, temporalRetryable: false },
  RateLimitedError: { clientRetriesReads: true, temporalRetryable: true },
  ExchangeUnavailableError: { clientRetriesReads: true, temporalRetryable: true },
  MalformedResponseError: { clientRetriesReads: false, temporalRetryable: true },
};

/** Error names an activity should declare non-retryable (Temporal `nonRetryableErrorTypes`). */
export const NON_RETRYABLE_EXCHANGE_ERRORS: readonly string[] = Object.entries(RETRY_POLICY)
  .filter(([, p]) => !p.temporalRetryable)
  .map(([name]) => name);

export function isRetryableRead(err: unknown): boolean {
  return err instanceof ExchangeError && RETRY_POLICY[err.name]?.clientRetriesReads === true;
}

// Secrets never reach an error message by construction (the HTTP layer does not pass headers or
// the secret to these constructors). As a second line of defence every message is redacted
// (src/redaction.ts): registered secrets, signature-shaped digests, credential fields.

function sanitizeCause(cause: unknown): unknown {
  if (cause instanceof Error) {
    const copy = new Error(redact(cause.message));
    copy.name = cause.name;
    const code = (cause as { code?: unknown }).code;
    if (typeof code === 'string') (copy as { code?: string }).code = code;
    return copy;
  }
  return typeof cause === 'string' ? redact(cause) : undefined;
}
