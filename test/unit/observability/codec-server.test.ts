// `btcbot codec-server`: decodes btcbot's encrypted payloads for the Temporal UI, and nothing more.
import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter } from '@temporalio/common';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startCodecServer } from '../../../src/cli/codec-server.js';
import { EncryptionCodec } from '../../../src/codec.js';

const codec = new EncryptionCodec('k1', randomBytes(32));
const UI = 'http://127.0.0.1:8233';
const TOKEN = 'codec-token-0123456789';
let server: Awaited<ReturnType<typeof startCodecServer>>;

const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
async function encrypted(value: unknown) {
  const [p] = await codec.encode([defaultPayloadConverter.toPayload(value)]);
  return { metadata: Object.fromEntries(Object.entries(p!.metadata!).map(([k, v]) => [k, b64(v)])), data: b64(p!.data!) };
}
const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  request(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

beforeAll(async () => {
  server = await startCodecServer({ codec, host: '127.0.0.1', port: 0, origins: [UI], token: TOKEN });
});
afterAll(async () => {
  await server.close();
});

describe('codec server', () => {
  test('decodes an encrypted payload (token as bearer or as the first path segment), passes others through', async () => {
    const plain = { metadata: { encoding: b64(Buffer.from('json/plain')) }, data: b64(Buffer.from('"as is"')) };
    const res = await post('/decode', { payloads: [await encrypted({ outcome: 'blocked' }), plain] }, { authorization: `Bearer ${TOKEN}`, origin: UI });
    expect(res.statusCode).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBe(UI);
    const { payloads } = (await res.body.json()) as { payloads: Array<{ data: string }> };
    expect(JSON.parse(Buffer.from(payloads[0]!.data, 'base64').toString())).toEqual({ outcome: 'blocked' });
    expect(payloads[1]).toEqual(plain);
    const viaPath = await post(`/${TOKEN}/decode`, { payloads: [await encrypted('x')] });
    expect(viaPath.statusCode).toBe(200);
    await viaPath.body.dump();
  });

  test('refuses: no or a wrong token, another origin, a non-loopback Host, and /encode (it would forge payloads)', async () => {
    const body = { payloads: [await encrypted('x')] };
    const statuses = await Promise.all([
      post('/decode', body),
      post('/decode', body, { authorization: 'Bearer wrong' }),
      post('/decode', body, { authorization: `Bearer ${TOKEN}`, origin: 'https://evil.example' }),
      post('/decode', body, { authorization: `Bearer ${TOKEN}`, host: 'rebound.example:8888' }),
      post('/encode', body, { authorization: `Bearer ${TOKEN}` }),
    ].map(async (p) => {
      const r = await p;
      await r.body.dump();
      return r.statusCode;
    }));
    expect(statuses).toEqual([401, 401, 403, 421, 403]);
  });
});
