// Workflow and activity payloads: small, plain, decimal strings only. Never secrets, never order
// books or exchange-info dumps.
import type { BlockReason, GateSettings, TradingMode } from '../domain/gates.js';
import type {
  BalanceWire,
  ExchangeRulesWire,
  MarketQuoteWire,
  OrderStatusReportWire,
  PlannedActionWire,
  PnlSnapshotWire,
  PositionWire,
  TrackedOrderWire,
  TradingConfigWire,
} from '../domain/wire.js';

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

export type CycleOutcome = 'ok' | 'blocked' | 'failed' | 'halted' | 'skipped';

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

export interface PrepareInput {
  cycleId: string;
  mode: TradingMode;
}

export interface PrepareResult {
  /** The worker's trading configuration (limits, fees, strategy): it is what trades. */
  config: TradingConfigWire;
  /** The worker's own gates: live writes need them too. */
  workerGates: GateSettings;
  halt: { reason: string; haltedAt: string; by: string } | null;
  lease: { acquired: true } | { acquired: false; holder: string };
  accountId: string;
  /** False when the worker has no API credentials: dry runs use paper balances, live is impossible. */
  hasCredentials: boolean;
}

export type SymbolOpenOrdersWire =
  | { symbol: string; status: 'ok'; orders: OrderStatusReportWire[] }
  | { symbol: string; status: 'failed'; error: string };

export interface MarketInput {
  symbols: string[];
  mode: TradingMode;
  config: TradingConfigWire;
  hasCredentials: boolean;
}

export interface MarketSnapshot {
  pairsListed: number;
  rules: ExchangeRulesWire[];
  quotes: MarketQuoteWire[];
  /** Symbols without a usable mark (crossed or empty book, or the quote fetch failed). */
  markFailures: Array<{ symbol: string; reason: string }>;
  /** Configured symbols the exchange does not list, or lists as not tradable. */
  unavailable: string[];
  tryBalance: BalanceWire;
  balanceSource: 'exchange' | 'paper';
  openOrders: SymbolOpenOrdersWire[];
}

export interface ReconcileInput {
  cycleId: string;
  mode: TradingMode;
  nowMs: number;
  openOrders: SymbolOpenOrdersWire[];
}

export interface ReconcileResult {
  counts: Record<string, number>;
  decisions: string[];
  /** Duplicate or unplanned orders of ours found on the exchange (absent in payloads recorded before they were). */
  alerts?: string[];
  /** Our rows of this mode plus external ones, after reconcile: live states and this cycle's rows. */
  orders: TrackedOrderWire[];
}

export interface AccountingInput {
  cycleId: string;
  mode: TradingMode;
  accountId: string;
  nowMs: number;
  symbols: string[];
  quotes: MarketQuoteWire[];
  tryBalance: BalanceWire;
  lookbackMinutes: number;
  dayBoundaryOffsetMinutes: number;
  /** Paper mode: no private reads; fills are not fetched. */
  fetchFills: boolean;
}

export interface AccountingResult {
  counts: Record<string, number>;
  failedSymbols: string[];
  notes: string[];
  reduceOnlySymbols: string[];
  positions: PositionWire[];
  pnl: PnlSnapshotWire;
}

export interface ExecuteInput {
  cycleId: string;
  mode: TradingMode;
  nowMs: number;
  action: PlannedActionWire;
}

export type ExecuteOutcome =
  | 'submitted'
  | 'simulated'
  | 'rejected'
  | 'unknown'
  | 'deduped'
  | 'deferred'
  | 'halted'
  | 'cancel_requested'
  | 'canceled'
  | 'already_closed'
  | 'cancel_failed';

export interface ExecuteResult {
  outcome: ExecuteOutcome;
  clientOrderId: string | null;
  detail: string | null;
}
