// SYMBOLS against the pairs the exchange lists, for the worker at start, `doctor`, `schedule create`
// and `stage4-run` (every cycle checks its own symbols too: src/workflows/trading-cycle.ts). A name the exchange does not list is a configuration error (exit 2): a canary
// with `SYMBOLS=FOO_TRY` would run "ok" forever and never trade. A listed pair that is not trading
// right now (maintenance) is a warning: cycles skip it until the exchange reopens it.
import { classifySymbols, describeUnlisted, type SymbolListing } from '../domain/listing.js';
import { ConfigError } from '../domain/errors.js';
import { toPairSymbol, type PairSymbol } from '../domain/types.js';
import { createBtcturkExchange } from '../exchange/btcturk/client.js';
import type { Exchange } from '../exchange/port.js';
import { validateExchangeBaseUrl } from '../settings.js';
import { redactUrl } from '../redaction.js';

/** One read of the exchange's pair list (public endpoint), classified. */
export async function readListing(exchange: Exchange, symbols: readonly PairSymbol[]): Promise<SymbolListing> {
  const { rules, malformed } = await exchange.getExchangeRules();
  // A listed pair whose entry cannot be read is listed, but not tradable until the exchange fixes it.
  const unreadable = malformed.flatMap((m) => (m.symbol === null ? [] : [{ symbol: m.symbol, tradable: false }]));
  return classifySymbols(symbols, [...rules.map((r) => ({ symbol: r.symbol, tradable: r.tradable })), ...unreadable]);
}

/** The configuration error for symbols the exchange does not list, or null. */
export function unknownSymbolsError(listing: SymbolListing): ConfigError | null {
  if (listing.unknown.length === 0) return null;
  return new ConfigError(
    'SYMBOLS',
    describeUnlisted(listing.unknown) + (listing.tradable.length + listing.notTradable.length > 0 ? ` (the other configured symbols are listed)` : ''),
  );
}

export function notTradableWarning(listing: SymbolListing): string | null {
  if (listing.notTradable.length === 0) return null;
  return `SYMBOLS: ${listing.notTradable.join(', ')} ${listing.notTradable.length === 1 ? 'is' : 'are'} listed but not trading right now; cycles skip ${listing.notTradable.length === 1 ? 'it' : 'them'} until the exchange reopens ${listing.notTradable.length === 1 ? 'it' : 'them'}`;
}

/** What happens to a symbol a starter could not check: every cycle checks its own symbols. */
const CYCLE_CHECKS = 'each cycle checks them, and a cycle with a pair the exchange does not list is blocked (outcome blocked)';

/**
 * For commands that start cycles (`schedule create`, `stage4-run`): refuse unknown symbols; warn,
 * and go on, when the pairs cannot be read (the worker checks again at start and every cycle).
 * These commands otherwise ignore the exchange variables, so a bad BTCTURK_BASE_URL is a warning.
 */
export async function checkSymbolsBeforeStart(
  symbols: readonly string[],
  env: NodeJS.ProcessEnv,
  warn: (line: string) => void,
): Promise<void> {
  const raw = env.BTCTURK_BASE_URL?.trim();
  if (!raw) {
    warn(`SYMBOLS not checked against the exchange here (BTCTURK_BASE_URL is not set): ${CYCLE_CHECKS}`);
    return;
  }
  let exchangeBaseUrl: string;
  try {
    exchangeBaseUrl = validateExchangeBaseUrl(raw);
  } catch (err) {
    warn(`SYMBOLS not checked against the exchange here (${(err as Error).message}): ${CYCLE_CHECKS}`);
    return;
  }
  const exchange = createBtcturkExchange({ baseUrl: exchangeBaseUrl, timeoutMs: 5_000, retry: { maxAttempts: 1 } });
  let listing: SymbolListing;
  try {
    listing = await readListing(exchange, symbols.map(toPairSymbol));
  } catch (err) {
    warn(`SYMBOLS not checked: the exchange's pairs could not be read from ${redactUrl(exchangeBaseUrl)} (${(err as Error).message.split('\n')[0]}); ${CYCLE_CHECKS}`);
    return;
  } finally {
    await exchange.close();
  }
  const unknown = unknownSymbolsError(listing);
  if (unknown) throw unknown;
  const notTradable = notTradableWarning(listing);
  if (notTradable) warn(notTradable);
}
