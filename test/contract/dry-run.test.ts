import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Decimal } from '../../src/domain/decimal.js';
import { asClientOrderId, toPairSymbol } from '../../src/domain/types.js';
import { createDryRunExchange } from '../../src/exchange/dry-run.js';
import { startHarness, type Harness } from './helpers.js';

const BTCTRY = toPairSymbol('BTCTRY');

describe('dry-run exchange', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  it('reads go to the venue; submits and cancels are simulated and never reach a write endpoint', async () => {
    const dry = createDryRunExchange(h.exchange);
    expect(dry.mode).toBe('dry_run');
    const { rules } = await dry.getExchangeRules();
    const balances = await dry.getBalances();
    expect(rules.length).toBe(4);
    expect(balances.length).toBeGreaterThan(0);

    const clientOrderId = asClientOrderId('dry-b-1');
    const ack = await dry.submitLimitOrder({ symbol: BTCTRY, side: 'buy', price: new Decimal('3300000'), qty: new Decimal('0.001'), clientOrderId });
    expect(ack).toMatchObject({ exchangeOrderId: 'sim-dry-b-1', simulated: true });
    expect((await dry.getOrder(ack.exchangeOrderId)).status).toBe('open');
    expect(await dry.cancelOrder(ack.exchangeOrderId)).toMatchObject({ accepted: true, simulated: true });
    expect((await dry.getOrder(ack.exchangeOrderId)).status).toBe('canceled');
    expect((await dry.findOrderByClientId(BTCTRY, clientOrderId, 0))?.exchangeOrderId).toBe('sim-dry-b-1');
    expect(await dry.getOpenOrders(BTCTRY)).toEqual([]); // real venue state

    const writes = h.sim.requests.filter((r) => r.method === 'POST' || r.method === 'DELETE');
    expect(writes).toEqual([]);
    expect(h.sim.engine.groundTruth().orders).toEqual([]);
    expect(h.sim.requests.some((r) => r.route === 'GET /api/v1/users/balances')).toBe(true);
  });

  it('the same client order id yields the same simulated exchange id (no counter to repeat)', async () => {
    const dry = createDryRunExchange(h.exchange);
    const req = { symbol: BTCTRY, side: 'sell' as const, price: new Decimal('3500000'), qty: new Decimal('0.001'), clientOrderId: asClientOrderId('dry-s-1') };
    const a = await dry.submitLimitOrder(req);
    const b = await dry.submitLimitOrder(req);
    expect(a.exchangeOrderId).toBe(b.exchangeOrderId);
    expect(dry.simulatedOrders()).toHaveLength(1);
  });
});
