// Configured symbols against what the exchange lists: pure, so the worker, `doctor` and
// `schedule create` decide the same way.
import type { PairSymbol } from './types.js';

export interface ListedPair {
  readonly symbol: PairSymbol;
  /** Listed with status TRADING (false during maintenance or a delisting). */
  readonly tradable: boolean;
}

export interface SymbolListing {
  /** Not listed at all: a typo or a delisted pair. A configuration error. */
  readonly unknown: readonly PairSymbol[];
  /** Listed but not trading right now: cycles skip them until the exchange reopens them. */
  readonly notTradable: readonly PairSymbol[];
  readonly tradable: readonly PairSymbol[];
}

export function classifySymbols(symbols: readonly PairSymbol[], listed: readonly ListedPair[]): SymbolListing {
  const bySymbol = new Map(listed.map((p) => [p.symbol, p]));
  const unknown: PairSymbol[] = [];
  const notTradable: PairSymbol[] = [];
  const tradable: PairSymbol[] = [];
  for (const s of symbols) {
    const pair = bySymbol.get(s);
    if (!pair) unknown.push(s);
    else if (!pair.tradable) notTradable.push(s);
    else tradable.push(s);
  }
  return { unknown, notTradable, tradable };
}

/** `FOOTRY is not a pair the exchange lists`: the same words from the worker, the starters and the cycle. */
export function describeUnlisted(unknown: readonly string[]): string {
  return `${unknown.join(', ')} ${unknown.length === 1 ? 'is not a pair' : 'are not pairs'} the exchange lists`;
}
