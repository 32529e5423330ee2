// `btcbot positions --mode`: which ledger is shown; anything else is a usage error naming the value.
import { describe, expect, test } from 'vitest';
import { formatPaper, positionsMode } from '../../../src/cli/positions.js';
import { UsageError } from '../../../src/cli/errors.js';

describe('positions --mode', () => {
  test('live by default, dry_run for the paper ledger, anything else refused by name', () => {
    expect([positionsMode(undefined), positionsMode('live'), positionsMode('dry_run')]).toEqual(['live', 'live', 'dry_run']);
    expect(() => positionsMode('paper')).toThrow(UsageError);
    expect(() => positionsMode('paper')).toThrow('--mode "paper": give live or dry_run');
  });

  test('a paper ledger no dry run has started says so instead of showing zeros', () => {
    expect(formatPaper({ cash: null, positions: [] })).toEqual(['  none: no dry-run cycle has started the paper ledger yet']);
  });
});
