import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseTradingConfig } from '../../../src/domain/config.js';
import { ClientOrderIdError } from '../../../src/domain/errors.js';
import { clientOrderIdFor, fallbackFillId, isOwnClientOrderId, MAX_CLIENT_ORDER_ID_LENGTH } from '../../../src/domain/ids.js';
import { markFromQuote, marksFromQuotes } from '../../../src/domain/market.js';
import { riskLimits, type RiskLimits } from '../../../src/domain/risk.js';
import { satisfiesRules } from '../../../src/domain/rules.js';
import { buildCanaryIntents, type CanaryInput } from '../../../src/domain/strategy.js';
import { toPairSymbol } from '../../../src/domain/types.js';
import { BTCTRY, D, ETHTRY, rules, SOLTRY, tracked } from './fixtures.js';

const openLimits: RiskLimits = riskLimits({ ...parseTradingConfig({}), tryCashTarget: D(0), tryCashMax: D(1_000_000) });

function canary(over: Partial<CanaryInput>) {
  return buildCanaryIntents({
    cycleId: 'cycle-1',
    symbols: [BTCTRY],
    marks: new Map([[BTCTRY, D(101)]]),
    rules: new Map([[BTCTRY, rules()]]),
    orders: [],
    tryBalance: { free: D(100), locked: D(0) },
    limits: openLimits,
    budgetTry: D(50),
    nowMs: 10_000_000,
    recoveryWindowMs: 7_200_000,
    ...over,
  });
}

describe('client order ids', () => {
  it('are deterministic per cycle, symbol, side and leg', () => {
    const a = clientOrderIdFor('trading-cycle-2025-01-01T00:00', BTCTRY, 'buy', 0);
    expect(a).toBe(clientOrderIdFor('trading-cycle-2025-01-01T00:00', BTCTRY, 'buy', 0));
    expect(a).toMatch(/^s4-[0-9a-f]{16}-btctry-buy-0$/);
    expect(new Set([a, clientOrderIdFor('trading-cycle-2025-01-01T00:01', BTCTRY, 'buy', 0), clientOrderIdFor('trading-cycle-2025-01-01T00:00', ETHTRY, 'buy', 0), clientOrderIdFor('trading-cycle-2025-01-01T00:00', BTCTRY, 'sell', 0), clientOrderIdFor('trading-cycle-2025-01-01T00:00', BTCTRY, 'buy', 1)]).size).toBe(5);
  });

  it('property: ids stay within 50 characters for any cycle id, 20-character symbol and leg', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 500 }), fc.stringMatching(/^[A-Z0-9]{2,20}$/), fc.constantFrom<'buy' | 'sell'>('buy', 'sell'), fc.integer({ min: 0, max: 999 }), (cycle, sym, side, leg) => {
        const id = clientOrderIdFor(cycle, toPairSymbol(sym), side, leg);
        expect(id.length).toBeLessThanOrEqual(MAX_CLIENT_ORDER_ID_LENGTH);
        expect(isOwnClientOrderId(id)).toBe(true);
      }),
    );
  });

  it('an empty cycle id or an out-of-range leg is a ClientOrderIdError', () => {
    expect(() => clientOrderIdFor('', BTCTRY, 'buy', 0)).toThrow(ClientOrderIdError);
    expect(() => clientOrderIdFor('c', BTCTRY, 'buy', 1000)).toThrow(ClientOrderIdError);
    expect(() => clientOrderIdFor('c', BTCTRY, 'buy', 1.5)).toThrow(ClientOrderIdError);
  });

  it('orders placed in the BTCTurk UI ("advanced") are not ours', () => {
    expect(isOwnClientOrderId('advanced')).toBe(false);
    expect(isOwnClientOrderId(null)).toBe(false);
  });

  it('§18 http tests 3 and 7: the fallback fill id is a stable 64-character hash, never the client id', () => {
    const id = fallbackFillId('12', '1700000000000', '100', '0.1');
    expect(id).toBe('a76f45dd9291fc1424da0a558273d8204181bab1794cbcf852ee50a47de428b3');
    expect(fallbackFillId('12', '1700000000000', '100', '0.1')).toBe(id);
  });
});

describe('mark prices', () => {
  it('mark is the mid of bid and ask; one side alone is used when the other is missing', () => {
    const q = (bid: string | null, ask: string | null) => ({ symbol: BTCTRY, bid: bid === null ? null : D(bid), ask: ask === null ? null : D(ask), tsMs: 0 });
    expect(markFromQuote(q('100', '102')).mark?.toFixed()).toBe('101');
    expect(markFromQuote(q('100', null)).mark?.toFixed()).toBe('100');
    expect(markFromQuote(q('0', '102')).mark?.toFixed()).toBe('102');
    expect(markFromQuote(q(null, null))).toEqual({ mark: null, anomaly: 'no_price' });
    expect(markFromQuote(q('103', '102'))).toEqual({ mark: null, anomaly: 'crossed_book' });
    const m = marksFromQuotes([q('100', '102'), { ...q('103', '102'), symbol: ETHTRY }]);
    expect([...m.marks.keys()]).toEqual([BTCTRY]);
    expect(m.anomalies.get(ETHTRY)).toBe('crossed_book');
  });
});

describe('canary strategy', () => {
  it('§7 example: cash 100, mark 101, budget 50 → buy 0.495 @ 101 (notional 49.995) with a deterministic id', () => {
    const p = canary({});
    expect(p.skipped).toEqual([]);
    expect(p.intents).toHaveLength(1);
    const i = p.intents[0]!;
    expect([i.side, i.price.toFixed(), i.qty.toFixed()]).toEqual(['buy', '101', '0.495']);
    expect(i.clientOrderId).toBe(clientOrderIdFor('cycle-1', BTCTRY, 'buy', 0));
  });

  it('defect 9: with BTCTurk\'s real minimum (99.91) the 50 TRY budget is sized up so the order is not rejected', () => {
    const btc = rules({ tickSize: D(1), pricePrecision: 0, stepSize: D('0.00000001'), minNotional: D('99.91') });
    const p = canary({ marks: new Map([[BTCTRY, D('2930930.5')]]), rules: new Map([[BTCTRY, btc]]), tryBalance: { free: D(1000), locked: D(0) } });
    const i = p.intents[0]!;
    expect(i.price.toFixed()).toBe('2930930');
    expect(i.qty.toFixed()).toBe('0.00003409');
    expect(satisfiesRules(i.price, i.qty, btc)).toBe(true);
  });

  it('defect 17: cash is taken off per intent, so 3 symbols do not each get the same 70 TRY', () => {
    const r = new Map([BTCTRY, ETHTRY, SOLTRY].map((s) => [s, rules({ symbol: s })]));
    const marks = new Map([BTCTRY, ETHTRY, SOLTRY].map((s) => [s, D(100)]));
    const p = canary({ symbols: [SOLTRY, ETHTRY, BTCTRY], marks, rules: r, tryBalance: { free: D(70), locked: D(0) } });
    // BTC takes 50.09 (fee headroom included); ETH gets what is left, 19.91 → 0.1987; nothing for SOL.
    expect(p.intents.map((i) => i.symbol)).toEqual([BTCTRY, ETHTRY]);
    expect(p.intents.map((i) => i.qty.toFixed())).toEqual(['0.5', '0.1987']);
    expect(p.skipped).toMatchObject([{ symbol: SOLTRY, reason: 'insufficient_budget' }]);
  });

  it('the TRY_CASH_TARGET reserve is never spent', () => {
    // 100 free, 95 reserved: 5 TRY spendable cannot reach the 10 TRY minimum.
    const limits = { ...openLimits, tryCashTarget: D(95), tryCashMax: D(600) };
    expect(canary({ limits }).skipped).toMatchObject([{ reason: 'insufficient_budget', detail: { budget: '5' } }]);
    // 80 reserved leaves 20: the order shrinks to fit instead.
    expect(canary({ limits: { ...limits, tryCashTarget: D(80) } }).intents[0]?.qty.toFixed()).toBe('0.1976');
  });

  it('a symbol with a working or unresolved buy of ours gets no new buy; external orders do not count', () => {
    expect(canary({ orders: [tracked({ cid: 'p', state: 'pending_submit' })] }).skipped).toMatchObject([{ reason: 'open_buy_exists', detail: { state: 'pending_submit' } }]);
    expect(canary({ orders: [tracked({ cid: 'x', mode: 'external' })] }).intents).toHaveLength(1);
    expect(canary({ orders: [tracked({ cid: 'c', state: 'canceled' })] }).intents).toHaveLength(1);
  });

  it('a buy closed only by inference still inside its recovery window counts as a working buy: no new buy beside it', () => {
    const hidden = tracked({ cid: 'h', xid: null, state: 'unknown_closed', updatedAtMs: 10_000_000 - 600_000 });
    expect(canary({ orders: [hidden] }).skipped).toMatchObject([{ reason: 'open_buy_exists', detail: { state: 'unknown_closed' } }]);
    expect(canary({ orders: [{ ...hidden, updatedAtMs: 10_000_000 - 7_200_000 }] }).intents).toHaveLength(1);
  });

  it('symbols without a mark or rules, excluded this cycle, or in reduce-only get no intent, each with a reason', () => {
    expect(canary({ marks: new Map() }).skipped[0]?.reason).toBe('no_mark');
    expect(canary({ rules: new Map() }).skipped[0]?.reason).toBe('no_rules');
    expect(canary({ excludedSymbols: [BTCTRY] }).skipped[0]?.reason).toBe('symbol_excluded');
    expect(canary({ tradingState: 'reduce_only' }).skipped[0]).toMatchObject({ reason: 'trading_not_active', detail: { state: 'reduce_only' } });
  });
});
