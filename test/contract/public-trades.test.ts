// The public trades tape (GET /api/v2/trades, reference §5.5) as the simulator serves it and the
// client reads it: the market's prints and the account's own fills, at most 50 rows, newest on top.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Decimal } from '../../src/domain/decimal.js';
import { toPairSymbol } from '../../src/domain/types.js';
import { countRoute, startHarness, type Harness } from './helpers.js';

const BTCTRY = toPairSymbol('BTCTRY');

describe('public trades against the simulator', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => h.close());

  it('serves BTCTurk rows (string tid, date in ms, decimal strings, taker side) that the client returns oldest first', async () => {
    const t1 = await h.sim.control.printTrade('BTCTRY', '3400000', '0.0021', 'buy');
    await h.sim.control.advanceClock(5);
    const t2 = await h.sim.control.printTrade('BTC_TRY', '3399000', '0.5', 'sell');
    const trades = await h.exchange.getPublicTrades(BTCTRY);
    expect(trades.map((t) => [t.tradeId, t.price.toFixed(), t.qty.toFixed(), t.side])).toEqual([
      [t1, '3400000', '0.0021', 'buy'],
      [t2, '3399000', '0.5', 'sell'],
    ]);
    expect(trades[1]!.tsMs - trades[0]!.tsMs).toBeGreaterThanOrEqual(5); // the clock runs on wall time, plus the advance
    expect(BigInt(t1)).toBeGreaterThan(2n ** 53n);
    expect(countRoute(h.sim, 'GET /api/v2/trades')).toBe(1);
    // The wire rows themselves, as §5.5 documents them (newest first).
    const res = await fetch(`${h.sim.url}/api/v2/trades?pairSymbol=BTCTRY&last=1`);
    const body = (await res.json()) as { success: boolean; data: Array<Record<string, unknown>> };
    expect(body.success).toBe(true);
    expect(body.data).toEqual([{ pair: 'BTCTRY', pairNormalized: 'BTC_TRY', numerator: 'BTC', denominator: 'TRY', date: expect.any(Number), tid: t2, price: '3399000.00', amount: '0.50000000', side: 'sell' }]);
  });

  it('returns at most the newest 50 trades, however many happened', async () => {
    for (let i = 0; i < 60; i++) await h.sim.engine.printTrade('BTCTRY', new Decimal(3_400_000 + i), new Decimal('0.001'), 'buy');
    const trades = await h.exchange.getPublicTrades(BTCTRY, 500);
    expect(trades).toHaveLength(50);
    expect(trades.map((t) => t.price.toFixed()).at(0)).toBe('3400010');
    expect(trades.map((t) => t.price.toFixed()).at(-1)).toBe('3400059');
  });

  it("a market move prints a trade where the market went, and the account's own fills are on the tape too", async () => {
    const mid = h.sim.engine.mid('BTCTRY')!;
    h.sim.engine.setMid('BTCTRY', mid.mul('0.99').toDecimalPlaces(0));
    const ack = await h.exchange.submitLimitOrder({ symbol: BTCTRY, side: 'buy', price: mid.mul('1.01').toDecimalPlaces(0), qty: new Decimal('0.001'), clientOrderId: 'c-1' as never });
    const trades = await h.exchange.getPublicTrades(BTCTRY);
    expect(trades.map((t) => t.side)).toEqual(['sell', 'buy']);
    expect(trades[0]!.price.lt(mid)).toBe(true);
    const own = h.sim.engine.groundTruth().fills.filter((f) => f.orderId === ack.exchangeOrderId);
    expect(trades[1]!.qty.toFixed()).toBe(own[0]!.qty);
  });

  it('an unknown pair is a bad request, as on the order book', async () => {
    await expect(h.exchange.getPublicTrades(toPairSymbol('XYZTRY'))).rejects.toThrow();
  });
});
