import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Decimal } from '../../src/domain/decimal.js';
import { asClientOrderId, asExchangeOrderId, toPairSymbol } from '../../src/domain/types.js';
import { OrderNotCancelableError, OrderNotFoundError } from '../../src/exchange/errors.js';
import { countRoute, startHarness, type Harness } from './helpers.js';

const BTCTRY = toPairSymbol('BTCTRY');
const cid = asClientOrderId;

describe('trading endpoints against the simulator', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness({ balances: { TRY: '50000', BTC: '0.05' } });
    await h.sim.control.setBook(BTCTRY, [['3399000', '1']], [['3401000', '0.002'], ['3402000', '1']]);
  });
  afterEach(async () => h.close());

  it('a resting limit buy is listed open (time 0), by id and in all orders, and locks price × qty plus fee headroom', async () => {
    const ack = await h.exchange.submitLimitOrder({ symbol: BTCTRY, side: 'buy', price: new Decimal('3300000'), qty: new Decimal('0.003'), clientOrderId: cid('bot-b-1') });
    expect(ack.exchangeOrderId).toMatch(/^\d+$/);
    expect(ack.simulated).toBe(false);

    const open = await h.exchange.getOpenOrders(BTCTRY);
    expect(open).toHaveLength(1);
    expect(open[0]).toMatchObject({ exchangeOrderId: ack.exchangeOrderId, clientOrderId: 'bot-b-1', side: 'buy', status: 'open', createdAtMs: 0 });
    expect(open[0]!.price.toString()).toBe('3300000');
    expect(open[0]!.leftQty.toString()).toBe('0.003');

    const one = await h.exchange.getOrder(ack.exchangeOrderId);
    expect(one.createdAtMs).toBeGreaterThan(0);
    const all = await h.exchange.getAllOrders(BTCTRY, { startMs: one.createdAtMs - 1000 });
    expect(all.map((o) => o.exchangeOrderId)).toEqual([ack.exchangeOrderId]);

    // 3300000 × 0.003 × (1 + 0.0009 × 1.2) = 9910.692
    const balances = await h.exchange.getBalances();
    const tryBal = balances.find((b) => b.asset === 'TRY')!;
    expect(tryBal.locked.toString()).toBe('9910.692');
    expect(tryBal.free.toString()).toBe(new Decimal('50000').minus('9910.692').toString());
    const truth = h.sim.engine.groundTruth();
    expect(truth.orders).toHaveLength(1);
    expect(truth.orders[0]!.id).toBe(ack.exchangeOrderId);
  });

  it('a crossing buy fills as taker across levels; fills come back positive, with fee and VAT as costs in TRY and ids above 2^53 kept exact', async () => {
    const ack = await h.exchange.submitLimitOrder({ symbol: BTCTRY, side: 'buy', price: new Decimal('3402000'), qty: new Decimal('0.003'), clientOrderId: cid('bot-b-2') });
    const fills = await h.exchange.getFills(BTCTRY, { startMs: 0 });
    expect(fills).toHaveLength(2);
    const truth = h.sim.engine.groundTruth().fills;
    expect(fills.map((f) => f.fillId)).toEqual(truth.map((f) => f.id));
    expect(BigInt(fills[0]!.fillId)).toBeGreaterThan(2n ** 53n);
    expect(fills[0]!.fillId).toBe('1190000000000000001');
    expect(fills[1]!.fillId).toBe('1190000000000000002');
    for (const f of fills) {
      expect(f.side).toBe('buy');
      expect(f.exchangeOrderId).toBe(ack.exchangeOrderId);
      expect(f.clientOrderId).toBe('bot-b-2');
      expect(f.feeAsset).toBe('TRY');
      expect(f.qty.gt(0) && f.fee.gt(0) && f.tax.gt(0)).toBe(true);
      // taker 0.0009, VAT 0.20 on the fee
      expect(f.fee.toString()).toBe(f.price.mul(f.qty).mul('0.0009').toDecimalPlaces(8).toString());
      expect(f.tax.toString()).toBe(f.fee.mul('0.2').toDecimalPlaces(8).toString());
    }
    expect(fills.map((f) => f.price.toString())).toEqual(['3401000', '3402000']);
    expect(fills.reduce((s, f) => s.plus(f.qty), new Decimal(0)).toString()).toBe('0.003');
    const order = await h.exchange.getOrder(ack.exchangeOrderId);
    expect(order.status).toBe('filled');
    expect(order.leftQty.isZero()).toBe(true);
    const btc = (await h.exchange.getBalances()).find((b) => b.asset === 'BTC')!;
    expect(btc.free.toString()).toBe('0.053');
  });

  it('a sell fill arrives with a negative amount on the wire and is reported as a positive sell quantity', async () => {
    await h.exchange.submitLimitOrder({ symbol: BTCTRY, side: 'sell', price: new Decimal('3399000'), qty: new Decimal('0.0125'), clientOrderId: cid('bot-s-1') });
    const raw = await fetchRawTrades(h);
    expect(raw).toMatch(/"amount":"-0\.0125"/);
    expect(raw).toMatch(/"preciseAmount":-0\.0125[,}]/);
    expect(raw).toMatch(/"fee":"-/);
    const [fill] = await h.exchange.getFills(BTCTRY, { startMs: 0 });
    expect(fill!.side).toBe('sell');
    expect(fill!.qty.toString()).toBe('0.0125');
    expect(fill!.fee.gt(0)).toBe(true);
    const balances = await h.exchange.getBalances();
    const notional = new Decimal('3399000').mul('0.0125');
    const expectedTry = new Decimal('50000').plus(notional).minus(fill!.fee).minus(fill!.tax);
    expect(balances.find((b) => b.asset === 'TRY')!.free.toString()).toBe(expectedTry.toString());
    expect(balances.find((b) => b.asset === 'BTC')!.free.toString()).toBe('0.0375');
  });

  it('a resting order fills as maker when the price path moves through it', async () => {
    const ack = await h.exchange.submitLimitOrder({ symbol: BTCTRY, side: 'buy', price: new Decimal('3350000'), qty: new Decimal('0.002'), clientOrderId: cid('bot-b-3') });
    expect(await h.exchange.getFills(BTCTRY, { startMs: 0 })).toEqual([]);
    await h.sim.control.setPricePath(BTCTRY, { kind: 'script', prices: ['3380000', '3340000'] });
    await h.sim.control.tick();
    expect((await h.exchange.getOrder(ack.exchangeOrderId)).status).toBe('open');
    await h.sim.control.tick();
    const [fill] = await h.exchange.getFills(BTCTRY, { startMs: 0 });
    expect(fill!.price.toString()).toBe('3350000');
    expect(fill!.fee.toString()).toBe('3.35'); // maker 0.0005 × 6700
    expect(fill!.tax.toString()).toBe('0.67');
    expect((await h.exchange.getOrder(ack.exchangeOrderId)).status).toBe('filled');
    // Maker fill refunds the unused taker headroom: TRY = 50000 − 6700 − 3.35 − 0.67
    const tryBal = (await h.exchange.getBalances()).find((b) => b.asset === 'TRY')!;
    expect(tryBal.locked.isZero()).toBe(true);
    expect(tryBal.free.toString()).toBe('43295.98');
  });

  it('a forced partial fill leaves the order partial, and a cancel keeps the fill and releases the rest of the lock', async () => {
    const ack = await h.exchange.submitLimitOrder({ symbol: BTCTRY, side: 'buy', price: new Decimal('3300000'), qty: new Decimal('0.004'), clientOrderId: cid('bot-b-4') });
    await h.sim.control.fill(ack.exchangeOrderId, '0.001');
    const partial = await h.exchange.getOrder(ack.exchangeOrderId);
    expect(partial.status).toBe('partial');
    expect(partial.leftQty.toString()).toBe('0.003');
    await h.exchange.cancelOrder(ack.exchangeOrderId);
    const canceled = await h.exchange.getOrder(ack.exchangeOrderId);
    expect(canceled.status).toBe('canceled');
    expect(canceled.leftQty.toString()).toBe('0.003');
    expect(await h.exchange.getOpenOrders(BTCTRY)).toEqual([]);
    expect((await h.exchange.getFills(BTCTRY, { startMs: 0 })).map((f) => f.qty.toString())).toEqual(['0.001']);
    const tryBal = (await h.exchange.getBalances()).find((b) => b.asset === 'TRY')!;
    expect(tryBal.locked.isZero()).toBe(true);
  });

  it('cancel is sent as DELETE ?id=, succeeds again on a canceled order, and maps unknown and filled orders to typed errors', async () => {
    const ack = await h.exchange.submitLimitOrder({ symbol: BTCTRY, side: 'buy', price: new Decimal('3300000'), qty: new Decimal('0.001'), clientOrderId: cid('bot-b-5') });
    await h.exchange.cancelOrder(ack.exchangeOrderId);
    const del = h.sim.requests.find((r) => r.route === 'DELETE /api/v1/order')!;
    expect(del.query).toBe(`?id=${ack.exchangeOrderId}`);
    await expect(h.exchange.cancelOrder(ack.exchangeOrderId)).resolves.toMatchObject({ accepted: true });
    await expect(h.exchange.cancelOrder(asExchangeOrderId('31599999999'))).rejects.toBeInstanceOf(OrderNotFoundError);
    const filled = await h.exchange.submitLimitOrder({ symbol: BTCTRY, side: 'buy', price: new Decimal('3401000'), qty: new Decimal('0.001'), clientOrderId: cid('bot-b-6') });
    await expect(h.exchange.cancelOrder(filled.exchangeOrderId)).rejects.toMatchObject({ name: 'OrderNotCancelableError', token: 'ORDER_COULD_NOT_BE_CANCELED' });
    await expect(h.exchange.cancelOrder(filled.exchangeOrderId)).rejects.toBeInstanceOf(OrderNotCancelableError);
    expect(countRoute(h.sim, 'DELETE /api/v1/order')).toBe(5);
  });

  it('with cancel latency the order stays open and can still fill after a 200 cancel, then ends canceled', async () => {
    await h.sim.control.configure({ cancelLatencyMs: 5_000 });
    const ack = await h.exchange.submitLimitOrder({ symbol: BTCTRY, side: 'buy', price: new Decimal('3300000'), qty: new Decimal('0.002'), clientOrderId: cid('bot-b-7') });
    await h.exchange.cancelOrder(ack.exchangeOrderId);
    expect((await h.exchange.getOpenOrders(BTCTRY)).map((o) => o.exchangeOrderId)).toEqual([ack.exchangeOrderId]);
    await h.sim.control.fill(ack.exchangeOrderId, '0.0005');
    await h.sim.control.advanceClock(5_001);
    const order = await h.exchange.getOrder(ack.exchangeOrderId); // the client resyncs its stamp clock
    expect(order.status).toBe('canceled');
    expect(order.leftQty.toString()).toBe('0.0015');
  });

  it('fills are windowed by start and end dates and returned oldest first', async () => {
    const t0 = h.sim.engine.now();
    await h.exchange.submitLimitOrder({ symbol: BTCTRY, side: 'buy', price: new Decimal('3401000'), qty: new Decimal('0.001'), clientOrderId: cid('w-1') });
    await h.sim.control.advanceClock(60_000);
    await h.exchange.submitLimitOrder({ symbol: BTCTRY, side: 'sell', price: new Decimal('3399000'), qty: new Decimal('0.001'), clientOrderId: cid('w-2') });
    const all = await h.exchange.getFills(BTCTRY, { startMs: t0 });
    expect(all.map((f) => f.clientOrderId)).toEqual(['w-1', 'w-2']);
    const late = await h.exchange.getFills(BTCTRY, { startMs: t0 + 30_000 });
    expect(late.map((f) => f.clientOrderId)).toEqual(['w-2']);
    const early = await h.exchange.getFills(BTCTRY, { startMs: t0, endMs: t0 + 30_000 });
    expect(early.map((f) => f.clientOrderId)).toEqual(['w-1']);
  });
});

async function fetchRawTrades(h: Harness): Promise<string> {
  const { signBtcturk } = await import('../../src/exchange/btcturk/auth.js');
  const stamp = String(h.sim.engine.now() + 1);
  const sig = signBtcturk(h.sim.credentials.apiKey, Buffer.from(h.sim.credentials.apiSecret, 'base64'), stamp);
  const res = await fetch(`${h.sim.url}/api/v1/users/transactions/trade?pairSymbol=BTCTRY`, {
    headers: { 'X-PCK': h.sim.credentials.apiKey, 'X-Stamp': stamp, 'X-Signature': sig },
  });
  return res.text();
}

describe('a lookup by client id on a busy pair (allOrders is paged, its sort order undocumented)', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness({ balances: { TRY: '100000000', BTC: '1' } });
  });
  afterEach(async () => h.close());

  /** Orders placed and cancelled on the account (someone else, the web UI): they fill allOrders' pages. */
  function busy(n: number, prefix: string): void {
    for (let i = 0; i < n; i++) {
      const o = h.sim.engine.submit({ pairSymbol: 'BTCTRY', orderType: 'buy', orderMethod: 'limit', quantity: '0.001', price: '3000000', newOrderClientId: `${prefix}-${i}` });
      h.sim.engine.cancel(o.id);
    }
  }

  it('our closed order behind more than a page of newer orders is still found (pages are read until a short one)', async () => {
    const ours = h.sim.engine.submit({ pairSymbol: 'BTCTRY', orderType: 'buy', orderMethod: 'limit', quantity: '0.001', price: '3000000', newOrderClientId: 'bot-busy-1' });
    h.sim.engine.cancel(ours.id);
    busy(1_100, 'ui');
    const found = await h.exchange.findOrdersByClientId(BTCTRY, cid('bot-busy-1'), Date.now() - 60_000);
    expect(found.map((o) => [o.exchangeOrderId, o.status])).toEqual([[ours.id.toString(), 'canceled']]);
    expect(countRoute(h.sim, 'GET /api/v1/allOrders')).toBe(2);
  });

  it('more orders in the window than the lookup reads: it cannot tell, and says so (never "not found")', async () => {
    const small = await startHarness({ balances: { TRY: '100000000', BTC: '1' } }, { lookupPages: 2 });
    try {
      for (let i = 0; i < 2_001; i++) {
        const o = small.sim.engine.submit({ pairSymbol: 'BTCTRY', orderType: 'buy', orderMethod: 'limit', quantity: '0.001', price: '3000000', newOrderClientId: `ui-${i}` });
        small.sim.engine.cancel(o.id);
      }
      const err = await small.exchange.findOrdersByClientId(BTCTRY, cid('bot-not-there'), Date.now() - 60_000).catch((e: unknown) => e);
      expect(err).toMatchObject({ name: 'LookupIncompleteError' });
    } finally {
      await small.close();
    }
  });
});
