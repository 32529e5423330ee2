// The plan step of a cycle, pure: canary intents → lifecycle (dedupe, stale, replace) → risk.
// Runs inside the workflow, so it is deterministic: time, ids and config are arguments.
import type { Position } from './accounting.js';
import type { TradingConfig } from './config.js';
import { Decimal } from './decimal.js';
import { formatReason } from './errors.js';
import type { TradingMode } from './gates.js';
import { describeAction, formatLifecycleDecision, LIVE_STATES, lifecycleParams, planLifecycle, type PlannedAction, type TrackedOrder } from './lifecycle.js';
import { evaluateRisk, formatRiskDecision, riskLimits, type TradingState } from './risk.js';
import { buildCanaryIntents } from './strategy.js';
import type { ExchangeRules, PairSymbol } from './types.js';

export interface CyclePlanInput {
  cycleId: string;
  nowMs: number;
  mode: TradingMode;
  config: TradingConfig;
  symbols: readonly PairSymbol[];
  /** Symbols whose market data, open orders or fills failed this cycle: nothing is planned there. */
  excludedSymbols: readonly PairSymbol[];
  rules: ReadonlyMap<PairSymbol, ExchangeRules>;
  marks: ReadonlyMap<PairSymbol, Decimal>;
  /** Our rows of this mode plus external rows, after reconcile. */
  orders: readonly TrackedOrder[];
  positions: readonly Position[];
  pnl: { realizedTodayTry: Decimal; drawdownPct: Decimal };
  tryBalance: { free: Decimal; locked: Decimal };
  reduceOnlySymbols: readonly PairSymbol[];
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

  const canary = input.config.bootstrapIntents
    ? buildCanaryIntents({
        cycleId: input.cycleId,
        symbols: input.symbols,
        marks: input.marks,
        rules: input.rules,
        orders: own,
        tryBalance: input.tryBalance,
        limits,
        budgetTry: input.config.bootstrapBudgetTry,
        excludedSymbols: input.excludedSymbols,
      })
    : { intents: [], skipped: [] };

  const lifecycle = planLifecycle({
    intents: canary.intents,
    orders: own,
    mids: input.marks,
    nowMs: input.nowMs,
    params: lifecycleParams(input.config),
  });
  const planned = lifecycle.actions.filter((a) => !excluded.has(a.symbol));

  const risk = evaluateRisk({
    actions: planned,
    limits,
    openOrders: working,
    positions: input.positions,
    marks: input.marks,
    pnl: input.pnl,
    tryBalance: input.tryBalance,
    reduceOnlySymbols: input.reduceOnlySymbols,
    halted: input.halted,
  });

  return {
    accepted: [...risk.accepted],
    decisions: [
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
