// `schedule create --every`: compound durations in d, h, m, s.
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { formatInterval, parseEvery } from '../../../src/cli/schedule.js';
import { UsageError } from '../../../src/cli/errors.js';

describe('--every', () => {
  test('accepts one unit or several in d, h, m, s order', () => {
    expect(parseEvery('30s')).toBe(30_000);
    expect(parseEvery('1m')).toBe(60_000);
    expect(parseEvery('2m30s')).toBe(150_000);
    expect(parseEvery('1h')).toBe(3_600_000);
    expect(parseEvery('1d')).toBe(86_400_000);
    expect(parseEvery('1d12h')).toBe(129_600_000);
    expect(parseEvery('90s')).toBe(90_000);
  });

  test('rejects what is not such a duration, and anything under 10 s, with a UsageError', () => {
    for (const bad of ['', '5', '1x', 'm', '1h1d', '1m 30s', '-1m', '1.5m', '9s', '0d']) {
      expect(() => parseEvery(bad), bad).toThrow(UsageError);
    }
    expect(() => parseEvery('2m3x')).toThrow('--every must be a duration in d, h, m and s (e.g. 30s, 1m, 2m30s, 1h, 1d), got "2m3x"');
    expect(() => parseEvery('9s')).toThrow('--every must be at least 10s, got 9s');
  });

  test('formatInterval prints what parseEvery reads back (whole seconds)', () => {
    expect(formatInterval(150_000)).toBe('2m30s');
    expect(formatInterval(86_400_000)).toBe('1d');
    expect(formatInterval(90_061_000)).toBe('1d1h1m1s');
    fc.assert(
      fc.property(fc.integer({ min: 10, max: 400 * 86_400 }), (s) => {
        expect(parseEvery(formatInterval(s * 1000))).toBe(s * 1000);
      }),
    );
  });
});
