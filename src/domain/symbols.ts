// One canonical symbol type (`BTCTRY`), made only by `toPairSymbol` at the boundary. Every map in
// the domain is keyed by PairSymbol, so the original's `BTC_TRY` vs `BTCTRY` lookups cannot recur.
import { InvalidSymbolError, toPairSymbol, type PairSymbol } from './types.js';

export { InvalidSymbolError, toPairSymbol, type PairSymbol };

/** The asset codes of a pair, upper-case. */
export interface PairAssets {
  readonly base: string;
  readonly quote: string;
}

/**
 * Split a canonical symbol by a known quote suffix (`BTCTRY` → BTC/TRY). Returns null when the
 * symbol does not end in the quote or nothing is left for the base: the caller decides what that means.
 */
export function splitPair(symbol: PairSymbol, quote = 'TRY'): PairAssets | null {
  const q = quote.toUpperCase();
  if (!symbol.endsWith(q) || symbol.length === q.length) return null;
  return { base: symbol.slice(0, symbol.length - q.length), quote: q };
}

/** The canonical symbol of `base`/`quote`, e.g. (`usdt`, `TRY`) → `USDTTRY`. */
export function pairOf(base: string, quote: string): PairSymbol {
  return toPairSymbol(`${base}${quote}`);
}

/** Canonicalise a list once, keeping first occurrences in order (duplicates would double work). */
export function uniqueSymbols(raw: readonly string[]): PairSymbol[] {
  const seen = new Set<PairSymbol>();
  for (const r of raw) seen.add(toPairSymbol(r));
  return [...seen];
}

/** Deterministic order for iteration and audit output. */
export function compareSymbols(a: PairSymbol, b: PairSymbol): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The worker decides what it trades: of the symbols a cycle asks for (in the starter's order,
 * deduped), those the worker configures, and the rest as given (an unparseable one included),
 * to be reported and skipped. Never throws: a starter's bad input must not stall the workflow.
 */
export function configuredSymbols(
  requested: readonly string[],
  configured: readonly string[],
): { trade: PairSymbol[]; notConfigured: string[] } {
  const mine = new Set(configured.map(toPairSymbol));
  const trade = new Set<PairSymbol>();
  const notConfigured: string[] = [];
  for (const raw of requested) {
    let symbol: PairSymbol | null = null;
    try {
      symbol = toPairSymbol(raw);
    } catch (err) {
      if (!(err instanceof InvalidSymbolError)) throw err;
    }
    if (symbol !== null && mine.has(symbol)) trade.add(symbol);
    else if (!notConfigured.includes(symbol ?? raw)) notConfigured.push(symbol ?? raw);
  }
  return { trade: [...trade], notConfigured };
}
