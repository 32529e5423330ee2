// A local HTTP server that speaks BTCTurk's wire format (reference §10): same paths (case-insensitive,
// one optional trailing slash), HMAC auth, envelopes, error tokens and status codes, plus a control
// plane under /__sim/* for tests (never under /api). Listens on 127.0.0.1 only.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Decimal } from '../domain/decimal.js';
import { SimAuth, DEFAULT_SIM_CREDENTIALS, type Permission, type SimApiKey } from './auth.js';
import type { ClockMode } from './clock.js';
import { SimulatorControl } from './control.js';
import { AFTER_COMMIT_FAULTS, CLOUDFLARE_HTML, FaultInjector, PRE_PROCESSING_FAULTS, proxyErrorHtml, type FaultRule } from './faults.js';
import { DEFAULT_PAIRS, currencyName, currencyPrecision, exchangeInfoPayload, pairName, type MalformedPairKind, type SimPairConfig } from './pairs.js';
import { SimRateLimiter } from './rate-limits.js';
import { DEFAULT_BALANCES, SimulatorEngine, isOpen, normaliseSymbol, type EngineConfig, type ManualTrade, type PricePath, type SimFill, type SimOrder } from './state.js';
import { ERROR_CODES, SimRejection, decimalNumber, errorBody, ok, rawNumber, toJson, type ErrorToken } from './wire.js';
import { parseLosslessJson } from '../exchange/json.js';

export type AuthErrorMode = 'json' | 'legacy' | 'empty';

export interface SimulatorOptions {
  /** 0 (default) = an ephemeral port. The host is always 127.0.0.1. */
  readonly port: number;
  /** Seed for every random decision (faults, price walks, generated client ids). Default 42. */
  readonly seed: number;
  /** `wall` (default): real time plus offsets; `manual`: stands still unless advanced. */
  readonly clock: ClockMode;
  /** Clock start in ms (default Date.now()). */
  readonly startTimeMs: number;
  readonly pairs: readonly SimPairConfig[];
  /** API keys accepted (default: the reference test-vector key, all permissions). */
  readonly credentials: readonly SimApiKey[];
  /** Initial free balances, asset → decimal string (default DEFAULT_BALANCES). */
  readonly balances: Readonly<Record<string, string>>;
  /** Price path per pair (default static). */
  readonly pricePaths: Readonly<Record<string, PricePath>>;
  /** Engine knobs: fees, VAT, cancel latency, fill visibility delay, strict tick, spread, price step. */
  readonly engine: SimulatorEngineOptions;
  /** Enforce BTCTurk's rate limits (default false). */
  readonly rateLimits: boolean;
  readonly authErrorMode: AuthErrorMode;
  /** Old payload casing: `"Buy"`, `"Limit"`, `pairsymbol` (default false). */
  readonly legacyCasing: boolean;
  /** Accept the cancel id in a JSON body as well as `?id=` (default false). */
  readonly lenientDeleteBody: boolean;
}

export type SimulatorEngineOptions = Partial<Omit<EngineConfig, 'makerFee' | 'takerFee' | 'vat'> & { makerFee: string; takerFee: string; vat: string }>;

export interface SimulatorSettings {
  rateLimits: boolean;
  authErrorMode: AuthErrorMode;
  legacyCasing: boolean;
  lenientDeleteBody: boolean;
}

export interface RequestLogEntry {
  readonly seq: number;
  readonly method: string;
  /** Endpoint key (`POST /api/v1/order`) or `unknown`. */
  readonly route: string;
  readonly path: string;
  readonly query: string;
  /** Simulator clock at arrival. */
  readonly atMs: number;
  /** Wall clock at arrival (rate-limit analysis). */
  readonly wallMs: number;
  status: number | null;
  faults: string[];
}

export interface RunningSimulator {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  readonly seed: number;
  /** Credentials the simulator accepts first (for building a client). */
  readonly credentials: { readonly apiKey: string; readonly apiSecret: string };
  /** Direct, in-process access to exchange state and ground truth. */
  readonly engine: SimulatorEngine;
  readonly faults: FaultInjector;
  readonly settings: SimulatorSettings;
  /** Every API request received (not control calls), oldest first. */
  readonly requests: RequestLogEntry[];
  /** The same control plane over HTTP (what an out-of-process test would use). */
  readonly control: SimulatorControl;
  /** API requests per route key. */
  counters(): Record<string, number>;
  close(): Promise<void>;
}

interface Route {
  readonly key: string;
  readonly method: 'GET' | 'POST' | 'DELETE';
  readonly pattern: RegExp;
  readonly auth: Permission | null;
}

const ROUTES: readonly Route[] = [
  { key: 'GET /api/v2/server/time', method: 'GET', pattern: /^\/api\/v2\/server\/time$/, auth: null },
  { key: 'GET /api/v2/server/exchangeinfo', method: 'GET', pattern: /^\/api\/v2\/server\/exchangeinfo$/, auth: null },
  { key: 'GET /api/v2/ticker', method: 'GET', pattern: /^\/api\/v2\/ticker$/, auth: null },
  { key: 'GET /api/v2/orderbook', method: 'GET', pattern: /^\/api\/v2\/orderbook$/, auth: null },
  { key: 'GET /api/v2/trades', method: 'GET', pattern: /^\/api\/v2\/trades$/, auth: null },
  { key: 'GET /api/v1/users/balances', method: 'GET', pattern: /^\/api\/v1\/users\/balances$/, auth: 'funds' },
  { key: 'GET /api/v1/openOrders', method: 'GET', pattern: /^\/api\/v1\/openorders$/, auth: 'trade' },
  { key: 'GET /api/v1/allOrders', method: 'GET', pattern: /^\/api\/v1\/allorders$/, auth: 'trade' },
  { key: 'GET /api/v1/order/{id}', method: 'GET', pattern: /^\/api\/v1\/order\/[^/]+$/, auth: 'trade' },
  { key: 'POST /api/v1/order', method: 'POST', pattern: /^\/api\/v1\/order$/, auth: 'trade' },
  { key: 'DELETE /api/v1/order', method: 'DELETE', pattern: /^\/api\/v1\/order$/, auth: 'trade' },
  { key: 'GET /api/v1/users/transactions/trade', method: 'GET', pattern: /^\/api\/v1\/users\/transactions\/trade$/, auth: 'account' },
];

const THIRTY_DAYS_MS = 30 * 24 * 3600 * 1000;
/** The public trades endpoint returns at most this many rows (reference §5.5, §12: "≤ 50"). */
const PUBLIC_TRADES_MAX = 50;

interface Reply {
  status: number;
  body?: unknown;
  raw?: string;
  headers?: Record<string, string>;
}

export async function startSimulator(options: Partial<SimulatorOptions> = {}): Promise<RunningSimulator> {
  const seed = options.seed ?? 42;
  const credentials = options.credentials ?? [DEFAULT_SIM_CREDENTIALS];
  const first = credentials[0] ?? DEFAULT_SIM_CREDENTIALS;
  const engine = new SimulatorEngine({
    seed,
    clock: options.clock ?? 'wall',
    startTimeMs: options.startTimeMs ?? Date.now(),
    pairs: options.pairs ?? DEFAULT_PAIRS,
    balances: options.balances ?? DEFAULT_BALANCES,
    config: options.engine ?? {},
    pricePaths: options.pricePaths ?? {},
  });
  const settings: SimulatorSettings = {
    rateLimits: options.rateLimits ?? false,
    authErrorMode: options.authErrorMode ?? 'json',
    legacyCasing: options.legacyCasing ?? false,
    lenientDeleteBody: options.lenientDeleteBody ?? false,
  };
  const auth = new SimAuth(credentials);
  const limiter = new SimRateLimiter();
  const faults = new FaultInjector(seed);
  const requests: RequestLogEntry[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const wait = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const t = setTimeout(() => {
        timers.delete(t);
        resolve();
      }, ms);
      timers.add(t);
    });

  const api = new ApiHandlers(engine, settings);

  async function handleApi(req: IncomingMessage, res: ServerResponse, url: URL, path: string, bodyText: string): Promise<void> {
    const matches = ROUTES.filter((r) => r.pattern.test(path));
    const route = matches.find((r) => r.method === req.method);
    const entry: RequestLogEntry = {
      seq: requests.length + 1,
      method: req.method ?? '',
      route: route?.key ?? 'unknown',
      path: url.pathname,
      query: url.search,
      atMs: engine.now(),
      wallMs: Date.now(),
      status: null,
      faults: [],
    };
    requests.push(entry);
    const reply = (r: Reply): void => {
      entry.status = r.status;
      send(res, r);
    };
    if (matches.length === 0) return reply({ status: 404, raw: '' });
    if (route === undefined) return reply({ status: 405, raw: '', headers: { allow: [...new Set(matches.map((m) => m.method))].join(', ') } });

    engine.settle();
    if (settings.rateLimits) {
      const verdict = limiter.hit(route.key, engine.now());
      if (verdict !== null) {
        const period = verdict.periodMs >= 60_000 ? `${verdict.periodMs / 60_000}m` : `${verdict.periodMs / 1000}s`;
        return reply({
          status: 429,
          headers: { 'retry-after': String(verdict.retryAfterSec) },
          body: {
            message: 'TOO_MANY_REQUESTS',
            success: false,
            code: 429,
            details: `Quota exceeded. Maximum allowed: ${verdict.limit} per ${period}. Please try again in ${verdict.retryAfterSec} second(s).`,
            limit: String(verdict.limit),
            period,
            policy: 'ip',
          },
        });
      }
    }

    const fired = faults.draw(route.key);
    entry.faults.push(...fired.map((f) => f.kind));
    // `holdThenCommit` holds like latency; the request is processed only after the hold.
    const latency = fired.filter((f) => f.kind === 'latency' || f.kind === 'holdThenCommit').reduce((s, f) => s + (f.latencyMs ?? 0), 0);
    if (latency > 0) await wait(latency);
    const pre = fired.find((f) => PRE_PROCESSING_FAULTS.has(f.kind));
    if (pre !== undefined) return reply(preFaultReply(pre));

    if (route.auth !== null) {
      const failure = auth.verify(req.headers, engine.now(), route.auth);
      if (failure !== null) {
        if (settings.authErrorMode === 'empty') return reply({ status: 401, raw: '', headers: { 'www-authenticate': 'Bearer' } });
        return reply({ status: 401, body: { success: settings.authErrorMode === 'legacy', message: failure, code: ERROR_CODES.UNAUTHORIZED.code } });
      }
    }

    let result: Reply;
    try {
      engine.settle();
      result = api.handle(route.key, req, url, path, bodyText, fired);
    } catch (err) {
      if (err instanceof SimRejection) {
        result = { status: ERROR_CODES[err.token].http, body: errorBody(err.token) };
      } else {
        result = { status: 500, body: errorBody('INTERNAL_ERROR') };
      }
    }

    const after = fired.find((f) => AFTER_COMMIT_FAULTS.has(f.kind));
    if (after === undefined) return reply(result);
    switch (after.kind) {
      case 'dropAfterCommit':
        entry.status = 0;
        res.socket?.destroy();
        return;
      case 'emptyAfterCommit':
        return reply({ status: 200, raw: '' });
      case 'htmlAfterCommit':
        return reply({ status: 502, raw: CLOUDFLARE_HTML, headers: { 'content-type': 'text/html' } });
      case 'proxy4xxAfterCommit': {
        const status = after.httpStatus ?? 409;
        return reply({ status, raw: proxyErrorHtml(status), headers: { 'content-type': 'text/html' } });
      }
      case 'delayAfterCommit':
        await wait(after.latencyMs ?? 30_000);
        if (!res.destroyed) reply(result);
        return;
      default:
        return reply(result);
    }
  }

  const control = new ControlHandlers(engine, settings, faults, requests, auth, limiter, seed);

  let port = 0;
  const server: Server = createServer((req, res) => {
    // One parse of the URL for the checks and the routing: `/./__sim/reset` is `/__sim/reset` to both.
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const path = url.pathname.toLowerCase().replace(/(.)\/$/, '$1');
    const refused = refuseForeign(req, path, port);
    if (refused !== null) {
      req.resume();
      return send(res, refused);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= 1_000_000) chunks.push(c);
    });
    req.on('end', () => {
      const bodyText = Buffer.concat(chunks).toString('utf8');
      const work = path.startsWith('/__sim/')
        ? Promise.resolve().then(() => send(res, control.handle(req.method ?? 'GET', path, url, bodyText)))
        : handleApi(req, res, url, path, bodyText);
      work.catch(() => {
        if (!res.headersSent) send(res, { status: 500, body: errorBody('INTERNAL_ERROR') });
      });
    });
  });
  server.keepAliveTimeout = 5_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  let closed: Promise<void> | null = null;
  return {
    url,
    port,
    seed,
    credentials: { apiKey: first.apiKey, apiSecret: first.apiSecret },
    engine,
    faults,
    settings,
    requests,
    control: new SimulatorControl(url),
    counters: () => countByRoute(requests),
    close: () => {
      closed ??= new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t);
        timers.clear();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

/** Host names that mean this machine; anything else reached us through DNS rebinding. */
const LOOPBACK_HOST = /^(127\.0\.0\.1|localhost|\[::1\])(:\d+)?$/i;

/**
 * DNS rebinding: a web page whose own name resolves to 127.0.0.1 reaches this server from a local
 * browser, but its requests carry that name as Host; only loopback names are answered. (The port
 * is not compared: a page cannot choose its Host, and a proxy in front of us keeps the one it got.)
 * And a cross-origin page can send a POST without a preflight only as a form or text/plain, so
 * the control plane takes nothing but JSON.
 */
function refuseForeign(req: IncomingMessage, path: string, port: number): Reply | null {
  if (!LOOPBACK_HOST.test(req.headers.host ?? '')) {
    return { status: 421, body: { error: `this simulator answers only to Host 127.0.0.1:${port} or localhost:${port}` } };
  }
  const control = path.startsWith('/__sim/');
  if (control && req.method !== 'GET' && !/^application\/json\s*(;|$)/i.test(req.headers['content-type'] ?? '')) {
    return { status: 415, body: { error: 'control requests other than GET must be application/json' } };
  }
  return null;
}

function countByRoute(requests: readonly RequestLogEntry[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of requests) out[r.route] = (out[r.route] ?? 0) + 1;
  return out;
}

function send(res: ServerResponse, r: Reply): void {
  if (res.headersSent || res.destroyed) return;
  const text = r.raw ?? (r.body === undefined ? '' : toJson(r.body));
  const headers: Record<string, string> = { ...(r.raw === undefined ? { 'content-type': 'application/json; charset=utf-8' } : {}), ...r.headers };
  headers['content-length'] = String(Buffer.byteLength(text));
  res.writeHead(r.status, headers);
  res.end(text);
}

function preFaultReply(f: FaultRule): Reply {
  switch (f.kind) {
    case 'http500':
      return { status: 500, body: errorBody('INTERNAL_ERROR') };
    case 'http503':
      return { status: 503, raw: '' };
    case 'http429': {
      const sec = f.retryAfterSec ?? 1;
      return {
        status: 429,
        headers: { 'retry-after': String(sec) },
        body: { message: 'TOO_MANY_REQUESTS', success: false, code: 429, details: `Quota exceeded. Please try again in ${sec} second(s).` },
      };
    }
    case 'emptyBody':
      return { status: 200, raw: '' };
    default:
      return { status: 502, raw: CLOUDFLARE_HTML, headers: { 'content-type': 'text/html' } };
  }
}

// -----------------------------------------------------------------------------------------------
// API handlers

class ApiHandlers {
  constructor(
    private readonly engine: SimulatorEngine,
    private readonly settings: SimulatorSettings,
  ) {}

  handle(route: string, req: IncomingMessage, url: URL, path: string, bodyText: string, fired: readonly FaultRule[]): Reply {
    const q = url.searchParams;
    const e = this.engine;
    switch (route) {
      case 'GET /api/v2/server/time': {
        const now = e.now();
        return { status: 200, body: { serverTime: now, serverTime2: new Date(now).toISOString().replace('Z', '0000+00:00') } };
      }
      case 'GET /api/v2/server/exchangeinfo':
        return { status: 200, body: ok(exchangeInfoPayload([...e.pairs.values()], e.now(), e.malformedPairs())) };
      case 'GET /api/v2/ticker':
        return { status: 200, body: ok(this.ticker(q.get('pairSymbol') ?? q.get('pairsymbol'))) };
      case 'GET /api/v2/orderbook':
        return this.orderBook(q);
      case 'GET /api/v2/trades':
        return this.publicTrades(q);
      case 'GET /api/v1/users/balances':
        return { status: 200, body: ok(this.balances()) };
      case 'GET /api/v1/openOrders':
        return this.openOrders(q);
      case 'GET /api/v1/allOrders':
        return this.allOrders(q);
      case 'GET /api/v1/order/{id}': {
        const idText = path.split('/').pop() ?? '';
        const order = /^\d{1,20}$/.test(idText) ? e.order(BigInt(idText)) : undefined;
        if (order === undefined || !e.isVisible(order)) throw new SimRejection('Order not found');
        return { status: 200, body: ok(this.orderRow(order, false)) };
      }
      case 'POST /api/v1/order':
        return this.submit(req, bodyText, fired);
      case 'DELETE /api/v1/order':
        return this.cancel(q, bodyText, fired);
      case 'GET /api/v1/users/transactions/trade':
        return this.trades(q, fired);
      default:
        return { status: 404, raw: '' };
    }
  }

  private ticker(pairSymbol: string | null): unknown[] {
    const e = this.engine;
    const pairs = [...e.pairs.values()].filter((p) => pairSymbol === null || pairName(p) === normaliseSymbol(pairSymbol));
    return pairs.map((p) => {
      const view = e.bookView(pairName(p));
      const mid = e.mid(pairName(p)) ?? new Decimal(p.price);
      const num = (d: Decimal | undefined): unknown => (d === undefined ? 0 : decimalNumber(d));
      return {
        pair: pairName(p),
        pairNormalized: `${p.base}_${p.quote}`,
        timestamp: e.now(),
        last: num(mid),
        high: num(mid),
        low: num(mid),
        bid: num(view.bids[0]?.price),
        ask: num(view.asks[0]?.price),
        open: num(mid),
        volume: 0,
        average: num(mid),
        daily: 0,
        dailyPercent: 0,
        denominatorSymbol: p.quote,
        numeratorSymbol: p.base,
        order: 1000 + p.id,
      };
    });
  }

  private orderBook(q: URLSearchParams): Reply {
    const symbol = q.get('pairSymbol') ?? q.get('pairsymbol');
    const pair = symbol === null ? undefined : this.engine.pair(symbol);
    if (pair === undefined) return { status: 400, body: errorBody('FAILED_ORDER_PARAMETER') };
    const limit = Math.min(1000, Math.max(1, Number(q.get('limit') ?? '100') || 100));
    const view = this.engine.bookView(pairName(pair));
    const level = (l: { price: Decimal; qty: Decimal }): [string, string] => [l.price.toFixed(pair.denominatorScale), l.qty.toFixed(pair.numeratorScale)];
    return {
      status: 200,
      body: ok({
        // BTCTurk has been seen sending this timestamp as a float (reference Q17).
        timestamp: rawNumber(`${this.engine.now()}.0`),
        bids: view.bids.slice(0, limit).map(level),
        asks: view.asks.slice(0, limit).map(level),
      }),
    };
  }

  /** Public trades, newest first, at most 50 (`last`, default 50; reference §5.5). */
  private publicTrades(q: URLSearchParams): Reply {
    const symbol = q.get('pairSymbol') ?? q.get('pairsymbol');
    const pair = symbol === null ? undefined : this.engine.pair(symbol);
    if (pair === undefined) return { status: 400, body: errorBody('FAILED_ORDER_PARAMETER') };
    const last = Math.min(PUBLIC_TRADES_MAX, Math.max(1, Number(q.get('last') ?? PUBLIC_TRADES_MAX) || PUBLIC_TRADES_MAX));
    const rows = this.engine.publicTrades(pairName(pair), last).map((t) => ({
      pair: pairName(pair), pairNormalized: `${pair.base}_${pair.quote}`, numerator: pair.base, denominator: pair.quote,
      date: t.tsMs, tid: t.tid.toString(), price: t.price.toFixed(pair.denominatorScale), amount: t.qty.toFixed(pair.numeratorScale), side: t.side,
    }));
    return { status: 200, body: ok(rows) };
  }

  private balances(): unknown[] {
    const now = this.engine.now();
    return this.engine.balanceRows().map((b) => ({
      asset: b.asset,
      assetname: currencyName(b.asset),
      balance: b.free.plus(b.locked).toFixed(16),
      locked: b.locked.toFixed(16),
      free: b.free.toFixed(16),
      orderFund: b.locked.toFixed(16),
      requestFund: '0',
      precision: currencyPrecision(b.asset),
      timestamp: now,
    }));
  }

  private openOrders(q: URLSearchParams): Reply {
    const symbol = q.get('pairSymbol') ?? q.get('pairsymbol');
    const key = symbol === null ? null : normaliseSymbol(symbol);
    if (key !== null && this.engine.pair(key) === undefined) return { status: 400, body: errorBody('FAILED_ORDER_PARAMETER') };
    const open = this.engine
      .allOrderList()
      .filter((o) => (key === null || o.symbol === key) && this.engine.isListedOpen(o))
      .sort((a, b) => (a.id > b.id ? -1 : 1));
    const rows = (side: 'buy' | 'sell'): unknown[] => open.filter((o) => o.side === side).map((o) => this.orderRow(o, true));
    return { status: 200, body: ok({ asks: rows('sell'), bids: rows('buy') }) };
  }

  private allOrders(q: URLSearchParams): Reply {
    const symbol = q.get('pairSymbol') ?? q.get('pairsymbol');
    const pair = symbol === null ? undefined : this.engine.pair(symbol);
    if (pair === undefined) return { status: 400, body: errorBody('FAILED_ORDER_PARAMETER') };
    const start = intParam(q.get('startTime'));
    const end = intParam(q.get('endTime'));
    const fromId = q.get('orderId');
    const limit = Math.min(1000, Math.max(1, intParam(q.get('limit')) ?? 100));
    const page = Math.max(1, intParam(q.get('page')) ?? 1);
    const rows = this.engine
      .allOrderList()
      .filter(
        (o) =>
          o.symbol === pairName(pair) &&
          this.engine.isVisible(o) &&
          (start === null || o.createdMs >= start) &&
          (end === null || o.createdMs <= end) &&
          (fromId === null || !/^\d+$/.test(fromId) || o.id >= BigInt(fromId)),
      )
      .sort((a, b) => (a.id > b.id ? -1 : 1))
      .slice((page - 1) * limit, page * limit);
    return { status: 200, body: ok(rows.map((o) => this.orderRow(o, false))) };
  }

  private submit(req: IncomingMessage, bodyText: string, fired: readonly FaultRule[]): Reply {
    const type = String(req.headers['content-type'] ?? '');
    if (!type.toLowerCase().startsWith('application/json')) return { status: 415, raw: '' };
    if (bodyText.trim() === '') return { status: 411, raw: '' };
    let body: unknown;
    try {
      body = parseLosslessJson(bodyText);
    } catch {
      throw new SimRejection('FAILED_ORDER_PARAMETER');
    }
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new SimRejection('FAILED_ORDER_PARAMETER');
    const b = body as Record<string, unknown>;
    const order = this.engine.submit({
      pairSymbol: b['pairSymbol'] ?? b['pairsymbol'],
      orderType: b['orderType'],
      orderMethod: b['orderMethod'],
      quantity: b['quantity'],
      price: b['price'],
      stopPrice: b['stopPrice'],
      newOrderClientId: b['newOrderClientId'],
    }, { hiddenMs: fired.find((f) => f.kind === 'orderInvisible')?.hiddenMs ?? 0 });
    const pair = this.engine.pair(order.symbol);
    const legacy = this.settings.legacyCasing;
    return {
      status: 200,
      body: ok(
        {
          id: order.id,
          datetime: order.createdMs,
          type: legacy ? capitalise(order.side) : order.side,
          method: legacy ? capitalise(order.method) : order.method,
          price: order.method === 'limit' ? order.price.toFixed() : null,
          stopPrice: null,
          quantity: order.qty.toFixed(),
          pairSymbol: order.symbol,
          pairSymbolNormalized: pair === undefined ? order.symbol : `${pair.base}_${pair.quote}`,
          newOrderClientId: order.clientId,
        },
        'OK',
      ),
    };
  }

  private cancel(q: URLSearchParams, bodyText: string, fired: readonly FaultRule[]): Reply {
    let idText = q.get('id');
    if (idText === null && this.settings.lenientDeleteBody && bodyText.trim() !== '') {
      try {
        const b = parseLosslessJson(bodyText) as Record<string, unknown> | null;
        if (b !== null && typeof b === 'object' && b['id'] !== undefined) idText = String(b['id']);
      } catch {
        // an unreadable body is the same as no id
      }
    }
    const thenFill = fired.find((f) => f.kind === 'cancelThenFill');
    this.engine.cancel(
      idText !== null && /^\d{1,20}$/.test(idText) ? BigInt(idText) : null,
      thenFill === undefined ? {} : { thenFillAfterMs: thenFill.latencyMs ?? 5_000 },
    );
    return { status: 200, body: { success: true, message: 'SUCCESS', code: 0 } };
  }

  private trades(q: URLSearchParams, fired: readonly FaultRule[]): Reply {
    const now = this.engine.now();
    const orderId = q.get('orderId');
    const pairSymbol = q.get('pairSymbol') ?? q.get('pairsymbol');
    const types = q.getAll('type').map((t) => t.toLowerCase());
    const symbols = q.getAll('symbol').map((s) => s.toUpperCase());
    const start = intParam(q.get('startDate'));
    const end = intParam(q.get('endDate'));
    let fills = this.engine.visibleFills();
    if (orderId !== null) {
      fills = /^\d+$/.test(orderId) ? fills.filter((f) => f.orderId === BigInt(orderId)) : [];
    } else {
      const from = start ?? (end === null ? now - THIRTY_DAYS_MS : Number.NEGATIVE_INFINITY);
      fills = fills.filter(
        (f) =>
          (pairSymbol === null || f.symbol === normaliseSymbol(pairSymbol)) &&
          (types.length === 0 || types.includes(f.side)) &&
          (symbols.length === 0 || symbols.includes(f.base) || symbols.includes(f.quote)) &&
          f.tsMs >= from &&
          (end === null || f.tsMs <= end),
      );
    }
    // Newest first, as BTCTurk sends them.
    const sorted = [...fills].sort((a, b) => b.tsMs - a.tsMs || (a.id > b.id ? -1 : 1));
    const missingIds = fired.some((f) => f.kind === 'missingTradeIds');
    let rows = sorted.map((f) => this.tradeRow(f, missingIds)).map((row) => (this.engine.drawOldStyleTradeRow() ? oldStyleTradeRow(row) : row));
    if (fired.some((f) => f.kind === 'duplicateTradeRows')) rows = rows.flatMap((r) => [r, r]);
    return { status: 200, body: ok(rows, 'SUCCESS') };
  }

  private tradeRow(f: SimFill, withoutId: boolean): Record<string, unknown> {
    const pair = this.engine.pair(f.symbol);
    const priceScale = pair?.denominatorScale ?? 8;
    const signed = f.side === 'sell' ? f.qty.neg() : f.qty;
    // `amount` is rounded on the real exchange; `preciseAmount` is exact.
    const rounded = signed.toDecimalPlaces(4, Decimal.ROUND_HALF_UP);
    const row: Record<string, unknown> = {
      id: f.id,
      orderId: f.orderId,
      orderClientId: f.clientId,
      timestamp: f.tsMs,
      price: f.price.toFixed(priceScale),
      amount: (rounded.isZero() ? signed : rounded).toFixed(),
      preciseAmount: decimalNumber(signed),
      fee: negated(f.fee),
      tax: negated(f.tax),
      numeratorSymbol: f.base,
      denominatorSymbol: f.quote,
      orderType: this.engine.wireOrderType(f.id) ?? f.side,
    };
    if (withoutId) delete row['id'];
    return row;
  }

  orderRow(o: SimOrder, inOpenOrders: boolean): Record<string, unknown> {
    const pair = this.engine.pair(o.symbol);
    const qtyScale = o.method === 'market' && o.side === 'buy' ? (pair?.denominatorScale ?? 8) : (pair?.numeratorScale ?? 8);
    const legacy = this.settings.legacyCasing;
    return {
      id: o.id,
      price: o.price.toFixed(pair?.denominatorScale ?? 8),
      amount: o.qty.toFixed(qtyScale),
      quantity: o.qty.toFixed(qtyScale),
      stopPrice: '0',
      [legacy ? 'pairsymbol' : 'pairSymbol']: o.symbol,
      pairSymbolNormalized: pair === undefined ? o.symbol : `${pair.base}_${pair.quote}`,
      type: legacy ? capitalise(o.side) : o.side,
      method: legacy ? capitalise(o.method) : o.method,
      orderClientId: o.clientId,
      time: inOpenOrders ? 0 : o.createdMs,
      updateTime: o.updatedMs,
      status: o.status,
      leftAmount: o.left.toFixed(qtyScale),
    };
  }
}

/**
 * A trade row as in BTCTurk's 2018 documented example: no `orderId`, `orderClientId` or
 * `preciseAmount`, price and amount as JSON numbers. A row that already lost its trade id keeps
 * its order id: the real rows of that form carried an id.
 */
function oldStyleTradeRow(row: Record<string, unknown>): Record<string, unknown> {
  if (row['id'] === undefined) return row;
  const { orderId: _orderId, orderClientId: _clientId, preciseAmount, ...rest } = row;
  return { ...rest, price: rawNumber(String(rest['price'])), amount: preciseAmount ?? rawNumber(String(rest['amount'])) };
}

function negated(d: Decimal): string {
  return d.isZero() ? '0.00000000' : d.neg().toFixed(8);
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function intParam(v: string | null): number | null {
  if (v === null || !/^-?\d{1,16}$/.test(v.trim())) return null;
  return Number(v.trim());
}

// -----------------------------------------------------------------------------------------------
// Control plane

class ControlHandlers {
  constructor(
    private readonly engine: SimulatorEngine,
    private readonly settings: SimulatorSettings,
    private readonly faults: FaultInjector,
    private readonly requests: RequestLogEntry[],
    private readonly auth: SimAuth,
    private readonly limiter: SimRateLimiter,
    private readonly seed: number,
  ) {}

  handle(method: string, path: string, _url: URL, bodyText: string): Reply {
    let body: Record<string, unknown> = {};
    if (bodyText.trim() !== '') {
      try {
        const parsed: unknown = JSON.parse(bodyText);
        if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
      } catch {
        return { status: 400, body: { error: 'control body is not JSON' } };
      }
    }
    try {
      return this.dispatch(`${method} ${path}`, body);
    } catch (err) {
      return { status: 400, body: { error: err instanceof Error ? err.message : String(err) } };
    }
  }

  private dispatch(key: string, b: Record<string, unknown>): Reply {
    const e = this.engine;
    const done = (extra: Record<string, unknown> = {}): Reply => ({ status: 200, body: { ok: true, clockMs: e.now(), ...extra } });
    switch (key) {
      case 'GET /__sim/state':
        e.settle();
        return { status: 200, body: e.groundTruth() };
      case 'POST /__sim/reset': {
        const seed = typeof b['seed'] === 'number' ? b['seed'] : this.seed;
        e.reset(seed);
        this.faults.clear(seed);
        this.requests.length = 0;
        this.auth.reset();
        this.limiter.reset();
        return done();
      }
      case 'POST /__sim/balances': {
        const balances = (b['balances'] ?? {}) as Record<string, string | { free: string; locked?: string }>;
        for (const [asset, v] of Object.entries(balances)) {
          if (typeof v === 'string') e.setBalance(asset, v);
          else e.setBalance(asset, v.free, v.locked ?? '0');
        }
        return done();
      }
      case 'POST /__sim/price':
        e.setMid(String(b['symbol']), new Decimal(String(b['price'])));
        return done();
      case 'POST /__sim/trades': {
        const side = b['side'] === 'buy' ? 'buy' : 'sell';
        const print = e.printTrade(String(b['symbol']), new Decimal(String(b['price'])), new Decimal(String(b['qty'])), side);
        return done({ tid: print.tid.toString() });
      }
      case 'POST /__sim/book':
        e.setBook(String(b['symbol']), (b['bids'] ?? []) as Array<[string, string]>, (b['asks'] ?? []) as Array<[string, string]>);
        return done();
      case 'POST /__sim/price-path':
        e.setPricePath(String(b['symbol']), b['path'] as PricePath);
        return done();
      case 'POST /__sim/tick': {
        const steps = typeof b['steps'] === 'number' ? b['steps'] : 1;
        for (let i = 0; i < steps; i++) e.tick();
        return done();
      }
      case 'POST /__sim/clock/advance':
        e.advanceClock(Number(b['ms'] ?? 0));
        return done();
      case 'POST /__sim/clock/set':
        e.clock.set(Number(b['ms']));
        e.settle();
        return done();
      case 'POST /__sim/manual-trade': {
        const fill = e.manualTrade(b as unknown as ManualTrade);
        return done({ fillId: fill.id.toString(), orderId: fill.orderId.toString() });
      }
      case 'POST /__sim/malformed-pair':
        e.malformPair(String(b['name']), b['kind'] as MalformedPairKind);
        return done();
      case 'POST /__sim/fill': {
        const fill = e.forceFill(BigInt(String(b['orderId'])), b['qty'] === undefined ? undefined : String(b['qty']), b['price'] === undefined ? undefined : String(b['price']));
        return done({ fillId: fill.id.toString() });
      }
      case 'GET /__sim/faults':
        return { status: 200, body: { faults: this.faults.list() } };
      case 'POST /__sim/faults':
        return done({ id: this.faults.add(b as unknown as FaultRule) });
      case 'DELETE /__sim/faults':
        this.faults.clear();
        return done();
      case 'POST /__sim/config': {
        const { rateLimits, authErrorMode, legacyCasing, lenientDeleteBody, ...engineKnobs } = b;
        if (typeof rateLimits === 'boolean') this.settings.rateLimits = rateLimits;
        if (authErrorMode === 'json' || authErrorMode === 'legacy' || authErrorMode === 'empty') this.settings.authErrorMode = authErrorMode;
        if (typeof legacyCasing === 'boolean') this.settings.legacyCasing = legacyCasing;
        if (typeof lenientDeleteBody === 'boolean') this.settings.lenientDeleteBody = lenientDeleteBody;
        applyEngineKnobs(e, engineKnobs);
        return done();
      }
      case 'GET /__sim/requests':
        return { status: 200, body: { requests: this.requests } };
      case 'DELETE /__sim/requests':
        this.requests.length = 0;
        return done();
      case 'GET /__sim/counters':
        return { status: 200, body: { counters: countByRoute(this.requests) } };
      default:
        return { status: 404, body: { error: `no control route ${key}` } };
    }
  }
}

export function applyEngineKnobs(e: SimulatorEngine, knobs: Record<string, unknown>): void {
  const c = e.config;
  const dec = (v: unknown): Decimal | undefined => (typeof v === 'string' || typeof v === 'number' ? new Decimal(v) : undefined);
  const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
  e.config = {
    makerFee: dec(knobs['makerFee']) ?? c.makerFee,
    takerFee: dec(knobs['takerFee']) ?? c.takerFee,
    vat: dec(knobs['vat']) ?? c.vat,
    cancelLatencyMs: num(knobs['cancelLatencyMs']) ?? c.cancelLatencyMs,
    fillVisibilityDelayMs: num(knobs['fillVisibilityDelayMs']) ?? c.fillVisibilityDelayMs,
    openOrdersLagMs: num(knobs['openOrdersLagMs']) ?? c.openOrdersLagMs,
    strictTick: typeof knobs['strictTick'] === 'boolean' ? knobs['strictTick'] : c.strictTick,
    spreadBps: num(knobs['spreadBps']) ?? c.spreadBps,
    priceStepMs: num(knobs['priceStepMs']) ?? c.priceStepMs,
    tradeRowsWithoutOrderId: num(knobs['tradeRowsWithoutOrderId']) ?? c.tradeRowsWithoutOrderId,
  };
}

export type { ErrorToken };
export { DEFAULT_SIM_CREDENTIALS, DEFAULT_BALANCES, DEFAULT_PAIRS };
