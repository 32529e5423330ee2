import { describe, expect, it } from 'vitest';
import { Decimal } from '../../../src/domain/decimal.js';
import { MalformedResponseError, UnreadableTradeRowsError } from '../../../src/exchange/errors.js';
import { parseLosslessJson } from '../../../src/exchange/json.js';
import { fallbackFillId, normaliseUserTrades, readUserTrades } from '../../../src/exchange/trades.js';
import { toPairSymbol } from '../../../src/domain/types.js';

const BTCTRY = toPairSymbol('BTCTRY');

// Shaped like BTCTurk's documented users/transactions/trade example (reference §6.7): newest first,
// ids above 2^53, a negative sell amount, negative fee and tax, preciseAmount as a JSON number.
const DOC_PAYLOAD = `{ "success": true, "message": "SUCCESS", "code": 0,
  "data": [
    { "id": 1190000000000000007, "orderId": 31500000124, "orderClientId": "bot-a1-b-000018",
      "timestamp": 1732525160333, "price": "3400000.00", "amount": "0.0018", "preciseAmount": 0.00180000,
      "fee": "-3.06000000", "tax": "-0.61200000", "numeratorSymbol": "BTC", "denominatorSymbol": "TRY",
      "orderType": "buy" },
    { "id": 1190000000000000003, "orderId": 31500000101, "orderClientId": "bot-a1-s-000012",
      "timestamp": 1732525001210, "price": "3415000.00", "amount": "-0.3384", "preciseAmount": -0.33840811,
      "fee": "-6.83000000", "tax": "-1.36600000", "numeratorSymbol": "BTC", "denominatorSymbol": "TRY",
      "orderType": "sell" } ] }`;

const data = (text: string): unknown => (parseLosslessJson(text) as { data: unknown }).data;

describe('user trade normalisation', () => {
  it('keeps trade ids above 2^53 exact, where JSON.parse would corrupt them', () => {
    const fills = normaliseUserTrades(data(DOC_PAYLOAD), BTCTRY);
    expect(fills.map((f) => f.fillId)).toEqual(['1190000000000000003', '1190000000000000007']);
    const naive = (JSON.parse(DOC_PAYLOAD) as { data: Array<{ id: number }> }).data.map((r) => String(r.id));
    expect(naive).not.toContain('1190000000000000007');
  });

  it('reports a negative sell amount as a positive quantity from preciseAmount, fee and tax as positive TRY costs, oldest first', () => {
    const [sell, buy] = normaliseUserTrades(data(DOC_PAYLOAD), BTCTRY);
    expect(sell).toMatchObject({ side: 'sell', feeAsset: 'TRY', exchangeOrderId: '31500000101', clientOrderId: 'bot-a1-s-000012', tsMs: 1732525001210 });
    expect(sell!.qty.toString()).toBe('0.33840811'); // not the rounded "-0.3384"
    expect(sell!.fee.toString()).toBe('6.83');
    expect(sell!.tax.toString()).toBe('1.366');
    expect(sell!.price.toString()).toBe('3415000');
    expect(buy!.side).toBe('buy');
    expect(buy!.qty.toString()).toBe('0.0018');
  });

  it('an empty list is no fills (original defect 1), and null data likewise', () => {
    expect(normaliseUserTrades([], BTCTRY)).toEqual([]);
    expect(normaliseUserTrades(null, BTCTRY)).toEqual([]);
  });

  it('duplicate rows collapse to one fill per trade id', () => {
    const rows = data(DOC_PAYLOAD) as unknown[];
    expect(normaliseUserTrades([...rows, ...rows], BTCTRY)).toHaveLength(2);
  });

  it('a sign that contradicts the order type is a MalformedResponseError', () => {
    const bad = data(DOC_PAYLOAD.replace('"preciseAmount": -0.33840811', '"preciseAmount": 0.33840811')) as unknown[];
    expect(() => normaliseUserTrades(bad, BTCTRY)).toThrow(MalformedResponseError);
  });

  it('a stated fee currency wins over the denominator', () => {
    const rows = data(DOC_PAYLOAD.replace('"orderType": "buy"', '"orderType": "buy", "feeCurrency": "btc"')) as unknown[];
    expect(normaliseUserTrades(rows, BTCTRY)[1]!.feeAsset).toBe('BTC');
  });

  it('without a trade id the fill id is a SHA-256 of order id, timestamp, price and quantity in canonical form', () => {
    const rows = data(DOC_PAYLOAD.replace('"id": 1190000000000000003, ', '')) as unknown[];
    const [sell] = normaliseUserTrades(rows, BTCTRY);
    expect(sell!.fillId).toMatch(/^[0-9a-f]{64}$/);
    expect(sell!.fillId).toBe(fallbackFillId('31500000101', 1732525001210, new Decimal('3415000'), new Decimal('0.33840811')));
    // Wire formatting does not change it: "100.00" and 100, signed or not.
    expect(fallbackFillId('12', 1700000000000, new Decimal('100.00'), new Decimal('-0.1'))).toBe(
      fallbackFillId('12', 1700000000000, new Decimal('100'), new Decimal('0.10')),
    );
    // The reference example: 12|1700000000000|100|0.1
    expect(fallbackFillId('12', 1700000000000, new Decimal('100'), new Decimal('0.1'))).toBe(
      'a76f45dd9291fc1424da0a558273d8204181bab1794cbcf852ee50a47de428b3',
    );
  });

  it('rows of another pair are left out when a pair was requested', () => {
    const rows = data(DOC_PAYLOAD.replace('"numeratorSymbol": "BTC", "denominatorSymbol": "TRY",\n      "orderType": "buy"', '"numeratorSymbol": "ETH", "denominatorSymbol": "TRY",\n      "orderType": "buy"')) as unknown[];
    expect(normaliseUserTrades(rows, BTCTRY).map((f) => f.symbol)).toEqual(['BTCTRY']);
  });
});

// BTCTurk's 2018 documented example of users/transactions/trade (broker-api-docs README-pro.md):
// JSON numbers, a trade id, no orderId, no orderClientId, no preciseAmount. Values are ours.
const DOC_2018 = `{ "success": true, "message": "SUCCESS", "code": 0, "data": [
  { "price": 33700, "numeratorSymbol": "BTC", "denominatorSymbol": "TRY", "orderType": "sell",
    "id": 5553445, "timestamp": 1533314288287, "amount": -0.003, "fee": -0.0685423626, "tax": -0.012337625268 },
  { "price": 4.77, "numeratorSymbol": "USDT", "denominatorSymbol": "TRY", "orderType": "buy",
    "id": 5553442, "timestamp": 1533313928057, "amount": 2.09, "fee": -0.0152074094832, "tax": -0.002737333706976 } ] }`;

describe('trade rows without orderId (BTCTurk 2018 documented form)', () => {
  it('are accepted and identified by their trade id, with no order id', () => {
    const fills = normaliseUserTrades(data(DOC_2018), null);
    expect(fills.map((f) => [f.fillId, f.exchangeOrderId, f.symbol, f.side, f.qty.toFixed(), f.price.toFixed()])).toEqual([
      ['5553442', null, 'USDTTRY', 'buy', '2.09', '4.77'],
      ['5553445', null, 'BTCTRY', 'sell', '0.003', '33700'],
    ]);
    expect(fills[1]!.fee.toFixed()).toBe('0.0685423626');
  });
});

describe('a trade row that cannot be read', () => {
  const withStop = DOC_PAYLOAD.replace('"orderType": "sell"', '"orderType": "stop"');

  it('is named by its trade id in the failure; the readable rows travel with it', () => {
    const err = (() => {
      try {
        normaliseUserTrades(data(withStop), BTCTRY);
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(err).toBeInstanceOf(UnreadableTradeRowsError);
    expect(err).toBeInstanceOf(MalformedResponseError); // whoever wants the whole list still gets a malformed payload
    const u = err as UnreadableTradeRowsError;
    expect(u.message).toBe('user trades: trade 1190000000000000003 unreadable (data[1].orderType is not buy or sell)');
    expect(u.readable.map((f) => f.fillId)).toEqual(['1190000000000000007']);
    expect(u.unreadable).toEqual([{ tradeId: '1190000000000000003', tsMs: 1732525001210, reason: 'data[1].orderType is not buy or sell' }]);
  });

  it('without a readable id it is named by a hash of the row, the same in every poll', () => {
    const noId = withStop.replace('"id": 1190000000000000003,', '"id": "x",');
    const a = readUserTrades(data(noId), BTCTRY).unreadable;
    const b = readUserTrades(data(noId), BTCTRY).unreadable;
    expect(a).toHaveLength(1);
    expect(a[0]!.tradeId).toMatch(/^row-[0-9a-f]{16}$/);
    expect(b[0]!.tradeId).toBe(a[0]!.tradeId);
  });

  it('of another pair is not this pair\'s problem', () => {
    const other = withStop.replace('"numeratorSymbol": "BTC", "denominatorSymbol": "TRY",\n      "orderType": "stop"', '"numeratorSymbol": "ETH", "denominatorSymbol": "TRY",\n      "orderType": "stop"');
    expect(other).not.toBe(withStop);
    expect(readUserTrades(data(other), BTCTRY).unreadable).toEqual([]);
  });
});
