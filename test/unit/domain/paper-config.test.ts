import { describe, expect, it } from 'vitest';
import { parseTradingConfig } from '../../../src/domain/config.js';
import { ConfigError } from '../../../src/domain/errors.js';

describe('PAPER_START', () => {
  it('defaults to fixed (paper cash from DRY_RUN_TRY_BALANCE) and accepts snapshot in any case', () => {
    expect(parseTradingConfig({}).paperStart).toBe('fixed');
    expect(parseTradingConfig({ PAPER_START: ' Snapshot ' }).paperStart).toBe('snapshot');
  });

  it('anything else is a ConfigError naming the variable', () => {
    expect(() => parseTradingConfig({ PAPER_START: 'live' })).toThrow(ConfigError);
    expect(() => parseTradingConfig({ PAPER_START: 'live' })).toThrow(/PAPER_START/);
  });
});
