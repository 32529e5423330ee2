// Holdings the bot did not buy: the inferred opening, adoption (covers and re-base), the balance
// drift check, and the consecutive fill windows. Pure; worked numbers and properties. A balance is
// a read at one moment: it holds the fills up to that moment, not the later ones.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { allocateWindows, applyFills, emptyPosition, fillsWindows, type Position } from '../../../src/domain/accounting.js';
import { ZERO } from '../../../src/domain/decimal.js';
import { AccountingIntegrityError } from '../../../src/domain/errors.js';
import {
  applyAdjustment, checkDrift, formatAdjustment, holdingsStep, inferOpening, largestShortfall, netBaseQty, nextDriftState, rebaseOnBalance,
  restartsWindow, type DriftState,
} from '../../../src/domain/holdings.js';
import type { FillReport } from '../../../src/domain/types.js';
import { BTCTRY, D, ETHTRY, fill } from './fixtures.js';

const noMarks = { marks: new Map() };
/** The opening from a balance read at `readAtMs` (default: after every fill of the window). */
const opening = (balance: string, fills: FillReport[], others = '0', readAtMs = 1_000_000) =>
  inferOpening({
    symbol: BTCTRY, base: 'BTC', balance: { qty: D(balance), atMs: readAtMs }, othersQty: D(others), windowFills: fills, windowStartMs: 500, markTry: D(100),
    atMs: 1_000,
  });

describe('the opening position inferred at first sight', () => {
  it('is the balance minus the first window\'s net fills, valued at the mark: 0.005 held after selling 0.005 means 0.01 before', () => {
    const a = opening('0.005', [fill({ id: '1', side: 'sell', price: '120', qty: '0.005' })]);
    expect([a.kind, a.qtyDelta.toFixed(), a.costDeltaTry.toFixed(), a.driftQty.toFixed()]).toEqual(['inferred', '0.01', '1', '0']);
    expect(formatAdjustment(a)).toBe('opening_inferred:BTCTRY qty=0.01 balance=0.005 fills_net=-0.005 mark=100');
  });

  it('leaves what other pairs sharing the base asset hold to them', () => {
    expect(opening('0.01', [], '0.004').qtyDelta.toFixed()).toBe('0.006');
  });

  it('counts a fee charged in the base asset as the fill moved it (a buy receives less)', () => {
    const buy = fill({ id: '1', side: 'buy', price: '100', qty: '1', fee: '0.01', feeAsset: 'BTC' });
    expect(netBaseQty([buy], 'BTC').toFixed()).toBe('0.99');
    expect(opening('1.99', [buy]).qtyDelta.toFixed()).toBe('1');
  });

  it('below zero (the balance is less than the fills imply) is zero, with the shortfall reported as drift', () => {
    const a = opening('0.002', [fill({ id: '1', side: 'buy', price: '100', qty: '0.005' })]);
    expect([a.qtyDelta.toFixed(), a.driftQty.toFixed()]).toEqual(['0', '-0.003']);
    expect(formatAdjustment(a)).toContain('drift=-0.003 drift_cause=balance_below_fills_net');
  });

  it('nets only the fills up to the balance read: a buy after the read is not in the balance, so it is not taken out of it', () => {
    // Read 0.01 at t=2000; a manual buy of 0.005 at t=3000 (between the read and the poll's end).
    const buy = fill({ id: '1', side: 'buy', price: '100', qty: '0.005', ts: 3_000 });
    const a = opening('0.01', [buy], '0', 2_000);
    expect([a.qtyDelta.toFixed(), a.fillsNetQty.toFixed(), a.balanceAtMs]).toEqual(['0.01', '0', 2_000]);
    const after = applyFills([applyAdjustment(emptyPosition(BTCTRY), a)], [buy], noMarks).positions[0]!;
    expect(after.qty.toFixed()).toBe('0.015'); // what the account holds after the buy: counted once
  });

  it('a buy before the read is in the balance and is taken out of it (it is applied as a fill on top)', () => {
    const buy = fill({ id: '1', side: 'buy', price: '100', qty: '0.005', ts: 1_500 });
    expect(opening('0.015', [buy], '0', 2_000).qtyDelta.toFixed()).toBe('0.01');
  });

  it('never lets the window\'s own fills oversell: held 0.01, sold it, bought 0.01, withdrew 0.01 → opening 0.01, the withdrawal as drift', () => {
    const fills = [fill({ id: '1', side: 'sell', price: '100', qty: '0.01', ts: 1_000 }), fill({ id: '2', side: 'buy', price: '100', qty: '0.01', ts: 2_000 })];
    const a = opening('0', fills);
    expect([a.qtyDelta.toFixed(), a.driftQty.toFixed()]).toEqual(['0.01', '-0.01']);
    // Reported apart from a balance below the fills' net: the opening is what the sell needed.
    expect(formatAdjustment(a)).toContain('drift=-0.01 drift_cause=running_shortfall');
    expect(() => applyFills([applyAdjustment(emptyPosition(BTCTRY), a)], fills, noMarks)).not.toThrow();
  });

  it('largest shortfall: the least held before a sequence for none of its sells to oversell', () => {
    const f = (id: string, side: 'buy' | 'sell', qty: string) => fill({ id, side, price: '1', qty, ts: Number(id) });
    expect(largestShortfall([f('1', 'buy', '1'), f('2', 'sell', '3'), f('3', 'buy', '5'), f('4', 'sell', '4')], 'BTC').toFixed()).toBe('2');
    expect(largestShortfall([f('1', 'buy', '1')], 'BTC').toFixed()).toBe('0');
  });

  it('property: whatever the balance says, applying the window\'s fills on the opening never oversells', () => {
    const step = fc.record({ side: fc.constantFrom('buy' as const, 'sell' as const), qty: fc.integer({ min: 1, max: 1000 }) });
    fc.assert(
      fc.property(fc.array(step, { maxLength: 30 }), fc.integer({ min: 0, max: 5000 }), fc.nat(40), (steps, balance, readAt) => {
        const fills = steps.map((s, i) => fill({ id: String(i + 1), side: s.side, price: '100', qty: String(s.qty), ts: 1_000 + i }));
        const a = opening(String(balance), fills, '0', 1_000 + readAt);
        expect(() => applyFills([applyAdjustment(emptyPosition(BTCTRY), a)], fills, noMarks)).not.toThrow();
      }),
    );
  });

  it('property: for any feasible history and any read time, opening + fills up to the read lands exactly on that balance', () => {
    const step = fc.record({ side: fc.constantFrom('buy' as const, 'sell' as const), qty: fc.integer({ min: 1, max: 1000 }) });
    fc.assert(
      fc.property(fc.array(step, { maxLength: 30 }), fc.integer({ min: 0, max: 5000 }), fc.nat(40), (steps, extra, readAt) => {
        // Held before the window: enough for every sell in order (a real history), plus some.
        let run = 0;
        let low = 0;
        for (const s of steps) {
          run += s.side === 'buy' ? s.qty : -s.qty;
          low = Math.min(low, run);
        }
        const before = -low + extra;
        const fills = steps.map((s, i) => fill({ id: String(i + 1), side: s.side, price: '100', qty: String(s.qty), ts: 1_000 + i }));
        // The read at 1000 + readAt holds the fills up to then.
        const upToRead = steps.slice(0, readAt + 1).reduce((n, s) => n + (s.side === 'buy' ? s.qty : -s.qty), 0);
        const a = opening(String(before + upToRead), fills, '0', 1_000 + readAt);
        expect(a.qtyDelta.toFixed()).toBe(String(before));
        const after = applyFills([applyAdjustment(emptyPosition(BTCTRY), a)], fills, noMarks).positions[0] ?? applyAdjustment(emptyPosition(BTCTRY), a);
        expect(after.qty.toFixed()).toBe(String(before + run));
      }),
    );
  });
});

describe('adoption', () => {
  const held = (qty: string, cost: string): Position => ({ ...emptyPosition(BTCTRY), qty: D(qty), costBasisTry: D(cost) });
  const rebase = (p: Position, balance: string, others = '0', netAfter = '0') =>
    rebaseOnBalance(p, { balance: { qty: D(balance), atMs: 1 }, othersQty: D(others), markTry: D(200), netAfterQty: D(netAfter), atMs: 1 });

  it('covers a sell of more than is held at the mark, right before the sell, and reports it', () => {
    const sell = fill({ id: 's', side: 'sell', price: '250', qty: '0.5', ts: 2_000 });
    const r = applyFills([held('0.2', '20')], [sell], { ...noMarks, coverShortfallAtMarkTry: D(200) });
    expect(r.covered.map((c) => [c.fill.fillId, c.qty.toFixed(), c.costTry.toFixed()])).toEqual([['s', '0.3', '60']]);
    // Held 0.2 @ 100 + 0.3 @ 200 = 0.5 for 80; sold for 125: realized 45, flat.
    expect([r.positions[0]!.qty.toFixed(), r.positions[0]!.realizedPnlTry.toFixed()]).toEqual(['0', '45']);
  });

  it('without the cover an oversell still raises AccountingIntegrityError', () => {
    expect(() => applyFills([held('0.2', '20')], [fill({ id: 's', side: 'sell', price: '250', qty: '0.5' })], noMarks)).toThrow(AccountingIntegrityError);
  });

  it('re-bases up at the mark, down at the average cost (no realized PnL), never below zero', () => {
    const up = rebase(held('1', '100'), '1.5');
    expect([up.qtyDelta.toFixed(), up.costDeltaTry.toFixed()]).toEqual(['0.5', '100']);
    const down = rebase(held('1', '100'), '0.25');
    expect([down.qtyDelta.toFixed(), down.costDeltaTry.toFixed()]).toEqual(['-0.75', '-75']);
    expect(applyAdjustment(held('1', '100'), down)).toMatchObject({ qty: D('0.25'), costBasisTry: D(25), realizedPnlTry: D(0) });
    const gone = rebase(held('1', '100'), '0.3', '0.5');
    expect([gone.qtyDelta.toFixed(), gone.driftQty.toFixed()]).toEqual(['-1', '-0.2']);
    expect(applyAdjustment(held('1', '100'), gone)).toMatchObject({ qty: D(0), costBasisTry: D(0) });
  });

  it('keeps the fills after the balance read on top: read 1.0, then a buy of 0.5 → 1.5', () => {
    expect(rebase(held('0.5', '50'), '1', '0', '0.5').qtyDelta.toFixed()).toBe('1');
  });
});

describe('balance drift per asset', () => {
  let readAt = 0;
  const obs = (balance: string, positions: string, atMs = ++readAt) => ({
    asset: 'BTC', balance: { qty: D(balance), atMs }, positionsQty: D(positions), toleranceQty: D('0.00000001'),
  });

  it('a difference within the quantity step is no drift', () => {
    expect(nextDriftState(undefined, obs('0.01000001', '0.01'), 1)).toMatchObject({ state: { streak: 0, raised: false }, event: null });
  });

  it('is raised only after N checks in a row with a difference, shown while it lasts, and resolved when it is gone', () => {
    let s: DriftState | undefined;
    const events: Array<string | null> = [];
    for (const [b, p] of [['0.02', '0.01'], ['0.02', '0.01'], ['0.02', '0.01'], ['0.02', '0.01'], ['0.01', '0.01']] as const) {
      const next = nextDriftState(s, obs(b, p), 3);
      s = next.state;
      events.push(next.event ?? (s.raised ? 'raised' : '-'));
    }
    expect(events).toEqual(['-', '-', 'raised', 'raised', 'resolved']);
  });

  it('counts each balance read once: the same read checked again (a retried activity, no newer settled read) changes nothing', () => {
    const first = nextDriftState(undefined, obs('0.02', '0.01', 5), 2);
    const again = nextDriftState(first.state, obs('0.02', '0.01', 5), 2);
    expect([first.state.streak, again.state.streak, again.state.raised, again.event]).toEqual([1, 1, false, null]);
    expect(nextDriftState(first.state, obs('0.02', '0.01', 6), 2).state).toMatchObject({ streak: 2, raised: true, checkedAtMs: 6 });
  });

  it('a lagging fill (one cycle of difference) never raises it', () => {
    const a = nextDriftState(undefined, obs('0.02', '0.01'), 2);
    const b = nextDriftState(a.state, obs('0.02', '0.02'), 2);
    expect([a.state.raised, b.state.raised, b.state.streak]).toEqual([false, false, 0]);
  });

  it('property: raised exactly when the last N checks all differed beyond the step', () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { minLength: 1, maxLength: 20 }), fc.integer({ min: 1, max: 5 }), (diffs, n) => {
        let s: DriftState | undefined;
        diffs.forEach((d, i) => {
          s = nextDriftState(s, obs(d ? '1' : '0', '0'), n).state;
          const lastN = diffs.slice(Math.max(0, i + 1 - n), i + 1);
          expect(s.raised).toBe(lastN.length === n && lastN.every(Boolean));
        });
      }),
    );
  });
});

describe('consecutive fill windows', () => {
  it('one window for a normal poll; after an outage, windows of at most the maximum, each overlapping the one before', () => {
    expect(fillsWindows(1_000, 5_000, 10_000, 20, 2)).toEqual({ windows: [{ startMs: 1_000, endMs: 5_000 }], caughtUp: true });
    expect(fillsWindows(0, 25, 10, 20, 2)).toEqual({
      windows: [{ startMs: 0, endMs: 9 }, { startMs: 8, endMs: 17 }, { startMs: 16, endMs: 25 }], caughtUp: true,
    });
    expect(fillsWindows(0, 100, 10, 3, 2)).toEqual({
      windows: [{ startMs: 0, endMs: 9 }, { startMs: 8, endMs: 17 }, { startMs: 16, endMs: 25 }], caughtUp: false,
    });
  });

  it('property: overlapping by the overlap whatever endDate means (no gap), oldest first, each within the maximum, reaching the end when caught up', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1e9 }), fc.integer({ min: 0, max: 1e6 }), fc.integer({ min: 2, max: 1e5 }), fc.integer({ min: 1, max: 30 }), fc.nat(),
        (start, span, max, cap, o) => {
          const overlap = 1 + (o % (max - 1));
          const { windows, caughtUp } = fillsWindows(start, start + span, max, cap, overlap);
          expect(windows[0]!.startMs).toBe(start);
          for (const w of windows) expect(w.endMs - w.startMs + 1).toBeLessThanOrEqual(max);
          // Even with an exclusive endDate, the next window starts at or before the previous one's last millisecond.
          for (let i = 1; i < windows.length; i++) expect(windows[i]!.startMs).toBe(windows[i - 1]!.endMs + 1 - overlap);
          expect(windows.length).toBeLessThanOrEqual(cap);
          expect(caughtUp).toBe(windows.at(-1)!.endMs === start + span);
        },
      ),
    );
  });
});

describe('one cycle\'s window budget', () => {
  it('gives every symbol its first window before anyone a second, and stops at the budget', () => {
    const given = allocateWindows([['A', 20], ['B', 1], ['C', 20]], 10);
    expect([...given]).toEqual([['A', 5], ['B', 1], ['C', 4]]);
    expect([...allocateWindows([['A', 2], ['B', 1]], 10)]).toEqual([['A', 2], ['B', 1]]);
  });

  it('property: never more than the budget, never more than asked, and nobody short while another got more than one extra', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 25 }), { maxLength: 12 }), fc.integer({ min: 0, max: 60 }), (asks, budget) => {
        const given = allocateWindows(asks.map((n, i) => [i, n] as const), budget);
        const total = [...given.values()].reduce((a, b) => a + b, 0);
        expect(total).toBe(Math.min(budget, asks.reduce((a, b) => a + b, 0)));
        asks.forEach((n, i) => expect(given.get(i)!).toBeLessThanOrEqual(n));
        const short = asks.map((n, i) => [n, given.get(i)!] as const).filter(([n, g]) => g < n).map(([, g]) => g);
        for (const g of given.values()) for (const s of short) expect(g).toBeLessThanOrEqual(s + 1);
      }),
    );
  });
});

describe('what an ingest settles about holdings', () => {
  const cycle = { inferOpenings: true, hasMark: true, balance: 'settled' as const };
  const fresh = { established: false, adoptionRequested: false };

  it('first sight: an inferred opening when a mark and a settled balance read are there; otherwise the symbol waits', () => {
    expect(holdingsStep(fresh, cycle)).toEqual({ kind: 'opening', inferred: true });
    expect(holdingsStep(fresh, { ...cycle, balance: 'unknown' })).toEqual({ kind: 'wait', reason: 'no_balance' });
    expect(holdingsStep(fresh, { ...cycle, balance: 'settling' })).toEqual({ kind: 'wait', reason: 'balance_settling' });
    expect(holdingsStep(fresh, { ...cycle, hasMark: false })).toEqual({ kind: 'wait', reason: 'no_mark' });
  });

  it('inference off: a zero opening, needing neither balance nor mark', () => {
    expect(holdingsStep(fresh, { inferOpenings: false, balance: 'unknown', hasMark: false })).toEqual({ kind: 'opening', inferred: false });
  });

  it('an adoption waits for a mark and a settled read taken after the request', () => {
    const asked = { established: true, adoptionRequested: true };
    expect(holdingsStep(asked, cycle)).toEqual({ kind: 'adopt' });
    expect(holdingsStep(asked, { ...cycle, balance: 'settling' })).toEqual({ kind: 'adopt_waiting', reason: 'balance_settling' });
    expect(holdingsStep(asked, { ...cycle, balance: 'unknown' })).toEqual({ kind: 'adopt_waiting', reason: 'no_balance' });
    expect(holdingsStep(asked, { ...cycle, hasMark: false })).toEqual({ kind: 'adopt_waiting', reason: 'no_mark' });
    expect(holdingsStep({ established: true, adoptionRequested: false }, cycle)).toEqual({ kind: 'none' });
  });

  it('a first sight goes before a pending adoption: without a mark the new symbol waits, it never ingests without an opening', () => {
    expect(holdingsStep({ established: false, adoptionRequested: true }, { ...cycle, hasMark: false })).toEqual({ kind: 'wait', reason: 'no_mark' });
    expect(holdingsStep({ established: false, adoptionRequested: true }, cycle)).toEqual({ kind: 'opening', inferred: true });
  });
});

describe('one cycle of drift checks', () => {
  const obs = (asset: string, balance: string, positions: string) => ({
    asset, balance: { qty: D(balance), atMs: 10 }, positionsQty: D(positions), toleranceQty: D('0.0001'),
  });

  it('checks what it can, keeps a raised drift standing on an asset it cannot check, and names the symbols that may not buy', () => {
    const previous = new Map<string, DriftState>([
      ['ETH', { asset: 'ETH', streak: 5, diffQty: D(1), balanceQty: D(2), positionsQty: D(1), checkedAtMs: 5, raised: true }],
    ]);
    const r = checkDrift(
      [
        { asset: 'BTC', symbols: [BTCTRY], observation: obs('BTC', '1', '1') },
        { asset: 'ETH', symbols: [ETHTRY], observation: null },
      ],
      previous,
      2,
    );
    expect(r.checked.map((s) => [s.asset, s.streak, s.raised])).toEqual([['BTC', 0, false]]);
    expect(r.raised.map((x) => [x.state.asset, x.symbols])).toEqual([['ETH', [ETHTRY]]]);
    expect(r.resolved).toEqual([]);
  });

  it('reports an asset whose difference is gone as resolved', () => {
    const previous = new Map<string, DriftState>([['BTC', { asset: 'BTC', streak: 3, diffQty: D(1), balanceQty: D(2), positionsQty: D(1), checkedAtMs: 5, raised: true }]]);
    const r = checkDrift([{ asset: 'BTC', symbols: [BTCTRY], observation: obs('BTC', '2', '2') }], previous, 2);
    expect([r.resolved, r.raised]).toEqual([['BTC'], []]);
  });
});

describe('starting a first window over', () => {
  it('only for a symbol that never ingested, with inference on, not quarantined, whose backlog no longer fits a cycle', () => {
    const never = { established: false, quarantined: false };
    const long = { inferOpenings: true, backlogFits: false };
    expect(restartsWindow(never, long)).toBe(true);
    expect(restartsWindow(never, { ...long, backlogFits: true })).toBe(false);
    expect(restartsWindow(never, { ...long, inferOpenings: false })).toBe(false);
    expect(restartsWindow({ ...never, quarantined: true }, long)).toBe(false);
    expect(restartsWindow({ ...never, established: true }, long)).toBe(false);
  });
});
