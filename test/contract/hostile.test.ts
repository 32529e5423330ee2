// Hostile responses over the wire: a tiny loopback HTTP server answers the real client with
// garbage (truncated JSON, HTML, wrong shapes, null data, 10 MB bodies, stalled or cut bodies).
// Every call must end in a typed exchange error — or the correct empty value where the API allows
// one — and never in an untyped crash or a hang.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Decimal } from '../../src/domain/decimal.js';
import { asClientOrderId, asExchangeOrderId, toPairSymbol } from '../../src/domain/types.js';
import { createBtcturkExchange } from '../../src/exchange/btcturk/client.js';
import { MAX_RESPONSE_BYTES } from '../../src/exchange/btcturk/http.js';
import {
  AmbiguousWriteError,
  ExchangeError,
  ExchangeUnavailableError,
  MalformedResponseError,
} from '../../src/exchange/errors.js';
import type { Exchange } from '../../src/exchange/port.js';

const BTCTRY = toPairSymbol('BTCTRY');

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

interface HostileServer {
  readonly url: string;
  /** Paths requested, in order. */
  readonly hits: string[];
  respond(handler: Handler): void;
  close(): Promise<void>;
}

async function startHostileServer(): Promise<HostileServer> {
  let handler: Handler = (_req, res) => res.end();
  const hits: string[] = [];
  const server: Server = createServer((req, res) => {
    hits.push(`${req.method} ${new URL(req.url ?? '/', 'http://127.0.0.1').pathname}`);
    req.resume();
    req.on('end', () => handler(req, res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    hits,
    respond: (h) => {
      handler = h;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

const json = (status: number, text: string, headers: Record<string, string> = {}): Handler => (_req, res) => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(text);
};
/** Answer the server-time probe properly (the client uses it to resync after a 401) and `other` elsewhere. */
const withTime = (other: Handler): Handler => (req, res) => {
  if ((req.url ?? '').startsWith('/api/v2/server/time')) return json(200, `{"serverTime":${Date.now()}}`)(req, res);
  return other(req, res);
};

/** Run a call; it must fail with an ExchangeError (returned) — anything else fails the test. */
async function typedFailure(call: () => Promise<unknown>): Promise<ExchangeError> {
  let outcome: unknown;
  try {
    outcome = await call();
  } catch (err) {
    if (err instanceof ExchangeError) return err;
    throw new Error(`untyped failure: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
  }
  throw new Error(`expected a typed error, got a value: ${JSON.stringify(outcome)?.slice(0, 200)}`);
}

const READS: ReadonlyArray<[string, (x: Exchange) => Promise<unknown>]> = [
  ['getExchangeRules', (x) => x.getExchangeRules()],
  ['getOrderBook', (x) => x.getOrderBook(BTCTRY)],
  ['getTickerQuotes', (x) => x.getTickerQuotes()],
  ['getBalances', (x) => x.getBalances()],
  ['getOpenOrders', (x) => x.getOpenOrders(BTCTRY)],
  ['getAllOrders', (x) => x.getAllOrders(BTCTRY, { startMs: 0 })],
  ['getOrder', (x) => x.getOrder(asExchangeOrderId('31500000123'))],
  ['getFills', (x) => x.getFills(BTCTRY, { startMs: 0 })],
];

describe('hostile bodies on reads', () => {
  let srv: HostileServer;
  let exchange: Exchange;
  beforeAll(async () => {
    srv = await startHostileServer();
    exchange = createBtcturkExchange({
      baseUrl: srv.url,
      credentials: { apiKey: `k-${randomBytes(8).toString('hex')}`, apiSecret: randomBytes(32).toString('base64') },
      rateLimiter: false,
      timeoutMs: 1_000,
      retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2, maxRetryAfterMs: 10 },
    });
  });
  afterAll(async () => {
    await exchange.close();
    await srv.close();
  });
  beforeEach(() => {
    srv.hits.length = 0;
  });

  const balancesEnvelope = '{"success":true,"message":null,"code":0,"data":[{"asset":"BTC","free":"1.5","locked":"0","balance":"1.5"}]}';
  const bodies: ReadonlyArray<[string, string]> = [
    ['truncated JSON', balancesEnvelope.slice(0, 41)],
    ['an HTML page', '<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>'],
    ['plain text', 'Service temporarily unavailable'],
    ['a bare JSON string', '"nope"'],
    ['a bare array', '[1,2,3]'],
    ['data as a string', '{"success":true,"data":"nope"}'],
    ['data as a number', '{"success":true,"data":12345678901234567890123}'],
    ['success as a string', '{"success":"true","data":[]}'],
    ['NaN inside', '{"success":true,"data":[{"asset":"BTC","free":NaN}]}'],
    ['nesting 100 000 deep', `{"success":true,"data":${'['.repeat(100_000)}${']'.repeat(100_000)}}`],
    ['a prototype-poisoned code', '{"success":true,"code":{"toString":1},"data":{"symbols":{"toString":1},"bids":{"valueOf":1}}}'],
  ];

  for (const [readName, read] of READS) {
    it.each(bodies)(`${readName}: a 200 with %s is MalformedResponseError, asked once`, async (_what, body) => {
      srv.respond(withTime(json(200, body)));
      const err = await typedFailure(() => read(exchange));
      expect(err).toBeInstanceOf(MalformedResponseError);
      // A malformed answer is not retried by the client (the next attempt would get the same).
      expect(srv.hits.filter((h) => !h.includes('/server/time'))).toHaveLength(1);
    });
  }

  it.each<[string, (x: Exchange) => Promise<unknown>, unknown]>([
    ['getFills', (x) => x.getFills(BTCTRY, { startMs: 0 }), []],
    ['getAllOrders', (x) => x.getAllOrders(BTCTRY, { startMs: 0 }), []],
  ])('%s: success with data null is the empty list the API means by it', async (_name, read, expected) => {
    srv.respond(json(200, '{"success":true,"message":null,"code":0,"data":null}'));
    await expect(read(exchange)).resolves.toEqual(expected);
  });

  it.each(READS.filter(([n]) => n !== 'getFills' && n !== 'getAllOrders'))(
    '%s: success with data null is MalformedResponseError (no empty value is meaningful there)',
    async (_name, read) => {
      srv.respond(json(200, '{"success":true,"message":null,"code":0,"data":null}'));
      expect(await typedFailure(() => read(exchange))).toBeInstanceOf(MalformedResponseError);
    },
  );

  it('getServerTime: garbage serverTime values are MalformedResponseError', async () => {
    for (const body of ['{"serverTime":{"toString":1}}', '{"serverTime":"0x10"}', '{"serverTime":-5}', '{"serverTime":1e400}', '[]', '<html>']) {
      srv.respond(json(200, body));
      expect(await typedFailure(() => exchange.getServerTime()), body).toBeInstanceOf(MalformedResponseError);
    }
  });

  it('a 10 MB JSON body is refused at the size cap as MalformedResponseError, without retrying', async () => {
    const big = `{"success":true,"data":[${Array.from({ length: 200_000 }, (_, i) => `{"asset":"A${i}","free":"1.00000000000000000000000000000000000000"}`).join(',')}]}`;
    expect(big.length).toBeGreaterThan(MAX_RESPONSE_BYTES);
    srv.respond(json(200, big));
    expect(await typedFailure(() => exchange.getBalances())).toBeInstanceOf(MalformedResponseError);
    expect(srv.hits).toHaveLength(1);
  });

  it('a body under the cap that is a 6 MB string instead of a list is MalformedResponseError', async () => {
    srv.respond(json(200, `{"success":true,"data":"${'x'.repeat(6_000_000)}"}`));
    expect(await typedFailure(() => exchange.getFills(BTCTRY, { startMs: 0 }))).toBeInstanceOf(MalformedResponseError);
  });

  it('a body cut short by the server (Content-Length larger than sent) is ExchangeUnavailableError after the retries', async () => {
    srv.respond((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
      res.write('{"success":true,"data":[');
      res.socket?.destroy();
    });
    expect(await typedFailure(() => exchange.getTickerQuotes())).toBeInstanceOf(ExchangeUnavailableError);
    expect(srv.hits).toHaveLength(2);
  });

  it('a body that stalls after the headers ends in ExchangeUnavailableError (timeout), not a hang', async () => {
    srv.respond((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"success":true,"data":[');
    });
    expect(await typedFailure(() => exchange.getTickerQuotes())).toBeInstanceOf(ExchangeUnavailableError);
  });
});

describe('hostile bodies on writes are ambiguous, never a crash', () => {
  let srv: HostileServer;
  let exchange: Exchange;
  beforeAll(async () => {
    srv = await startHostileServer();
    exchange = createBtcturkExchange({
      baseUrl: srv.url,
      credentials: { apiKey: `k-${randomBytes(8).toString('hex')}`, apiSecret: randomBytes(32).toString('base64') },
      rateLimiter: false,
      timeoutMs: 1_000,
      retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2, maxRetryAfterMs: 10 },
    });
  });
  afterAll(async () => {
    await exchange.close();
    await srv.close();
  });

  const submit = (): Promise<unknown> =>
    exchange.submitLimitOrder({ symbol: BTCTRY, side: 'buy', price: new Decimal('3300000'), qty: new Decimal('0.001'), clientOrderId: asClientOrderId('hostile-1') });

  it.each<[string, string]>([
    ['data as a string', '{"success":true,"data":"nope"}'],
    ['data null', '{"success":true,"data":null}'],
    ['an id that is not an integer', '{"success":true,"data":{"id":"12ab"}}'],
    ['an id object', '{"success":true,"data":{"id":{"toString":1}}}'],
    ['truncated JSON', '{"success":true,"data":{"id":315'],
    ['an HTML page', '<html>oops</html>'],
  ])('a submit answered 200 with %s is AmbiguousWriteError', async (_what, body) => {
    srv.respond(json(200, body));
    expect(await typedFailure(submit)).toBeInstanceOf(AmbiguousWriteError);
  });

  it('a submit answered with a 10 MB body is AmbiguousWriteError (the order may exist)', async () => {
    srv.respond(json(200, `{"success":true,"data":{"id":1,"pad":"${'x'.repeat(10_000_000)}"}}`));
    expect(await typedFailure(submit)).toBeInstanceOf(AmbiguousWriteError);
  });

  it('a cancel answered with garbage is AmbiguousWriteError', async () => {
    srv.respond(json(200, '{"success":'));
    const err = await typedFailure(() => exchange.cancelOrder(asExchangeOrderId('31500000123')));
    expect(err).toBeInstanceOf(AmbiguousWriteError);
    expect((err as AmbiguousWriteError).operation).toBe('cancel');
  });
});
