// The trading settings a cycle starts with, read from the starter's environment.
import type { GateSettings } from '../domain/gates.js';
import { toPairSymbol } from '../domain/types.js';

export interface CycleSettings {
  gates: GateSettings;
  symbols: string[];
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

function bool(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return fallback;
  if (['true', '1', 'yes', 'on'].includes(raw)) return true;
  if (['false', '0', 'no', 'off'].includes(raw)) return false;
  throw new ConfigError(`${name} must be true or false, got ${JSON.stringify(env[name])}`);
}

export function loadCycleSettings(env: NodeJS.ProcessEnv = process.env): CycleSettings {
  const rawSymbols = env.SYMBOLS?.trim() || 'BTC_TRY,ETH_TRY,SOL_TRY';
  const symbols = [...new Set(rawSymbols.split(',').filter((s) => s.trim()).map((s) => toPairSymbol(s)))];
  return {
    gates: {
      killSwitch: bool(env, 'KILL_SWITCH', true),
      dryRun: bool(env, 'DRY_RUN', true),
      liveTrading: bool(env, 'LIVE_TRADING', false),
      liveTradingAck: env.LIVE_TRADING_ACK ?? null,
    },
    symbols,
  };
}
