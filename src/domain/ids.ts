// Deterministic identifiers. The same inputs always give the same id, so an activity retry or a
// workflow replay re-sends the same client order id instead of creating a second order.
import { ClientOrderIdError } from './errors.js';
import { fnv1a64Hex, sha256Hex } from './hash.js';
import { asClientOrderId, asFillId, type ClientOrderId, type FillId, type PairSymbol, type Side } from './types.js';

/** BTCTurk accepts `newOrderClientId` up to 50 characters. */
export const MAX_CLIENT_ORDER_ID_LENGTH = 50;
export const CLIENT_ORDER_ID_PREFIX = 's4-';

/**
 * `s4-<fnv64(cycleId)>-<symbol>-<side>-<leg>`, e.g. `s4-1f0c…e2-btctry-buy-0`: at most 49 characters
 * (symbols are ≤ 20). The cycle id is hashed because workflow ids are long and not hex.
 */
export function clientOrderIdFor(cycleId: string, symbol: PairSymbol, side: Side, leg: number): ClientOrderId {
  if (cycleId === '') throw new ClientOrderIdError('cycle id is empty');
  if (!Number.isInteger(leg) || leg < 0 || leg > 999) throw new ClientOrderIdError(`leg must be an integer 0..999, got ${leg}`);
  const id = `${CLIENT_ORDER_ID_PREFIX}${fnv1a64Hex(cycleId)}-${symbol.toLowerCase()}-${side}-${leg}`;
  if (id.length > MAX_CLIENT_ORDER_ID_LENGTH) throw new ClientOrderIdError(`client order id longer than ${MAX_CLIENT_ORDER_ID_LENGTH}: ${id}`);
  return asClientOrderId(id);
}

/** True for ids this bot makes; anything else on the exchange is someone else's order. */
export function isOwnClientOrderId(id: string | null): boolean {
  return id !== null && /^s4-[0-9a-f]{16}-[a-z0-9]{2,20}-(buy|sell)-\d{1,3}$/.test(id);
}

/**
 * Fallback fill id when the exchange gives none: SHA-256 hex of `orderId|timestamp|price|amount`
 * over the raw wire texts (the original's formula, so ids match a Python-written ledger). Never the
 * client order id, which BTCTurk does not keep unique.
 */
export function fallbackFillId(orderId: string, timestamp: string, price: string, amount: string): FillId {
  return asFillId(sha256Hex(`${orderId}|${timestamp}|${price}|${amount}`));
}
