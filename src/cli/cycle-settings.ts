// The trading settings a cycle starts with, read from the starter's environment.
import { parseTradingConfig, toGateSettings } from '../domain/config.js';
import type { GateSettings } from '../domain/gates.js';

export interface CycleSettings {
  gates: GateSettings;
  symbols: string[];
}

/** Throws ConfigError naming the variable for any bad value. */
export function loadCycleSettings(env: NodeJS.ProcessEnv = process.env): CycleSettings {
  const config = parseTradingConfig(env);
  return { gates: toGateSettings(config), symbols: [...config.symbols] };
}
