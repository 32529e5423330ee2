// BTCTurk web utils: one request path for every endpoint. It applies the rate limiter, signs
// private requests, parses the body losslessly, reads the envelope, and turns every outcome into a
// value or one of the typed errors. Decision order: transport → HTTP status → envelope `success` →
// message token (BTCTurk's integer codes moved between 2022 and 2024; tokens did not).
// Reads retry with capped exponential backoff and honour Retry-After; writes are sent once, never
// after their attempt's deadline or a cancellation, and only after a final check right before they
// leave (WriteControl). For a write, an answer we cannot read means the outcome is unknown.
import { Agent, errors as undiciErrors, request } from 'undici';
import {
  AmbiguousWriteError,
  AuthenticationError,
  BadRequestError,
  ExchangeConfigError,
  ExchangeError,
  ExchangeUnavailableError,
  InsufficientFundsError,
  InvalidOrderError,
  MalformedResponseError,
  OrderNotCancelableError,
  OrderNotFoundError,
  RateLimitedError,
  WriteNotSentError,
  isRetryableRead,
} from '../errors.js';
import { isLosslessNumber } from 'lossless-json';
import { parseLosslessJson, type JsonObject } from '../json.js';
import type { WriteControl } from '../port.js';
import { LimiterWaitRefused, RateLimiter, realSleep, type Sleep } from '../rate-limits.js';
import { waiting } from '../../progress.js';
import { BtcturkSigner } from './auth.js';
import { classifyToken, type EndpointKey } from './constants.js';

export interface RetryOptions {
  /** Total attempts for a read, including the first (default 4). */
  readonly maxAttempts: number;
  /** First backoff delay (default 250 ms), doubled per attempt. */
  readonly baseDelayMs: number;
  /** Backoff cap (default 4 s). */
  readonly maxDelayMs: number;
  /** A Retry-After longer than this is not waited out inside the call: RateLimitedError is raised (default 15 s). */
  readonly maxRetryAfterMs: number;
}

/**
 * Largest response body read (8 MiB). BTCTurk's biggest answers (exchange info, 1000 order rows, a
 * month of trades) are well under 2 MiB; a bigger body is a broken or hostile answer and is refused
 * instead of buffered and parsed.
 */
export const MAX_RESPONSE_BYTES = 8 * 1024 * 1024;

/** A Retry-After is believed up to this (15 min); a larger value is clamped, never a multi-year pause. */
export const MAX_RETRY_AFTER_MS = 15 * 60 * 1000;

/** Server text (a message token) kept in errors is cut to this many characters. */
const MAX_TOKEN_CHARS = 200;

export const DEFAULT_RETRY: RetryOptions = { maxAttempts: 4, baseDelayMs: 250, maxDelayMs: 4_000, maxRetryAfterMs: 15_000 };

export interface HttpOptions {
  readonly baseUrl: string;
  readonly signer: BtcturkSigner | null;
  readonly limiter: RateLimiter | null;
  readonly timeoutMs: number;
  /**
   * The time a write's answer may need (at most timeoutMs). A write leaves only while at least this
   * much is left before its deadline: sent later, its answer could not arrive in time, and an order
   * would exist with its outcome unknown. Not sent, it is definitely not sent (retried later).
   */
  readonly responseBudgetMs: number;
  readonly retry: RetryOptions;
  readonly now: () => number;
  readonly sleep: Sleep;
}

export type Operation = 'read' | 'submit' | 'cancel';

export interface HttpCall {
  readonly endpoint: EndpointKey;
  readonly method: 'GET' | 'POST' | 'DELETE';
  readonly path: string;
  readonly query?: ReadonlyArray<readonly [string, string]>;
  readonly body?: unknown;
  readonly auth: boolean;
  readonly operation: Operation;
  /** The response has no envelope (`/api/v2/server/time`). */
  readonly bare?: boolean;
  /** Writes: the attempt's deadline, its cancellation, and the final check before the send. */
  readonly write?: WriteControl;
}

export interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/** Refuse anything but https, except plain http to a loopback host (the simulator). */
export function validateBaseUrl(baseUrl: string): URL {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new ExchangeConfigError(`exchange base URL is not a URL: ${JSON.stringify(baseUrl.slice(0, 100))}`);
  }
  if (url.username !== '' || url.password !== '') throw new ExchangeConfigError('exchange base URL must not carry credentials');
  if (url.protocol === 'https:') return url;
  if (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname)) return url;
  throw new ExchangeConfigError(
    `exchange base URL must be https (plain http is allowed only for a loopback simulator): ${url.protocol}//${url.host}`,
  );
}

export class BtcturkHttp {
  private readonly base: URL;
  private readonly agent: Agent;
  /** Server time minus local time, learned from /api/v2/server/time; applied to stamps. */
  private clockOffsetMs = 0;

  constructor(private readonly options: HttpOptions) {
    this.base = validateBaseUrl(options.baseUrl);
    this.agent = new Agent({ keepAliveTimeout: 4_000, connect: { timeout: options.timeoutMs }, maxResponseSize: MAX_RESPONSE_BYTES });
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  /** Local clock corrected by the last learned server offset. */
  serverNow(): number {
    return this.options.now() + this.clockOffsetMs;
  }

  /** Learn the server clock (private stamps must be within ±5 s of it). */
  async syncClock(): Promise<number> {
    const before = this.options.now();
    const body = await this.call({
      endpoint: 'GET /api/v2/server/time',
      method: 'GET',
      path: '/api/v2/server/time',
      auth: false,
      operation: 'read',
      bare: true,
    });
    const after = this.options.now();
    const serverTime = readServerTime(body);
    this.clockOffsetMs = Math.round(serverTime - (before + after) / 2);
    return serverTime;
  }

  /** Run a call: reads with retries, writes exactly once. Returns `data` (or the bare body). */
  async call(call: HttpCall): Promise<unknown> {
    if (call.auth && this.options.signer === null) {
      throw new ExchangeConfigError(`${call.endpoint} needs API credentials (apiKey and apiSecret); none were configured`, {
        endpoint: call.endpoint,
      });
    }
    let resynced = false;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.attempt(call);
      } catch (err) {
        // BTCTurk's own 401 (its envelope or an empty body, Q15) is never processed, so resyncing the
        // clock and sending once more is safe even for writes. It fixes "Invalid Nonce" after clock
        // drift; other 401s fail again. A write's 401/403 without those forms is ambiguous (interpret).
        if (err instanceof AuthenticationError && call.auth && !resynced) {
          resynced = true;
          await this.syncClock();
          attempt--;
          continue;
        }
        if (call.operation !== 'read' || !isRetryableRead(err) || attempt >= this.options.retry.maxAttempts) throw err;
        const delay = this.retryDelay(err, attempt);
        if (delay === null) throw err;
        await waiting('http_retry_backoff', { endpoint: call.endpoint, attempt, delay_ms: delay }, this.options.sleep(delay));
      }
    }
  }

  private retryDelay(err: unknown, attempt: number): number | null {
    const { baseDelayMs, maxDelayMs, maxRetryAfterMs } = this.options.retry;
    if (err instanceof RateLimitedError) {
      if (err.retryAfterMs > maxRetryAfterMs) return null;
      return err.retryAfterMs;
    }
    return Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
  }

  /** The last moment this write may leave: its deadline minus the time its answer may need. */
  private sendByMs(write: WriteControl | undefined): number | undefined {
    return write?.notAfterMs === undefined ? undefined : write.notAfterMs - Math.min(this.options.responseBudgetMs, this.options.timeoutMs);
  }

  private async attempt(call: HttpCall): Promise<unknown> {
    const write = call.write;
    const sendBy = this.sendByMs(write);
    if (this.options.limiter !== null) {
      const wait = this.options.limiter.acquire(call.endpoint, { ...(write?.signal ? { signal: write.signal } : {}), ...(sendBy !== undefined ? { notAfterMs: sendBy } : {}) });
      try {
        await waiting('rate_limit_wait', { endpoint: call.endpoint }, wait);
      } catch (err) {
        if (!(err instanceof LimiterWaitRefused)) throw err;
        throw err.reason === 'deadline'
          ? new WriteNotSentError(`${call.endpoint}: ${err.message}; not sent`, 'rate_limit_wait_exceeds_deadline', { endpoint: call.endpoint })
          : new WriteNotSentError(`${call.endpoint}: canceled while waiting on the rate limiter; not sent`, 'canceled', { endpoint: call.endpoint });
      }
    }
    if (write !== undefined) await this.finalCheck(call, write);
    const url = new URL(call.path, this.base);
    for (const [k, v] of call.query ?? []) url.searchParams.append(k, v);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (call.body !== undefined) headers['content-type'] = 'application/json';
    if (call.auth && this.options.signer !== null) {
      Object.assign(headers, this.options.signer.headers(this.options.now() + this.clockOffsetMs));
    }
    const raw = await this.send(call, url, headers);
    const result = interpret(call, raw);
    if (result instanceof RateLimitedError && this.options.limiter !== null) {
      this.options.limiter.pause(call.endpoint, result.retryAfterMs);
    }
    if (result instanceof Error) throw result;
    return result.value;
  }

  /**
   * Right before a write leaves: not once canceled, not with less time left before its deadline than
   * its answer may need (the response budget), and its own check (halt, gates).
   */
  private async finalCheck(call: HttpCall, write: WriteControl): Promise<void> {
    const sendBy = this.sendByMs(write);
    const stop = (why: 'deadline' | 'canceled'): WriteNotSentError =>
      new WriteNotSentError(
        `${call.endpoint}: ${why === 'deadline' ? 'too little of the attempt is left for an answer to arrive' : 'canceled'}; not sent`,
        why, { endpoint: call.endpoint },
      );
    const check = (): void => {
      if (write.signal?.aborted) throw stop('canceled');
      if (sendBy !== undefined && this.options.now() >= sendBy) throw stop('deadline');
    };
    check();
    if (write.beforeSend !== undefined) {
      await write.beforeSend();
      check(); // the check itself took a round trip
    }
  }

  private async send(call: HttpCall, url: URL, headers: Record<string, string>): Promise<RawResponse> {
    // A write waits for its answer no longer than its attempt may last; past that its outcome is
    // unknown. A cancellation (a halt) does not abort it: it passed its final check and has left, so
    // its answer is read and recorded (only its own deadline cuts it off).
    const left = call.write?.notAfterMs === undefined ? Infinity : call.write.notAfterMs - this.options.now();
    const timeoutMs = Math.max(1, Math.min(this.options.timeoutMs, left));
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      const res = await waiting('http_request', { endpoint: call.endpoint }, request(url, {
        method: call.method,
        headers,
        body: call.body === undefined ? null : JSON.stringify(call.body),
        dispatcher: this.agent,
        signal,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      }));
      const text = await waiting('http_response_body', { endpoint: call.endpoint }, res.body.text());
      return { status: res.statusCode, headers: res.headers, text };
    } catch (err) {
      // From here on an abort (cancellation or timeout) cannot take the request back: a write is ambiguous.
      throw transportError(call, err);
    }
  }
}

function transportError(call: HttpCall, err: unknown): ExchangeError {
  const code = (err as { code?: unknown } | null)?.code;
  const desc = `${call.endpoint}: ${describeTransport(err)}`;
  // An oversized answer: the request was processed, the body is refused (not retried: it would recur).
  if (code === 'UND_ERR_RES_EXCEEDED_MAX_SIZE') {
    const tooBig = `${call.endpoint}: response body larger than ${MAX_RESPONSE_BYTES} bytes`;
    return call.operation === 'read'
      ? new MalformedResponseError(tooBig, { endpoint: call.endpoint })
      : new AmbiguousWriteError(`${tooBig}; outcome unknown`, call.operation, { endpoint: call.endpoint });
  }
  // The connection was never established, or undici refused an argument (e.g. a header value)
  // before opening one: nothing was sent, so even a write definitely did not happen.
  const neverSent =
    code === 'UND_ERR_INVALID_ARG' ||
    err instanceof undiciErrors.ConnectTimeoutError ||
    code === 'ECONNREFUSED' ||
    code === 'ENOTFOUND' ||
    code === 'EAI_AGAIN' ||
    code === 'UND_ERR_CONNECT_TIMEOUT';
  if (call.operation !== 'read' && !neverSent) {
    return new AmbiguousWriteError(`${desc}; outcome unknown`, call.operation, { endpoint: call.endpoint, cause: err });
  }
  return new ExchangeUnavailableError(desc, { endpoint: call.endpoint, cause: err });
}

function describeTransport(err: unknown): string {
  if (err instanceof Error) {
    if (err.name === 'TimeoutError' || err.name === 'AbortError') return 'request timed out';
    const code = (err as { code?: unknown }).code;
    return `transport error ${typeof code === 'string' ? code : err.name}: ${err.message}`;
  }
  return 'transport error';
}

export type Interpreted = { value: unknown } | ExchangeError;

export function interpret(call: HttpCall, raw: RawResponse): Interpreted {
  const details = { endpoint: call.endpoint, httpStatus: raw.status };
  const body = tryParse(raw.text);
  const envelope = body !== undefined && isObject(body) ? body : null;
  const token = envelope !== null && typeof envelope['message'] === 'string' ? (envelope['message'] as string).slice(0, MAX_TOKEN_CHARS) : null;
  const code = envelope !== null ? codeText(envelope['code']) : undefined;
  const tokenDetails = { ...details, ...(token !== null ? { token } : {}), ...(code !== undefined ? { code } : {}) };
  const what = `${call.endpoint} HTTP ${raw.status}${token !== null ? ` ${token}` : ''}`;

  // A write's 429, 401 or 403 says "not processed" only in BTCTurk's own forms (its envelope; for a
  // 401 also an empty body, Q15). A proxy's page in front of a POST may hide a placed order (Q11):
  // unknown, never "not sent" and never sent again.
  const btcturkEnvelope = envelope !== null && typeof envelope['success'] === 'boolean';
  const ownForm = btcturkEnvelope || (raw.status === 401 && raw.text.trim() === '');
  if (call.operation !== 'read' && (raw.status === 429 || raw.status === 401 || raw.status === 403) && !ownForm) {
    return new AmbiguousWriteError(`${what}: no exchange envelope; outcome unknown`, call.operation, tokenDetails);
  }
  if (raw.status === 429) {
    return new RateLimitedError(`${what}: rate limited`, retryAfterMs(raw.headers['retry-after'], envelope), tokenDetails);
  }
  if (raw.status === 401 || raw.status === 403) {
    return new AuthenticationError(`${what}: authentication failed`, tokenDetails);
  }
  if (raw.status >= 500) {
    if (call.operation !== 'read') {
      return new AmbiguousWriteError(`${what}: server error; outcome unknown`, call.operation, tokenDetails);
    }
    return new ExchangeUnavailableError(`${what}: server error`, tokenDetails);
  }
  if (raw.status >= 400) {
    // A write's 4xx counts as a rejection only with BTCTurk's own error envelope. A proxy's 408, 409
    // or 425, an HTML page or an empty body says nothing about whether the order was placed.
    if (call.operation !== 'read' && !btcturkEnvelope) {
      return new AmbiguousWriteError(`${what}: no exchange envelope; outcome unknown`, call.operation, tokenDetails);
    }
    return rejection(call, what, token, tokenDetails);
  }
  if (raw.status < 200 || raw.status >= 300) {
    return call.operation === 'read'
      ? new MalformedResponseError(`${what}: unexpected status`, tokenDetails)
      : new AmbiguousWriteError(`${what}: unexpected status; outcome unknown`, call.operation, tokenDetails);
  }
  // 2xx from here on.
  if (body === undefined) {
    const shape = raw.text.trim() === '' ? 'empty body' : looksLikeHtml(raw.text) ? 'HTML body' : 'non-JSON body';
    if (call.operation !== 'read') {
      return new AmbiguousWriteError(`${what}: ${shape}; outcome unknown`, call.operation, tokenDetails);
    }
    return new MalformedResponseError(`${what}: ${shape}`, tokenDetails);
  }
  if (call.bare) return { value: body };
  if (envelope === null) {
    if (call.operation !== 'read') return new AmbiguousWriteError(`${what}: no envelope; outcome unknown`, call.operation, tokenDetails);
    return new MalformedResponseError(`${what}: response is not an envelope object`, tokenDetails);
  }
  const success = envelope['success'];
  if (success === true) return { value: envelope['data'] ?? null };
  if (success === false) return rejection(call, what, token, tokenDetails);
  if (call.operation !== 'read') return new AmbiguousWriteError(`${what}: envelope without success; outcome unknown`, call.operation, tokenDetails);
  return new MalformedResponseError(`${what}: envelope without a boolean success`, tokenDetails);
}

function rejection(
  call: HttpCall,
  what: string,
  token: string | null,
  details: { endpoint: string; httpStatus: number; token?: string; code?: string },
): ExchangeError {
  switch (classifyToken(token)) {
    case 'auth':
      return new AuthenticationError(`${what}: authentication failed`, details);
    case 'funds':
      return new InsufficientFundsError(`${what}: insufficient free balance`, details);
    case 'invalidOrder':
      return new InvalidOrderError(`${what}: order rejected`, details);
    case 'notFound':
      return new OrderNotFoundError(`${what}: order not found`, details);
    case 'notCancelable':
      return new OrderNotCancelableError(`${what}: order cannot be canceled`, details);
    case 'rateLimit':
      return new RateLimitedError(`${what}: rate limited`, 1_000, details);
    case 'server':
      return call.operation === 'read'
        ? new ExchangeUnavailableError(`${what}: server error`, details)
        : new AmbiguousWriteError(`${what}: server error; outcome unknown`, call.operation, details);
    case null:
      return new BadRequestError(`${what}: request rejected`, details);
  }
}

function tryParse(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return parseLosslessJson(text);
  } catch {
    return undefined;
  }
}

function isObject(v: unknown): v is JsonObject {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !isLosslessNumber(v);
}

/** BTCTurk `code` as text: a number or a string; anything else (object, array) is ignored. */
function codeText(v: unknown): string | undefined {
  if (isLosslessNumber(v) || typeof v === 'number' || typeof v === 'boolean') return String(v).slice(0, MAX_TOKEN_CHARS);
  if (typeof v === 'string') return v.slice(0, MAX_TOKEN_CHARS);
  return undefined;
}

function looksLikeHtml(text: string): boolean {
  return /^\s*</.test(text);
}

/** Retry-After in seconds (or an HTTP date); else "try again in N second(s)" in the body; else 1 s. */
export function retryAfterMs(header: string | string[] | undefined, envelope: JsonObject | null, nowMs = Date.now()): number {
  const value = Array.isArray(header) ? header[0] : header;
  if (value !== undefined && value.trim() !== '') {
    const seconds = Number(value.trim());
    if (Number.isFinite(seconds) && seconds >= 0) return Math.min(MAX_RETRY_AFTER_MS, Math.ceil(seconds * 1000));
    const date = /^\d+(\.\d*)?$/.test(value.trim()) || /^-/.test(value.trim()) ? Number.NaN : Date.parse(value);
    if (Number.isFinite(date)) return Math.min(MAX_RETRY_AFTER_MS, Math.max(0, date - nowMs));
  }
  const details = envelope !== null && typeof envelope['details'] === 'string' ? (envelope['details'] as string).slice(0, 1_000) : '';
  const m = /try again in (\d{1,9}) second/i.exec(details);
  if (m?.[1] !== undefined) return Math.min(MAX_RETRY_AFTER_MS, Number(m[1]) * 1000);
  return 1_000;
}

function readServerTime(body: unknown): number {
  if (isObject(body)) {
    const t = body['serverTime'];
    const text = isLosslessNumber(t) ? t.toString() : typeof t === 'string' && /^\s*\d{1,20}(\.\d*)?\s*$/.test(t) ? t : '';
    const n = text === '' || text.length > 40 ? Number.NaN : Math.trunc(Number(text));
    if (Number.isSafeInteger(n) && n > 0) return n;
  }
  throw new MalformedResponseError('GET /api/v2/server/time: no serverTime in the response');
}

export { realSleep };
