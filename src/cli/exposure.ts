// Who else can drive this worker through Temporal. Temporal authenticates clients only with mTLS
// or an API key, and the CLI dev server (`btcbot up`) has neither: every local user reaches its
// gRPC port and UI on 127.0.0.1, reads workflow ids, search attributes and payloads (balances,
// positions, orders), and can start workflows that schedule btcbot's activities. The payload key
// closes the payloads: with BTCBOT_PAYLOAD_KEY set nothing is readable without it, and the worker
// refuses anything not encrypted with it (src/codec.ts). So real money never rides on a Temporal
// connection that has neither.
import type { TemporalConnectOptions } from '../temporal-connection.js';

const LOOPBACK_HOST = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\]|::1)$/i;

/** `127.0.0.1:7233`, `localhost:7233`, `[::1]:7233`. */
export function isLoopbackAddress(address: string): boolean {
  const host = address.replace(/:\d+$/, '');
  return LOOPBACK_HOST.test(host);
}

export interface Exposure {
  /** mTLS (a client certificate) or an API key: the server can tell who connects. */
  authenticated: boolean;
  /** BTCBOT_PAYLOAD_KEY: payloads are ciphertext, and only its holders can drive the worker. */
  payloadKey: boolean;
  /** Who can reach the server without either, for messages. */
  audience: string;
}

export function exposureOf(options: TemporalConnectOptions, payloadKey: boolean): Exposure {
  const authenticated = options.tls?.clientCertPair !== undefined || options.apiKey !== undefined;
  const address = options.address;
  return { authenticated, payloadKey, audience: isLoopbackAddress(address) ? `every local user (${address})` : `anyone who reaches ${address}` };
}

/** One line for `up`'s summary: what the connection shows to others. */
export function exposureLine(e: Exposure): string {
  if (e.authenticated) return e.payloadKey ? 'clients authenticated; payloads encrypted (BTCBOT_PAYLOAD_KEY)' : 'clients authenticated';
  return e.payloadKey
    ? `no authentication: ${e.audience} sees workflow ids and search attributes; payloads encrypted (BTCBOT_PAYLOAD_KEY)`
    : `no authentication: ${e.audience} can read these cycles, payloads included, and start workflows; set BTCBOT_PAYLOAD_KEY`;
}

export const CLOSE_IT =
  'set BTCBOT_PAYLOAD_KEY (the same key on every worker and client), or TEMPORAL_TLS_CERT/TEMPORAL_TLS_KEY (mTLS) or TEMPORAL_API_KEY';

/**
 * Why a worker must not start: live trading armed, with credentials for a real (non-loopback)
 * exchange, over a Temporal connection that neither authenticates nor has the payload key. Null
 * when it may. A simulator on loopback is no real money: chaos runs and tests stay as they are.
 */
export function realMoneyRefusal(p: { armed: boolean; hasCredentials: boolean; exchangeBaseUrl: string; exposure: Exposure }): string | null {
  if (!p.armed || !p.hasCredentials || p.exposure.authenticated || p.exposure.payloadKey) return null;
  if (LOOPBACK_HOST.test(new URL(p.exchangeBaseUrl).hostname)) return null;
  return (
    `live trading is armed with BTCTurk credentials for ${new URL(p.exchangeBaseUrl).host}, but the Temporal connection is not ` +
    `authenticated and payloads are not encrypted: ${p.exposure.audience} could read this account's cycles and make this worker ` +
    `place orders; ${CLOSE_IT}`
  );
}
