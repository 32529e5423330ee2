// BTCTurk v1 authentication (reference §3): X-PCK = key, X-Stamp = ms, X-Signature =
// base64(HMAC-SHA256(key = base64decode(secret), message = utf8(key + stamp))). Stamps strictly
// increase per signer (a collision or a clock step back bumps by 1 ms).
import { createHmac } from 'node:crypto';
import { registerSecret } from '../../redaction.js';
import { ExchangeConfigError } from '../errors.js';

export interface ApiCredentials {
  readonly apiKey: string;
  /** Base64 text, as issued by BTCTurk. */
  readonly apiSecret: string;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Validate credentials before any request: a missing key or a non-base64 secret is a config error. */
export function validateCredentials(credentials: ApiCredentials): { apiKey: string; secretBytes: Buffer } {
  const apiKey = credentials.apiKey?.trim() ?? '';
  const secret = credentials.apiSecret?.trim() ?? '';
  if (apiKey === '' || secret === '') {
    throw new ExchangeConfigError('missing BTCTurk API credentials: both an API key and an API secret are required');
  }
  registerSecret(secret);
  registerSecret(apiKey);
  if (/\s/.test(apiKey)) throw new ExchangeConfigError('BTCTurk API key must not contain whitespace');
  // It travels as the X-PCK header: anything but printable ASCII would be refused by the HTTP stack.
  if (!/^[\x21-\x7e]+$/.test(apiKey)) throw new ExchangeConfigError('BTCTurk API key must be printable ASCII');
  if (!BASE64.test(secret)) {
    throw new ExchangeConfigError('BTCTurk API secret must be valid base64 (standard alphabet, padded)');
  }
  const secretBytes = Buffer.from(secret, 'base64');
  if (secretBytes.length === 0) throw new ExchangeConfigError('BTCTurk API secret decodes to zero bytes');
  // The decoded key in other spellings, in case anything ever renders the bytes.
  registerSecret(secretBytes.toString('base64'));
  registerSecret(secretBytes.toString('hex'));
  registerSecret(secretBytes.toString('base64url'));
  return { apiKey, secretBytes };
}

export function signBtcturk(apiKey: string, secretBytes: Buffer, stamp: string): string {
  return createHmac('sha256', secretBytes).update(apiKey + stamp, 'utf8').digest('base64');
}

export interface AuthHeaders {
  readonly 'X-PCK': string;
  readonly 'X-Stamp': string;
  readonly 'X-Signature': string;
}

export class BtcturkSigner {
  readonly #apiKey: string;
  readonly #secretBytes: Buffer;
  #lastStamp = 0;

  constructor(credentials: ApiCredentials) {
    const v = validateCredentials(credentials);
    this.#apiKey = v.apiKey;
    this.#secretBytes = v.secretBytes;
  }

  /** A strictly increasing stamp: max(nowMs, last + 1). */
  nextStamp(nowMs: number): number {
    const stamp = Math.max(Math.trunc(nowMs), this.#lastStamp + 1);
    this.#lastStamp = stamp;
    return stamp;
  }

  headers(nowMs: number): AuthHeaders {
    const stamp = String(this.nextStamp(nowMs));
    return { 'X-PCK': this.#apiKey, 'X-Stamp': stamp, 'X-Signature': signBtcturk(this.#apiKey, this.#secretBytes, stamp) };
  }

  // Keep the secret out of util.inspect / JSON dumps of the client.
  toJSON(): string {
    return '[BtcturkSigner]';
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return '[BtcturkSigner]';
  }
}
