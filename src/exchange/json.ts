// Lossless JSON for exchange payloads. BTCTurk trade ids exceed 2^53 and `preciseAmount` is a JSON
// number whose exact text matters, so every number is kept as its source text (a LosslessNumber)
// and converted by the accessor that knows what the field means: ids → strings, money → Decimal,
// timestamps → safe integers. A wrong type is a MalformedResponseError, never a crash.
import { LosslessNumber, isLosslessNumber, parse } from 'lossless-json';
import { Decimal, parseDecimal } from '../domain/decimal.js';
import { MalformedResponseError } from './errors.js';

export type JsonObject = { readonly [key: string]: unknown };

/** Parse JSON text keeping every number as a LosslessNumber (its exact source text). */
export function parseLosslessJson(text: string): unknown {
  return parse(text, null, (value) => new LosslessNumber(value));
}

export class PayloadReader {
  constructor(readonly context: string) {}

  fail(what: string): never {
    throw new MalformedResponseError(`${this.context}: ${what}`);
  }

  object(value: unknown, what: string): JsonObject {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) this.fail(`${what} is not an object`);
    return value as JsonObject;
  }

  array(value: unknown, what: string): readonly unknown[] {
    if (!Array.isArray(value)) this.fail(`${what} is not an array`);
    return value;
  }

  /** A required string (numbers are accepted and rendered from their exact text). */
  string(value: unknown, what: string): string {
    if (typeof value === 'string') return value;
    if (isLosslessNumber(value)) return value.toString();
    return this.fail(`${what} is missing or not a string`);
  }

  optionalString(value: unknown, what: string): string | null {
    if (value === undefined || value === null || value === '') return null;
    return this.string(value, what);
  }

  /** An id (int64 on the wire): kept as its exact decimal digits. */
  id(value: unknown, what: string): string {
    const text = typeof value === 'string' ? value.trim() : isLosslessNumber(value) ? value.toString() : null;
    if (text === null || !/^\d{1,30}$/.test(text)) return this.fail(`${what} is not an integer id`);
    return text.replace(/^0+(?=\d)/, '');
  }

  optionalId(value: unknown, what: string): string | null {
    if (value === undefined || value === null || value === '') return null;
    return this.id(value, what);
  }

  decimal(value: unknown, what: string): Decimal {
    try {
      return parseDecimal(isLosslessNumber(value) ? value.toString() : value, what);
    } catch {
      return this.fail(`${what} is not a decimal`);
    }
  }

  optionalDecimal(value: unknown, what: string): Decimal | null {
    if (value === undefined || value === null || value === '') return null;
    return this.decimal(value, what);
  }

  /** A safe integer, e.g. a timestamp in ms (a float such as `1613315997466.0` is truncated). */
  integer(value: unknown, what: string): number {
    const text = isLosslessNumber(value) ? value.toString() : typeof value === 'string' ? value.trim() : null;
    const n = text === null || text === '' ? Number.NaN : Math.trunc(Number(text));
    if (!Number.isSafeInteger(n)) return this.fail(`${what} is not a safe integer`);
    return n;
  }

  optionalInteger(value: unknown, what: string): number | null {
    if (value === undefined || value === null || value === '') return null;
    return this.integer(value, what);
  }

  boolean(value: unknown, what: string): boolean {
    if (typeof value === 'boolean') return value;
    return this.fail(`${what} is not a boolean`);
  }
}

/** Read a key with a case-insensitive fallback (`pairSymbol` / `pairsymbol`). */
export function field(obj: JsonObject, ...keys: string[]): unknown {
  for (const key of keys) {
    if (key in obj) return obj[key];
  }
  const lower = new Map(Object.keys(obj).map((k) => [k.toLowerCase(), k]));
  for (const key of keys) {
    const actual = lower.get(key.toLowerCase());
    if (actual !== undefined) return obj[actual];
  }
  return undefined;
}
