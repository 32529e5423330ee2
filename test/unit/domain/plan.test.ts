// The plan step: one symbol's trouble costs that symbol its new orders, never its cancels, and
// never another symbol anything.
import { describe, expect, it } from 'vitest';
import { parseTradingConfig } from '../../../src/domain/config.js';
import { planCycle, type CyclePlanInput } from '../../../src/domain/plan.js';
import { BTCTRY, D, ETHTRY, rules, tracked } from './fixtures.js';

const NOW = 10_000_000;
const config = parseTradingConfig({ TRY_CASH_TARGET: '0', TRY_CASH_MAX: '100000', MAX_POSITION_NOTIONAL_TRY: '100000' });

function plan(over: Partial<CyclePlanInput> = {}) {
  return planCycle({
    cycleId: 'cycle-plan-test', nowMs: NOW, mode: 'live', config,
    symbols: [BTCTRY, ETHTRY],
    excludedSymbols: [],
    rules: new Map([[BTCTRY, rules({ tickSize: D(1), minNotional: D(100) })], [ETHTRY, rules({ symbol: ETHTRY, base: 'ETH', tickSize: D('0.01'), minNotional: D(100) })]]),
    marks: new Map([[BTCTRY, D(3_400_000)], [ETHTRY, D(120_000)]]),
    // One buy per symbol, past its TTL: stale, to be cancelled (and replaced where allowed).
    orders: [
      tracked({ cid: 'old-btc', xid: '1', symbol: BTCTRY, price: D(3_300_000), qty: D('0.0001'), createdAtMs: NOW - 3_600_000 }),
      tracked({ cid: 'old-eth', xid: '2', symbol: ETHTRY, price: D(119_000), qty: D('0.001'), createdAtMs: NOW - 3_600_000 }),
    ],
    positions: [],
    pnl: { realizedTodayTry: D(0), drawdownPct: D(0) },
    tryBalance: { free: D(100_000), locked: D(0) },
    quarantinedSymbols: [],
    reduceOnly: [],
    halted: false,
    ...over,
  });
}
const actions = (p: ReturnType<typeof plan>) => p.accepted.map((a) => `${a.kind}:${a.symbol}`).sort();

const STALE_ONLY = { orders: [] };

describe('plan: isolation per symbol', () => {
  it('a normal cycle cancels both stale buys (the canary buys again once they are gone) and buys where nothing works', () => {
    expect(actions(plan())).toEqual(['cancel:BTCTRY', 'cancel:ETHTRY']);
    expect(actions(plan(STALE_ONLY))).toEqual(['submit:BTCTRY', 'submit:ETHTRY']);
  });

  it('a symbol that sits the cycle out (no mark, no open orders, fills failed) loses its submits, not its age-based cancels', () => {
    const out = { excludedSymbols: [BTCTRY], marks: new Map([[ETHTRY, D(120_000)]]) };
    expect(actions(plan(out))).toEqual(['cancel:BTCTRY', 'cancel:ETHTRY']);
    expect(actions(plan({ ...out, ...STALE_ONLY }))).toEqual(['submit:ETHTRY']);
  });

  it('a quarantined symbol gets no new order; its cancels and the other symbol go on', () => {
    expect(actions(plan({ quarantinedSymbols: [BTCTRY] }))).toEqual(['cancel:BTCTRY', 'cancel:ETHTRY']);
    const p = plan({ quarantinedSymbols: [BTCTRY], ...STALE_ONLY });
    expect(actions(p)).toEqual(['submit:ETHTRY']);
    expect(p.decisions.filter((d) => /:quarantined( |$)/.test(d))).toHaveLength(1);
  });

  it('balance drift on an asset makes its symbols buy nothing', () => {
    const p = plan({ reduceOnly: [{ symbol: ETHTRY, reason: 'balance_drift', asset: 'ETH' }], ...STALE_ONLY });
    expect(actions(p)).toEqual(['submit:BTCTRY']);
    expect(p.decisions.filter((d) => /:balance_drift( |$)/.test(d))).toHaveLength(1);
  });

  it('without a balance this cycle: no buys at all, and every cancel still runs', () => {
    expect(actions(plan({ tryBalance: null }))).toEqual(['cancel:BTCTRY', 'cancel:ETHTRY']);
    const p = plan({ tryBalance: null, ...STALE_ONLY });
    expect(actions(p)).toEqual([]);
    expect(p.decisions).toContain('canary_skip:*:balance_unavailable');
  });
});
