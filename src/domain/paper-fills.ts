// The paper fill model: when a dry-run (paper) limit order would have filled on the real market,
// judged only from public trades the exchange printed after the order was placed. Pure.
//
// - Trade through: a public trade strictly better than our limit (below a paper buy's price, above a
//   paper sell's). Under price-time priority the market could not print there without taking our
//   resting order first, so the trade's volume fills us, up to what the order has left.
// - Touch: a trade exactly at our price fills nothing. We would join the queue at that price last,
//   and a public trade does not say how much of the queue ahead of us it consumed: assuming none
//   of it reached us is the conservative reading.
// - Partial fills: each trade's volume is used once, across our orders in price-time priority (best
//   limit first, then the oldest), and cumulatively until each order's quantity is done. Never more
//   than the order's quantity, never more than the volume traded through it.
// - Price and fee: a resting limit order fills at its own price, as maker: fee = notional × maker
//   bps, VAT on the fee, each rounded to 8 decimals as BTCTurk reports them (reference §6.7), in the
//   quote asset. These fills then go through the same accounting as live fills.
// - Only trades after the order was created count, and each trade only once: a trade id repeated in
//   a page is one trade, and the cursor skips what an earlier look used. The public
//   trades endpoint returns at most 50 rows: when a full page does not reach back to where we last
//   looked, trades may have been missed. That is reported (`gap`), and nothing is invented for them.
import { Decimal, toDecimalString, ZERO } from './decimal.js';
import { asFillId, type ClientOrderId, type ExchangeOrderId, type FillReport, type PairSymbol, type Side } from './types.js';

/** One row of the public trades tape (`GET /api/v2/trades`). `side` is the taker's side. */
export interface PublicTrade {
  readonly tradeId: string;
  readonly tsMs: number;
  readonly price: Decimal;
  readonly qty: Decimal;
  readonly side: Side;
}

/** The newest public trade already looked at, per symbol. */
export interface TradesCursor {
  readonly tsMs: number;
  readonly tradeId: string;
}

export interface PaperOrder {
  readonly clientOrderId: ClientOrderId;
  /** The simulated id the order was given (`sim-<client id>`). */
  readonly exchangeOrderId: ExchangeOrderId;
  readonly symbol: PairSymbol;
  readonly side: Side;
  readonly price: Decimal;
  readonly qty: Decimal;
  /** What is still unfilled. */
  readonly leftQty: Decimal;
  readonly createdAtMs: number;
}

export interface PaperFees {
  /** FEE_BPS_MAKER: a resting order fills as maker. */
  readonly makerBps: Decimal;
  /** VAT charged on top of the fee (BTCTurk's `tax`). */
  readonly taxRate: Decimal;
  /** The asset fees are charged in: the pair's quote (TRY). */
  readonly feeAsset: string;
}

export interface PaperFillInput {
  readonly symbol: PairSymbol;
  /** Working paper orders of `symbol` (open or partly filled). */
  readonly orders: readonly PaperOrder[];
  /** The page of public trades just read, in any order. */
  readonly trades: readonly PublicTrade[];
  readonly cursor: TradesCursor | null;
  /** The page size asked for: a page this full may not reach back to the cursor. */
  readonly pageLimit: number;
  readonly fees: PaperFees;
}

/** A paper fill: a fill report for accounting, and the public trade that caused it. */
export interface PaperFill extends FillReport {
  readonly clientOrderId: ClientOrderId;
  readonly publicTradeId: string;
}

export interface PaperFillResult {
  /** Paper fills, chronological, ready for accounting. */
  readonly fills: readonly PaperFill[];
  /** Where the next look starts: the newest trade seen (never older than the cursor). */
  readonly cursor: TradesCursor | null;
  /** Trades newer than the cursor in this page. */
  readonly newTrades: number;
  /** True when trades may have happened that this page does not show. */
  readonly gap: boolean;
}

const BPS = new Decimal(10_000);
/** BTCTurk reports fee and tax with 8 decimals. */
export const FEE_SCALE = 8;

/** Numeric trade ids compare as integers (by length, then text), others as text after them. */
function compareTradeIds(a: string, b: string): number {
  const an = /^\d+$/.test(a);
  const bn = /^\d+$/.test(b);
  if (an && bn) return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
  if (an !== bn) return an ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

export function compareTrades(a: TradesCursor, b: TradesCursor): number {
  return a.tsMs - b.tsMs || compareTradeIds(a.tradeId, b.tradeId);
}

/** Fee and VAT of one maker fill, as the exchange charges them. */
export function paperFee(notional: Decimal, fees: PaperFees): { fee: Decimal; tax: Decimal } {
  const fee = notional.mul(fees.makerBps).div(BPS).toDecimalPlaces(FEE_SCALE, Decimal.ROUND_HALF_UP);
  const tax = fee.mul(fees.taxRate).toDecimalPlaces(FEE_SCALE, Decimal.ROUND_HALF_UP);
  return { fee, tax };
}

/** A paper fill's id: one per (order, public trade), so a re-run of the same look dedupes. */
export function paperFillId(clientOrderId: ClientOrderId, tradeId: string): string {
  return `paper-${clientOrderId}-${tradeId}`;
}

/** Whether `trade` is strictly better than `order`'s limit (a touch is not). */
export function tradesThrough(order: Pick<PaperOrder, 'side' | 'price'>, trade: Pick<PublicTrade, 'price'>): boolean {
  return order.side === 'buy' ? trade.price.lt(order.price) : trade.price.gt(order.price);
}

/** Price-time priority among our own orders: best limit first, then the oldest, then the id. */
function priority(a: PaperOrder, b: PaperOrder): number {
  const byPrice = a.side === 'buy' ? b.price.comparedTo(a.price) : a.price.comparedTo(b.price);
  return byPrice || a.createdAtMs - b.createdAtMs || (a.clientOrderId < b.clientOrderId ? -1 : a.clientOrderId > b.clientOrderId ? 1 : 0);
}

/** The page oldest first, each trade id once (a page can repeat a row: the first one stands). */
function uniqueTape(trades: readonly PublicTrade[]): PublicTrade[] {
  const byId = new Map<string, PublicTrade>();
  for (const t of trades) if (!byId.has(t.tradeId)) byId.set(t.tradeId, t);
  return [...byId.values()].sort(compareTrades);
}

export function simulatePaperFills(input: PaperFillInput): PaperFillResult {
  const tape = uniqueTape(input.trades);
  const fresh = input.cursor === null ? tape : tape.filter((t) => compareTrades(t, input.cursor!) > 0);
  const newest = tape.at(-1);
  const cursor = newest === undefined || (input.cursor !== null && compareTrades(newest, input.cursor) <= 0) ? input.cursor : { tsMs: newest.tsMs, tradeId: newest.tradeId };

  // Where this look has to reach back to: the later of the last look and the oldest working order
  // (a trade before every order was placed fills nothing, so missing it is no gap; a cursor left
  // from looks long before the orders existed would otherwise report one on every first look).
  const oldestOrder = input.orders.length === 0 ? null : { tsMs: Math.min(...input.orders.map((o) => o.createdAtMs)), tradeId: '' };
  const since = input.cursor === null ? oldestOrder : oldestOrder === null || compareTrades(input.cursor, oldestOrder) >= 0 ? input.cursor : oldestOrder;
  const oldest = tape[0];
  const gap = since !== null && oldest !== undefined && tape.length >= input.pageLimit && compareTrades(oldest, since) > 0;

  const left = new Map(input.orders.map((o) => [o.clientOrderId as string, o.leftQty]));
  const ordered = [...input.orders].filter((o) => o.symbol === input.symbol).sort(priority);
  const fills: PaperFill[] = [];
  for (const t of fresh) {
    let volume = t.qty;
    for (const o of ordered) {
      if (volume.lte(0)) break;
      const remaining = left.get(o.clientOrderId)!;
      if (remaining.lte(0) || t.tsMs <= o.createdAtMs || !tradesThrough(o, t)) continue;
      const qty = Decimal.min(remaining, volume);
      volume = volume.sub(qty);
      left.set(o.clientOrderId, remaining.sub(qty));
      const { fee, tax } = paperFee(o.price.mul(qty), input.fees);
      fills.push({
        fillId: asFillId(paperFillId(o.clientOrderId, t.tradeId)),
        exchangeOrderId: o.exchangeOrderId,
        clientOrderId: o.clientOrderId,
        symbol: o.symbol,
        side: o.side,
        price: o.price,
        qty,
        fee,
        tax,
        feeAsset: input.fees.feeAsset,
        tsMs: t.tsMs,
        publicTradeId: t.tradeId,
      });
    }
  }
  return { fills, cursor, newTrades: fresh.length, gap };
}

/** The paper ledger as stored when a look's fills are about to land (read under its lock). */
export interface StoredPaperLedger {
  /** The newest public trade already used by a look. */
  readonly cursor: TradesCursor | null;
  /** Per working order (client order id): its quantity less the paper fills stored for it. */
  readonly leftQty: ReadonlyMap<string, Decimal>;
}

export interface BoundedPaperFills {
  readonly fills: readonly PaperFill[];
  /** Fills not applied: their trade is at or before the stored cursor, or their order is already filled. */
  readonly dropped: number;
  readonly notes: readonly string[];
}

/**
 * A look's new fills held against the ledger as stored, not as the look read it: a look computed
 * from a stale read (a raced or retried look) must not use a trade another look already used, nor
 * fill an order past its quantity. A fill beyond what its order has left is cut to that, with the
 * fee and VAT of the quantity kept. `fills` are fills not yet in the ledger.
 */
export function boundPaperFills(fills: readonly PaperFill[], stored: StoredPaperLedger, fees: PaperFees): BoundedPaperFills {
  const left = new Map(stored.leftQty);
  const kept: PaperFill[] = [];
  const notes: string[] = [];
  let dropped = 0;
  const tradeOf = (f: PaperFill): TradesCursor => ({ tsMs: f.tsMs, tradeId: f.publicTradeId });
  for (const f of [...fills].sort((a, b) => compareTrades(tradeOf(a), tradeOf(b)))) {
    const remaining = left.get(f.clientOrderId) ?? ZERO;
    const seen = stored.cursor !== null && compareTrades(tradeOf(f), stored.cursor) <= 0;
    if (seen || remaining.lte(0)) {
      dropped += 1;
      notes.push(`paper_fill_dropped:${f.fillId}:${seen ? 'trade_already_used' : 'order_already_filled'}`);
      continue;
    }
    if (f.qty.lte(remaining)) {
      kept.push(f);
      left.set(f.clientOrderId, remaining.sub(f.qty));
      continue;
    }
    kept.push({ ...f, qty: remaining, ...paperFee(f.price.mul(remaining), fees) });
    notes.push(`paper_fill_capped:${f.fillId}:${toDecimalString(remaining)}`);
    left.set(f.clientOrderId, ZERO);
  }
  return { fills: kept, dropped, notes };
}
