// `btcbot codec-server`: the Temporal codec server protocol (POST /decode, JSON
// `{"payloads":[{"metadata":{k: base64},"data": base64}]}` both ways) over btcbot's payload
// encryption, so that an authorised operator's Temporal UI (or `temporal --codec-endpoint`) shows
// cycle inputs, results, activity summaries and details in plain text.
//
// Safe by default:
// - it listens on 127.0.0.1 unless told otherwise, and then answers only to loopback Host names
//   (a page that rebinds a DNS name to 127.0.0.1 gets nothing);
// - browsers may call it only from the configured Temporal UI origin(s) (CORS), any other Origin
//   is refused outright;
// - with BTCBOT_CODEC_TOKEN set, every request must carry it: `Authorization: Bearer <token>` (the
//   CLI's --codec-auth), or as the first path segment of the endpoint (`http://127.0.0.1:8888/<token>`,
//   for the UI, which appends /decode). Listening beyond loopback needs the token;
// - it decodes only. /encode is refused: with the key, an encoded payload is what proves to a
//   worker that it came from btcbot, so an encode endpoint would let whoever reaches it forge one.
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { dataConverterFromEnv, ENCRYPTED_ENCODING } from '../codec.js';
import { readSecret } from '../secrets.js';
import { SettingsError } from '../settings.js';
import { log } from './context.js';
import { EXIT, UsageError } from './errors.js';

export const DEFAULT_CODEC_PORT = 8888;
const MAX_BODY_BYTES = 8 * 1024 * 1024;
const LOOPBACK_HOST = /^(127\.0\.0\.1|localhost|\[::1\])(:\d+)?$/i;
const LOOPBACK_BIND = new Set(['127.0.0.1', 'localhost', '::1']);

export interface CodecServerOptions {
  codec: PayloadCodec;
  host: string;
  port: number;
  /** Browser origins allowed to call it (the Temporal UI's), e.g. http://127.0.0.1:8233. */
  origins: readonly string[];
  token: string | null;
}

interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

function authorised(req: IncomingMessage, pathToken: string | null, token: string | null): boolean {
  if (token === null) return true;
  const header = req.headers.authorization ?? '';
  const bearer = /^Bearer\s+(.+)$/i.exec(header)?.[1]?.trim() ?? null;
  const given = bearer ?? pathToken;
  return given !== null && timingSafeEqual(digest(given), digest(token));
}

function fromJson(p: JsonPayload): Payload {
  const metadata: Record<string, Uint8Array> = {};
  for (const [k, v] of Object.entries(p.metadata ?? {})) metadata[k] = Buffer.from(String(v), 'base64');
  return { metadata, data: Buffer.from(String(p.data ?? ''), 'base64') };
}

function toJson(p: Payload): JsonPayload {
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(p.metadata ?? {})) metadata[k] = Buffer.from(v).toString('base64');
  return { metadata, data: Buffer.from(p.data ?? []).toString('base64') };
}

/** Decode what is ours; pass anything else through as it is (the UI then shows it raw). */
async function decodeAll(codec: PayloadCodec, payloads: readonly JsonPayload[]): Promise<JsonPayload[]> {
  return Promise.all(payloads.map(async (jp) => {
    const p = fromJson(jp);
    const encoding = Buffer.from(p.metadata?.encoding ?? []).toString();
    if (encoding !== ENCRYPTED_ENCODING) return jp;
    try {
      return toJson((await codec.decode([p]))[0]!);
    } catch {
      return jp; // another key or tampered: shown encrypted, never an error page
    }
  }));
}

async function readBody(req: IncomingMessage): Promise<string | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) return null;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export async function startCodecServer(opts: CodecServerOptions): Promise<{ url: string; close(): Promise<void>; server: Server }> {
  const loopback = LOOPBACK_BIND.has(opts.host);
  const origins = new Set(opts.origins);
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
      res.end(JSON.stringify(body));
    };
    if (loopback && !LOOPBACK_HOST.test(req.headers.host ?? '')) return send(421, { error: 'this codec server answers only to loopback host names' });
    const origin = req.headers.origin;
    if (origin !== undefined && !origins.has(origin)) return send(403, { error: `origin ${origin} is not allowed (--ui-origin)` });
    const cors: Record<string, string> = origin === undefined ? {} : {
      'access-control-allow-origin': origin,
      'access-control-allow-credentials': 'true',
      'access-control-allow-methods': 'POST, OPTIONS',
      'access-control-allow-headers': 'content-type, x-namespace, authorization',
      'access-control-max-age': '600',
      vary: 'Origin',
    };
    const path = new URL(req.url ?? '/', 'http://codec').pathname.split('/').filter(Boolean);
    const endpoint = path.at(-1);
    const pathToken = path.length === 2 ? decodeURIComponent(path[0]!) : null;
    if (path.length > 2 || (endpoint !== 'decode' && endpoint !== 'encode')) return send(404, { error: 'POST /decode' }, cors);
    if (req.method === 'OPTIONS') {
      res.writeHead(204, cors);
      return void res.end();
    }
    if (req.method !== 'POST') return send(405, { error: 'POST only' }, { ...cors, allow: 'POST, OPTIONS' });
    if (!authorised(req, pathToken, opts.token)) return send(401, { error: 'a valid token is required (BTCBOT_CODEC_TOKEN)' }, cors);
    if (endpoint === 'encode') {
      return send(403, { error: 'btcbot codec-server only decodes: an encrypted payload is what workers accept as btcbot\'s own' }, cors);
    }
    const body = await readBody(req);
    if (body === null) return send(413, { error: `body larger than ${MAX_BODY_BYTES} bytes` }, cors);
    let parsed: { payloads?: unknown };
    try {
      parsed = JSON.parse(body) as { payloads?: unknown };
    } catch {
      return send(400, { error: 'body is not JSON' }, cors);
    }
    if (!Array.isArray(parsed.payloads)) return send(400, { error: 'expected {"payloads": [...]}' }, cors);
    send(200, { payloads: await decodeAll(opts.codec, parsed.payloads as JsonPayload[]) }, cors);
  };
  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end('{"error":"internal error"}');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const hostPart = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  return {
    url: `http://${hostPart}:${port}`,
    server,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

/** The UI origins allowed by default: the local dev server's UI as a browser may name it. */
export function defaultUiOrigins(env: NodeJS.ProcessEnv): string[] {
  const port = env.BTCBOT_UI_PORT?.trim() || '8233';
  return [`http://127.0.0.1:${port}`, `http://localhost:${port}`];
}

export async function codecServer(
  { port, host, uiOrigin }: { port?: string; host?: string; uiOrigin?: string },
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const portNumber = port === undefined ? DEFAULT_CODEC_PORT : Number(port);
  if (!Number.isInteger(portNumber) || portNumber < 0 || portNumber > 65535) throw new UsageError('--port must be 0-65535');
  const origins = uiOrigin === undefined ? defaultUiOrigins(env) : uiOrigin.split(',').map((o) => o.trim()).filter(Boolean);
  for (const o of origins) {
    if (!URL.canParse(o) || new URL(o).origin !== o) throw new UsageError(`--ui-origin must be origins like http://127.0.0.1:8233 (scheme, host and port only), got ${JSON.stringify(o.slice(0, 80))}`);
  }
  const converter = dataConverterFromEnv(env);
  const codec = converter?.payloadCodecs?.[0];
  if (!codec) throw new SettingsError('BTCBOT_PAYLOAD_KEY (or its _FILE) is not set: payloads are not encrypted, and the UI shows them without a codec server');
  const token = readSecret(env, 'BTCBOT_CODEC_TOKEN');
  const bind = host ?? '127.0.0.1';
  if (!LOOPBACK_BIND.has(bind) && token === null) {
    throw new SettingsError(`--host ${bind} is not loopback: set BTCBOT_CODEC_TOKEN (or its _FILE), and put TLS in front of it, before exposing decryption`);
  }
  const server = await startCodecServer({ codec, host: bind, port: portNumber, origins, token });
  console.log(`btcbot codec server listening on ${server.url} (decode only; UI origins ${origins.join(', ')}${token ? '; token required' : ''})`);
  console.log(`  Temporal UI: Settings (the gear) > Codec Server > endpoint ${server.url}${token ? '/<BTCBOT_CODEC_TOKEN>' : ''}, "Include cross-origin credentials" off`);
  console.log(`  temporal CLI: --codec-endpoint ${server.url}${token ? ' --codec-auth "Bearer $BTCBOT_CODEC_TOKEN"' : ''}`);
  log('Ctrl-C stops it');
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await server.close();
  return EXIT.ok;
}
