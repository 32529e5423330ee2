// BTCTurk wire format, simulator side: envelopes, the error-code table (one place, so estimated
// codes can be corrected once, reference §2.4), and a JSON writer that emits ids from BigInt as
// JSON integers and selected numbers from their exact text.
import { LosslessNumber, stringify } from 'lossless-json';
import type { Decimal } from '../domain/decimal.js';

/** A JSON number written verbatim (e.g. `preciseAmount` from a Decimal). */
export const rawNumber = (text: string): LosslessNumber => new LosslessNumber(text);

/** Decimal → JSON number text, plain notation. */
export const decimalNumber = (d: Decimal): LosslessNumber => new LosslessNumber(d.isZero() ? '0' : d.toFixed());

export function toJson(value: unknown): string {
  return stringify(value) ?? 'null';
}

export function ok(data: unknown, message: string | null = null): Record<string, unknown> {
  return { success: true, message, code: 0, data };
}

/** Every error the simulator can answer, token → (code, HTTP status). */
export const ERROR_CODES = {
  FAILED_MARKET_ORDER: { code: 1118, http: 400 },
  FAILED_LIMIT_ORDER: { code: 1120, http: 400 },
  FAILED_ORDER_PARAMETER: { code: 1121, http: 400 },
  FAILED_ORDER_WITH_OPEN_ORDERS: { code: 1122, http: 400 },
  FAILED_MIN_TOTAL_AMOUNT: { code: 1123, http: 400 },
  FAILED_INVALID_PRICE_SCALE: { code: 1126, http: 400 },
  FAILED_INVALID_QUANTITY_SCALE: { code: 1127, http: 400 },
  FAILED_INVALID_STOP_PRICE_SCALE: { code: 1128, http: 400 },
  ORDER_METHOD_NOT_SUPPORTED: { code: 1134, http: 400 },
  ORDER_TYPE_NOT_SUPPORTED: { code: 1193, http: 400 },
  PRICE_MUST_BE_LESS_THAN_MAXPRICE: { code: 1226, http: 400 },
  PRICE_MUST_BE_LESS_THAN_MINPRICE: { code: 1227, http: 400 },
  'Order not found': { code: 1152, http: 400 },
  NO_ORDER_MATCHES_YOUR_REQUEST: { code: 1052, http: 400 },
  ORDER_COULD_NOT_BE_CANCELED: { code: 1051, http: 400 },
  TOO_MANY_REQUESTS: { code: 429, http: 429 },
  INTERNAL_ERROR: { code: 500, http: 500 },
  UNAUTHORIZED: { code: 1037, http: 401 },
} as const;

export type ErrorToken = keyof typeof ERROR_CODES;

export function errorBody(token: ErrorToken, message: string = token): Record<string, unknown> {
  return { success: false, message, code: ERROR_CODES[token].code };
}

export class SimRejection extends Error {
  constructor(readonly token: ErrorToken) {
    super(token);
  }
}
