// PnL snapshot, day-start baseline and drawdown. Pure: balances, marks, the previous high-water
// mark and the baseline are arguments; persisting them (per account and mode) is the store's job.
import { type Position } from './accounting.js';
import { Decimal, ZERO } from './decimal.js';
import type { TradingMode } from './gates.js';
import type { PairSymbol } from './types.js';

const DAY_MS = 86_400_000;
const HUNDRED = new Decimal(100);

/** Start of the trading day containing `nowMs`, for a fixed offset east of UTC (Istanbul = 180). */
export function dayStartMs(nowMs: number, utcOffsetMinutes: number): number {
  const offsetMs = utcOffsetMinutes * 60_000;
  return Math.floor((nowMs + offsetMs) / DAY_MS) * DAY_MS - offsetMs;
}

export interface RealizedPoint {
  readonly tsMs: number;
  readonly realizedTotalTry: Decimal;
}

/**
 * The baseline for "realized today": the realized total of the LAST snapshot taken before the day
 * started (defect 7: the original used the first snapshot of today, so the first cycle's fills were
 * never "today" and a day with no snapshot yet counted lifetime PnL). Null when none exists: then
 * every realized TRY is today's, which is right for a ledger that started today.
 */
export function selectDayBaseline(points: readonly RealizedPoint[], dayStart: number): Decimal | null {
  let best: RealizedPoint | null = null;
  for (const p of points) if (p.tsMs < dayStart && (best === null || p.tsMs >= best.tsMs)) best = p;
  return best === null ? null : best.realizedTotalTry;
}

/** Peak equity so far. The caller keeps one per (account, mode) so a dry run's fake balance
 *  never becomes the live peak (defect 6). */
export function nextHighWaterMark(previous: Decimal | null, equityTry: Decimal): Decimal {
  return previous === null ? equityTry : Decimal.max(previous, equityTry);
}

/** Percent below the peak, 0 when at or above it or when the peak is not positive. */
export function drawdownPct(equityTry: Decimal, highWaterMarkTry: Decimal): Decimal {
  if (highWaterMarkTry.lte(0)) return ZERO;
  return Decimal.max(ZERO, highWaterMarkTry.sub(equityTry).div(highWaterMarkTry).mul(HUNDRED));
}

/** Storage key of a high-water mark: one per account and mode. */
export function highWaterMarkKey(accountId: string, mode: TradingMode): string {
  return `hwm:${accountId}:${mode}`;
}

export interface PnlSnapshot {
  readonly tsMs: number;
  /** Free + locked TRY: TRY locked in open buys is still ours (defect 6). */
  readonly tryCashTry: Decimal;
  readonly positionsValueTry: Decimal;
  /** try_cash + Σ qty × mark */
  readonly totalEquityTry: Decimal;
  readonly unrealizedTry: Decimal;
  readonly realizedTotalTry: Decimal;
  readonly realizedTodayTry: Decimal;
  readonly baselineRealizedTry: Decimal;
  readonly dayStartMs: number;
  readonly highWaterMarkTry: Decimal;
  readonly drawdownPct: Decimal;
  /** Symbols held without a mark, valued at cost: equity is uncertain for them. */
  readonly unmarkedSymbols: readonly PairSymbol[];
}

export interface PnlSnapshotInput {
  readonly nowMs: number;
  readonly positions: readonly Position[];
  readonly marks: ReadonlyMap<PairSymbol, Decimal>;
  readonly tryBalance: { readonly free: Decimal; readonly locked: Decimal };
  /** From `selectDayBaseline`; null means no snapshot before today. */
  readonly baselineRealizedTry: Decimal | null;
  /** The persisted peak for this account and mode; null before the first snapshot. */
  readonly previousHighWaterMarkTry: Decimal | null;
  readonly utcOffsetMinutes: number;
}

export function computePnlSnapshot(input: PnlSnapshotInput): PnlSnapshot {
  let positionsValue = ZERO;
  let unrealized = ZERO;
  let realizedTotal = ZERO;
  const unmarked: PairSymbol[] = [];
  for (const p of input.positions) {
    realizedTotal = realizedTotal.add(p.realizedPnlTry);
    if (p.qty.isZero()) continue;
    const mark = input.marks.get(p.symbol);
    if (mark === undefined || mark.lte(0)) {
      // No price: value at cost rather than zero, so a missing quote is not a fake drawdown.
      unmarked.push(p.symbol);
      positionsValue = positionsValue.add(p.costBasisTry);
      continue;
    }
    const value = p.qty.mul(mark);
    positionsValue = positionsValue.add(value);
    unrealized = unrealized.add(value.sub(p.costBasisTry));
  }
  const tryCash = input.tryBalance.free.add(input.tryBalance.locked);
  const equity = tryCash.add(positionsValue);
  const baseline = input.baselineRealizedTry ?? ZERO;
  const hwm = nextHighWaterMark(input.previousHighWaterMarkTry, equity);
  return {
    tsMs: input.nowMs,
    tryCashTry: tryCash,
    positionsValueTry: positionsValue,
    totalEquityTry: equity,
    unrealizedTry: unrealized,
    realizedTotalTry: realizedTotal,
    realizedTodayTry: realizedTotal.sub(baseline),
    baselineRealizedTry: baseline,
    dayStartMs: dayStartMs(input.nowMs, input.utcOffsetMinutes),
    highWaterMarkTry: hwm,
    drawdownPct: drawdownPct(equity, hwm),
    unmarkedSymbols: unmarked.sort(),
  };
}

/**
 * The bot's own equity: the TRY it treats as its own (free + locked, at most TRY_CASH_MAX, as risk
 * does) plus the positions it tracks (its configured pairs) at mark. Total equity counts every TRY
 * in the account, which is the drawdown basis; this is the share the bot may trade with.
 */
export function botEquityTry(parts: { readonly tryCashTry: Decimal; readonly positionsValueTry: Decimal }, tryCashMax: Decimal): Decimal {
  return Decimal.min(parts.tryCashTry, tryCashMax).add(parts.positionsValueTry);
}
