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
  try {
    return parse(text, null, (value) => new LosslessNumber(value));
  } catch (err) {
    // SyntaxError for bad JSON, RangeError for absurd nesting: both are a payload we cannot read.
    // The parser's message names a position, never the content, so it is safe to keep.
    throw new MalformedResponseError(`body is not valid JSON (${err instanceof Error ? err.name : 'error'})`);
  }
}

/**
 * Bounds on a wire decimal. Nothing BTCTurk sends comes near them (prices and balances have ≤ 16
 * decimals and ≤ 16 integer digits); anything beyond is a corrupt payload, not a value to store
 * (and unbounded text would make every later conversion arbitrarily expensive).
 */
const MAX_DECIMAL_TEXT = 100;
const MAX_DECIMAL_PLACES = 30;
const MAX_DECIMAL_MAGNITUDE = new Decimal('1e30');
/** A JSON number in exponent form (`1E-8`), as some serialisers emit; the exponent is bounded. */
const JSON_EXPONENT_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?[eE][+-]?\d{1,3}$/;
/** A timestamp or scale as text: plain digits, optionally with a fraction (`1613315997466.0`). */
const INTEGER_TEXT = /^\d{1,20}(?:\.\d*)?$/;
/** An asset code as BTCTurk lists them (`BTC`, `USDT`, `1INCH`). */
const ASSET_PATTERN = /^[A-Z0-9]{1,20}$/;

export class PayloadReader {
  constructor(readonly context: string) {}

  fail(what: string): never {
    throw new MalformedResponseError(`${this.context}: ${what}`);
  }

  object(value: unknown, what: string): JsonObject {
    if (value === null || typeof value !== 'object' || Array.isArray(value) || isLosslessNumber(value)) this.fail(`${what} is not an object`);
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

  /** Text of a scalar (string or number) for enum comparison; null for anything else. Never throws. */
  text(value: unknown): string | null {
    if (typeof value === 'string') return value;
    if (isLosslessNumber(value)) return value.toString();
    return null;
  }

  /** An asset code: trimmed, upper-cased, `[A-Z0-9]{1,20}`. */
  asset(value: unknown, what: string): string {
    const a = this.string(value, what).trim().toUpperCase();
    if (!ASSET_PATTERN.test(a)) return this.fail(`${what} is not an asset code`);
    return a;
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

  /** A finite decimal within sane bounds (see MAX_DECIMAL_*). Strings may use a decimal comma. */
  decimal(value: unknown, what: string): Decimal {
    let d: Decimal;
    if (isLosslessNumber(value)) {
      const text = value.toString();
      if (text.length > MAX_DECIMAL_TEXT) return this.fail(`${what} is not a decimal of sane size`);
      try {
        d = JSON_EXPONENT_NUMBER.test(text) ? new Decimal(text) : parseDecimal(text, what);
      } catch {
        return this.fail(`${what} is not a decimal`);
      }
    } else {
      if (typeof value === 'string' && value.length > MAX_DECIMAL_TEXT) return this.fail(`${what} is not a decimal of sane size`);
      try {
        d = parseDecimal(value, what);
      } catch {
        return this.fail(`${what} is not a decimal`);
      }
    }
    if (!d.isFinite() || d.abs().gte(MAX_DECIMAL_MAGNITUDE) || d.decimalPlaces() > MAX_DECIMAL_PLACES) {
      return this.fail(`${what} is not a decimal of sane size`);
    }
    return d;
  }

  optionalDecimal(value: unknown, what: string): Decimal | null {
    if (value === undefined || value === null || value === '') return null;
    return this.decimal(value, what);
  }

  /**
   * A non-negative safe integer, e.g. a timestamp in ms or a scale (a float such as
   * `1613315997466.0` is truncated). Strings must be plain digits (no hex, no exponent).
   */
  integer(value: unknown, what: string): number {
    let n = Number.NaN;
    if (isLosslessNumber(value)) {
      const text = value.toString();
      // Valid JSON number text; exponent form is fine for Number() but must stay bounded.
      if (text.length <= 40) n = Math.trunc(Number(text));
    } else if (typeof value === 'string') {
      const text = value.trim();
      if (INTEGER_TEXT.test(text)) n = Math.trunc(Number(text));
    }
    if (!Number.isSafeInteger(n) || n < 0) return this.fail(`${what} is not a non-negative safe integer`);
    return n === 0 ? 0 : n;
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
    if (Object.hasOwn(obj, key)) return obj[key];
  }
  const lower = new Map(Object.keys(obj).map((k) => [k.toLowerCase(), k]));
  for (const key of keys) {
    const actual = lower.get(key.toLowerCase());
    if (actual !== undefined) return obj[actual];
  }
  return undefined;
}
