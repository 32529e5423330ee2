import { describe, expect, it } from 'vitest';
import { parseSymbols, parseTradingConfig, parseUtcOffset, toGateSettings, TRADING_CONFIG_VARIABLES } from '../../../src/domain/config.js';
import { ConfigError } from '../../../src/domain/errors.js';
import { liveWritesAllowed } from '../../../src/domain/gates.js';

function configError(env: Record<string, string>): ConfigError {
  try {
    parseTradingConfig(env);
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('config', () => {
  it('-0 is read as 0, not as a negative amount (found by config-fuzz: TRY_CASH_TARGET=-0)', () => {
    const c = parseTradingConfig({ TRY_CASH_TARGET: '-0', TRY_CASH_MAX: '-0.000' });
    expect(c.tryCashTarget.isNeg()).toBe(false);
    expect(c.tryCashMax.isNeg()).toBe(false);
  });
  it('defaults are production-safe: kill on, dry on, live off, no ack, so no live write', () => {
    const c = parseTradingConfig({});
    expect([c.killSwitch, c.dryRun, c.liveTrading, c.liveTradingAck]).toEqual([true, true, false, null]);
    expect(liveWritesAllowed(toGateSettings(c))).toBe(false);
  });

  it('documented defaults for every limit', () => {
    const c = parseTradingConfig({});
    expect(c.symbols).toEqual(['BTCTRY', 'ETHTRY', 'SOLTRY']);
    expect(c.maxOpenOrders).toBe(5);
    expect(c.maxPositionNotionalTry.toFixed()).toBe('5000');
    expect(c.maxDailyLossTry.toFixed()).toBe('1000');
    expect(c.maxDrawdownPct.toFixed()).toBe('10');
    expect([c.feeBpsMaker, c.feeBpsTaker, c.slippageBpsBuffer, c.minProfitBps].map((d) => d.toFixed())).toEqual(['10', '15', '10', '30']);
    expect([c.tryCashTarget.toFixed(), c.tryCashMax.toFixed()]).toEqual(['300', '600']);
    expect([c.rulesCacheTtlSec, c.fillsPollLookbackMinutes, c.ttlSeconds]).toEqual([300, 30, 120]);
    expect(c.staleDriftBps.toFixed()).toBe('25');
    expect([c.bootstrapIntents, c.bootstrapBudgetTry.toFixed(), c.dryRunTryBalance.toFixed()]).toEqual([true, '50', '1000']);
    expect([c.dayBoundaryTz, c.dayBoundaryOffsetMinutes]).toEqual(['Europe/Istanbul', 180]);
  });

  it('the four gates set explicitly arm live trading', () => {
    const c = parseTradingConfig({ KILL_SWITCH: 'false', DRY_RUN: '0', LIVE_TRADING: 'YES', LIVE_TRADING_ACK: 'I_UNDERSTAND' });
    expect(liveWritesAllowed(toGateSettings(c))).toBe(true);
  });

  it('LIVE_TRADING needs the exact ack: a lower-case ack does not arm', () => {
    const c = parseTradingConfig({ KILL_SWITCH: 'false', DRY_RUN: 'false', LIVE_TRADING: 'true', LIVE_TRADING_ACK: 'i_understand' });
    expect(liveWritesAllowed(toGateSettings(c))).toBe(false);
    const padded = parseTradingConfig({ KILL_SWITCH: 'false', DRY_RUN: 'false', LIVE_TRADING: 'true', LIVE_TRADING_ACK: 'I_UNDERSTAND ' });
    expect(liveWritesAllowed(toGateSettings(padded))).toBe(false);
  });

  it('booleans accept true/false/1/0/yes/no in any case and reject anything else naming the variable', () => {
    for (const [raw, value] of [['TRUE', true], ['Yes', true], ['1', true], ['False', false], ['no', false], ['0', false]] as const) {
      expect(parseTradingConfig({ DRY_RUN: raw }).dryRun).toBe(value);
    }
    const e = configError({ KILL_SWITCH: 'off' });
    expect(e.variable).toBe('KILL_SWITCH');
    expect(e.message).toBe('KILL_SWITCH: expected true/false/1/0/yes/no, got "off"');
  });

  it('an empty assignment counts as unset and keeps the safe default', () => {
    expect(parseTradingConfig({ KILL_SWITCH: '', LIVE_TRADING_ACK: ' ' })).toMatchObject({ killSwitch: true, liveTradingAck: null });
  });

  it('SYMBOLS as a JSON list, as CSV with whitespace and mixed case, or quoted, canonicalised and deduped (defect 24)', () => {
    expect(parseSymbols('["BTC_TRY", "eth_try"]')).toEqual(['BTCTRY', 'ETHTRY']);
    expect(parseSymbols(' btc_try , Eth_Try ,, ')).toEqual(['BTCTRY', 'ETHTRY']);
    expect(parseSymbols(`"BTC_TRY",'ETH_TRY'`)).toEqual(['BTCTRY', 'ETHTRY']);
    expect(parseSymbols('btc_try,BTC_TRY,BTCTRY')).toEqual(['BTCTRY']);
  });

  it('bad SYMBOLS values are ConfigErrors naming SYMBOLS', () => {
    expect(configError({ SYMBOLS: '[1,2]' }).variable).toBe('SYMBOLS');
    expect(configError({ SYMBOLS: ',,' }).variable).toBe('SYMBOLS');
    expect(configError({ SYMBOLS: 'BTC TRY' }).variable).toBe('SYMBOLS');
    expect(configError({ SYMBOLS: '[not json' }).variable).toBe('SYMBOLS');
  });

  it('defect 24: limits are validated with ranges and types', () => {
    const cases: [Record<string, string>, string][] = [
      [{ MAX_OPEN_ORDERS: '-1' }, 'MAX_OPEN_ORDERS'],
      [{ MAX_OPEN_ORDERS: '2.5' }, 'MAX_OPEN_ORDERS'],
      [{ MAX_POSITION_NOTIONAL_TRY: '-5' }, 'MAX_POSITION_NOTIONAL_TRY'],
      [{ MAX_POSITION_NOTIONAL_TRY: 'lots' }, 'MAX_POSITION_NOTIONAL_TRY'],
      [{ MAX_DAILY_LOSS_TRY: '0' }, 'MAX_DAILY_LOSS_TRY'],
      [{ MAX_DRAWDOWN_PCT: '150' }, 'MAX_DRAWDOWN_PCT'],
      [{ MAX_DRAWDOWN_PCT: '0' }, 'MAX_DRAWDOWN_PCT'],
      [{ FEE_BPS_TAKER: '-1' }, 'FEE_BPS_TAKER'],
      [{ FEE_BPS_MAKER: '1e3' }, 'FEE_BPS_MAKER'],
      [{ SLIPPAGE_BPS_BUFFER: '20000' }, 'SLIPPAGE_BPS_BUFFER'],
      [{ MIN_PROFIT_BPS: 'NaN' }, 'MIN_PROFIT_BPS'],
      [{ TRY_CASH_TARGET: '-1' }, 'TRY_CASH_TARGET'],
      [{ TRY_CASH_TARGET: '700', TRY_CASH_MAX: '600' }, 'TRY_CASH_MAX'],
      [{ RULES_CACHE_TTL_SEC: '0' }, 'RULES_CACHE_TTL_SEC'],
      [{ FILLS_POLL_LOOKBACK_MINUTES: '0' }, 'FILLS_POLL_LOOKBACK_MINUTES'],
      [{ TTL_SECONDS: '0' }, 'TTL_SECONDS'],
      [{ STAGE4_BOOTSTRAP_BUDGET_TRY: '0' }, 'STAGE4_BOOTSTRAP_BUDGET_TRY'],
      [{ STAGE4_BOOTSTRAP_INTENTS: 'maybe' }, 'STAGE4_BOOTSTRAP_INTENTS'],
      [{ DRY_RUN_TRY_BALANCE: '-1' }, 'DRY_RUN_TRY_BALANCE'],
      [{ DAY_BOUNDARY_TZ: 'America/New_York' }, 'DAY_BOUNDARY_TZ'],
    ];
    for (const [env, variable] of cases) {
      const e = configError(env);
      expect(e.name).toBe('ConfigError');
      expect(e.variable).toBe(variable);
      expect(e.message.startsWith(`${variable}: `)).toBe(true);
    }
  });

  it('decimal limits accept comma decimals and keep exact values', () => {
    const c = parseTradingConfig({ MAX_POSITION_NOTIONAL_TRY: '1234,56', FEE_BPS_TAKER: '12.5' });
    expect(c.maxPositionNotionalTry.toFixed()).toBe('1234.56');
    expect(c.feeBpsTaker.toFixed()).toBe('12.5');
  });

  it('DAY_BOUNDARY_TZ accepts UTC, Istanbul and fixed offsets', () => {
    expect(parseUtcOffset('UTC')).toBe(0);
    expect(parseUtcOffset('europe/istanbul')).toBe(180);
    expect(parseUtcOffset('+03:00')).toBe(180);
    expect(parseUtcOffset('-0530')).toBe(-330);
    expect(parseUtcOffset('UTC+3')).toBe(180);
    expect(parseUtcOffset('+25:00')).toBeNull();
    expect(parseTradingConfig({ DAY_BOUNDARY_TZ: 'UTC' }).dayBoundaryOffsetMinutes).toBe(0);
  });

  it('a long bad value is shortened in the message', () => {
    const e = configError({ DRY_RUN: 'x'.repeat(100) });
    expect(e.message.length).toBeLessThan(120);
  });

  it('the variable list names every variable the parser reads', () => {
    expect(TRADING_CONFIG_VARIABLES).toContain('MAX_OPEN_ORDERS');
    expect(new Set(TRADING_CONFIG_VARIABLES).size).toBe(TRADING_CONFIG_VARIABLES.length);
  });
});
