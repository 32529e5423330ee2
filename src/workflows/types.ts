// Workflow and activity payloads: small, plain, decimal strings only. Never secrets, never order
// books or exchange-info dumps.
import type { SymbolFailure } from '../domain/failures.js';
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
  /** Symbols that failed a step this cycle, each with its cause (also among `notes`). */
  symbolFailures: SymbolFailure[];
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
  /** Configured symbols the exchange does not list at all (a subset of `unavailable`); absent in older histories. */
  unlisted?: string[];
  /** Symbols without a usable mark (crossed or empty book, or the quote fetch failed). */
  markFailures: Array<{ symbol: string; reason: string }>;
  /** Configured symbols the exchange does not list, lists as not tradable or malformed, or quotes in another currency than TRY. */
  unavailable: string[];
  /** Null when this cycle's balance read failed: no buys, no PnL snapshot; cancels still run. */
  tryBalance: BalanceWire | null;
  /**
   * Free and locked balance of each listed symbol's base asset the answer lists (empty in paper mode
   * or after a failed read): an asset left out is unknown this cycle, never zero.
   */
  baseBalances: BalanceWire[];
  /** When the balances answer arrived (epoch ms, the worker's clock); null when the read failed. */
  balancesAtMs: number | null;
  balanceSource: 'exchange' | 'paper';
  openOrders: SymbolOpenOrdersWire[];
  /** Failed steps with their causes (rules, marks, open orders, balances). */
  failures: SymbolFailure[];
  /** Exchange-info entries skipped as malformed (`pair_skipped:…`), pairs that cannot be accounted. */
  notes: string[];
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
  /** The symbols to account, with their rules (base asset, quantity step). */
  rules: ExchangeRulesWire[];
  quotes: MarketQuoteWire[];
  /** Null when the balance read failed this cycle: no snapshot, no opening inferred, no drift check. */
  tryBalance: BalanceWire | null;
  baseBalances: BalanceWire[];
  /** When the balances were read: they are compared with the fills up to that moment. */
  balancesAtMs: number | null;
  config: TradingConfigWire;
  /** Paper mode: no private reads; fills are not fetched. */
  fetchFills: boolean;
}

export interface AccountingResult {
  counts: Record<string, number>;
  /** Symbols whose books are not current this cycle (fills failed, catching up, opening deferred): no new orders. */
  failedSymbols: string[];
  /** Symbols whose fills cannot be applied: no new orders until applied or adopted. */
  quarantinedSymbols: string[];
  /** Symbols that may not buy: an unconvertible fee, or their asset's balance drifted. */
  reduceOnly: Array<{ symbol: string; reason: 'fee_conversion_missing' | 'balance_drift'; asset?: string }>;
  /** Base quantity bought by fills a quarantine holds, per symbol: they count toward the exposure limit. */
  heldBuys: Array<{ symbol: string; qty: string; costTry: string }>;
  failures: SymbolFailure[];
  notes: string[];
  positions: PositionWire[];
  /** Null when no snapshot was taken (the balance read failed). */
  pnl: PnlSnapshotWire | null;
  /** What the loss limits are checked against, also without a snapshot this cycle. */
  riskPnl: { realizedTodayTry: string; drawdownPct: string };
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
