// Weighted-average-cost accounting over fills. Pure: returns new positions, never mutates input,
// and on any integrity failure throws before returning, so a failed batch applies nothing.
import { Decimal, toDecimalString, ZERO } from './decimal.js';
import { AccountingIntegrityError } from './errors.js';
import { splitPair } from './symbols.js';
import { toPairSymbol, type ExchangeOrderId, type FillId, type FillReport, type PairSymbol } from './types.js';

/** Derived TRY amounts (cost removed on a sell, converted fees) are rounded to this many places,
 *  so cost basis added on buys always equals cost basis held plus cost basis removed by sells. */
export const ACCOUNTING_SCALE = 32;

export interface Position {
  readonly symbol: PairSymbol;
  /** Base quantity held, never negative. */
  readonly qty: Decimal;
  /** TRY paid for `qty`, fees and tax included; the average cost is costBasisTry / qty. */
  readonly costBasisTry: Decimal;
  readonly realizedPnlTry: Decimal;
  readonly lastFillTsMs: number | null;
}

export function emptyPosition(symbol: PairSymbol): Position {
  return { symbol, qty: ZERO, costBasisTry: ZERO, realizedPnlTry: ZERO, lastFillTsMs: null };
}

/** Average cost per unit in TRY; 0 for a flat position. */
export function avgCostTry(p: Position): Decimal {
  return p.qty.isZero() ? ZERO : p.costBasisTry.div(p.qty);
}

export interface ApplyFillsContext {
  /** Mark prices by canonical symbol, used to convert fees paid in a third asset into TRY. */
  readonly marks: ReadonlyMap<PairSymbol, Decimal>;
  /** The accounting currency; every traded pair must be quoted in it. */
  readonly quoteAsset?: string;
  /** Fill ids already in the ledger: skipped, so a re-polled window never double-counts. */
  readonly appliedFillIds?: ReadonlySet<FillId>;
  /**
   * Adoption (the operator's `positions adopt`): a sell of more than is held is covered instead of
   * refused: the shortfall is added at this mark right before the sell, and reported in `covered`.
   */
  readonly coverShortfallAtMarkTry?: Decimal;
}

/** Quantity added before a sell so that it could be applied (adoption only). */
export interface CoveredShortfall {
  readonly fill: FillReport;
  readonly qty: Decimal;
  readonly costTry: Decimal;
}

export interface AppliedFill {
  readonly fill: FillReport;
  /** Fee and tax in TRY that went into cost (buy) or out of realized PnL (sell). */
  readonly feeTry: Decimal;
  /** Fee and tax charged in the base asset: received less on a buy, delivered more on a sell. */
  readonly baseFeeQty: Decimal;
  readonly realizedPnlDeltaTry: Decimal;
  /** Cost basis taken out of the position by a sell (0 for buys). */
  readonly costBasisRemovedTry: Decimal;
}

export interface FillsApplied {
  /** Every position (input and new), ordered by symbol. */
  readonly positions: readonly Position[];
  /** Fills applied, in application (chronological) order. */
  readonly applied: readonly AppliedFill[];
  readonly skippedFillIds: readonly FillId[];
  /** Audit markers: `fee_conversion_missing:<fill_id>:<asset>`, `duplicate_fill_conflict:<fill_id>`. */
  readonly notes: readonly string[];
  /** Symbols whose cost is understated (fee not convertible): trade them reduce-only. */
  readonly reduceOnlySymbols: readonly PairSymbol[];
  /** Shortfalls covered under `coverShortfallAtMarkTry`, in application order. */
  readonly covered: readonly CoveredShortfall[];
}

/** Chronological, then by fill id (BTCTurk trade ids grow; numeric ids compare as numbers). */
export function compareFills(a: FillReport, b: FillReport): number {
  if (a.tsMs !== b.tsMs) return a.tsMs - b.tsMs;
  return compareIds(a.fillId, b.fillId);
}

function compareIds(a: string, b: string): number {
  const numeric = /^\d+$/;
  if (numeric.test(a) && numeric.test(b) && a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

function fillFingerprint(f: FillReport): string {
  const s = toDecimalString;
  return [f.exchangeOrderId, f.symbol, f.side, s(f.price), s(f.qty), s(f.fee), s(f.tax), f.feeAsset.toUpperCase(), f.tsMs].join('|');
}

function roundTry(d: Decimal): Decimal {
  return d.toDecimalPlaces(ACCOUNTING_SCALE, Decimal.ROUND_HALF_EVEN);
}

function validateFill(f: FillReport): void {
  const bad = (field: string, value: Decimal): never => {
    throw new AccountingIntegrityError('invalid_fill', { fill_id: f.fillId, [field]: toDecimalString(value) });
  };
  if (!f.qty.isFinite() || f.qty.lte(0)) bad('qty', f.qty);
  if (!f.price.isFinite() || f.price.lte(0)) bad('price', f.price);
  if (!f.fee.isFinite() || f.fee.isNeg()) bad('fee', f.fee);
  if (!f.tax.isFinite() || f.tax.isNeg()) bad('tax', f.tax);
}

/** The mark of `<asset><quote>` if a positive one exists. */
function conversionMark(asset: string, quote: string, marks: ReadonlyMap<PairSymbol, Decimal>): Decimal | null {
  let symbol: PairSymbol;
  try {
    symbol = toPairSymbol(`${asset}${quote}`);
  } catch {
    return null; // an unparseable asset code has no conversion path
  }
  const mark = marks.get(symbol);
  return mark !== undefined && mark.gt(0) ? mark : null;
}

/**
 * Each fill id once: the first of an id stands, a later one is skipped (noted
 * `duplicate_fill_conflict:<id>` when its fields differ), and so is an id already applied.
 */
export function dedupeFills<F extends FillReport>(
  fills: readonly F[], appliedFillIds: ReadonlySet<FillId> = new Set(),
): { fills: F[]; skipped: FillId[]; notes: string[] } {
  const firstById = new Map<FillId, F>();
  const skipped: FillId[] = [];
  const notes: string[] = [];
  for (const f of fills) {
    const seen = firstById.get(f.fillId);
    if (seen !== undefined || appliedFillIds.has(f.fillId)) {
      skipped.push(f.fillId);
      if (seen !== undefined && fillFingerprint(seen) !== fillFingerprint(f)) notes.push(`duplicate_fill_conflict:${f.fillId}`);
      continue;
    }
    firstById.set(f.fillId, f);
  }
  return { fills: [...firstById.values()], skipped, notes };
}

/**
 * Apply fills to positions with weighted-average cost.
 * - Fills are deduped by fill id (first wins; a same-id fill with different fields is noted) and
 *   applied in chronological order (defect 4: API order can put a sell before its buy).
 * - Buy: cost basis += price×qty + fee_try. Sell: realized += price×qty − avg×qty − fee_try.
 * - Fee in TRY is used as is; fee in the pair's base asset changes the quantity (defect 20: it must
 *   not overstate holdings); fee in another asset is converted through `<ASSET>TRY` marks, and
 *   without a mark the fill is noted `fee_conversion_missing:<fill_id>:<asset>` and its symbol is
 *   reported reduce-only.
 * - Selling more than is held throws AccountingIntegrityError('oversell_detected') and applies nothing.
 */
export function applyFills(
  positions: readonly Position[],
  fills: readonly FillReport[],
  ctx: ApplyFillsContext,
): FillsApplied {
  const quote = (ctx.quoteAsset ?? 'TRY').toUpperCase();
  const book = new Map<PairSymbol, Position>();
  for (const p of positions) book.set(p.symbol, p);

  const { fills: unique, skipped, notes } = dedupeFills(fills, ctx.appliedFillIds);
  const ordered = [...unique].sort(compareFills);

  const applied: AppliedFill[] = [];
  const covered: CoveredShortfall[] = [];
  const reduceOnly = new Set<PairSymbol>();
  for (const f of ordered) {
    validateFill(f);
    const assets = splitPair(f.symbol, quote);
    if (assets === null) {
      throw new AccountingIntegrityError('unsupported_quote', { fill_id: f.fillId, symbol: f.symbol, quote });
    }
    const feeAsset = f.feeAsset.trim().toUpperCase();
    const feeTotal = f.fee.add(f.tax);
    let feeTry = ZERO;
    let baseFeeQty = ZERO;
    if (!feeTotal.isZero()) {
      if (feeAsset === quote) {
        feeTry = feeTotal;
      } else if (feeAsset === assets.base) {
        baseFeeQty = feeTotal;
      } else {
        const mark = conversionMark(feeAsset, quote, ctx.marks);
        if (mark === null) {
          notes.push(`fee_conversion_missing:${f.fillId}:${feeAsset}`);
          reduceOnly.add(f.symbol);
        } else {
          feeTry = roundTry(feeTotal.mul(mark));
        }
      }
    }

    let pos = book.get(f.symbol) ?? emptyPosition(f.symbol);
    const gross = f.price.mul(f.qty);
    if (f.side === 'buy') {
      const received = f.qty.sub(baseFeeQty);
      if (received.lte(0)) {
        throw new AccountingIntegrityError('fee_exceeds_qty', {
          fill_id: f.fillId,
          fill_qty: toDecimalString(f.qty),
          fee_qty: toDecimalString(baseFeeQty),
        });
      }
      book.set(f.symbol, {
        symbol: f.symbol,
        qty: pos.qty.add(received),
        costBasisTry: pos.costBasisTry.add(gross).add(feeTry),
        realizedPnlTry: pos.realizedPnlTry,
        lastFillTsMs: f.tsMs,
      });
      applied.push({ fill: f, feeTry, baseFeeQty, realizedPnlDeltaTry: ZERO, costBasisRemovedTry: ZERO });
    } else {
      const delivered = f.qty.add(baseFeeQty);
      const cover = ctx.coverShortfallAtMarkTry;
      if (delivered.gt(pos.qty) && cover !== undefined) {
        const shortfall = delivered.sub(pos.qty);
        const costTry = roundTry(shortfall.mul(cover));
        covered.push({ fill: f, qty: shortfall, costTry });
        pos = { ...pos, qty: delivered, costBasisTry: pos.costBasisTry.add(costTry) };
      }
      if (delivered.gt(pos.qty)) {
        throw new AccountingIntegrityError('oversell_detected', {
          symbol: f.symbol,
          position_qty: toDecimalString(pos.qty),
          fill_qty: toDecimalString(delivered),
          fill_id: f.fillId,
        });
      }
      const closes = delivered.eq(pos.qty);
      // Closing takes the whole basis, so a flat position carries no rounding residue.
      const removed = closes ? pos.costBasisTry : roundTry(pos.costBasisTry.mul(delivered).div(pos.qty));
      const realizedDelta = gross.sub(removed).sub(feeTry);
      book.set(f.symbol, {
        symbol: f.symbol,
        qty: pos.qty.sub(delivered),
        costBasisTry: closes ? ZERO : pos.costBasisTry.sub(removed),
        realizedPnlTry: pos.realizedPnlTry.add(realizedDelta),
        lastFillTsMs: f.tsMs,
      });
      applied.push({ fill: f, feeTry, baseFeeQty, realizedPnlDeltaTry: realizedDelta, costBasisRemovedTry: removed });
    }
  }

  const out = [...book.values()].sort((a, b) => (a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0));
  return { positions: out, applied, skippedFillIds: skipped, notes, reduceOnlySymbols: [...reduceOnly].sort(), covered };
}

/** The fills of a batch not yet applied: first of each id, chronological (the kernel's order). */
export function pendingFills(fills: readonly FillReport[], appliedFillIds: ReadonlySet<FillId> = new Set()): FillReport[] {
  const first = new Map<FillId, FillReport>();
  for (const f of fills) if (!appliedFillIds.has(f.fillId) && !first.has(f.fillId)) first.set(f.fillId, f);
  return [...first.values()].sort(compareFills);
}

/** What a batch could not apply: the first fill that failed, and it and every fill after it. */
export interface HeldFills {
  readonly error: AccountingIntegrityError;
  /** Chronological, starting with the failing fill. */
  readonly fills: readonly FillReport[];
}

/**
 * applyFills, but a fill that cannot be applied stops the batch there instead of failing all of
 * it: the fills before it are applied (weighted-average cost is sequential, so a later batch starts
 * exactly where this one stopped), it and everything after it are returned as held.
 */
export function applyFillsUntilFailure(
  positions: readonly Position[],
  fills: readonly FillReport[],
  ctx: ApplyFillsContext,
): FillsApplied & { held: HeldFills | null } {
  try {
    return { ...applyFills(positions, fills, ctx), held: null };
  } catch (err) {
    if (!(err instanceof AccountingIntegrityError)) throw err;
    const ordered = pendingFills(fills, ctx.appliedFillIds);
    const at = ordered.findIndex((f) => f.fillId === err.detail['fill_id']);
    const cut = at < 0 ? 0 : at;
    return { ...applyFills(positions, ordered.slice(0, cut), ctx), held: { error: err, fills: ordered.slice(cut) } };
  }
}

/** Start of the next fills poll: cursor − lookback, or now − lookback on the first poll. */
export function fillsPollSinceMs(cursorMs: number | null, lookbackMinutes: number, nowMs: number): number {
  const lookbackMs = lookbackMinutes * 60_000;
  return Math.max(0, (cursorMs ?? nowMs) - lookbackMs);
}

/**
 * Longest span one fills request covers. BTCTurk documents no paging or row limit for
 * users/transactions/trade, so a long span could come back cut short without saying so: after an
 * outage the history since the cursor is asked for in consecutive windows of at most this long.
 */
export const FILLS_WINDOW_MAX_MS = 6 * 3_600_000;
/** Windows one symbol fetches per cycle (5 days): a longer backlog is worked off over cycles. */
export const FILLS_WINDOWS_PER_CYCLE = 20;
/**
 * Windows one cycle fetches over all its symbols. The client's limiter allows 120 trade-list
 * requests per 60 s (reference §7) and the accounting activity has 60 s to finish: 40 leaves room
 * for the next cycle's polls and for the client's retries. Steady state needs one per symbol.
 */
export const FILLS_WINDOWS_PER_CYCLE_TOTAL = 40;
/**
 * Consecutive windows overlap by this much. Whether `endDate` is inclusive is undocumented; with the
 * overlap a fill at a window's last millisecond is also in the next one, and dedupe by id makes the
 * second sight free.
 */
export const FILLS_WINDOW_OVERLAP_MS = 60_000;

export interface FillsWindow {
  /** Inclusive bounds, epoch ms. */
  readonly startMs: number;
  readonly endMs: number;
}

/**
 * [startMs, endMs] cut into consecutive windows, each overlapping the one before by `overlapMs`,
 * oldest first, at most `maxWindows` of them; `caughtUp` says whether they reach endMs.
 */
export function fillsWindows(
  startMs: number,
  endMs: number,
  maxWindowMs = FILLS_WINDOW_MAX_MS,
  maxWindows = FILLS_WINDOWS_PER_CYCLE,
  overlapMs = FILLS_WINDOW_OVERLAP_MS,
): { windows: FillsWindow[]; caughtUp: boolean } {
  if (overlapMs >= maxWindowMs) throw new RangeError('fills windows must be longer than their overlap');
  const windows: FillsWindow[] = [];
  if (startMs > endMs) return { windows, caughtUp: true };
  let from = startMs;
  while (windows.length < maxWindows) {
    const to = Math.min(endMs, from + maxWindowMs - 1);
    windows.push({ startMs: from, endMs: to });
    if (to >= endMs) return { windows, caughtUp: true };
    from = to + 1 - overlapMs;
  }
  return { windows, caughtUp: false };
}

/**
 * Share one cycle's window budget among symbols: one window each in turn (in the order given) until
 * every symbol has what it asked for or the budget is spent. Steady state (one window per symbol)
 * is never cut while the budget covers the symbols; a backlog is worked off fairly over cycles.
 */
export function allocateWindows<K>(asked: ReadonlyArray<readonly [K, number]>, budget = FILLS_WINDOWS_PER_CYCLE_TOTAL): Map<K, number> {
  const given = new Map<K, number>(asked.map(([k]) => [k, 0]));
  let left = budget;
  for (let round = 1; left > 0; round++) {
    let wanted = false;
    for (const [k, n] of asked) {
      if (n < round || left === 0) continue;
      wanted = true;
      given.set(k, round);
      left -= 1;
    }
    if (!wanted) break;
  }
  return given;
}

/**
 * The time up to which a poll ending at `polledUntilMs` is taken to show every fill: a trade may
 * reach the trade list a little after it happened (reference Q14), so the last `settleMs` are not
 * yet trusted to be complete.
 */
export function settledThroughMs(polledUntilMs: number, settleMs: number): number {
  return polledUntilMs - settleMs;
}

/** The cursor never moves backwards (defect 11): max(previous, newest fill seen). */
export function advanceFillsCursor(cursorMs: number | null, fills: readonly FillReport[]): number | null {
  let next = cursorMs;
  for (const f of fills) if (next === null || f.tsMs > next) next = f.tsMs;
  return next;
}

/** Executed quantity per exchange order, from fills: evidence for reconcile (defect 18). Fills
 *  whose row named no order are left out. */
export function filledQtyByOrder(fills: readonly FillReport[]): Map<ExchangeOrderId, Decimal> {
  const out = new Map<ExchangeOrderId, Decimal>();
  const seen = new Set<FillId>();
  for (const f of fills) {
    if (seen.has(f.fillId) || f.exchangeOrderId === null) continue;
    seen.add(f.fillId);
    out.set(f.exchangeOrderId, (out.get(f.exchangeOrderId) ?? ZERO).add(f.qty));
  }
  return out;
}
