// Decimal conventions: `Decimal` inside, plain decimal strings (never exponent notation) at every
// boundary. Precision is far above what any BTCTurk amount needs (16 decimals × 12 digits), so
// arithmetic on prices, quantities and fees is exact in practice; division rounds half-even.
import { Decimal } from 'decimal.js';

Decimal.set({ precision: 60, rounding: Decimal.ROUND_HALF_EVEN, toExpNeg: -60, toExpPos: 60 });

export { Decimal };

/** A decimal string as stored and transported: `-12.5`, `0.00000001`, never `1e-8`. */
export type DecimalString = string;

export const ZERO = new Decimal(0);

export class DecimalParseError extends Error {
  override name = 'DecimalParseError';
}

const DECIMAL_PATTERN = /^[+-]?(\d+\.?\d*|\.\d+)$/;

/**
 * Parse a decimal from a wire or config value. Accepts strings (a comma as the decimal separator,
 * as in some BTCTurk payloads) and finite numbers; rejects NaN, infinities, exponents in strings,
 * empty strings and anything else with a DecimalParseError.
 */
export function parseDecimal(value: unknown, what = 'value'): Decimal {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new DecimalParseError(`${what} is not a finite number`);
    return new Decimal(value);
  }
  if (typeof value === 'string') {
    const s = value.trim().replace(',', '.');
    if (!DECIMAL_PATTERN.test(s)) {
      throw new DecimalParseError(`${what} is not a decimal: ${JSON.stringify(value.slice(0, 40))}`);
    }
    return new Decimal(s);
  }
  if (value instanceof Decimal) return value;
  throw new DecimalParseError(`${what} has type ${value === null ? 'null' : typeof value}, expected a decimal`);
}

/** Canonical boundary form: plain notation, no trailing zeros, `0` for zero. */
export function toDecimalString(d: Decimal): DecimalString {
  if (d.isZero()) return '0';
  return d.toFixed();
}
