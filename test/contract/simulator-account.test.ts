// The simulator's account features (issue 13): an account that starts with holdings, trades the bot
// did not place, a broken listing in exchangeinfo, and trade rows in BTCTurk's 2018 documented form.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Decimal } from '../../src/domain/decimal.js';
import { toPairSymbol } from '../../src/domain/types.js';
import { parseLosslessJson } from '../../src/exchange/json.js';
import { startHarness, type Harness } from './helpers.js';

const BTCTRY = toPairSymbol('BTCTRY');

async function rawTrades(h: Harness): Promise<Array<Record<string, unknown>>> {
  // Through the signed client's transport would hide the wire shape: read the wire itself.
  const { signBtcturk } = await import('../../src/exchange/btcturk/auth.js');
  const stamp = String(h.sim.engine.now());
  const { apiKey, apiSecret } = h.sim.credentials;
  const res = await fetch(`${h.sim.url}/api/v1/users/transactions/trade?pairSymbol=BTCTRY`, {
    headers: { 'X-PCK': apiKey, 'X-Stamp': stamp, 'X-Signature': signBtcturk(apiKey, Buffer.from(apiSecret, 'base64'), stamp) },
  });
  return (parseLosslessJson(await res.text()) as { data: Array<Record<string, unknown>> }).data;
}

describe('simulator account features', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness({ balances: { TRY: '1000', BTC: '0.01' } });
  });
  afterEach(async () => h.close());

  it('starts with the holdings it is given', async () => {
    const btc = (await h.exchange.getBalances()).find((b) => b.asset === 'BTC')!;
    expect(btc.free.toFixed()).toBe('0.01');
  });

  it('a manual trade fills at once, moves balances with fee and VAT, and may be dated in the past', async () => {
    const atMs = h.sim.engine.now() - 3_600_000;
    const { fillId, orderId } = await h.sim.control.manualTrade({ symbol: 'BTCTRY', side: 'sell', qty: '0.005', price: '3400000', atMs });
    const truth = await h.sim.control.state();
    expect(truth.fills).toEqual([expect.objectContaining({ id: fillId, orderId, side: 'sell', qty: '0.005', tsMs: atMs, clientId: 'advanced' })]);
    // 0.005 × 3,400,000 = 17,000 TRY; taker 0.09 % = 15.3, VAT 20 % = 3.06.
    expect(truth.balances['BTC']).toEqual({ free: '0.005', locked: '0' });
    expect(new Decimal(truth.balances['TRY']!.free).toFixed()).toBe('17981.64');
    expect(truth.orders.find((o) => o.id === orderId)).toMatchObject({ status: 'Closed', leftQty: '0' });
  });

  it('a manual sell beyond the free balance is refused like a real order', async () => {
    await expect(h.sim.control.manualTrade({ symbol: 'BTCTRY', side: 'sell', qty: '0.02' })).rejects.toThrow(/400/);
    expect((await h.sim.control.state()).fills).toEqual([]);
  });

  it('lists a broken entry in exchangeinfo: a listed pair broken in place, or an extra unlisted one', async () => {
    await h.sim.control.malformPair('ETHTRY', 'no_min_notional');
    await h.sim.control.malformPair('XYZTRY', 'bad_name');
    const body = (await (await fetch(`${h.sim.url}/api/v2/server/exchangeinfo`)).json()) as { data: { symbols: Array<Record<string, unknown>> } };
    const eth = body.data.symbols.find((s) => s['name'] === 'ETHTRY')!;
    expect((eth['filters'] as Array<Record<string, unknown>>)[0]!['minExchangeValue']).toBeNull();
    expect(body.data.symbols.filter((s) => s['numerator'] === 'XYZ').map((s) => s['name'])).toEqual(['XYZ/TRY?']);
    expect(body.data.symbols.find((s) => s['name'] === 'BTCTRY')).toBeDefined();
  });

  it('serves trade rows in the 2018 documented form on request: trade id kept, no orderId, JSON numbers', async () => {
    await h.sim.control.manualTrade({ symbol: 'BTCTRY', side: 'buy', qty: '0.0001', price: '3400000' });
    await h.sim.control.configure({ tradeRowsWithoutOrderId: 1 });
    const [row] = await rawTrades(h);
    expect(row).toBeDefined();
    expect(Object.keys(row!).sort()).toEqual(['amount', 'denominatorSymbol', 'fee', 'id', 'numeratorSymbol', 'orderType', 'price', 'tax', 'timestamp']);
    expect(String(row!['price'])).toBe('3400000.00');
    expect(typeof row!['price']).toBe('object'); // a JSON number (lossless), not a string
    await h.sim.control.configure({ tradeRowsWithoutOrderId: 0 });
    expect((await rawTrades(h))[0]!['orderId']).toBeDefined();
  });
});
