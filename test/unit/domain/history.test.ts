import { describe, expect, it } from 'vitest';
import { D } from './fixtures.js';
import { parseUtcOffset } from '../../../src/domain/config.js';
import { dailyPnl, parseSince, SinceError, tradingDay } from '../../../src/domain/history.js';

const ISTANBUL = 180;
const now = Date.parse('2026-12-02T12:00:00Z');

describe('--since', () => {
  it('a date is the start of that trading day at DAY_BOUNDARY_TZ', () => {
    expect(new Date(parseSince('2026-12-01', now, ISTANBUL)).toISOString()).toBe('2026-11-30T21:00:00.000Z');
    expect(new Date(parseSince('2026-12-01', now, 0)).toISOString()).toBe('2026-12-01T00:00:00.000Z');
  });
  it('a zoned time is exact; an age counts back from now', () => {
    expect(parseSince('2026-12-01T09:30:00Z', now, ISTANBUL)).toBe(Date.parse('2026-12-01T09:30:00Z'));
    expect(parseSince('2026-12-01T12:30+03:00', now, 0)).toBe(Date.parse('2026-12-01T09:30:00Z'));
    expect(parseSince('24h', now, ISTANBUL)).toBe(now - 86_400_000);
    expect(parseSince('90m', now, ISTANBUL)).toBe(now - 90 * 60_000);
    expect(parseSince('2w', now, ISTANBUL)).toBe(now - 14 * 86_400_000);
  });
  it('refuses what it cannot read without guessing: no zone, not a date, garbage', () => {
    for (const bad of ['2026-12-01T09:30:00', '2026-02-30', 'yesterday', '7 days', '', '-1d']) {
      expect(() => parseSince(bad, now, ISTANBUL)).toThrow(SinceError);
    }
  });
  it('an impossible date with a time is refused, as the date alone is (not rolled over into March)', () => {
    for (const bad of ['2026-02-30T10:00Z', '2026-02-29T00:00:00+03:00', '2026-04-31T12:00Z', '2026-13-01T00:00Z']) {
      expect(() => parseSince(bad, now, ISTANBUL)).toThrow(SinceError);
    }
  });
});

describe('pnl --daily', () => {
  it('groups fills by trading day at the boundary, sums exactly, takes the day\'s last snapshot as its equity', () => {
    const t = (iso: string) => Date.parse(iso);
    const rows = dailyPnl(
      [
        { tsMs: t('2026-12-01T20:59:59.999Z'), realizedPnlTry: D('0.1'), feeTry: D('0.01') }, // Dec 1 in Istanbul
        { tsMs: t('2026-12-01T21:00:00.000Z'), realizedPnlTry: D('0.2'), feeTry: D('0.02') }, // Dec 2 in Istanbul
        { tsMs: t('2026-12-02T10:00:00.000Z'), realizedPnlTry: D('-0.3'), feeTry: D('0.000000000000000001') },
      ],
      [
        { tsMs: t('2026-12-02T09:00:00Z'), totalEquityTry: D('1000'), botEquityTry: D('600') },
        { tsMs: t('2026-12-02T11:00:00Z'), totalEquityTry: D('999.5'), botEquityTry: D('599.5') },
        { tsMs: t('2026-12-03T22:00:00Z'), totalEquityTry: D('998'), botEquityTry: null },
      ],
      ISTANBUL,
    );
    expect(rows.map((r) => [r.day, r.fills, r.realizedPnlTry.toFixed(), r.feesTry.toFixed(), r.equityTry?.toFixed() ?? null, r.snapshots])).toEqual([
      ['2026-12-01', 1, '0.1', '0.01', null, 0],
      ['2026-12-02', 2, '-0.1', '0.020000000000000001', '999.5', 2],
      ['2026-12-04', 0, '0', '0', '998', 1],
    ]);
    expect(rows[1]!.botEquityTry?.toFixed()).toBe('599.5');
    expect(tradingDay(t('2026-12-03T22:00:00Z'), ISTANBUL)).toBe('2026-12-04');
  });
});

describe('trading days at other offsets (DAY_BOUNDARY_TZ is a fixed offset: no DST shifts)', () => {
  const t = (iso: string) => Date.parse(iso);
  it('a negative offset: the day starts at 05:00Z; a fill at 04:59:59.999Z is the day before, across a month end', () => {
    const NY = -300; // -05:00
    expect(tradingDay(t('2026-12-01T04:59:59.999Z'), NY)).toBe('2026-11-30');
    expect(tradingDay(t('2026-12-01T05:00:00.000Z'), NY)).toBe('2026-12-01');
    expect(new Date(parseSince('2026-12-01', now, NY)).toISOString()).toBe('2026-12-01T05:00:00.000Z');
    const rows = dailyPnl(
      [{ tsMs: t('2026-12-01T04:59:59.999Z'), realizedPnlTry: D('1'), feeTry: D('0') }, { tsMs: t('2026-12-01T05:00:00.000Z'), realizedPnlTry: D('2'), feeTry: D('0') }],
      [],
      NY,
    );
    expect(rows.map((r) => [r.day, r.realizedPnlTry.toFixed()])).toEqual([['2026-11-30', '1'], ['2026-12-01', '2']]);
  });

  it('a quarter-hour offset (+05:45) and the year end', () => {
    expect(tradingDay(t('2026-12-31T18:14:59.999Z'), 345)).toBe('2026-12-31');
    expect(tradingDay(t('2026-12-31T18:15:00.000Z'), 345)).toBe('2027-01-01');
  });

  it('the day a DST zone would shift (last Sunday of March) stays 24 h: Istanbul keeps +03:00 all year', () => {
    // Europe/London would start this day at 00:00Z and the next at 23:00Z; a fixed offset never moves.
    expect(tradingDay(t('2027-03-28T20:59:59.999Z'), ISTANBUL)).toBe('2027-03-28');
    expect(tradingDay(t('2027-03-28T21:00:00.000Z'), ISTANBUL)).toBe('2027-03-29');
    expect(parseSince('2027-03-29', now, ISTANBUL) - parseSince('2027-03-28', now, ISTANBUL)).toBe(86_400_000);
  });

  it('a zone name with DST is refused by the configuration, not silently read as a fixed offset', () => {
    expect(parseUtcOffset('Europe/London')).toBeNull();
    expect(parseUtcOffset('America/New_York')).toBeNull();
    expect(parseUtcOffset('-05:00')).toBe(-300);
    expect(parseUtcOffset('Europe/Istanbul')).toBe(180);
  });
});
