// The effective trading configuration as text, its hash, and SYMBOLS against the exchange's pairs.
import { describe, expect, test } from 'vitest';
import { describeTradingConfig, parseTradingConfig, tradingConfigHash, TRADING_CONFIG_VARIABLES } from '../../../src/domain/config.js';
import { classifySymbols } from '../../../src/domain/listing.js';
import { toPairSymbol } from '../../../src/domain/types.js';

describe('describeTradingConfig', () => {
  test('names every trading variable, with the defaults as .env.example shows them', () => {
    const shown = describeTradingConfig(parseTradingConfig({}));
    expect(Object.keys(shown).sort()).toEqual([...TRADING_CONFIG_VARIABLES].sort());
    expect(shown).toMatchObject({ KILL_SWITCH: 'true', DRY_RUN: 'true', LIVE_TRADING_ACK: '', SYMBOLS: 'BTCTRY,ETHTRY,SOLTRY', MAX_POSITION_NOTIONAL_TRY: '5000' });
  });
});

describe('tradingConfigHash', () => {
  test('two spellings of the same configuration hash alike; any different value hashes differently', () => {
    const base = tradingConfigHash(parseTradingConfig({}));
    expect(tradingConfigHash(parseTradingConfig({ SYMBOLS: 'btc_try, ETHTRY,SOL_TRY', MAX_POSITION_NOTIONAL_TRY: '5000.00', KILL_SWITCH: 'yes' }))).toBe(base);
    expect(base).toMatch(/^[0-9a-f]{12}$/);
    const changed = [{ MAX_POSITION_NOTIONAL_TRY: '500' }, { SYMBOLS: 'BTC_TRY' }, { KILL_SWITCH: 'false' }, { LIVE_TRADING_ACK: 'I_UNDERSTAND' }];
    const hashes = changed.map((env) => tradingConfigHash(parseTradingConfig(env)));
    expect(new Set([base, ...hashes]).size).toBe(changed.length + 1);
  });
});

describe('classifySymbols', () => {
  const listed = [
    { symbol: toPairSymbol('BTCTRY'), tradable: true },
    { symbol: toPairSymbol('ETHTRY'), tradable: false },
  ];
  test('a pair the exchange does not list is unknown; a listed pair not trading is set apart', () => {
    const r = classifySymbols(['BTCTRY', 'ETHTRY', 'FOOTRY'].map(toPairSymbol), listed);
    expect(r).toEqual({ unknown: ['FOOTRY'], notTradable: ['ETHTRY'], tradable: ['BTCTRY'] });
  });
});
