// The plan step of a cycle, pure: canary intents → lifecycle (dedupe, stale, replace) → risk.
// Runs inside the workflow, so it is deterministic: time, ids and config are arguments.
import type { Position } from './accounting.js';
import type { TradingConfig } from './config.js';
import { Decimal } from './decimal.js';
import { formatReason } from './errors.js';
import type { TradingMode } from './gates.js';
import { describeAction, formatLifecycleDecision, LIVE_STATES, lifecycleParams, planLifecycle, type PlannedAction, type TrackedOrder } from './lifecycle.js';
import { evaluateRisk, formatRiskDecision, riskLimits, type SymbolLimit, type TradingState } from './risk.js';
import { buildCanaryIntents } from './strategy.js';
import type { ExchangeRules, PairSymbol } from './types.js';

export interface CyclePlanInput {
  cycleId: string;
  nowMs: number;
  mode: TradingMode;
  config: TradingConfig;
  symbols: readonly PairSymbol[];
  /**
   * Symbols that sit this cycle out (market data, open orders or fills failed, or their books are
   * not current): no new orders there. Their cancels still run: an age-based cancel needs no mark.
   */
  excludedSymbols: readonly PairSymbol[];
  rules: ReadonlyMap<PairSymbol, ExchangeRules>;
  marks: ReadonlyMap<PairSymbol, Decimal>;
  /** Our rows of this mode plus external rows, after reconcile (closed-by-inference rows still recovering included). */
  orders: readonly TrackedOrder[];
  positions: readonly Position[];
  pnl: { realizedTodayTry: Decimal; drawdownPct: Decimal };
  /** Null when this cycle's balance read failed: no buys. */
  tryBalance: { free: Decimal; locked: Decimal } | null;
  /** Symbols whose fills cannot be applied: no submits until resolved (cancels run). */
  quarantinedSymbols: readonly PairSymbol[];
  /** Symbols that may not buy: an unconvertible fee, or their base asset's balance drifted. */
  reduceOnly: ReadonlyArray<{ symbol: PairSymbol; reason: 'fee_conversion_missing' | 'balance_drift'; asset?: string }>;
  /** Buys a quarantine holds (not yet in positions): they count toward the exposure limit. */
  heldBuys?: ReadonlyArray<{ symbol: PairSymbol; qty: Decimal; costTry: Decimal }>;
  halted: boolean;
}

export interface CyclePlan {
  accepted: PlannedAction[];
  /** Audit strings: canary skips, lifecycle decisions, each planned action, `risk:<cid>:<reason> k=v` per risk decision. */
  decisions: string[];
  tradingState: TradingState;
  counts: {
    intents: number;
    planned_actions: number;
    accepted_actions: number;
    accepted_by_risk: number;
    rejected_by_risk: number;
  };
}

export function planCycle(input: CyclePlanInput): CyclePlan {
  const limits = riskLimits(input.config);
  const excluded = new Set(input.excludedSymbols);
  // A dry-run cycle manages only its simulated rows; a live cycle only real ones. External rows
  // count for limits and exposure in both.
  const own = input.orders.filter((o) => o.mode === input.mode);
  const working = input.orders.filter((o) => LIVE_STATES.has(o.state));

  const params = lifecycleParams(input.config);
  const tryBalance = input.tryBalance;
  const canary = input.config.bootstrapIntents && tryBalance !== null
    ? buildCanaryIntents({
        cycleId: input.cycleId,
        symbols: input.symbols,
        marks: input.marks,
        rules: input.rules,
        orders: own,
        tryBalance,
        limits,
        budgetTry: input.config.bootstrapBudgetTry,
        nowMs: input.nowMs,
        recoveryWindowMs: params.recoveryWindowMs,
        excludedSymbols: input.excludedSymbols,
      })
    : { intents: [], skipped: [] };

  const lifecycle = planLifecycle({
    intents: canary.intents,
    orders: own,
    mids: input.marks,
    nowMs: input.nowMs,
    params,
  });
  const planned = lifecycle.actions.filter((a) => a.kind === 'cancel' || !excluded.has(a.symbol));

  const risk = evaluateRisk({
    actions: planned,
    limits,
    openOrders: working,
    positions: input.positions,
    marks: input.marks,
    pnl: input.pnl,
    tryBalance: input.tryBalance,
    symbolLimits: symbolLimitsOf(input),
    heldBuys: input.heldBuys ?? [],
    halted: input.halted,
  });

  return {
    accepted: [...risk.accepted],
    decisions: [
      ...(input.config.bootstrapIntents && tryBalance === null ? ['canary_skip:*:balance_unavailable'] : []),
      ...canary.skipped.map((s) => `canary_skip:${s.symbol}:${formatReason(s.reason, s.detail)}`),
      ...lifecycle.decisions.map(formatLifecycleDecision),
      ...planned.map(describeAction),
      ...risk.decisions.map(formatRiskDecision),
    ],
    tradingState: risk.tradingState,
    counts: {
      intents: canary.intents.length,
      planned_actions: lifecycle.actions.length,
      accepted_actions: risk.accepted.length,
      accepted_by_risk: risk.counts.accepted,
      rejected_by_risk: risk.counts.rejected,
    },
  };
}

/** One limit per symbol; a quarantine outranks a reduce-only reason. */
function symbolLimitsOf(input: Pick<CyclePlanInput, 'quarantinedSymbols' | 'reduceOnly'>): Map<PairSymbol, SymbolLimit> {
  const limits = new Map<PairSymbol, SymbolLimit>();
  for (const r of input.reduceOnly) {
    if (!limits.has(r.symbol)) limits.set(r.symbol, { reason: r.reason, ...(r.asset !== undefined ? { detail: { asset: r.asset } } : {}) });
  }
  for (const s of input.quarantinedSymbols) limits.set(s, { reason: 'quarantined' });
  return limits;
}
