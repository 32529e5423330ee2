// Trading configuration from the environment: every variable parsed, range-checked and defaulted
// to the safe value. A bad value is a ConfigError naming the variable; nothing silently defaults.
// Pure: the caller passes the environment (process.env in the worker, a literal in tests).
import { Decimal, DecimalParseError, parseDecimal } from './decimal.js';
import { ConfigError } from './errors.js';
import { sha256Hex } from './hash.js';
import type { GateSettings } from './gates.js';
import { uniqueSymbols } from './symbols.js';
import { InvalidSymbolError, type PairSymbol } from './types.js';

export type Env = Readonly<Record<string, string | undefined>>;

export interface TradingConfig {
  readonly killSwitch: boolean; // KILL_SWITCH, default true
  readonly dryRun: boolean; // DRY_RUN, default true
  readonly liveTrading: boolean; // LIVE_TRADING, default false
  readonly liveTradingAck: string | null; // LIVE_TRADING_ACK
  readonly symbols: readonly PairSymbol[]; // SYMBOLS, canonical and deduped
  readonly maxOpenOrders: number; // MAX_OPEN_ORDERS
  readonly maxPositionNotionalTry: Decimal; // MAX_POSITION_NOTIONAL_TRY
  readonly maxDailyLossTry: Decimal; // MAX_DAILY_LOSS_TRY, a positive amount
  readonly maxDrawdownPct: Decimal; // MAX_DRAWDOWN_PCT, percent (10 = 10 %)
  readonly feeBpsMaker: Decimal; // FEE_BPS_MAKER
  readonly feeBpsTaker: Decimal; // FEE_BPS_TAKER
  readonly slippageBpsBuffer: Decimal; // SLIPPAGE_BPS_BUFFER
  readonly minProfitBps: Decimal; // MIN_PROFIT_BPS
  readonly tryCashTarget: Decimal; // TRY_CASH_TARGET: reserve never spent by buys
  readonly tryCashMax: Decimal; // TRY_CASH_MAX: most TRY the bot treats as its own
  readonly rulesCacheTtlSec: number; // RULES_CACHE_TTL_SEC
  readonly fillsPollLookbackMinutes: number; // FILLS_POLL_LOOKBACK_MINUTES
  readonly ttlSeconds: number; // TTL_SECONDS: an open order this old is stale
  readonly staleDriftBps: Decimal; // STALE_DRIFT_BPS: this far from its symbol's mid is stale
  readonly orderAbsenceWindowSec: number; // ORDER_ABSENCE_WINDOW_SEC: "not found" closes an order only after this (reconcile.ts)
  readonly orderRecoveryWindowSec: number; // ORDER_RECOVERY_WINDOW_SEC: a row closed by inference may still work this long (lifecycle.ts)
  readonly bootstrapIntents: boolean; // STAGE4_BOOTSTRAP_INTENTS
  readonly bootstrapBudgetTry: Decimal; // STAGE4_BOOTSTRAP_BUDGET_TRY, sized up to the exchange minimum
  readonly dryRunTryBalance: Decimal; // DRY_RUN_TRY_BALANCE: the simulated balance, dry-run only
  readonly paperStart: PaperStart; // PAPER_START: where the paper ledger's cash starts
  readonly dayBoundaryTz: string; // DAY_BOUNDARY_TZ as given
  readonly dayBoundaryOffsetMinutes: number; // its fixed UTC offset
  readonly inferOpeningPositions: boolean; // INFER_OPENING_POSITIONS, default true
  readonly balanceDriftCycles: number; // BALANCE_DRIFT_CYCLES: a balance difference this many live checks in a row is drift
  readonly fillsSettleSeconds: number; // FILLS_SETTLE_SECONDS: fills older than this are taken as all visible (reference Q14)
}

export const DEFAULT_SYMBOLS = 'BTC_TRY,ETH_TRY,SOL_TRY';

/** Zones accepted by name. Only zones with a fixed offset: the day start stays a pure function of
 *  time, with no tz database in the workflow sandbox. Turkey has had no DST since 2016. */
const NAMED_OFFSETS: Readonly<Record<string, number>> = {
  UTC: 0,
  Z: 0,
  'ETC/UTC': 0,
  'EUROPE/ISTANBUL': 180,
  'ASIA/ISTANBUL': 180,
  'TURKEY': 180,
};

/** `UTC`, `Europe/Istanbul`, `+03:00`, `-0530`, `UTC+3` → minutes east of UTC; null if unknown. */
export function parseUtcOffset(raw: string): number | null {
  const v = raw.trim();
  const named = NAMED_OFFSETS[v.toUpperCase()];
  if (named !== undefined) return named;
  const m = /^(?:UTC|GMT)?([+-])(\d{1,2})(?::?(\d{2}))?$/i.exec(v);
  if (m === null) return null;
  const hours = Number(m[2]);
  const minutes = m[3] === undefined ? 0 : Number(m[3]);
  if (hours > 14 || minutes > 59) return null;
  return (m[1] === '-' ? -1 : 1) * (hours * 60 + minutes);
}

function present(env: Env, name: string): string | undefined {
  const v = env[name];
  // An empty assignment (`KILL_SWITCH=` in a .env file) means "not set".
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

function shown(v: string): string {
  return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
}

function bool(env: Env, name: string, dflt: boolean): boolean {
  const v = present(env, name);
  if (v === undefined) return dflt;
  const l = v.toLowerCase();
  if (l === 'true' || l === '1' || l === 'yes') return true;
  if (l === 'false' || l === '0' || l === 'no') return false;
  throw new ConfigError(name, `expected true/false/1/0/yes/no, got ${shown(v)}`);
}

function int(env: Env, name: string, dflt: number, min: number, max: number): number {
  const v = present(env, name);
  if (v === undefined) return dflt;
  if (!/^[+-]?\d+$/.test(v)) throw new ConfigError(name, `expected an integer, got ${shown(v)}`);
  const n = Number(v);
  if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${v}`);
  return n;
}

function dec(
  env: Env,
  name: string,
  dflt: string,
  range: { min?: Decimal.Value; minExclusive?: boolean; max?: Decimal.Value },
): Decimal {
  const v = present(env, name);
  let d: Decimal;
  try {
    d = v === undefined ? new Decimal(dflt) : parseDecimal(v, name);
  } catch (e) {
    if (e instanceof DecimalParseError) throw new ConfigError(name, `expected a decimal number, got ${shown(v ?? '')}`);
    throw e;
  }
  // `-0` is zero: without this it passes `>= 0` yet reads as negative (Decimal keeps the sign).
  if (d.isZero()) d = new Decimal(0);
  if (range.min !== undefined) {
    const tooLow = range.minExclusive === true ? d.lte(range.min) : d.lt(range.min);
    if (tooLow) throw new ConfigError(name, `must be ${range.minExclusive === true ? '>' : '>='} ${String(range.min)}, got ${d.toFixed()}`);
  }
  if (range.max !== undefined && d.gt(range.max)) {
    throw new ConfigError(name, `must be <= ${String(range.max)}, got ${d.toFixed()}`);
  }
  return d;
}

/** SYMBOLS: a JSON list (`["BTC_TRY"]`) or CSV, items trimmed of quotes/brackets, canonical, deduped. */
export function parseSymbols(raw: string | undefined): PairSymbol[] {
  const name = 'SYMBOLS';
  const v = raw === undefined || raw.trim() === '' ? DEFAULT_SYMBOLS : raw.trim();
  let items: string[];
  if (v.startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(v);
    } catch {
      throw new ConfigError(name, `not a valid JSON list: ${shown(v)}`);
    }
    if (!Array.isArray(parsed) || !parsed.every((x) => typeof x === 'string')) {
      throw new ConfigError(name, 'a JSON value must be a list of strings');
    }
    items = parsed;
  } else {
    items = v.split(',');
  }
  const cleaned = items.map((i) => i.trim().replace(/^[\s"'[\]]+|[\s"'[\]]+$/g, '')).filter((i) => i !== '');
  if (cleaned.length === 0) throw new ConfigError(name, 'lists no symbol');
  try {
    return uniqueSymbols(cleaned);
  } catch (e) {
    if (e instanceof InvalidSymbolError) throw new ConfigError(name, e.message);
    throw e;
  }
}

/** Paper cash starts from DRY_RUN_TRY_BALANCE (`fixed`) or from the real TRY balance, read once (`snapshot`). */
export type PaperStart = 'fixed' | 'snapshot';

function paperStart(env: Env): PaperStart {
  const v = present(env, 'PAPER_START')?.trim().toLowerCase() ?? 'fixed';
  if (v !== 'fixed' && v !== 'snapshot') throw new ConfigError('PAPER_START', `expected fixed or snapshot, got ${shown(v)}`);
  return v;
}

/** DAY_BOUNDARY_TZ (default Europe/Istanbul) and its fixed UTC offset in minutes; a ConfigError when unreadable. */
export function dayBoundary(env: Env): { tz: string; offset: number } {
  const tz = present(env, 'DAY_BOUNDARY_TZ') ?? 'Europe/Istanbul';
  const offset = parseUtcOffset(tz);
  if (offset === null) {
    throw new ConfigError('DAY_BOUNDARY_TZ', `expected UTC, Europe/Istanbul or a fixed offset like +03:00, got ${shown(tz)}`);
  }
  return { tz, offset };
}

export function parseTradingConfig(env: Env): TradingConfig {
  const tryCashTarget = dec(env, 'TRY_CASH_TARGET', '300', { min: 0 });
  const tryCashMax = dec(env, 'TRY_CASH_MAX', '600', { min: 0 });
  if (tryCashMax.lt(tryCashTarget)) {
    throw new ConfigError('TRY_CASH_MAX', `must be >= TRY_CASH_TARGET (${tryCashTarget.toFixed()}), got ${tryCashMax.toFixed()}`);
  }
  const { tz, offset } = dayBoundary(env);
  // The ack is compared exactly by the gates, so it is kept verbatim (no trimming); blank means unset.
  const rawAck = env.LIVE_TRADING_ACK;
  const ack = rawAck === undefined || rawAck.trim() === '' ? null : rawAck;
  const bps = { min: 0, max: 10_000 };
  return {
    killSwitch: bool(env, 'KILL_SWITCH', true),
    dryRun: bool(env, 'DRY_RUN', true),
    liveTrading: bool(env, 'LIVE_TRADING', false),
    liveTradingAck: ack,
    symbols: parseSymbols(env.SYMBOLS),
    maxOpenOrders: int(env, 'MAX_OPEN_ORDERS', 5, 0, 1000),
    maxPositionNotionalTry: dec(env, 'MAX_POSITION_NOTIONAL_TRY', '5000', { min: 0 }),
    maxDailyLossTry: dec(env, 'MAX_DAILY_LOSS_TRY', '1000', { min: 0, minExclusive: true }),
    maxDrawdownPct: dec(env, 'MAX_DRAWDOWN_PCT', '10', { min: 0, minExclusive: true, max: 100 }),
    feeBpsMaker: dec(env, 'FEE_BPS_MAKER', '10', bps),
    feeBpsTaker: dec(env, 'FEE_BPS_TAKER', '15', bps),
    slippageBpsBuffer: dec(env, 'SLIPPAGE_BPS_BUFFER', '10', bps),
    minProfitBps: dec(env, 'MIN_PROFIT_BPS', '30', bps),
    tryCashTarget,
    tryCashMax,
    rulesCacheTtlSec: int(env, 'RULES_CACHE_TTL_SEC', 300, 1, 86_400),
    fillsPollLookbackMinutes: int(env, 'FILLS_POLL_LOOKBACK_MINUTES', 30, 1, 43_200),
    ttlSeconds: int(env, 'TTL_SECONDS', 120, 1, 86_400),
    staleDriftBps: dec(env, 'STALE_DRIFT_BPS', '25', { min: 0, minExclusive: true, max: 10_000 }),
    // Default: DEFAULT_ABSENCE_POLICY (why 180 s: reconcile.ts). Lower values are for test rigs.
    orderAbsenceWindowSec: int(env, 'ORDER_ABSENCE_WINDOW_SEC', 180, 5, 86_400),
    // Default: RECOVERY_WINDOW_MS (why 2 h: lifecycle.ts). Lower values are for test rigs.
    orderRecoveryWindowSec: int(env, 'ORDER_RECOVERY_WINDOW_SEC', 7_200, 10, 86_400),
    bootstrapIntents: bool(env, 'STAGE4_BOOTSTRAP_INTENTS', true),
    bootstrapBudgetTry: dec(env, 'STAGE4_BOOTSTRAP_BUDGET_TRY', '50', { min: 0, minExclusive: true }),
    dryRunTryBalance: dec(env, 'DRY_RUN_TRY_BALANCE', '1000', { min: 0 }),
    paperStart: paperStart(env),
    dayBoundaryTz: tz,
    dayBoundaryOffsetMinutes: offset,
    inferOpeningPositions: bool(env, 'INFER_OPENING_POSITIONS', true),
    balanceDriftCycles: int(env, 'BALANCE_DRIFT_CYCLES', 3, 1, 1000),
    // BTCTurk does not document how late a trade can show in users/transactions/trade (Q14); what
    // has been reported is "a little after" the order changed, i.e. seconds. A balance read is
    // compared with the fills only once a poll ends at least this long after it. The newest such read
    // is usually the previous cycle's, so the lag tolerated is max(this, the schedule's interval): 10 s
    // is a floor for fast schedules that costs a new symbol (or an adoption) one cycle. A fill later
    // still is caught by the lookback overlap, and shows as drift meanwhile.
    fillsSettleSeconds: int(env, 'FILLS_SETTLE_SECONDS', 10, 0, 3_600),
  };
}

export function toGateSettings(config: TradingConfig): GateSettings {
  return {
    killSwitch: config.killSwitch,
    dryRun: config.dryRun,
    liveTrading: config.liveTrading,
    liveTradingAck: config.liveTradingAck,
  };
}

/** The variables this module reads, for `btcbot doctor`-style listings. */
export const TRADING_CONFIG_VARIABLES = [
  'KILL_SWITCH', 'DRY_RUN', 'LIVE_TRADING', 'LIVE_TRADING_ACK', 'SYMBOLS', 'MAX_OPEN_ORDERS',
  'MAX_POSITION_NOTIONAL_TRY', 'MAX_DAILY_LOSS_TRY', 'MAX_DRAWDOWN_PCT', 'FEE_BPS_MAKER', 'FEE_BPS_TAKER',
  'SLIPPAGE_BPS_BUFFER', 'MIN_PROFIT_BPS', 'TRY_CASH_TARGET', 'TRY_CASH_MAX', 'RULES_CACHE_TTL_SEC',
  'FILLS_POLL_LOOKBACK_MINUTES', 'TTL_SECONDS', 'STALE_DRIFT_BPS', 'ORDER_ABSENCE_WINDOW_SEC', 'ORDER_RECOVERY_WINDOW_SEC',
  'STAGE4_BOOTSTRAP_INTENTS', 'STAGE4_BOOTSTRAP_BUDGET_TRY', 'DRY_RUN_TRY_BALANCE', 'PAPER_START', 'DAY_BOUNDARY_TZ', 'INFER_OPENING_POSITIONS',
  'BALANCE_DRIFT_CYCLES', 'FILLS_SETTLE_SECONDS',
] as const;

export type TradingConfigVariable = (typeof TRADING_CONFIG_VARIABLES)[number];

const plain = (d: Decimal): string => d.toFixed();
/** Each variable's effective value as text, from the parsed configuration (canonical forms). */
const SHOWN: Record<TradingConfigVariable, (c: TradingConfig) => string> = {
  KILL_SWITCH: (c) => String(c.killSwitch),
  DRY_RUN: (c) => String(c.dryRun),
  LIVE_TRADING: (c) => String(c.liveTrading),
  LIVE_TRADING_ACK: (c) => c.liveTradingAck ?? '',
  SYMBOLS: (c) => c.symbols.join(','),
  MAX_OPEN_ORDERS: (c) => String(c.maxOpenOrders),
  MAX_POSITION_NOTIONAL_TRY: (c) => plain(c.maxPositionNotionalTry),
  MAX_DAILY_LOSS_TRY: (c) => plain(c.maxDailyLossTry),
  MAX_DRAWDOWN_PCT: (c) => plain(c.maxDrawdownPct),
  FEE_BPS_MAKER: (c) => plain(c.feeBpsMaker),
  FEE_BPS_TAKER: (c) => plain(c.feeBpsTaker),
  SLIPPAGE_BPS_BUFFER: (c) => plain(c.slippageBpsBuffer),
  MIN_PROFIT_BPS: (c) => plain(c.minProfitBps),
  TRY_CASH_TARGET: (c) => plain(c.tryCashTarget),
  TRY_CASH_MAX: (c) => plain(c.tryCashMax),
  RULES_CACHE_TTL_SEC: (c) => String(c.rulesCacheTtlSec),
  FILLS_POLL_LOOKBACK_MINUTES: (c) => String(c.fillsPollLookbackMinutes),
  TTL_SECONDS: (c) => String(c.ttlSeconds),
  STALE_DRIFT_BPS: (c) => plain(c.staleDriftBps),
  ORDER_ABSENCE_WINDOW_SEC: (c) => String(c.orderAbsenceWindowSec),
  ORDER_RECOVERY_WINDOW_SEC: (c) => String(c.orderRecoveryWindowSec),
  STAGE4_BOOTSTRAP_INTENTS: (c) => String(c.bootstrapIntents),
  STAGE4_BOOTSTRAP_BUDGET_TRY: (c) => plain(c.bootstrapBudgetTry),
  DRY_RUN_TRY_BALANCE: (c) => plain(c.dryRunTryBalance),
  PAPER_START: (c) => c.paperStart,
  DAY_BOUNDARY_TZ: (c) => c.dayBoundaryTz,
  INFER_OPENING_POSITIONS: (c) => String(c.inferOpeningPositions),
  BALANCE_DRIFT_CYCLES: (c) => String(c.balanceDriftCycles),
  FILLS_SETTLE_SECONDS: (c) => String(c.fillsSettleSeconds),
};

/** The effective value of every trading variable, canonical (`btc_try` → `BTCTRY`, `1.50` → `1.5`). */
export function describeTradingConfig(config: TradingConfig): Record<TradingConfigVariable, string> {
  return Object.fromEntries(TRADING_CONFIG_VARIABLES.map((name) => [name, SHOWN[name](config)])) as Record<TradingConfigVariable, string>;
}

/**
 * A short fingerprint of the effective trading configuration. Two processes with the same hash
 * trade by the same gates, symbols and limits; workers report theirs and `btcbot doctor` compares.
 */
export function tradingConfigHash(config: TradingConfig): string {
  const shown = describeTradingConfig(config);
  return sha256Hex(TRADING_CONFIG_VARIABLES.map((name) => `${name}=${shown[name]}`).join('\n')).slice(0, 12);
}

/**
 * Every problem of `env` as a trading configuration, each naming its variable: each variable is
 * parsed on its own (so one bad value does not hide the next), then the rules across variables.
 * Empty when parseTradingConfig(env) succeeds.
 */
export function tradingConfigProblems(env: Env): string[] {
  const problems: string[] = [];
  for (const name of TRADING_CONFIG_VARIABLES) {
    if (env[name] === undefined) continue;
    try {
      parseTradingConfig({ [name]: env[name] });
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.push(err.message);
    }
  }
  if (problems.length > 0) return problems;
  try {
    parseTradingConfig(env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(err.message);
  }
  return problems;
}
