import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Decimal } from '../../src/domain/decimal.js';
import { toPairSymbol } from '../../src/domain/types.js';
import { countRoute, startHarness, type Harness } from './helpers.js';

const BTCTRY = toPairSymbol('BTCTRY');
const USDTTRY = toPairSymbol('USDTTRY');

describe('public endpoints against the simulator', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  it('exchange info yields rules for every default pair with tick, step, min notional and band', async () => {
    const { rules, malformed } = await h.exchange.getExchangeRules();
    expect(rules.map((r) => r.symbol).sort()).toEqual(['BTCTRY', 'ETHTRY', 'SOLTRY', 'USDTTRY']);
    expect(malformed).toEqual([]);
    const btc = rules.find((r) => r.symbol === BTCTRY)!;
    expect(btc.base).toBe('BTC');
    expect(btc.quote).toBe('TRY');
    expect(btc.tradable).toBe(true);
    expect(btc.tickSize.toString()).toBe('1'); // hasFraction:false → integer prices
    expect(btc.stepSize.toString()).toBe('0.00000001');
    expect(btc.minNotional.toString()).toBe('99.91');
    expect(btc.pricePrecision).toBe(2);
    expect(btc.qtyPrecision).toBe(8);
    expect(btc.minPrice?.toString()).toBe('340000');
    const usdt = rules.find((r) => r.symbol === USDTTRY)!;
    expect(usdt.tickSize.toString()).toBe('0.001');
    expect(usdt.stepSize.toString()).toBe('0.01');
    expect(usdt.minNotional.toString()).toBe('100');
  });

  it('server time reports the simulator clock, which moves when advanced', async () => {
    const before = await h.exchange.getServerTime();
    await h.sim.control.advanceClock(3_600_000);
    const after = await h.exchange.getServerTime();
    expect(after - before).toBeGreaterThanOrEqual(3_600_000);
  });

  it('order book levels are Decimal, best first, and the quote is the top of book', async () => {
    await h.sim.control.setBook(BTCTRY, [['3399000', '0.5'], ['3400000', '0.25']], [['3402000', '0.1'], ['3401000', '0.2']]);
    const book = await h.exchange.getOrderBook(BTCTRY, 10);
    expect(book.bids.map((l) => l.price.toString())).toEqual(['3400000', '3399000']);
    expect(book.asks.map((l) => l.price.toString())).toEqual(['3401000', '3402000']);
    expect(book.asks[0]!.qty).toBeInstanceOf(Decimal);
    expect(book.tsMs).toBeGreaterThan(0); // sent as a float (`…123.0`), read as integer ms
    const quote = await h.exchange.getQuote(BTCTRY);
    expect(quote.bid?.toString()).toBe('3400000');
    expect(quote.ask?.toString()).toBe('3401000');
  });

  it('ticker quotes cover every pair with bid below ask', async () => {
    await h.sim.control.setPrice(USDTTRY, '34.5');
    const quotes = await h.exchange.getTickerQuotes();
    const usdt = quotes.find((q) => q.symbol === USDTTRY)!;
    expect(usdt.bid!.lt(usdt.ask!)).toBe(true);
    expect(usdt.bid!.lt(34.5) && usdt.ask!.gt(34.5)).toBe(true);
    expect(quotes).toHaveLength(4);
  });

  it('public reads carry no auth headers and need no credentials', async () => {
    const { createBtcturkExchange } = await import('../../src/exchange/btcturk/client.js');
    const anon = createBtcturkExchange({ baseUrl: h.sim.url });
    const before = countRoute(h.sim, 'GET /api/v2/server/exchangeinfo');
    await anon.getExchangeRules();
    expect(countRoute(h.sim, 'GET /api/v2/server/exchangeinfo')).toBe(before + 1);
    await anon.close();
  });
});

describe('exchange info with broken listings', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  it('a malformed pair is skipped and reported by name and cause; every other pair is parsed', async () => {
    h.sim.engine.malformPair('XYZTRY', 'bad_name');
    h.sim.engine.malformPair('SOLTRY', 'no_min_notional');
    const { rules, malformed } = await h.exchange.getExchangeRules();
    expect(rules.map((r) => r.symbol).sort()).toEqual(['BTCTRY', 'ETHTRY', 'USDTTRY']);
    expect(malformed).toEqual([
      { symbol: 'SOLTRY', reason: expect.stringMatching(/minExchangeValue/) },
      { symbol: null, reason: expect.stringMatching(/name/) },
    ]);
  });
});
