// Mark prices from top of book. A crossed or empty book gives no mark: the symbol sits out the cycle
// rather than trading on a price we do not trust.
import { Decimal } from './decimal.js';
import type { MarketQuote, PairSymbol } from './types.js';

export type MarkAnomaly = 'crossed_book' | 'no_price';

export function markFromQuote(q: MarketQuote): { mark: Decimal | null; anomaly: MarkAnomaly | null } {
  const bid = q.bid !== null && q.bid.gt(0) ? q.bid : null;
  const ask = q.ask !== null && q.ask.gt(0) ? q.ask : null;
  if (bid !== null && ask !== null) {
    if (ask.lt(bid)) return { mark: null, anomaly: 'crossed_book' };
    return { mark: bid.add(ask).div(2), anomaly: null };
  }
  const one = bid ?? ask;
  return one === null ? { mark: null, anomaly: 'no_price' } : { mark: one, anomaly: null };
}

/** Marks keyed by canonical symbol, plus the symbols whose book was unusable. */
export function marksFromQuotes(quotes: readonly MarketQuote[]): {
  marks: Map<PairSymbol, Decimal>;
  anomalies: Map<PairSymbol, MarkAnomaly>;
} {
  const marks = new Map<PairSymbol, Decimal>();
  const anomalies = new Map<PairSymbol, MarkAnomaly>();
  for (const q of quotes) {
    const r = markFromQuote(q);
    if (r.mark !== null) marks.set(q.symbol, r.mark);
    else if (r.anomaly !== null) anomalies.set(q.symbol, r.anomaly);
  }
  return { marks, anomalies };
}
