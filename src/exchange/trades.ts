// Trade normalisation (reference §6.7, Q1–Q4; original defects 1, 4, 5). BTCTurk sends signed
// quantities (negative for sells) and negative fee and tax. We report absolute quantities with the
// side from `orderType` (a sign that contradicts the side is a malformed payload), fee and tax as
// positive costs in the denominator asset unless the row states a fee currency, deduplicated by
// fill id and sorted chronologically (ts, then fill id). An empty list is simply no fills. The
// order id is optional (the 2018 documented rows have none). A row that cannot be read is reported
// by its trade id, never dropped: it may move the position.
import { createHash } from 'node:crypto';
import { stringify } from 'lossless-json';
import { Decimal, toDecimalString } from '../domain/decimal.js';
import {
  asClientOrderId,
  asExchangeOrderId,
  asFillId,
  toPairSymbol,
  type FillId,
  type FillReport,
  type PairSymbol,
  type UnreadableTradeReport,
} from '../domain/types.js';
import { MalformedResponseError, UnreadableTradeRowsError } from './errors.js';
import { PayloadReader, field, type JsonObject } from './json.js';
import { parseSide } from './btcturk/parse.js';

/**
 * The fallback fill id when a row has no trade id: hex SHA-256 of
 * `orderId|timestampMs|price|qty` with canonical decimal strings (no trailing zeros, absolute qty).
 * Never uses the client order id. Stable across runs and across wire formatting (`"100.00"` = `100`).
 */
export function fallbackFillId(orderId: string, tsMs: number, price: Decimal, qty: Decimal): FillId {
  return sha256Id(`${orderId}|${tsMs}|${toDecimalString(price)}|${toDecimalString(qty.abs())}`);
}

/**
 * The fallback fill id of a row with neither a trade id nor an order id: the pair and side stand in
 * for the order (`-|pair|side|timestampMs|price|qty`; the leading `-` can never be an order id, so
 * these ids never meet the ones above).
 */
export function orderlessFallbackFillId(symbol: PairSymbol, side: 'buy' | 'sell', tsMs: number, price: Decimal, qty: Decimal): FillId {
  return sha256Id(`-|${symbol}|${side}|${tsMs}|${toDecimalString(price)}|${toDecimalString(qty.abs())}`);
}

function sha256Id(input: string): FillId {
  return asFillId(createHash('sha256').update(input, 'utf8').digest('hex'));
}

/**
 * Every readable row of a trade list, and every row that is not (by trade id, with its timestamp
 * when readable). A payload that is not a list at all is a MalformedResponseError.
 */
export function readUserTrades(data: unknown, requested: PairSymbol | null): { fills: FillReport[]; unreadable: UnreadableTradeReport[] } {
  const r = new PayloadReader('user trades');
  if (data === null || data === undefined) return { fills: [], unreadable: [] };
  const rows = r.array(data, 'data');
  const byId = new Map<string, FillReport>();
  const unreadable = new Map<string, UnreadableTradeReport>();
  rows.forEach((row, i) => {
    let fill: FillReport;
    try {
      fill = normaliseTradeRow(r.object(row, `data[${i}]`), r, `data[${i}]`);
    } catch (err) {
      if (!(err instanceof MalformedResponseError)) throw err;
      const bad = describeUnreadable(row, err, requested);
      if (bad !== null && !unreadable.has(bad.tradeId)) unreadable.set(bad.tradeId, bad);
      return;
    }
    if (requested !== null && fill.symbol !== requested) return;
    if (!byId.has(fill.fillId)) byId.set(fill.fillId, fill);
  });
  return { fills: sortFills([...byId.values()]), unreadable: [...unreadable.values()] };
}

/** readUserTrades, strict: any unreadable row is an UnreadableTradeRowsError carrying the rest. */
export function normaliseUserTrades(data: unknown, requested: PairSymbol | null): FillReport[] {
  const { fills, unreadable } = readUserTrades(data, requested);
  if (unreadable.length > 0) throw new UnreadableTradeRowsError(fills, unreadable);
  return fills;
}

/** What can still be said of a row that failed: its id and time, if those parts are readable. Null for a row of another pair. */
function describeUnreadable(row: unknown, err: MalformedResponseError, requested: PairSymbol | null): UnreadableTradeReport | null {
  const r = new PayloadReader('user trades');
  const t = row !== null && typeof row === 'object' && !Array.isArray(row) ? (row as JsonObject) : {};
  const attempt = <T>(read: () => T): T | null => {
    try {
      return read();
    } catch {
      return null;
    }
  };
  const pair = attempt(() => toPairSymbol(`${r.asset(t['numeratorSymbol'], 'n')}${r.asset(t['denominatorSymbol'], 'd')}`));
  if (requested !== null && pair !== null && pair !== requested) return null;
  const id = attempt(() => r.optionalId(t['id'], 'id'));
  return {
    tradeId: asFillId(id ?? `row-${createHash('sha256').update(stringify(row) ?? 'undefined', 'utf8').digest('hex').slice(0, 16)}`),
    tsMs: attempt(() => r.integer(field(t, 'timestamp', 'date'), 'timestamp')),
    reason: err.message.replace(/^user trades: /, ''),
  };
}

export function sortFills(fills: FillReport[]): FillReport[] {
  return fills.sort((a, b) => a.tsMs - b.tsMs || compareIds(a.fillId, b.fillId));
}

/** Numeric ids compare as integers (by length, then text); hash ids compare as text after them. */
function compareIds(a: string, b: string): number {
  const an = /^\d+$/.test(a);
  const bn = /^\d+$/.test(b);
  if (an && bn) return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
  if (an !== bn) return an ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

function normaliseTradeRow(t: JsonObject, r: PayloadReader, at: string): FillReport {
  const side = parseSide(r, field(t, 'orderType', 'type'), `${at}.orderType`);
  const exactAmount = r.optionalDecimal(t['preciseAmount'], `${at}.preciseAmount`);
  const signed = exactAmount ?? r.decimal(field(t, 'amount', 'quantity'), `${at}.amount`);
  if (signed.isZero()) r.fail(`${at}: zero quantity`);
  if ((side === 'sell' && signed.gt(0)) || (side === 'buy' && signed.lt(0))) {
    r.fail(`${at}: ${side} row with a ${signed.isNeg() ? 'negative' : 'positive'} amount`);
  }
  const qty = signed.abs();
  const price = r.decimal(t['price'], `${at}.price`);
  if (price.lte(0)) r.fail(`${at}.price is not positive`);
  const tsMs = r.integer(field(t, 'timestamp', 'date'), `${at}.timestamp`);
  // Optional: BTCTurk's 2018 documented rows have none. A row with a trade id is identified by it.
  const orderId = r.optionalId(t['orderId'], `${at}.orderId`);
  const fee = (r.optionalDecimal(t['fee'], `${at}.fee`) ?? new Decimal(0)).abs();
  const tax = (r.optionalDecimal(t['tax'], `${at}.tax`) ?? new Decimal(0)).abs();
  const base = r.asset(t['numeratorSymbol'], `${at}.numeratorSymbol`);
  const quote = r.asset(t['denominatorSymbol'], `${at}.denominatorSymbol`);
  const statedRaw = field(t, 'feeCurrency');
  const stated = statedRaw === undefined || statedRaw === null || statedRaw === '' ? null : r.asset(statedRaw, `${at}.feeCurrency`);
  const tradeId = r.optionalId(t['id'], `${at}.id`);
  const clientId = r.optionalString(t['orderClientId'], `${at}.orderClientId`);
  let symbol: PairSymbol;
  try {
    symbol = toPairSymbol(`${base}${quote}`);
  } catch {
    return r.fail(`${at}: bad numerator/denominator symbols`);
  }
  const fillId =
    tradeId !== null
      ? asFillId(tradeId)
      : orderId !== null
        ? fallbackFillId(orderId, tsMs, price, qty)
        : orderlessFallbackFillId(symbol, side, tsMs, price, qty);
  return {
    fillId,
    exchangeOrderId: orderId === null ? null : asExchangeOrderId(orderId),
    clientOrderId: clientId === null ? null : asClientOrderId(clientId),
    symbol,
    side,
    price,
    qty,
    fee,
    tax,
    feeAsset: stated ?? quote,
    tsMs,
  };
}
