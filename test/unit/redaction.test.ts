import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createBtcturkExchange } from '../../src/exchange/btcturk/client.js';
import { signBtcturk } from '../../src/exchange/btcturk/auth.js';
import { redact, redactUrl } from '../../src/redaction.js';

// Real-looking credentials, registered the way the worker registers them: by building its client.
const apiKey = `ak${randomBytes(12).toString('hex')}`;
const secretBytes = randomBytes(32);
const apiSecret = secretBytes.toString('base64');
await createBtcturkExchange({ baseUrl: 'http://127.0.0.1:9', credentials: { apiKey, apiSecret } }).close();

describe('redaction', () => {
  it('removes the configured key and secret, in every spelling of the secret, wherever they appear', () => {
    for (const text of [
      `upstream said: bad key ${apiKey}`,
      `echo ${apiSecret} back`,
      `hex ${secretBytes.toString('hex')} and url-safe ${secretBytes.toString('base64url')}`,
      `glued${apiSecret}glued`,
    ]) {
      const out = redact(text);
      expect(out).not.toContain(apiKey);
      expect(out).not.toContain(apiSecret);
      expect(out).not.toContain(secretBytes.toString('hex'));
      expect(out).not.toContain(secretBytes.toString('base64url'));
      expect(out).toContain('[redacted]');
    }
  });

  it('removes signatures and credential fields written as name: value or name=value', () => {
    const signature = signBtcturk(apiKey, secretBytes, '1700000000000');
    expect(redact(`sig ${signature} end`)).toBe('sig [redacted] end');
    expect(redact('X-Signature: abc123 /api/v1/openOrders 31500000124')).toBe('X-Signature: [redacted] /api/v1/openOrders 31500000124');
    expect(redact('{"apiSecret":"c2VjcmV0","pairSymbol":"BTCTRY"}')).toBe('{"apiSecret":"[redacted]","pairSymbol":"BTCTRY"}');
    expect(redact('password=hunter2&user=bob')).toBe('password=[redacted]&user=bob');
    expect(redact('Authorization: Bearer eyJhbGciOi.x.y')).toBe('Authorization: [redacted]');
  });

  // Not registered: another process's environment dump, a secret before it was registered, a key of another service.
  const VALUE = 'Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA';
  it.each([
    ['an environment dump line', `child failed; env: BTCTURK_API_SECRET=${VALUE}`],
    ['a prefixed header', `request headers: x-api-secret: ${VALUE}`],
    ['an OAuth-style field', `client_secret=${VALUE}&grant_type=x`],
    ['JSON with a prefixed key', `{"btcturk_api_secret":"${VALUE}"}`],
    ['a secret after the word, space separated', `invalid secret ${VALUE} supplied`],
    ['the Temporal API key in an environment dump', `TEMPORAL_API_KEY=${VALUE}`],
    ['a Basic authorization header', `Authorization: Basic ${VALUE}`],
    ['an x-api-key header', `x-api-key: ${VALUE}`],
    ['the payload key', `BTCBOT_PAYLOAD_KEY="${VALUE}"`],
    ['a bearer token in prose', `sent Bearer ${VALUE} to the server`],
  ])('removes an unregistered credential in %s', (_name, text) => {
    const out = redact(text);
    expect(out).not.toContain(VALUE);
    expect(out).toContain('[redacted]');
  });

  it('keeps the rest of the line, and the name of the field, readable', () => {
    expect(redact(`child failed; env: BTCTURK_API_SECRET=${VALUE} LOG_LEVEL=info`)).toBe('child failed; env: BTCTURK_API_SECRET=[redacted] LOG_LEVEL=info');
    expect(redact(`Authorization: Basic ${VALUE}, next`)).toBe('Authorization: [redacted], next');
    expect(redact(`invalid secret ${VALUE} supplied`)).toBe('invalid secret [redacted] supplied');
  });

  it('leaves ordinary prose alone, even when it talks about secrets', () => {
    for (const prose of [
      'BTCTurk API secret must be valid base64 (standard alphabet, padded)',
      'missing BTCTurk API credentials: both an API key and an API secret are required',
      'the secret is out, the password is wrong, authorization denied',
      'password authentication failed for user "btcbot_app"',
      'BTCTURK_API_KEY and BTCTURK_API_SECRET (or their *_FILE forms) must be set together',
      'GET /api/v1/users/balances: 401 Unauthorized - Invalid Signature',
      'order 31500000124 FAILED_MIN_TOTAL_AMOUNT at 2026-01-01T00:00:00.000Z',
      'BTCTURK_API_SECRET_FILE=/run/secrets/btcturk_api_secret cannot be read (ENOENT)',
      'TEMPORAL_TLS_KEY=/etc/temporal/client.key is not the key of TEMPORAL_TLS_CERT=/etc/temporal/client.pem',
      'the secret key 31500000124123456789 is a trade id here (digits only)',
      'the API key has no withdrawal permission; keep the secret in a 0600 file',
      'basic checks passed; bearer of the key token',
    ]) {
      expect(redact(prose)).toBe(prose);
    }
  });

  it('cuts a huge text only after removing secrets, so no part of one survives the cut', () => {
    const out = redact(`${'x'.repeat(1_990)}${apiSecret}${'y'.repeat(5_000)}`);
    expect(out).not.toContain(apiSecret.slice(0, 8));
    expect(out.endsWith('…[truncated]')).toBe(true);
  });

  it('cuts between characters: an emoji at the limit is kept or dropped whole, never half (jsonb refuses half a pair)', () => {
    const lone = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
    for (const pad of [1_998, 1_999, 2_000]) {
      const out = redact(`${'x'.repeat(pad)}\u{1F680}${'y'.repeat(100)}`);
      expect(out.endsWith('…[truncated]')).toBe(true);
      expect(out).not.toMatch(lone);
    }
  });
});

describe('redactUrl', () => {
  it('masks a password in the user info and in the query string', () => {
    expect(redactUrl('postgres://btcbot:hunter2@db.internal:5432/btcbot')).toBe('postgres://btcbot:***@db.internal:5432/btcbot');
    const masked = redactUrl('postgres://btcbot@db.internal:5432/btcbot?sslmode=require&password=hunter2&sslpassword=p2');
    expect(masked).not.toContain('hunter2');
    expect(masked).not.toContain('p2');
    expect(masked).toBe('postgres://btcbot@db.internal:5432/btcbot?sslmode=require&password=***&sslpassword=***');
  });

  it('keeps a URL without a password as it is, and never echoes one it cannot parse', () => {
    expect(redactUrl('postgres://btcbot@127.0.0.1:5432/btcbot?sslmode=disable')).toBe('postgres://btcbot@127.0.0.1:5432/btcbot?sslmode=disable');
    expect(redactUrl('host=db password=hunter2')).toBe('<unparseable url>');
  });
});
