// Holdings the bot did not buy, pure: the opening position inferred at a symbol's first sight, the
// operator's adoption, and the per-asset balance drift check. Positions stay account-wide (every
// trade on a configured pair counts); what they lack is what the account held before the first
// window, and only the exchange's balance knows it.
//
// A balance is a snapshot taken at one moment (`atMs`, when the read was answered). It is compared
// with fills only by time: the fills with ts ≤ atMs are in it, later ones are not. And only once
// the fills up to atMs can be trusted to be all visible (the poll reached atMs + the settle
// margin, reference Q14), so a trade between the cycle's start and the balance read, or one the
// trade list shows late, is never counted twice or missed.
import { avgCostTry, compareFills, emptyPosition, type CoveredShortfall, type Position } from './accounting.js';
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
  /** When that balance was read: the moment it describes. */
  readonly balanceAtMs: number | null;
  readonly othersQty: Decimal;
  /**
   * Net base quantity of the fills it was computed with: for an opening, the window's fills up to
   * the balance read; for a re-base, the fills after it.
   */
  readonly fillsNetQty: Decimal;
  /** What the balance could not explain (negative): the fills needed more than it implies. */
  readonly driftQty: Decimal;
  /** For an adoption that covers one sell: that fill. */
  readonly coveredFillId: FillId | null;
  /** For an opening: the start of the first window, the moment it describes. */
  readonly windowStartMs: number | null;
  readonly atMs: number;
}

/** What of a fill the base-asset arithmetic needs. */
export type BaseMove = Pick<FillReport, 'side' | 'qty' | 'fee' | 'tax' | 'feeAsset'>;

/**
 * Base quantity a fill moves: a buy receives qty (less a fee charged in the base asset), a sell
 * delivers qty (plus such a fee). The same rule as the accounting kernel.
 */
export function baseMove(f: BaseMove, base: string): Decimal {
  const baseFee = f.feeAsset.trim().toUpperCase() === base ? f.fee.add(f.tax) : ZERO;
  return f.side === 'buy' ? f.qty.sub(baseFee) : f.qty.add(baseFee).neg();
}

export function netBaseQty(fills: readonly BaseMove[], base: string): Decimal {
  return fills.reduce((net, f) => net.add(baseMove(f, base)), ZERO);
}

/** The least that must be held before `fills` (in time order) for none of their sells to oversell. */
export function largestShortfall(fills: readonly FillReport[], base: string): Decimal {
  let running = ZERO;
  let lowest = ZERO;
  for (const f of [...fills].sort(compareFills)) {
    running = running.add(baseMove(f, base));
    if (running.lt(lowest)) lowest = running;
  }
  return lowest.neg();
}

/** A base asset's balance (free + locked) as read at `atMs`. */
export interface BalanceSnapshot {
  readonly qty: Decimal;
  readonly atMs: number;
}

export interface OpeningInput {
  readonly symbol: PairSymbol;
  readonly base: string;
  /** The base asset's balance, read at or after the window start and settled (see above). */
  readonly balance: BalanceSnapshot;
  /** Positions of the other pairs sharing this base asset: the balance is theirs too. */
  readonly othersQty: Decimal;
  /** The first window's fills to be applied on the opening (every fill of a new symbol). */
  readonly windowFills: readonly FillReport[];
  readonly windowStartMs: number;
  readonly markTry: Decimal;
  readonly atMs: number;
}

/**
 * The opening position at a symbol's first sight: what was held at the window start, so that
 * opening + the window's fills up to the balance read = that balance. Valued at the mark. Never
 * less than the window's fills need for none of their sells to oversell (nor below zero): what
 * that adds beyond the balance is reported as drift.
 */
export function inferOpening(input: OpeningInput): PositionAdjustment {
  const fillsNet = netBaseQty(input.windowFills.filter((f) => f.tsMs <= input.balance.atMs), input.base);
  const needed = input.balance.qty.sub(input.othersQty).sub(fillsNet);
  const qty = Decimal.max(ZERO, needed, largestShortfall(input.windowFills, input.base));
  return {
    symbol: input.symbol,
    kind: 'inferred',
    qtyDelta: qty,
    costDeltaTry: qty.mul(input.markTry),
    markTry: input.markTry,
    balanceQty: input.balance.qty,
    balanceAtMs: input.balance.atMs,
    othersQty: input.othersQty,
    fillsNetQty: fillsNet,
    driftQty: needed.sub(qty),
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
    symbol, kind: 'zero', qtyDelta: ZERO, costDeltaTry: ZERO, markTry: null, balanceQty: null, balanceAtMs: null, othersQty: ZERO,
    fillsNetQty: netBaseQty(input.windowFills, input.base), driftQty: ZERO, coveredFillId: null, windowStartMs: input.windowStartMs, atMs: input.atMs,
  };
}

/**
 * Re-base a position on a balance (an adoption): what it held when the balance was read becomes
 * balance − others, and the fills since then stay on top, so the quantity becomes
 * balance − others + net(fills after the read). Added quantity is valued at the mark; removed
 * quantity takes its share of cost basis (no realized PnL: holdings that left without a fill were
 * not sold). Never below zero.
 */
export function rebaseOnBalance(
  position: Position,
  input: {
    readonly balance: BalanceSnapshot; readonly othersQty: Decimal; readonly markTry: Decimal;
    /** Net base quantity of the symbol's fills (applied) with ts after the balance read. */
    readonly netAfterQty: Decimal;
    readonly atMs: number;
  },
): PositionAdjustment {
  const target = input.balance.qty.sub(input.othersQty).add(input.netAfterQty);
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
    balanceQty: input.balance.qty,
    balanceAtMs: input.balance.atMs,
    othersQty: input.othersQty,
    fillsNetQty: input.netAfterQty,
    driftQty: target.isNeg() ? target : ZERO,
    coveredFillId: null,
    windowStartMs: null,
    atMs: input.atMs,
  };
}

/**
 * What an adoption did to a position once its fills were applied with shortfalls covered at the
 * mark: one adjustment per covered sell, one per unreadable trade row it resolved (the balance
 * carries its effect), then the re-base on the balance. Returns the position after them.
 */
export function adoptionAdjustments(
  position: Position,
  covered: readonly CoveredShortfall[],
  resolvedRows: readonly FillId[],
  a: {
    readonly base: string; readonly balance: BalanceSnapshot; readonly othersQty: Decimal; readonly markTry: Decimal;
    readonly netAfterQty: Decimal; readonly atMs: number;
  },
): { position: Position; adjustments: PositionAdjustment[] } {
  const none = { balanceQty: null, balanceAtMs: null, othersQty: a.othersQty, driftQty: ZERO, windowStartMs: null, atMs: a.atMs } as const;
  const adjustments: PositionAdjustment[] = [
    ...covered.map((c): PositionAdjustment => ({
      symbol: position.symbol, kind: 'adopted', qtyDelta: c.qty, costDeltaTry: c.costTry, markTry: a.markTry, fillsNetQty: netBaseQty([c.fill], a.base),
      coveredFillId: c.fill.fillId, ...none,
    })),
    ...resolvedRows.map((id): PositionAdjustment => ({
      symbol: position.symbol, kind: 'adopted', qtyDelta: ZERO, costDeltaTry: ZERO, markTry: null, fillsNetQty: ZERO, coveredFillId: id, ...none,
    })),
  ];
  const rebase = rebaseOnBalance(position, a);
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
/**
 * Why an inferred opening could not land on its balance read: the read is below the net of the
 * window's fills up to it (the opening is zero), or the window sells before it buys, so the opening
 * holds what those sells need and the running shortfall exceeds what the read explains.
 */
function openingShortfallCause(a: PositionAdjustment): 'balance_below_fills_net' | 'running_shortfall' {
  return a.qtyDelta.isZero() ? 'balance_below_fills_net' : 'running_shortfall';
}

export function formatAdjustment(a: PositionAdjustment): string {
  const s = toDecimalString;
  const parts = [
    `qty=${s(a.qtyDelta)}`,
    a.balanceQty === null ? null : `balance=${s(a.balanceQty)}`,
    a.othersQty.isZero() ? null : `others=${s(a.othersQty)}`,
    `fills_net=${s(a.fillsNetQty)}`,
    a.markTry === null ? null : `mark=${s(a.markTry)}`,
    a.driftQty.isZero() ? null : `drift=${s(a.driftQty)}`,
    a.kind !== 'inferred' || a.driftQty.isZero() ? null : `drift_cause=${openingShortfallCause(a)}`,
    a.coveredFillId === null ? null : `covers_fill=${a.coveredFillId}`,
  ].filter((p): p is string => p !== null);
  const name = a.kind === 'adopted' ? 'position_adopted' : `opening_${a.kind}`;
  return `${name}:${a.symbol} ${parts.join(' ')}`;
}

// ---------------------------------------------------------------------------------------------
// Balance drift, per base asset (live mode)

export interface DriftState {
  readonly asset: string;
  /** Consecutive checked balance reads with a difference beyond the tolerance. */
  readonly streak: number;
  /** balance − positions at the last check. */
  readonly diffQty: Decimal;
  readonly balanceQty: Decimal;
  readonly positionsQty: Decimal;
  /** The read the last check compared (its time): each read is one check, however often it is met. */
  readonly checkedAtMs: number;
  /** Raised once the streak reached the threshold; stays until the difference is gone. */
  readonly raised: boolean;
}

export interface DriftObservation {
  readonly asset: string;
  /** A settled balance read (see the top of this file). */
  readonly balance: BalanceSnapshot;
  /** The bot's positions summed over every pair with this base asset, as they were at that read. */
  readonly positionsQty: Decimal;
  /** The quantity step of the asset's pairs: a smaller difference is rounding, not drift. */
  readonly toleranceQty: Decimal;
}

export type DriftEvent = 'raised' | 'resolved' | null;

/**
 * One check: a settled balance read against the positions as of that read. A read already checked
 * (a retried activity, or a cycle without a newer settled read) changes nothing. A difference that
 * is a fill later than the settle margin lasts a check or two; only one that persists
 * `cyclesToRaise` reads in a row is drift.
 */
export function nextDriftState(
  previous: DriftState | undefined,
  obs: DriftObservation,
  cyclesToRaise: number,
): { state: DriftState; event: DriftEvent } {
  if (previous !== undefined && obs.balance.atMs <= previous.checkedAtMs) return { state: previous, event: null };
  const diff = obs.balance.qty.sub(obs.positionsQty);
  const drifting = diff.abs().gt(obs.toleranceQty);
  const streak = drifting ? (previous?.streak ?? 0) + 1 : 0;
  const raised = drifting && streak >= cyclesToRaise;
  const wasRaised = previous?.raised ?? false;
  return {
    state: {
      asset: obs.asset, streak, diffQty: diff, balanceQty: obs.balance.qty, positionsQty: obs.positionsQty, checkedAtMs: obs.balance.atMs, raised,
    },
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
 * Whether this cycle has a balance of the symbol's base asset it may compare with its fills:
 * `settled` (read at a time the fills poll covers past the settle margin), `settling` (read, but
 * too recently), or `unknown` (the balance read failed, or did not list the asset).
 */
export type BalanceState = 'settled' | 'settling' | 'unknown';

/**
 * What this cycle's ingest must settle about a symbol's holdings:
 * - `none`: holdings established, nothing asked;
 * - `opening`: first sight, the opening is recorded with these fills (inferred, or zero);
 * - `wait`: first sight with inference on, but no mark or no settled balance: the opening (and the
 *   symbol's trading) waits, nothing is ingested;
 * - `adopt`: the operator asked, and a settled balance read after the request and a mark are here;
 * - `adopt_waiting`: asked, but not yet: ingest as usual, adopt later.
 * A first sight goes first: an adoption asked for a symbol not yet accounted waits for its opening.
 */
export type HoldingsStep =
  | { readonly kind: 'none' }
  | { readonly kind: 'opening'; readonly inferred: boolean }
  | { readonly kind: 'wait'; readonly reason: 'no_balance' | 'no_mark' | 'balance_settling' }
  | { readonly kind: 'adopt' }
  | { readonly kind: 'adopt_waiting'; readonly reason: 'no_balance' | 'no_mark' | 'balance_settling' };

export function holdingsStep(
  state: { readonly established: boolean; readonly adoptionRequested: boolean },
  cycle: { readonly inferOpenings: boolean; readonly hasMark: boolean; readonly balance: BalanceState },
): HoldingsStep {
  const missing = !cycle.hasMark ? 'no_mark' : cycle.balance === 'unknown' ? 'no_balance' : cycle.balance === 'settling' ? 'balance_settling' : null;
  if (!state.established) {
    if (!cycle.inferOpenings) return { kind: 'opening', inferred: false };
    return missing !== null ? { kind: 'wait', reason: missing } : { kind: 'opening', inferred: true };
  }
  if (state.adoptionRequested) return missing !== null ? { kind: 'adopt_waiting', reason: missing } : { kind: 'adopt' };
  return { kind: 'none' };
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
  /** Null when this asset is not checked this cycle (no settled read, dry run, books not current). */
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
      if (next.state !== state) checked.push(next.state);
      if (next.event === 'resolved') resolved.push(a.asset);
      state = next.state;
    }
    if (state?.raised) raised.push({ state, symbols: a.symbols });
  }
  return { checked, raised, resolved };
}
