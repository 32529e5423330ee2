// Simulator-side verification of BTCTurk v1 auth (reference §3): headers present, known key,
// signature = base64(HMAC-SHA256(base64decode(secret), key + stamp)), stamp within ±5 s of the
// simulator clock, and no (key, stamp) pair used twice.
import { createHmac, timingSafeEqual } from 'node:crypto';

export type Permission = 'funds' | 'trade' | 'account';

export interface SimApiKey {
  readonly apiKey: string;
  /** Base64 secret, as BTCTurk issues it. */
  readonly apiSecret: string;
  readonly permissions?: readonly Permission[];
}

/** The reference's test-vector key (reference §3); the simulator accepts it unless told otherwise. */
export const DEFAULT_SIM_CREDENTIALS: SimApiKey = {
  apiKey: 'sim-public-key-0001',
  apiSecret: 'c2ltLXNlY3JldC1ieXRlcy0wMTIzNDU2Nzg5YWJjZGVm',
};

export type AuthFailure =
  | 'Unauthorized - Headers are missing'
  | 'Unauthorized - Invalid Public key'
  | 'Unauthorized - Invalid Signature'
  | 'Unauthorized - Invalid Nonce'
  | 'Unauthorized - Invalid Request';

const WINDOW_MS = 5_000;

export class SimAuth {
  private readonly keys = new Map<string, { secret: Buffer; permissions: ReadonlySet<Permission> }>();
  private readonly seen = new Map<string, Map<string, number>>();

  constructor(keys: readonly SimApiKey[]) {
    for (const k of keys) {
      this.keys.set(k.apiKey, {
        secret: Buffer.from(k.apiSecret, 'base64'),
        permissions: new Set(k.permissions ?? ['funds', 'trade', 'account']),
      });
    }
  }

  /** Null when the request is authentic and allowed; else the 401 message. */
  verify(headers: Record<string, string | string[] | undefined>, nowMs: number, permission: Permission): AuthFailure | null {
    const one = (name: string): string | undefined => {
      const v = headers[name];
      return Array.isArray(v) ? v[0] : v;
    };
    const key = one('x-pck');
    const stamp = one('x-stamp');
    const signature = one('x-signature');
    if (!key || !stamp || !signature) return 'Unauthorized - Headers are missing';
    const entry = this.keys.get(key);
    if (entry === undefined) return 'Unauthorized - Invalid Public key';
    const expected = createHmac('sha256', entry.secret).update(key + stamp, 'utf8').digest();
    const given = Buffer.from(signature, 'base64');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'Unauthorized - Invalid Signature';
    const stampMs = /^\d{1,16}$/.test(stamp) ? Number(stamp) : Number.NaN;
    if (!Number.isFinite(stampMs) || Math.abs(stampMs - nowMs) > WINDOW_MS) return 'Unauthorized - Invalid Nonce';
    let used = this.seen.get(key);
    if (used === undefined) {
      used = new Map();
      this.seen.set(key, used);
    }
    if (used.has(stamp)) return 'Unauthorized - Invalid Nonce';
    used.set(stamp, stampMs);
    // Stamps older than the window can never be accepted again, so they need not be remembered.
    if (used.size > 10_000) for (const [s, t] of used) if (t < nowMs - WINDOW_MS * 2) used.delete(s);
    if (!entry.permissions.has(permission)) return 'Unauthorized - Invalid Request';
    return null;
  }

  reset(): void {
    this.seen.clear();
  }
}
