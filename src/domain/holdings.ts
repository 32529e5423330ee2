// Holdings the bot did not buy, pure: the opening position inferred at a symbol's first sight, the
// operator's adoption, and the per-asset balance drift check. Positions stay account-wide (every
// trade on a configured pair counts); what they lack is what the account held before the first
// window, and only the exchange's balance knows it.
import { avgCostTry, emptyPosition, type CoveredShortfall, type Position } from './accounting.js';
import { Decimal, toDecimalString, ZERO } from './decimal.js';
import type { FillId, FillReport, PairSymbol } from './types.js';

/** How a position adjustment came about. */
export type AdjustmentKind =
  /** First sight, inference on: balance − the first window's net fills. */
  | 'inferred'
  /** First sight, inference off: the position starts at zero. */
  | 'zero'
  /** A position that existed before openings were recorded (the migration marks them). */
  | 'legacy'
  /** `btcbot positions adopt`: holdings taken from the balance on the operator's request. */
  | 'adopted';

/** A change to a position that is not a fill, kept with the numbers it was computed from. */
export interface PositionAdjustment {
  readonly symbol: PairSymbol;
  readonly kind: AdjustmentKind;
  /** Base quantity added (negative: removed at average cost, as holdings that left without a fill). */
  readonly qtyDelta: Decimal;
  readonly costDeltaTry: Decimal;
  /** The mark the added quantity is valued at; null when nothing was added. */
  readonly markTry: Decimal | null;
  /** The base asset's exchange balance (free + locked), and what other pairs sharing it hold. */
  readonly balanceQty: Decimal | null;
  readonly othersQty: Decimal;
  /** Net base quantity of the fills applied together with it. */
  readonly fillsNetQty: Decimal;
  /** What could not be adjusted: the balance is below what the fills imply (negative). */
  readonly driftQty: Decimal;
  /** For an adoption that covers one sell: that fill. */
  readonly coveredFillId: FillId | null;
  /** For an opening: the start of the first window, the moment it describes. */
  readonly windowStartMs: number | null;
  readonly atMs: number;
}

/**
 * Base quantity a fill moves: a buy receives qty (less a fee charged in the base asset), a sell
 * delivers qty (plus such a fee). The same rule as the accounting kernel.
 */
export function netBaseQty(fills: readonly FillReport[], base: string): Decimal {
  let net = ZERO;
  for (const f of fills) {
    const baseFee = f.feeAsset.trim().toUpperCase() === base ? f.fee.add(f.tax) : ZERO;
    net = f.side === 'buy' ? net.add(f.qty.sub(baseFee)) : net.sub(f.qty.add(baseFee));
  }
  return net;
}

export interface OpeningInput {
  readonly symbol: PairSymbol;
  readonly base: string;
  /** The base asset's balance, free + locked. */
  readonly balanceQty: Decimal;
  /** Positions of the other pairs sharing this base asset: the balance is theirs too. */
  readonly othersQty: Decimal;
  /** The first window's fills not yet applied (every fill of a new symbol). */
  readonly windowFills: readonly FillReport[];
  readonly windowStartMs: number;
  readonly markTry: Decimal;
  readonly atMs: number;
}

/**
 * The opening position at a symbol's first sight: balance − others − net(first window), so that
 * opening + fills = balance. Valued at the current mark. Negative (the balance is below what the
 * fills imply) → zero, with the shortfall reported as drift.
 */
export function inferOpening(input: OpeningInput): PositionAdjustment {
  const fillsNet = netBaseQty(input.windowFills, input.base);
  const needed = input.balanceQty.sub(input.othersQty).sub(fillsNet);
  const qty = Decimal.max(ZERO, needed);
  return {
    symbol: input.symbol,
    kind: 'inferred',
    qtyDelta: qty,
    costDeltaTry: qty.mul(input.markTry),
    markTry: input.markTry,
    balanceQty: input.balanceQty,
    othersQty: input.othersQty,
    fillsNetQty: fillsNet,
    driftQty: needed.isNeg() ? needed : ZERO,
    coveredFillId: null,
    windowStartMs: input.windowStartMs,
    atMs: input.atMs,
  };
}

/** The opening when inference is off: nothing held before the first window. */
export function zeroOpening(
  symbol: PairSymbol,
  input: { readonly windowFills: readonly FillReport[]; readonly base: string; readonly windowStartMs: number; readonly atMs: number },
): PositionAdjustment {
  return {
    symbol, kind: 'zero', qtyDelta: ZERO, costDeltaTry: ZERO, markTry: null, balanceQty: null, othersQty: ZERO,
    fillsNetQty: netBaseQty(input.windowFills, input.base), driftQty: ZERO, coveredFillId: null, windowStartMs: input.windowStartMs, atMs: input.atMs,
  };
}

/**
 * Re-base a position on the balance (an adoption once the symbol's fills are all in): the quantity
 * becomes balance − others. Added quantity is valued at the mark; removed quantity takes its share
 * of cost basis (no realized PnL: holdings that left without a fill were not sold). Never below zero.
 */
export function rebaseOnBalance(
  position: Position,
  input: { readonly balanceQty: Decimal; readonly othersQty: Decimal; readonly markTry: Decimal; readonly fillsNetQty: Decimal; readonly atMs: number },
): PositionAdjustment {
  const target = input.balanceQty.sub(input.othersQty);
  const clipped = Decimal.max(ZERO, target);
  const delta = clipped.sub(position.qty);
  const costDelta = delta.gte(0)
    ? delta.mul(input.markTry)
    : clipped.isZero()
      ? position.costBasisTry.neg()
      : avgCostTry(position).mul(delta);
  return {
    symbol: position.symbol,
    kind: 'adopted',
    qtyDelta: delta,
    costDeltaTry: costDelta,
    markTry: delta.gt(0) ? input.markTry : null,
    balanceQty: input.balanceQty,
    othersQty: input.othersQty,
    fillsNetQty: input.fillsNetQty,
    driftQty: target.isNeg() ? target : ZERO,
    coveredFillId: null,
    windowStartMs: null,
    atMs: input.atMs,
  };
}

/**
 * What an adoption did to a position once its fills were applied with shortfalls covered at the
 * mark: one adjustment per covered sell, then (when the fills reach the present) the re-base on
 * the balance. Returns the position after them.
 */
export function adoptionAdjustments(
  position: Position,
  covered: readonly CoveredShortfall[],
  applied: readonly FillReport[],
  a: {
    readonly base: string; readonly balanceQty: Decimal; readonly othersQty: Decimal; readonly markTry: Decimal; readonly complete: boolean;
    readonly atMs: number;
  },
): { position: Position; adjustments: PositionAdjustment[] } {
  const adjustments: PositionAdjustment[] = covered.map((c) => ({
    symbol: position.symbol, kind: 'adopted', qtyDelta: c.qty, costDeltaTry: c.costTry, markTry: a.markTry, balanceQty: null,
    othersQty: a.othersQty, fillsNetQty: netBaseQty([c.fill], a.base), driftQty: ZERO, coveredFillId: c.fill.fillId, windowStartMs: null, atMs: a.atMs,
  }));
  if (!a.complete) return { position, adjustments };
  const rebase = rebaseOnBalance(position, { ...a, fillsNetQty: netBaseQty(applied, a.base) });
  return { position: applyAdjustment(position, rebase), adjustments: [...adjustments, rebase] };
}

export function applyAdjustment(position: Position, a: PositionAdjustment): Position {
  const qty = position.qty.add(a.qtyDelta);
  return {
    ...position,
    qty,
    // A position adjusted to zero carries no basis (no rounding residue).
    costBasisTry: qty.isZero() ? ZERO : Decimal.max(ZERO, position.costBasisTry.add(a.costDeltaTry)),
  };
}

/** The adjustments' effect on a fresh position, for displays: what the opening added. */
export function openingPosition(symbol: PairSymbol, a: PositionAdjustment): Position {
  return applyAdjustment(emptyPosition(symbol), a);
}

/** `opening_inferred:BTCTRY qty=0.01 balance=0.005 others=0 fills_net=-0.005 mark=3400000 drift=0`. */
export function formatAdjustment(a: PositionAdjustment): string {
  const s = toDecimalString;
  const parts = [
    `qty=${s(a.qtyDelta)}`,
    a.balanceQty === null ? null : `balance=${s(a.balanceQty)}`,
    a.othersQty.isZero() ? null : `others=${s(a.othersQty)}`,
    `fills_net=${s(a.fillsNetQty)}`,
    a.markTry === null ? null : `mark=${s(a.markTry)}`,
    a.driftQty.isZero() ? null : `drift=${s(a.driftQty)}`,
    a.coveredFillId === null ? null : `covers_fill=${a.coveredFillId}`,
  ].filter((p): p is string => p !== null);
  const name = a.kind === 'adopted' ? 'position_adopted' : `opening_${a.kind}`;
  return `${name}:${a.symbol} ${parts.join(' ')}`;
}

// ---------------------------------------------------------------------------------------------
// Balance drift, per base asset (live mode)

export interface DriftState {
  readonly asset: string;
  /** Consecutive checked cycles with a difference beyond the tolerance. */
  readonly streak: number;
  /** balance − positions at the last check. */
  readonly diffQty: Decimal;
  readonly balanceQty: Decimal;
  readonly positionsQty: Decimal;
  /** Raised once the streak reached the threshold; stays until the difference is gone. */
  readonly raised: boolean;
}

export interface DriftObservation {
  readonly asset: string;
  readonly balanceQty: Decimal;
  /** The bot's positions summed over every pair with this base asset. */
  readonly positionsQty: Decimal;
  /** The quantity step of the asset's pairs: a smaller difference is rounding, not drift. */
  readonly toleranceQty: Decimal;
}

export type DriftEvent = 'raised' | 'resolved' | null;

/**
 * One cycle's check. A difference appears for a cycle or two when a fill lands between the balance
 * read and the fills read, or shows in the trade list later than in the balance (reference Q14);
 * only one that persists `cyclesToRaise` checks in a row is drift.
 */
export function nextDriftState(
  previous: DriftState | undefined,
  obs: DriftObservation,
  cyclesToRaise: number,
): { state: DriftState; event: DriftEvent } {
  const diff = obs.balanceQty.sub(obs.positionsQty);
  const drifting = diff.abs().gt(obs.toleranceQty);
  const streak = drifting ? (previous?.streak ?? 0) + 1 : 0;
  const raised = drifting && streak >= cyclesToRaise;
  const wasRaised = previous?.raised ?? false;
  return {
    state: { asset: obs.asset, streak, diffQty: diff, balanceQty: obs.balanceQty, positionsQty: obs.positionsQty, raised },
    event: raised && !wasRaised ? 'raised' : !raised && wasRaised ? 'resolved' : null,
  };
}

/** `balance_drift:BTC balance=0.01 positions=0.005 diff=0.005 cycles=3`. */
export function formatDrift(d: DriftState): string {
  const s = toDecimalString;
  return `balance_drift:${d.asset} balance=${s(d.balanceQty)} positions=${s(d.positionsQty)} diff=${s(d.diffQty)} cycles=${d.streak}`;
}

// ---------------------------------------------------------------------------------------------
// What a symbol's ingest must settle, and the drift checks of one cycle

/**
 * What this cycle's ingest must settle about a symbol's holdings:
 * - `none`: holdings established, nothing asked;
 * - `opening`: first sight, the opening is recorded with these fills (inferred, or zero);
 * - `wait`: first sight with inference on, but no balance, no mark, or fills not up to now: the
 *   opening (and the symbol's trading) waits, nothing is ingested;
 * - `adopt`: the operator asked; `complete` once the fills reach the present (then re-base);
 * - `adopt_waiting`: asked, but no balance or mark this cycle: ingest as usual, adopt later.
 */
export type HoldingsStep =
  | { readonly kind: 'none' }
  | { readonly kind: 'opening'; readonly inferred: boolean }
  | { readonly kind: 'wait'; readonly reason: 'no_balance' | 'no_mark' | 'fills_not_current' }
  | { readonly kind: 'adopt'; readonly complete: boolean }
  | { readonly kind: 'adopt_waiting'; readonly reason: 'no_balance' | 'no_mark' };

export function holdingsStep(
  state: { readonly established: boolean; readonly adoptionRequested: boolean },
  cycle: { readonly inferOpenings: boolean; readonly hasBalance: boolean; readonly hasMark: boolean; readonly fillsCurrent: boolean },
): HoldingsStep {
  const missing = !cycle.hasBalance ? 'no_balance' : !cycle.hasMark ? 'no_mark' : null;
  if (state.adoptionRequested) return missing !== null ? { kind: 'adopt_waiting', reason: missing } : { kind: 'adopt', complete: cycle.fillsCurrent };
  if (state.established) return { kind: 'none' };
  if (!cycle.inferOpenings) return { kind: 'opening', inferred: false };
  if (missing !== null) return { kind: 'wait', reason: missing };
  // Opening + fills = balance holds only over a window that reaches the present.
  if (!cycle.fillsCurrent) return { kind: 'wait', reason: 'fills_not_current' };
  return { kind: 'opening', inferred: true };
}

/**
 * A symbol that never ingested (its opening kept waiting) and whose backlog no longer fits one
 * cycle starts its window over at now − lookback: nothing was applied from the old window, and
 * the opening inferred from the balance covers everything before the new one. Never with
 * inference off or under a quarantine: there the old window holds fills nothing else accounts for.
 */
export function restartsWindow(
  state: { readonly established: boolean; readonly quarantined: boolean },
  cycle: { readonly inferOpenings: boolean; readonly backlogFits: boolean },
): boolean {
  return !cycle.backlogFits && !state.established && !state.quarantined && cycle.inferOpenings;
}

export interface DriftAsset {
  readonly asset: string;
  readonly symbols: readonly PairSymbol[];
  /** Null when this asset is not checked this cycle (no balance, dry run, books not current). */
  readonly observation: DriftObservation | null;
}

/**
 * One cycle's drift checks over every base asset: the states to store, and for each asset whose
 * drift is raised (checked now or standing from before) its symbols, which may not buy.
 */
export function checkDrift(
  assets: readonly DriftAsset[],
  previous: ReadonlyMap<string, DriftState>,
  cyclesToRaise: number,
): { checked: DriftState[]; raised: Array<{ state: DriftState; symbols: readonly PairSymbol[] }>; resolved: string[] } {
  const checked: DriftState[] = [];
  const raised: Array<{ state: DriftState; symbols: readonly PairSymbol[] }> = [];
  const resolved: string[] = [];
  for (const a of [...assets].sort((x, y) => (x.asset < y.asset ? -1 : x.asset > y.asset ? 1 : 0))) {
    let state = previous.get(a.asset);
    if (a.observation !== null) {
      const next = nextDriftState(state, a.observation, cyclesToRaise);
      checked.push(next.state);
      if (next.event === 'resolved') resolved.push(a.asset);
      state = next.state;
    }
    if (state?.raised) raised.push({ state, symbols: a.symbols });
  }
  return { checked, raised, resolved };
}
