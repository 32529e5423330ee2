import { describe, expect, it } from 'vitest';
import { applyFills, emptyPosition } from '../../../src/domain/accounting.js';
import { Decimal } from '../../../src/domain/decimal.js';
import {
  computePnlSnapshot,
  dayStartMs,
  drawdownPct,
  highWaterMarkKey,
  nextHighWaterMark,
  selectDayBaseline,
} from '../../../src/domain/pnl.js';
import { toPairSymbol } from '../../../src/domain/types.js';
import { BTCTRY, D, ETHTRY, fill } from './fixtures.js';

const ISTANBUL = 180;
const base = { baselineRealizedTry: null, previousHighWaterMarkTry: null, utcOffsetMinutes: ISTANBUL, nowMs: Date.UTC(2025, 0, 2, 12) };

describe('pnl snapshot', () => {
  it('§12.4 corrected: BUY 1 @ 100 + 1 TRY fee, cash 500, mark BTC_TRY 110 → equity 610 (the original\'s 601 came from the key mismatch)', () => {
    const { positions } = applyFills([], [fill({ id: 'f', side: 'buy', price: '100', qty: '1', fee: '1' })], { marks: new Map() });
    const s = computePnlSnapshot({ ...base, positions, marks: new Map([[toPairSymbol('BTC_TRY'), D(110)]]), tryBalance: { free: D(500), locked: D(0) } });
    expect(s.totalEquityTry.toFixed()).toBe('610');
    expect(s.unrealizedTry.toFixed()).toBe('9');
    expect(s.unmarkedSymbols).toEqual([]);
  });

  it('defect 6: TRY locked in open buys counts as cash, so placing bids is not a drawdown', () => {
    // 1,000 TRY with three 50 TRY bids: free 850, locked 150.
    const s = computePnlSnapshot({ ...base, positions: [], marks: new Map(), tryBalance: { free: D(850), locked: D(150) }, previousHighWaterMarkTry: D(1000) });
    expect(s.totalEquityTry.toFixed()).toBe('1000');
    expect(s.drawdownPct.toFixed()).toBe('0');
  });

  it('a held symbol without a mark is valued at cost and reported unmarked', () => {
    const pos = { ...emptyPosition(ETHTRY), qty: D(2), costBasisTry: D(200) };
    const s = computePnlSnapshot({ ...base, positions: [pos], marks: new Map(), tryBalance: { free: D(0), locked: D(0) } });
    expect(s.totalEquityTry.toFixed()).toBe('200');
    expect(s.unmarkedSymbols).toEqual([ETHTRY]);
  });

  it('realized total sums every position, including flat ones; realized today subtracts the baseline', () => {
    const a = { ...emptyPosition(BTCTRY), realizedPnlTry: D(19) };
    const b = { ...emptyPosition(ETHTRY), realizedPnlTry: D(-4) };
    const s = computePnlSnapshot({ ...base, positions: [a, b], marks: new Map(), tryBalance: { free: D(0), locked: D(0) }, baselineRealizedTry: D(10) });
    expect(s.realizedTotalTry.toFixed()).toBe('15');
    expect(s.realizedTodayTry.toFixed()).toBe('5');
  });

  it('the returned high-water mark is the new peak to persist', () => {
    const s = computePnlSnapshot({ ...base, positions: [], marks: new Map(), tryBalance: { free: D(1100), locked: D(0) }, previousHighWaterMarkTry: D(1000) });
    expect(s.highWaterMarkTry.toFixed()).toBe('1100');
    expect(s.drawdownPct.toFixed()).toBe('0');
  });
});

describe('day boundary and baseline', () => {
  it('the Istanbul day starts at 21:00 UTC the previous evening', () => {
    const now = Date.UTC(2025, 0, 1, 22, 30); // 01:30 on 2 Jan in Istanbul
    expect(dayStartMs(now, ISTANBUL)).toBe(Date.UTC(2025, 0, 1, 21));
    expect(dayStartMs(Date.UTC(2025, 0, 1, 20, 59), ISTANBUL)).toBe(Date.UTC(2024, 11, 31, 21));
    expect(dayStartMs(now, 0)).toBe(Date.UTC(2025, 0, 1));
  });

  it('defect 7: the baseline is the last snapshot before the day started, so the first cycle\'s fills count as today', () => {
    const start = Date.UTC(2025, 0, 1, 21);
    const points = [
      { tsMs: start - 7_200_000, realizedTotalTry: D(90) },
      { tsMs: start - 60_000, realizedTotalTry: D(100) }, // last before the day
      { tsMs: start + 1_800_000, realizedTotalTry: D(150) }, // first cycle of the day, fills applied
    ];
    const baseline = selectDayBaseline(points, start);
    expect(baseline?.toFixed()).toBe('100');
    const s = computePnlSnapshot({
      ...base,
      positions: [{ ...emptyPosition(BTCTRY), realizedPnlTry: D(160) }],
      marks: new Map(),
      tryBalance: { free: D(0), locked: D(0) },
      baselineRealizedTry: baseline,
    });
    expect(s.realizedTodayTry.toFixed()).toBe('60'); // the original would report 10
  });

  it('a snapshot exactly at the day start belongs to the new day', () => {
    expect(selectDayBaseline([{ tsMs: 1000, realizedTotalTry: D(5) }], 1000)).toBeNull();
  });

  it('with no snapshot before today the baseline is null and everything realized is today\'s', () => {
    expect(selectDayBaseline([], 1000)).toBeNull();
  });
});

describe('drawdown', () => {
  it('§12.3: peaks 1000, 1020, 990 then 950 give 6.8627…%', () => {
    let hwm: Decimal | null = null;
    for (const e of [1000, 1020, 990]) hwm = nextHighWaterMark(hwm, D(e));
    const dd = drawdownPct(D(950), nextHighWaterMark(hwm, D(950)));
    expect(dd.toDecimalPlaces(4).toFixed()).toBe('6.8627');
  });

  it('a non-positive peak gives no drawdown', () => {
    expect(drawdownPct(D(-5), D(0)).toFixed()).toBe('0');
  });

  it('defect 6: high-water marks are keyed per account and mode, so dry-run peaks never reach live', () => {
    expect(highWaterMarkKey('acct-1', 'live')).toBe('hwm:acct-1:live');
    expect(highWaterMarkKey('acct-1', 'dry_run')).not.toBe(highWaterMarkKey('acct-1', 'live'));
  });
});
