import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Decimal } from '../../src/domain/decimal.js';
import { asClientOrderId, toPairSymbol } from '../../src/domain/types.js';
import { signBtcturk } from '../../src/exchange/btcturk/auth.js';
import { createBtcturkExchange } from '../../src/exchange/btcturk/client.js';
import { startSimulator, type RunningSimulator } from '../../src/simulator/server.js';

function signed(sim: RunningSimulator, stamp: string): Record<string, string> {
  const { apiKey, apiSecret } = sim.credentials;
  return { 'X-PCK': apiKey, 'X-Stamp': stamp, 'X-Signature': signBtcturk(apiKey, Buffer.from(apiSecret, 'base64'), stamp) };
}

describe('simulator wire behaviour', () => {
  let sim: RunningSimulator;
  beforeAll(async () => {
    sim = await startSimulator({ clock: 'manual', startTimeMs: 1_732_525_200_000 });
  });
  afterAll(async () => sim.close());

  it('listens on loopback only and serves paths case-insensitively with one trailing slash', async () => {
    expect(sim.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    for (const p of ['/api/v2/server/exchangeInfo', '/API/V2/SERVER/EXCHANGEINFO/', '/api/v2/orderBook?pairSymbol=BTC_TRY']) {
      const res = await fetch(sim.url + p);
      expect(res.status).toBe(200);
      expect(((await res.json()) as { success: boolean }).success).toBe(true);
    }
  });

  it('answers 404 with an empty body for unknown paths and 405 for a wrong method', async () => {
    const nf = await fetch(`${sim.url}/api/v3/nothing`);
    expect(nf.status).toBe(404);
    expect(await nf.text()).toBe('');
    expect((await fetch(`${sim.url}/api/v2/ticker`, { method: 'POST' })).status).toBe(405);
  });

  it('server time has no envelope and reports the simulator clock', async () => {
    const body = (await (await fetch(`${sim.url}/api/v2/server/time`)).json()) as Record<string, unknown>;
    expect(body['serverTime']).toBe(1_732_525_200_000);
    expect(body['success']).toBeUndefined();
  });

  it('a POST without JSON content type is 415, an empty body 411, malformed JSON FAILED_ORDER_PARAMETER', async () => {
    const now = sim.engine.now();
    const r415 = await fetch(`${sim.url}/api/v1/order`, { method: 'POST', headers: signed(sim, String(now + 1)), body: 'x' });
    expect(r415.status).toBe(415);
    const r411 = await fetch(`${sim.url}/api/v1/order`, { method: 'POST', headers: { ...signed(sim, String(now + 2)), 'content-type': 'application/json' } });
    expect(r411.status).toBe(411);
    const r400 = await fetch(`${sim.url}/api/v1/order`, { method: 'POST', headers: { ...signed(sim, String(now + 3)), 'content-type': 'application/json' }, body: '{oops' });
    expect(r400.status).toBe(400);
    expect(await r400.json()).toEqual({ success: false, message: 'FAILED_ORDER_PARAMETER', code: 1121 });
  });

  it('verifies auth: missing headers, reused stamp and a stamp outside ±5 s are 401 with the documented messages', async () => {
    const now = sim.engine.now();
    const url = `${sim.url}/api/v1/users/balances`;
    const missing = await fetch(url);
    expect(missing.status).toBe(401);
    expect(((await missing.json()) as { message: string }).message).toBe('Unauthorized - Headers are missing');
    const stamp = String(now + 10);
    expect((await fetch(url, { headers: signed(sim, stamp) })).status).toBe(200);
    const reused = await fetch(url, { headers: signed(sim, stamp) });
    expect(reused.status).toBe(401);
    expect(((await reused.json()) as { message: string }).message).toBe('Unauthorized - Invalid Nonce');
    const stale = await fetch(url, { headers: signed(sim, String(now - 5_001)) });
    expect(((await stale.json()) as { message: string }).message).toBe('Unauthorized - Invalid Nonce');
    const badSig = await fetch(url, { headers: { ...signed(sim, String(now + 11)), 'X-Signature': 'PEYFta49A+0X6Z95vapsef+I7jqzA3JFR6w/MIor8tU=' } });
    expect(((await badSig.json()) as { message: string }).message).toBe('Unauthorized - Invalid Signature');
  });

  it('writes trade ids above 2^53 as JSON integers and open orders with time 0', async () => {
    // The manual clock stands still; start the client's stamps clear of the raw stamps used above.
    const ex = createBtcturkExchange({ baseUrl: sim.url, credentials: sim.credentials, now: () => sim.engine.now() + 1_000 });
    const BTCTRY = toPairSymbol('BTCTRY');
    const ask = sim.engine.bookView('BTCTRY').asks[0]!.price;
    await ex.submitLimitOrder({ symbol: BTCTRY, side: 'buy', price: ask, qty: new Decimal('0.001'), clientOrderId: asClientOrderId('wire-1') });
    await ex.submitLimitOrder({ symbol: BTCTRY, side: 'buy', price: new Decimal('3000000'), qty: new Decimal('0.001'), clientOrderId: asClientOrderId('wire-2') });
    const trades = await (await fetch(`${sim.url}/api/v1/users/transactions/trade?pairSymbol=BTCTRY`, { headers: signed(sim, String(sim.engine.now() + 100)) })).text();
    expect(trades).toContain('"id":1190000000000000001,');
    const open = await (await fetch(`${sim.url}/api/v1/openOrders?pairSymbol=BTCTRY`, { headers: signed(sim, String(sim.engine.now() + 101)) })).text();
    expect(open).toMatch(/"time":0,/);
    await ex.close();
  });

  it('is deterministic under a seed: the same script gives the same ground truth', async () => {
    const run = async (): Promise<unknown> => {
      const s = await startSimulator({ seed: 99, clock: 'manual', startTimeMs: 1_700_000_000_000, pricePaths: { BTCTRY: { kind: 'walk', stepBps: 30 } } });
      s.engine.submit({ pairSymbol: 'BTCTRY', orderType: 'buy', orderMethod: 'limit', quantity: '0.001', price: '3395000' });
      s.engine.submit({ pairSymbol: 'BTC_TRY', orderType: 'sell', orderMethod: 'limit', quantity: '0.001', price: '3405000' });
      for (let i = 0; i < 50; i++) {
        s.engine.tick();
        s.engine.advanceClock(1_000);
      }
      const truth = s.engine.groundTruth();
      await s.close();
      return truth;
    };
    const a = await run();
    expect(await run()).toEqual(a);
  });
});
