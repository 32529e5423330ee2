// BTCTurk payload → domain reports. Pure functions over losslessly parsed JSON; any shape problem
// is a MalformedResponseError naming the field. Enums are compared case-insensitively and the old
// `pairsymbol` key is accepted (reference §4).
import { Decimal } from '../../domain/decimal.js';
import {
  asClientOrderId,
  asExchangeOrderId,
  toPairSymbol,
  type BalanceReport,
  type ExchangeOrderStatus,
  type ExchangeRules,
  type MarketQuote,
  type OrderStatusReport,
  type PairSymbol,
  type Side,
} from '../../domain/types.js';
import { MalformedResponseError } from '../errors.js';
import { PayloadReader, field, type JsonObject } from '../json.js';
import type { ExchangeRulesReport, MalformedPair, OrderBookLevel, OrderBookSnapshot } from '../port.js';
import { compareTrades, type PublicTrade } from '../../domain/paper-fills.js';

// ---------------------------------------------------------------------------------------------
// Exchange info

/**
 * Rules of every well-formed pair; a malformed pair is left out and reported, so one bad listing
 * among hundreds fails only that pair (and only a caller that trades it). A payload whose shape is
 * wrong as a whole (no `symbols` list) is still a MalformedResponseError.
 */
export function parseExchangeInfo(data: unknown): ExchangeRulesReport {
  const r = new PayloadReader('exchangeinfo');
  const root = r.object(data, 'data');
  const symbols = r.array(root['symbols'], 'data.symbols');
  const rules: ExchangeRules[] = [];
  const malformed: MalformedPair[] = [];
  symbols.forEach((s, i) => {
    try {
      rules.push(parseSymbolRules(r.object(s, `symbols[${i}]`), r, i));
    } catch (err) {
      if (!(err instanceof MalformedResponseError)) throw err;
      malformed.push({ symbol: listedName(s), reason: err.message });
    }
  });
  // A pair listed twice has no rules we could trust (which entry is right?): both are reported,
  // and the pair fails, rather than the last entry silently winning.
  const count = new Map<PairSymbol, number>();
  for (const name of [...rules.map((x) => x.symbol), ...malformed.flatMap((m) => (m.symbol === null ? [] : [m.symbol]))]) {
    count.set(name, (count.get(name) ?? 0) + 1);
  }
  const twice = new Set([...count].filter(([, n]) => n > 1).map(([symbol]) => symbol));
  for (const x of rules) if (twice.has(x.symbol)) malformed.push({ symbol: x.symbol, reason: `exchangeinfo: ${x.symbol} is listed ${count.get(x.symbol)} times` });
  return { rules: rules.filter((x) => !twice.has(x.symbol)), malformed };
}

/** The canonical name a broken entry claims, when it claims a usable one. */
function listedName(entry: unknown): PairSymbol | null {
  if (entry === null || typeof entry !== 'object') return null;
  const raw = field(entry as JsonObject, 'name', 'nameNormalized');
  if (typeof raw !== 'string') return null;
  try {
    return toPairSymbol(raw);
  } catch {
    return null;
  }
}

function parseSymbolRules(s: JsonObject, r: PayloadReader, i: number): ExchangeRules {
  const at = `symbols[${i}]`;
  const symbol = safeSymbol(r, r.string(field(s, 'name', 'nameNormalized'), `${at}.name`), `${at}.name`);
  const qtyPrecision = r.integer(s['numeratorScale'], `${at}.numeratorScale`);
  const pricePrecision = r.integer(s['denominatorScale'], `${at}.denominatorScale`);
  if (qtyPrecision < 0 || qtyPrecision > 16 || pricePrecision < 0 || pricePrecision > 16) {
    r.fail(`${at}: scale out of range`);
  }
  const hasFraction = s['hasFraction'] === undefined ? true : r.boolean(s['hasFraction'], `${at}.hasFraction`);
  const filters = s['filters'] === undefined || s['filters'] === null ? [] : r.array(s['filters'], `${at}.filters`);
  const priceFilters = filters
    .map((f, j) => r.object(f, `${at}.filters[${j}]`))
    .filter((f) => (f['filterType'] === undefined || f['filterType'] === null ? 'PRICE_FILTER' : (r.text(f['filterType']) ?? '')).toUpperCase() === 'PRICE_FILTER');

  // Defect 21: a null candidate must never erase a minimum found elsewhere; take the max of the
  // non-null candidates.
  const maxOf = (values: Array<Decimal | null>): Decimal | null =>
    values.reduce<Decimal | null>((acc, v) => (v === null ? acc : acc === null || v.gt(acc) ? v : acc), null);
  const minNotional = maxOf(priceFilters.map((f, j) => r.optionalDecimal(f['minExchangeValue'], `${at}.filters[${j}].minExchangeValue`)));
  if (minNotional === null || minNotional.lte(0)) r.fail(`${at}: no positive minExchangeValue`);
  const filterTick = maxOf(priceFilters.map((f, j) => r.optionalDecimal(f['tickSize'], `${at}.filters[${j}].tickSize`)));
  const scaleTick = new Decimal(1).div(new Decimal(10).pow(pricePrecision));
  let tickSize = filterTick !== null && filterTick.gt(scaleTick) ? filterTick : scaleTick;
  if (!hasFraction && tickSize.lt(1)) tickSize = new Decimal(1);
  if (!hasFraction && !tickSize.isInteger()) tickSize = tickSize.ceil();
  const stepSize = new Decimal(1).div(new Decimal(10).pow(qtyPrecision));

  const bandMin = maxOf([
    r.optionalDecimal(s['minimumLimitOrderPrice'], `${at}.minimumLimitOrderPrice`),
    ...priceFilters.map((f, j) => r.optionalDecimal(f['minPrice'], `${at}.filters[${j}].minPrice`)),
  ]);
  const maxCandidates = [
    r.optionalDecimal(s['maximumLimitOrderPrice'], `${at}.maximumLimitOrderPrice`),
    ...priceFilters.map((f, j) => r.optionalDecimal(f['maxPrice'], `${at}.filters[${j}].maxPrice`)),
  ].filter((v): v is Decimal => v !== null && v.gt(0));
  const bandMax = maxCandidates.length === 0 ? null : Decimal.min(...maxCandidates);

  // The pair's assets decide which balance rows the bot reads: a name that says BTCTRY over an
  // ETH numerator cannot be used either way.
  const base = r.asset(s['numerator'], `${at}.numerator`);
  const quote = r.asset(s['denominator'], `${at}.denominator`);
  if (safeSymbol(r, `${base}${quote}`, `${at}.numerator/denominator`) !== symbol) {
    r.fail(`${at}: name ${symbol} does not match numerator/denominator ${base}/${quote}`);
  }
  return {
    symbol,
    base,
    quote,
    tradable: (r.text(s['status']) ?? '').trim().toUpperCase() === 'TRADING',
    tickSize,
    stepSize,
    minNotional,
    pricePrecision,
    qtyPrecision,
    minPrice: bandMin !== null && bandMin.gt(0) ? bandMin : null,
    maxPrice: bandMax,
  };
}

function safeSymbol(r: PayloadReader, raw: string, what: string): PairSymbol {
  try {
    return toPairSymbol(raw);
  } catch {
    return r.fail(`${what} is not a pair symbol`);
  }
}

// ---------------------------------------------------------------------------------------------
// Orders

// A Map, not an object literal: a status of `constructor` or `__proto__` must not find anything.
const STATUS: ReadonlyMap<string, ExchangeOrderStatus> = new Map([
  ['untouched', 'open'],
  ['partial', 'partial'],
  ['closed', 'filled'],
  ['canceled', 'canceled'],
  ['cancelled', 'canceled'],
]);

export function parseSide(r: PayloadReader, value: unknown, what: string): Side {
  const s = typeof value === 'string' ? value.trim().toLowerCase() : '';
  if (s === 'buy' || s === 'sell') return s;
  return r.fail(`${what} is not buy or sell`);
}

export function parseOrderRow(row: unknown, r: PayloadReader, at: string): OrderStatusReport {
  const o = r.object(row, at);
  const statusText = r.string(o['status'], `${at}.status`).trim().toLowerCase();
  const status = STATUS.get(statusText);
  if (status === undefined) return r.fail(`${at}.status ${JSON.stringify(statusText.slice(0, 40))} is unknown`);
  const qty = r.decimal(field(o, 'quantity', 'amount'), `${at}.quantity`);
  if (qty.lte(0)) r.fail(`${at}.quantity is not positive`);
  const leftRaw = r.optionalDecimal(o['leftAmount'], `${at}.leftAmount`);
  const leftQty = leftRaw ?? (status === 'filled' ? new Decimal(0) : qty);
  if (leftQty.lt(0) || leftQty.gt(qty)) r.fail(`${at}.leftAmount is outside 0..quantity`);
  // Zero is allowed (a market order listed without a limit price); a negative price never is.
  const price = r.decimal(o['price'], `${at}.price`);
  if (price.lt(0)) r.fail(`${at}.price is negative`);
  const time = r.optionalInteger(o['time'], `${at}.time`) ?? 0;
  const updateTime = r.optionalInteger(o['updateTime'], `${at}.updateTime`) ?? time;
  const clientId = r.optionalString(field(o, 'orderClientId'), `${at}.orderClientId`);
  return {
    exchangeOrderId: asExchangeOrderId(r.id(o['id'], `${at}.id`)),
    clientOrderId: clientId === null ? null : asClientOrderId(clientId),
    symbol: safeSymbol(r, r.string(field(o, 'pairSymbol', 'pairSymbolNormalized'), `${at}.pairSymbol`), `${at}.pairSymbol`),
    side: parseSide(r, o['type'], `${at}.type`),
    price,
    qty,
    leftQty,
    status,
    createdAtMs: time,
    updatedAtMs: updateTime,
  };
}

export function parseOpenOrders(data: unknown): OrderStatusReport[] {
  const r = new PayloadReader('openOrders');
  const root = r.object(data, 'data');
  const bids = root['bids'] === undefined || root['bids'] === null ? [] : r.array(root['bids'], 'data.bids');
  const asks = root['asks'] === undefined || root['asks'] === null ? [] : r.array(root['asks'], 'data.asks');
  return [...bids.map((o, i) => parseOrderRow(o, r, `bids[${i}]`)), ...asks.map((o, i) => parseOrderRow(o, r, `asks[${i}]`))];
}

export function parseAllOrders(data: unknown): OrderStatusReport[] {
  const r = new PayloadReader('allOrders');
  if (data === null) return [];
  return r.array(data, 'data').map((o, i) => parseOrderRow(o, r, `data[${i}]`));
}

export function parseSingleOrder(data: unknown): OrderStatusReport {
  return parseOrderRow(data, new PayloadReader('order'), 'data');
}

export interface ParsedSubmitAck {
  readonly exchangeOrderId: string;
  readonly datetime: number | null;
}

export function parseSubmitAck(data: unknown): ParsedSubmitAck {
  const r = new PayloadReader('submit order');
  const o = r.object(data, 'data');
  return { exchangeOrderId: r.id(o['id'], 'data.id'), datetime: r.optionalInteger(o['datetime'], 'data.datetime') };
}

// ---------------------------------------------------------------------------------------------
// Balances and market data

export function parseBalances(data: unknown): BalanceReport[] {
  const r = new PayloadReader('balances');
  return r.array(data, 'data').map((row, i) => {
    const b = r.object(row, `data[${i}]`);
    const locked = r.optionalDecimal(b['locked'], `data[${i}].locked`) ?? new Decimal(0);
    const freeRaw = r.optionalDecimal(b['free'], `data[${i}].free`);
    const balance = r.optionalDecimal(b['balance'], `data[${i}].balance`);
    const free = freeRaw ?? (balance !== null ? balance.minus(locked) : r.fail(`data[${i}] has neither free nor balance`));
    // A spot account cannot hold a negative amount: a negative here is a corrupt row.
    if (free.lt(0) || locked.lt(0)) r.fail(`data[${i}]: negative free or locked balance`);
    return { asset: r.asset(b['asset'], `data[${i}].asset`), free, locked };
  });
}

export function parseOrderBook(symbol: PairSymbol, data: unknown): OrderBookSnapshot {
  const r = new PayloadReader('orderbook');
  const o = r.object(data, 'data');
  const levels = (side: 'bids' | 'asks'): OrderBookLevel[] =>
    (o[side] === undefined || o[side] === null ? [] : r.array(o[side], `data.${side}`)).map((lvl, i) => {
      const pair = r.array(lvl, `data.${side}[${i}]`);
      const price = r.decimal(pair[0], `data.${side}[${i}][0]`);
      const qty = r.decimal(pair[1], `data.${side}[${i}][1]`);
      if (price.lte(0) || qty.lte(0)) r.fail(`data.${side}[${i}]: price and quantity must be positive`);
      return { price, qty };
    });
  const bids = levels('bids').sort((a, b) => b.price.comparedTo(a.price));
  const asks = levels('asks').sort((a, b) => a.price.comparedTo(b.price));
  return { symbol, bids, asks, tsMs: r.optionalInteger(o['timestamp'], 'data.timestamp') ?? 0 };
}

/**
 * Public trades (`/api/v2/trades`, reference §5.5), oldest first (ts, then tid). `tid` stays a
 * string (its own id space, possibly above 2^53); `side` is the taker's. A row of another pair is
 * a malformed answer, not something to skip.
 */
export function parsePublicTrades(symbol: PairSymbol, data: unknown): PublicTrade[] {
  const r = new PayloadReader('public trades');
  if (data === null || data === undefined) return [];
  const rows = r.array(data, 'data').map((row, i): PublicTrade => {
    const t = r.object(row, `data[${i}]`);
    const pair = t['pair'] ?? t['pairNormalized'];
    if (pair !== undefined && safeSymbol(r, r.string(pair, `data[${i}].pair`), `data[${i}].pair`) !== symbol) r.fail(`data[${i}] is not a ${symbol} trade`);
    const price = r.decimal(t['price'], `data[${i}].price`);
    const qty = r.decimal(t['amount'], `data[${i}].amount`);
    if (price.lte(0) || qty.lte(0)) r.fail(`data[${i}]: price and amount must be positive`);
    return { tradeId: r.id(t['tid'], `data[${i}].tid`), tsMs: r.integer(t['date'], `data[${i}].date`), price, qty, side: parseSide(r, t['side'], `data[${i}].side`) };
  });
  return rows.sort(compareTrades);
}

export function parseTicker(data: unknown): MarketQuote[] {
  const r = new PayloadReader('ticker');
  return r.array(data, 'data').map((row, i) => {
    const t = r.object(row, `data[${i}]`);
    const bid = r.optionalDecimal(t['bid'], `data[${i}].bid`);
    const ask = r.optionalDecimal(t['ask'], `data[${i}].ask`);
    return {
      symbol: safeSymbol(r, r.string(field(t, 'pair', 'pairNormalized'), `data[${i}].pair`), `data[${i}].pair`),
      bid: bid !== null && bid.gt(0) ? bid : null,
      ask: ask !== null && ask.gt(0) ? ask : null,
      tsMs: r.optionalInteger(t['timestamp'], `data[${i}].timestamp`) ?? 0,
    };
  });
}
