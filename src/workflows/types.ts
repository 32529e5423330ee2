// Workflow input and result: small, plain, decimal strings only. Never secrets.
import type { BlockReason, GateSettings, TradingMode } from '../domain/gates.js';

export interface CycleInput {
  /** Gate settings of the starter (CLI or schedule); the worker re-checks its own before writes. */
  gates: GateSettings;
  /** The CLI's --dry-run, OR-ed into DRY_RUN. */
  dryRunRequested: boolean;
  /** Canonical pair symbols, e.g. ['BTCTRY']. */
  symbols: string[];
  /** Who started the cycle: cli, schedule, up. */
  trigger: string;
}

export type CycleOutcome = 'ok' | 'blocked' | 'failed';

export interface CycleResult {
  cycleId: string;
  mode: TradingMode;
  outcome: CycleOutcome;
  blockReason: BlockReason | null;
  message: string | null;
  counts: Record<string, number>;
  notes: string[];
  auditRecorded: boolean;
}

export interface SymbolRulesWire {
  symbol: string;
  base: string;
  quote: string;
  tradable: boolean;
  tickSize: string;
  stepSize: string;
  minNotional: string;
}

export interface MarketSnapshot {
  pairsListed: number;
  rules: SymbolRulesWire[];
  /** Configured symbols the exchange does not list, or lists as not tradable. */
  unavailable: string[];
}
