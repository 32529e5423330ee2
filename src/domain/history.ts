// Trade history arithmetic for `btcbot trades`, `orders` and `pnl --daily`. Pure: the clock, the
// day boundary and the rows are arguments. Trading days are the ones "realized today" uses
// (DAY_BOUNDARY_TZ as a fixed offset, pnl.dayStartMs).
import { Decimal, ZERO } from './decimal.js';
import { dayStartMs } from './pnl.js';

const DAY_MS = 86_400_000;

/** `2026-12-02`: the trading day containing `tsMs`, named by its date at the boundary's offset. */
export function tradingDay(tsMs: number, utcOffsetMinutes: number): string {
  return new Date(dayStartMs(tsMs, utcOffsetMinutes) + utcOffsetMinutes * 60_000).toISOString().slice(0, 10);
}

export class SinceError extends Error {
  override name = 'SinceError';
}

const UNIT_MS: Readonly<Record<string, number>> = { m: 60_000, h: 3_600_000, d: DAY_MS, w: 7 * DAY_MS };

/** `YYYY-MM-DD` as UTC midnight; a day the calendar does not have is a SinceError. */
function utcMidnightOf(day: string): number {
  const utcMidnight = Date.UTC(Number(day.slice(0, 4)), Number(day.slice(5, 7)) - 1, Number(day.slice(8, 10)));
  if (Number.isNaN(utcMidnight) || new Date(utcMidnight).toISOString().slice(0, 10) !== day) throw new SinceError(`--since ${day} is not a date`);
  return utcMidnight;
}

/**
 * `--since`: `2026-12-01` (the start of that trading day), an ISO time with its zone
 * (`2026-12-01T09:30:00Z`, `2026-12-01T12:30+03:00`), or an age (`90m`, `24h`, `7d`, `2w`).
 * Anything else, or a time without a zone, is a SinceError naming what is accepted.
 */
export function parseSince(raw: string, nowMs: number, utcOffsetMinutes: number): number {
  const v = raw.trim();
  const age = /^(\d{1,6})([mhdw])$/.exec(v);
  if (age) return nowMs - Number(age[1]) * UNIT_MS[age[2]!]!;
  if (/^\d{4}-\d{2}-\d{2}$/.test(v)) return utcMidnightOf(v) - utcOffsetMinutes * 60_000;
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:?\d{2})$/i.test(v)) {
    // Date.parse rolls an impossible day over (02-30 → March 2): the date part is checked first.
    utcMidnightOf(v.slice(0, 10));
    const ms = Date.parse(v);
    if (!Number.isNaN(ms)) return ms;
  }
  throw new SinceError(
    `--since ${JSON.stringify(v.slice(0, 40))}: give a date (2026-12-01, the start of that trading day), ` +
      'a time with its zone (2026-12-01T09:30:00Z) or an age (90m, 24h, 7d, 2w)',
  );
}

export interface DailyFill {
  readonly tsMs: number;
  readonly realizedPnlTry: Decimal;
  readonly feeTry: Decimal;
}

export interface DailySnapshot {
  readonly tsMs: number;
  readonly totalEquityTry: Decimal;
  /** null on snapshots that predate the bot's share (or when it cannot be computed). */
  readonly botEquityTry: Decimal | null;
}

export interface DailyRow {
  readonly day: string;
  readonly dayStartMs: number;
  readonly fills: number;
  /** Σ realized PnL of the day's fills (sells: proceeds − average cost − fee and tax). */
  readonly realizedPnlTry: Decimal;
  /** Σ fee and tax of the day's fills, in TRY. */
  readonly feesTry: Decimal;
  /** Equity at the day's last snapshot; null when the day has none. */
  readonly equityTry: Decimal | null;
  readonly botEquityTry: Decimal | null;
  readonly snapshots: number;
}

/** One row per trading day with a fill or a snapshot, oldest first. */
export function dailyPnl(fills: readonly DailyFill[], snapshots: readonly DailySnapshot[], utcOffsetMinutes: number): DailyRow[] {
  type Acc = { dayStartMs: number; fills: number; realized: Decimal; fees: Decimal; last: DailySnapshot | null; snapshots: number };
  const days = new Map<number, Acc>();
  const day = (tsMs: number): Acc => {
    const start = dayStartMs(tsMs, utcOffsetMinutes);
    let a = days.get(start);
    if (!a) days.set(start, (a = { dayStartMs: start, fills: 0, realized: ZERO, fees: ZERO, last: null, snapshots: 0 }));
    return a;
  };
  for (const f of fills) {
    const a = day(f.tsMs);
    a.fills += 1;
    a.realized = a.realized.add(f.realizedPnlTry);
    a.fees = a.fees.add(f.feeTry);
  }
  for (const s of snapshots) {
    const a = day(s.tsMs);
    a.snapshots += 1;
    if (a.last === null || s.tsMs >= a.last.tsMs) a.last = s;
  }
  return [...days.values()]
    .sort((x, y) => x.dayStartMs - y.dayStartMs)
    .map((a) => ({
      day: tradingDay(a.dayStartMs, utcOffsetMinutes),
      dayStartMs: a.dayStartMs,
      fills: a.fills,
      realizedPnlTry: a.realized,
      feesTry: a.fees,
      equityTry: a.last?.totalEquityTry ?? null,
      botEquityTry: a.last?.botEquityTry ?? null,
      snapshots: a.snapshots,
    }));
}

