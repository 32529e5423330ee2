// The canary strategy: one small passive limit buy per symbol, sized to the exchange minimum and
// within the cash the risk limits allow. It never sells; it exists to prove the pipeline live.
import { Decimal } from './decimal.js';
import type { Detail } from './errors.js';
import { clientOrderIdFor } from './ids.js';
import { mayBeWorking, type OrderIntent, type TrackedOrder } from './lifecycle.js';
import { buyCost, sizeBuy, type RuleRejectReason } from './rules.js';
import { feeHeadroomBps, spendableTry, type RiskLimits, type TradingState } from './risk.js';
import { compareSymbols } from './symbols.js';
import type { ExchangeRules, PairSymbol } from './types.js';

export type CanarySkipReason =
  | 'symbol_excluded'
  | 'trading_not_active'
  | 'no_mark'
  | 'no_rules'
  | 'open_buy_exists'
  | RuleRejectReason;

export interface CanarySkip {
  readonly symbol: PairSymbol;
  readonly reason: CanarySkipReason;
  readonly detail: Detail;
}

export interface CanaryInput {
  readonly cycleId: string;
  readonly symbols: readonly PairSymbol[];
  readonly marks: ReadonlyMap<PairSymbol, Decimal>;
  readonly rules: ReadonlyMap<PairSymbol, ExchangeRules>;
  /** Our order rows; a working, unresolved or recovering (closed by inference) buy on a symbol means no new buy there. */
  readonly orders: readonly TrackedOrder[];
  readonly tryBalance: { readonly free: Decimal; readonly locked: Decimal };
  readonly limits: RiskLimits;
  readonly budgetTry: Decimal; // STAGE4_BOOTSTRAP_BUDGET_TRY
  /** A buy closed only by inference counts as working for this long after it was closed (lifecycle.ts). */
  readonly nowMs: number;
  readonly recoveryWindowMs: number;
  /** Symbols whose market, orders or fills failed this cycle: no intents there. */
  readonly excludedSymbols?: readonly PairSymbol[];
  readonly tradingState?: TradingState;
}

export interface CanaryPlan {
  readonly intents: readonly OrderIntent[];
  readonly skipped: readonly CanarySkip[];
}

/** The bootstrap buy is leg 0; other legs are free for later strategies within the same cycle. */
export const CANARY_BUY_LEG = 0;

/**
 * For each symbol (sorted): a limit buy at the mid rounded down to the tick (below the ask, so it
 * rests), for the bootstrap budget sized up to the exchange minimum (defect 9). Cash is taken off
 * per intent (defect 17: the original offered the same cash to every symbol).
 */
export function buildCanaryIntents(input: CanaryInput): CanaryPlan {
  const intents: OrderIntent[] = [];
  const skipped: CanarySkip[] = [];
  const excluded = new Set(input.excludedSymbols ?? []);
  const headroom = feeHeadroomBps(input.limits);
  let cash = spendableTry(input.tryBalance, input.limits);

  for (const symbol of [...new Set(input.symbols)].sort(compareSymbols)) {
    const skip = (reason: CanarySkipReason, detail: Detail = {}): void => {
      skipped.push({ symbol, reason, detail });
    };
    if (excluded.has(symbol)) {
      skip('symbol_excluded');
      continue;
    }
    if (input.tradingState !== undefined && input.tradingState !== 'active') {
      skip('trading_not_active', { state: input.tradingState });
      continue;
    }
    const mark = input.marks.get(symbol);
    if (mark === undefined || mark.lte(0)) {
      skip('no_mark');
      continue;
    }
    const rules = input.rules.get(symbol);
    if (rules === undefined) {
      skip('no_rules');
      continue;
    }
    const working = input.orders.find((o) => o.symbol === symbol && o.side === 'buy' && o.mode !== 'external' && mayBeWorking(o, input.nowMs, input.recoveryWindowMs));
    if (working !== undefined) {
      skip('open_buy_exists', { client_order_id: working.clientOrderId ?? 'missing', state: working.state });
      continue;
    }
    const sized = sizeBuy({ price: mark, targetNotional: input.budgetTry, budget: cash, feeHeadroomBps: headroom }, rules);
    if (!sized.ok) {
      skip(sized.reason, sized.detail);
      continue;
    }
    cash = cash.sub(buyCost(sized.notional, headroom));
    intents.push({
      clientOrderId: clientOrderIdFor(input.cycleId, symbol, 'buy', CANARY_BUY_LEG),
      symbol,
      side: 'buy',
      price: sized.price,
      qty: sized.qty,
    });
  }
  return { intents, skipped };
}
