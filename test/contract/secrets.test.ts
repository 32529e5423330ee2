// Secrets never leak. With real-looking random credentials, every client error path we can produce
// against the simulator (and a hostile echo server) is exercised, and each thrown error — message,
// stack, String(), JSON, enumerable fields, util.inspect, and its whole cause chain — must contain
// neither the API secret (as text, or its decoded bytes in base64 / base64url / hex) nor any
// X-Signature value that was actually sent. Signatures are captured by a loopback proxy between
// the client and the simulator. The simulator's request log and state dump are checked too.
import { randomBytes } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Decimal } from '../../src/domain/decimal.js';
import { asClientOrderId, asExchangeOrderId, toPairSymbol } from '../../src/domain/types.js';
import { createBtcturkExchange, type BtcturkExchangeOptions } from '../../src/exchange/btcturk/client.js';
import {
  AmbiguousWriteError,
  AuthenticationError,
  ExchangeConfigError,
  ExchangeError,
  ExchangeUnavailableError,
  InsufficientFundsError,
  InvalidOrderError,
  MalformedResponseError,
  OrderNotFoundError,
  RateLimitedError,
} from '../../src/exchange/errors.js';
import type { Exchange } from '../../src/exchange/port.js';
import type { FaultKind } from '../../src/simulator/faults.js';
import { startSimulator, type AuthErrorMode, type RunningSimulator } from '../../src/simulator/server.js';

const BTCTRY = toPairSymbol('BTCTRY');

function randomCredentials(): { apiKey: string; apiSecret: string } {
  return { apiKey: `${randomBytes(18).toString('base64url')}`, apiSecret: randomBytes(48).toString('base64') };
}

/** Every spelling of a secret that must never appear. */
function secretForms(apiSecret: string): string[] {
  const bytes = Buffer.from(apiSecret, 'base64');
  return [apiSecret, bytes.toString('base64'), bytes.toString('base64url'), bytes.toString('hex'), bytes.toString('hex').toUpperCase()];
}

// ---------------------------------------------------------------------------------------------
// A loopback proxy that records every X-Signature the client sends, then forwards verbatim.

interface SigningProxy {
  readonly url: string;
  readonly signatures: Set<string>;
  close(): Promise<void>;
}

async function startProxy(targetPort: number): Promise<SigningProxy> {
  const signatures = new Set<string>();
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const sig = req.headers['x-signature'];
    if (typeof sig === 'string') signatures.add(sig);
    const upstream = httpRequest(
      { host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers: req.headers, agent: false },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
        up.on('error', () => res.destroy());
        up.on('aborted', () => res.destroy());
      },
    );
    // The simulator dropped the connection (dropAfterCommit): drop ours too.
    upstream.on('error', () => res.socket?.destroy());
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    signatures,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

// ---------------------------------------------------------------------------------------------
// Leak assertions

/** Every rendering of an error and of its cause chain that could reach a log or a Temporal failure. */
function renderings(err: unknown): string[] {
  const out: string[] = [];
  const seen = new Set<unknown>();
  let current: unknown = err;
  while (current !== undefined && current !== null && !seen.has(current)) {
    seen.add(current);
    out.push(String(current));
    out.push(JSON.stringify(current) ?? '');
    out.push(inspect(current, { depth: 8, showHidden: true }));
    if (current instanceof Error) {
      out.push(current.message, current.stack ?? '', current.name);
      for (const key of Object.getOwnPropertyNames(current)) {
        const v = (current as unknown as Record<string, unknown>)[key];
        out.push(typeof v === 'string' ? v : (JSON.stringify(v) ?? String(v)));
      }
      current = (current as { cause?: unknown }).cause;
    } else {
      current = undefined;
    }
  }
  return out;
}

function expectNoLeak(label: string, err: unknown, forbidden: Iterable<string>): void {
  const texts = renderings(err);
  for (const secret of forbidden) {
    if (secret.length < 8) continue;
    for (const text of texts) {
      if (text.includes(secret)) {
        // Show where, without printing the secret itself into the test output.
        const at = text.indexOf(secret);
        const context = `${text.slice(Math.max(0, at - 80), at)}<SECRET>${text.slice(at + secret.length, at + secret.length + 80)}`;
        throw new Error(`${label}: leaked a forbidden value in ${JSON.stringify(context.split(secret).join('<SECRET>'))}`);
      }
    }
  }
}

async function failureOf(call: () => Promise<unknown>): Promise<unknown> {
  try {
    await call();
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to fail');
}

// ---------------------------------------------------------------------------------------------

const order = (over: Partial<{ price: string; qty: string; side: 'buy' | 'sell'; cid: string }> = {}) => ({
  symbol: BTCTRY,
  side: over.side ?? ('buy' as const),
  price: new Decimal(over.price ?? '3300000'),
  qty: new Decimal(over.qty ?? '0.001'),
  clientOrderId: asClientOrderId(over.cid ?? `sec-${randomBytes(4).toString('hex')}`),
});

describe('the leak detector', () => {
  it('finds a secret in an enumerable field, in a cause two levels down, and in a stack', () => {
    const secret = randomBytes(32).toString('base64');
    const withField = Object.assign(new Error('plain'), { token: `x ${secret}` });
    const deepCause = new Error('outer', { cause: new Error('middle', { cause: new Error(`inner ${secret}`) }) });
    const inStack = new Error('plain');
    inStack.stack = `Error: plain\n    at ${secret}`;
    for (const err of [withField, deepCause, inStack]) expect(() => expectNoLeak('probe', err, [secret])).toThrow(/leaked/);
    expect(() => expectNoLeak('probe', new Error('clean'), [secret])).not.toThrow();
  });
});

describe('secrets never leak through client errors', () => {
  const creds = randomCredentials();
  const wrong = randomCredentials();
  const fundsOnly = randomCredentials();
  let sim: RunningSimulator;
  let proxy: SigningProxy;
  const clients: Exchange[] = [];
  /** Every error produced, with a label, checked at the end against every signature seen. */
  const collected: Array<[string, unknown]> = [];

  const client = (over: Partial<BtcturkExchangeOptions> = {}): Exchange => {
    const x = createBtcturkExchange({
      baseUrl: proxy.url,
      credentials: creds,
      rateLimiter: false,
      timeoutMs: 400,
      retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2, maxRetryAfterMs: 50 },
      ...over,
    });
    clients.push(x);
    return x;
  };
  const forbidden = (): string[] => [
    ...secretForms(creds.apiSecret),
    ...secretForms(wrong.apiSecret),
    ...secretForms(fundsOnly.apiSecret),
    ...proxy.signatures,
  ];
  const collect = async (label: string, call: () => Promise<unknown>): Promise<unknown> => {
    const err = await failureOf(call);
    collected.push([label, err]);
    expectNoLeak(label, err, forbidden());
    return err;
  };

  beforeAll(async () => {
    sim = await startSimulator({
      credentials: [creds, { ...fundsOnly, permissions: ['funds'] }],
      balances: { TRY: '100000', BTC: '1' },
    });
    proxy = await startProxy(sim.port);
  });
  afterEach(() => {
    sim.faults.clear();
  });
  afterAll(async () => {
    for (const x of clients) await x.close();
    await proxy.close();
    await sim.close();
  });

  it.each<[AuthErrorMode]>([['json'], ['legacy'], ['empty']])('401s in %s mode: wrong secret, unknown key, missing permission', async (mode) => {
    sim.settings.authErrorMode = mode;
    try {
      const badSecret = client({ credentials: { apiKey: creds.apiKey, apiSecret: wrong.apiSecret } });
      const badKey = client({ credentials: wrong });
      const noPermission = client({ credentials: fundsOnly });
      expect(await collect(`${mode} wrong secret`, () => badSecret.getBalances())).toBeInstanceOf(AuthenticationError);
      expect(await collect(`${mode} wrong secret submit`, () => badSecret.submitLimitOrder(order()))).toBeInstanceOf(AuthenticationError);
      expect(await collect(`${mode} unknown key`, () => badKey.getOpenOrders(BTCTRY))).toBeInstanceOf(AuthenticationError);
      expect(await collect(`${mode} missing permission`, () => noPermission.getOpenOrders(BTCTRY))).toBeInstanceOf(AuthenticationError);
    } finally {
      sim.settings.authErrorMode = 'json';
    }
  });

  it('400 rejections by token: min total, price scale, band, insufficient funds, unknown order, unknown cancel', async () => {
    const x = client();
    expect(await collect('min total', () => x.submitLimitOrder(order({ qty: '0.00002' })))).toBeInstanceOf(InvalidOrderError);
    expect(await collect('price scale', () => x.submitLimitOrder(order({ price: '3300000.5' })))).toBeInstanceOf(InvalidOrderError);
    expect(await collect('band', () => x.submitLimitOrder(order({ price: '40000000' })))).toBeInstanceOf(InvalidOrderError);
    expect(await collect('funds', () => x.submitLimitOrder(order({ qty: '5' })))).toBeInstanceOf(InsufficientFundsError);
    expect(await collect('unknown order', () => x.getOrder(asExchangeOrderId('31599999999')))).toBeInstanceOf(OrderNotFoundError);
    expect(await collect('unknown cancel', () => x.cancelOrder(asExchangeOrderId('31599999999')))).toBeInstanceOf(ExchangeError);
    expect(await collect('bad client id', () => x.submitLimitOrder(order({ cid: 'has spaces' })))).toBeInstanceOf(InvalidOrderError);
  });

  it('429 beyond the retry budget, persistent 500 on a read, 500 on a submit', async () => {
    const x = client();
    sim.faults.add({ route: 'GET /api/v1/users/balances', kind: 'http429', retryAfterSec: 100 });
    expect(await collect('429', () => x.getBalances())).toBeInstanceOf(RateLimitedError);
    sim.faults.add({ route: 'GET /api/v1/users/balances', kind: 'http500', times: null });
    expect(await collect('500 read', () => x.getBalances())).toBeInstanceOf(ExchangeUnavailableError);
    sim.faults.clear();
    sim.faults.add({ route: 'POST /api/v1/order', kind: 'http500' });
    expect(await collect('500 submit', () => x.submitLimitOrder(order()))).toBeInstanceOf(AmbiguousWriteError);
  });

  it.each<[FaultKind]>([['dropAfterCommit'], ['emptyAfterCommit'], ['htmlAfterCommit'], ['delayAfterCommit']])(
    'ambiguous submit and cancel with %s',
    async (kind) => {
      const x = client();
      sim.faults.add({ route: 'POST /api/v1/order', kind, latencyMs: 2_000 });
      expect(await collect(`${kind} submit`, () => x.submitLimitOrder(order()))).toBeInstanceOf(AmbiguousWriteError);
      const placed = await x.submitLimitOrder(order());
      sim.faults.add({ route: 'DELETE /api/v1/order', kind, latencyMs: 2_000 });
      expect(await collect(`${kind} cancel`, () => x.cancelOrder(placed.exchangeOrderId))).toBeInstanceOf(AmbiguousWriteError);
    },
  );

  it('malformed bodies and timeouts on private reads', async () => {
    const x = client();
    sim.faults.add({ route: 'GET /api/v1/openOrders', kind: 'emptyBody' });
    expect(await collect('empty body', () => x.getOpenOrders(BTCTRY))).toBeInstanceOf(MalformedResponseError);
    sim.faults.add({ route: 'GET /api/v1/allOrders', kind: 'htmlBody', times: null });
    expect(await collect('html body', () => x.getAllOrders(BTCTRY))).toBeInstanceOf(ExchangeError);
    sim.faults.add({ route: 'GET /api/v1/users/transactions/trade', kind: 'latency', latencyMs: 1_500, times: null });
    expect(await collect('timeout', () => x.getFills(BTCTRY, { startMs: 0 }))).toBeInstanceOf(ExchangeUnavailableError);
  });

  it('a refused connection on a read and on a submit', async () => {
    // A port that was just free: bind, read the number, close.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const x = client({ baseUrl: `http://127.0.0.1:${port}` });
    expect(await collect('refused read', () => x.getBalances())).toBeInstanceOf(ExchangeUnavailableError);
    expect(await collect('refused submit', () => x.submitLimitOrder(order()))).toBeInstanceOf(ExchangeUnavailableError);
  });

  it('configuration errors: bad base64, missing key, non-ASCII key, credentials in the URL, no credentials', async () => {
    const configFailure = (label: string, options: BtcturkExchangeOptions): void => {
      let err: unknown;
      try {
        clients.push(createBtcturkExchange(options));
      } catch (e) {
        err = e;
      }
      expect(err, label).toBeInstanceOf(ExchangeConfigError);
      collected.push([label, err]);
      expectNoLeak(label, err, forbidden());
    };
    configFailure('unpadded secret', { baseUrl: sim.url, credentials: { apiKey: creds.apiKey, apiSecret: creds.apiSecret.replace(/=+$/, '') + 'A' } });
    configFailure('secret with junk', { baseUrl: sim.url, credentials: { apiKey: creds.apiKey, apiSecret: `${creds.apiSecret}!` } });
    configFailure('secret with a space', { baseUrl: sim.url, credentials: { apiKey: creds.apiKey, apiSecret: `${creds.apiSecret.slice(0, 10)} ${creds.apiSecret.slice(10)}` } });
    configFailure('missing key', { baseUrl: sim.url, credentials: { apiKey: '', apiSecret: creds.apiSecret } });
    configFailure('non-ASCII key', { baseUrl: sim.url, credentials: { apiKey: 'ключ-1', apiSecret: creds.apiSecret } });
    configFailure('secret in the URL', { baseUrl: `http://user:${encodeURIComponent(creds.apiSecret)}@127.0.0.1:${sim.port}`, credentials: creds });
    configFailure('secret as a path on a remote http URL', { baseUrl: `http://example.invalid/${creds.apiSecret}`, credentials: creds });
    const anonymous = client({ credentials: undefined });
    expect(await collect('no credentials', () => anonymous.getBalances())).toBeInstanceOf(ExchangeConfigError);
  });

  it('every error collected above is clean against every signature the proxy saw', () => {
    expect(proxy.signatures.size).toBeGreaterThan(20);
    expect(collected.length).toBeGreaterThan(30);
    for (const [label, err] of collected) expectNoLeak(label, err, forbidden());
  });

  it('neither the simulator request log, its control-plane dump, nor the client object exposes the secret or a signature', async () => {
    const dumps = [
      JSON.stringify(sim.requests),
      JSON.stringify(await sim.control.requests()),
      JSON.stringify(await sim.control.state()),
      JSON.stringify(sim.engine.groundTruth()),
      JSON.stringify(await sim.control.counters()),
      ...clients.map((x) => JSON.stringify(x)),
      ...clients.map((x) => inspect(x, { depth: 10, showHidden: true })),
    ];
    expect(sim.requests.length).toBeGreaterThan(10);
    for (const secret of forbidden()) {
      for (const dump of dumps) expect(dump.includes(secret), `dump contains ${secret.slice(0, 6)}…`).toBe(false);
    }
  });
});

describe('a hostile server that echoes the request headers back cannot smuggle a signature into an error', () => {
  const creds = randomCredentials();
  let server: Server;
  let url = '';
  const signatures = new Set<string>();
  type EchoMode = 'token400' | 'token401' | 'code200' | 'details429';
  let mode = 'token400' as EchoMode;
  const clients: Exchange[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      const sig = String(req.headers['x-signature'] ?? '');
      const key = String(req.headers['x-pck'] ?? '');
      if (sig !== '') signatures.add(sig);
      req.resume();
      req.on('end', () => {
        if ((req.url ?? '').startsWith('/api/v2/server/time')) {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ serverTime: Date.now() }));
          return;
        }
        const echo = `bad signature ${sig} for ${key} (x-signature: ${sig}; secret=${sig})`;
        const bodies = {
          token400: [400, { success: false, message: echo, code: sig }],
          token401: [401, { success: false, message: `Unauthorized - ${echo}`, code: 1037 }],
          code200: [200, { success: false, message: echo, code: sig, data: sig }],
          details429: [429, { success: false, message: 'TOO_MANY_REQUESTS', code: sig, details: echo }],
        } as const;
        const [status, body] = bodies[mode];
        res.writeHead(status, { 'content-type': 'application/json', 'retry-after': '100' });
        res.end(JSON.stringify(body));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    for (const x of clients) await x.close();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  });

  it.each<[EchoMode]>([['token400'], ['token401'], ['code200'], ['details429']])('echo as %s', async (m) => {
    mode = m;
    const x = createBtcturkExchange({ baseUrl: url, credentials: creds, rateLimiter: false, timeoutMs: 1_000, retry: { maxAttempts: 1 } });
    clients.push(x);
    const errs = [await failureOf(() => x.getBalances()), await failureOf(() => x.submitLimitOrder(order()))];
    expect(signatures.size).toBeGreaterThan(0);
    for (const err of errs) {
      expect(err).toBeInstanceOf(ExchangeError);
      expectNoLeak(`echo ${m}`, err, [...secretForms(creds.apiSecret), ...signatures]);
    }
  });
});
