// Market step: exchange rules (cached across cycles), marks, TRY balance, open orders per symbol.
// A failing symbol is reported as failed, never as "no orders" (defect 2).
import { Decimal, ZERO } from '../domain/decimal.js';
import { tradingConfigFromWire, balanceToWire, orderReportToWire, quoteToWire, rulesToWire } from '../domain/wire.js';
import { markFromQuote } from '../domain/market.js';
import { paperTryBalance } from '../domain/risk.js';
import { LIVE_STATES } from '../domain/lifecycle.js';
import { toPairSymbol, type ExchangeRules } from '../domain/types.js';
import { listOrders } from '../store/orders.js';
import type { MarketInput, MarketSnapshot, SymbolOpenOrdersWire } from '../workflows/types.js';
import type { ActivityDeps } from './deps.js';

export function marketActivities(deps: ActivityDeps) {
  const now = deps.now ?? Date.now;
  let rulesCache: { atMs: number; rules: ExchangeRules[] } | null = null;

  async function rules(ttlSec: number): Promise<ExchangeRules[]> {
    if (rulesCache && now() - rulesCache.atMs < ttlSec * 1000) return rulesCache.rules;
    const fresh = await deps.exchange.getExchangeRules();
    rulesCache = { atMs: now(), rules: fresh };
    return fresh;
  }

  async function tryBalanceOf(privateReads: boolean, paperBalance: Decimal): Promise<{ free: Decimal; locked: Decimal }> {
    if (privateReads) {
      // A failed balance read fails the step (and is retried); it never falls back to a made-up
      // balance in live mode (defect 8).
      const balances = await deps.exchange.getBalances();
      const row = balances.find((b) => b.asset.toUpperCase() === 'TRY');
      return { free: row?.free ?? ZERO, locked: row?.locked ?? ZERO };
    }
    return paperTryBalance(paperBalance, await listOrders(deps.pool, { modes: ['dry_run'], states: [...LIVE_STATES] }));
  }

  return {
    async fetchMarket(input: MarketInput): Promise<MarketSnapshot> {
      const config = tradingConfigFromWire(input.config);
      const symbols = input.symbols.map(toPairSymbol);
      const all = await rules(config.rulesCacheTtlSec);
      const bySymbol = new Map(all.map((r) => [r.symbol, r]));
      const listed = symbols.filter((s) => bySymbol.get(s)?.tradable);
      const unavailable = symbols.filter((s) => !bySymbol.get(s)?.tradable);

      const privateReads = input.hasCredentials;
      // Quotes, balance and open orders are independent reads: issued together (the client's rate
      // limiter keeps them within BTCTurk's per-endpoint quotas).
      const [quotes, tryBalance, openOrders] = await Promise.all([
        Promise.all(
          listed.map(async (s) => {
            try {
              return { symbol: s, quote: await deps.exchange.getQuote(s), error: null };
            } catch (err) {
              return { symbol: s, quote: null, error: (err as Error).name };
            }
          }),
        ),
        tryBalanceOf(privateReads, config.dryRunTryBalance),
        Promise.all(
          listed.map(async (s): Promise<SymbolOpenOrdersWire> => {
            if (!privateReads) return { symbol: s, status: 'ok', orders: [] };
            try {
              return { symbol: s, status: 'ok', orders: (await deps.exchange.getOpenOrders(s)).map(orderReportToWire) };
            } catch (err) {
              return { symbol: s, status: 'failed', error: (err as Error).name };
            }
          }),
        ),
      ]);
      const markFailures = quotes.flatMap((q) => {
        if (q.quote === null) return [{ symbol: q.symbol as string, reason: `quote_failed:${q.error}` }];
        const { anomaly } = markFromQuote(q.quote);
        return anomaly ? [{ symbol: q.symbol as string, reason: anomaly }] : [];
      });

      return {
        pairsListed: all.length,
        rules: listed.map((s) => rulesToWire(bySymbol.get(s)!)),
        quotes: quotes.flatMap((q) => (q.quote ? [quoteToWire(q.quote)] : [])),
        unlisted: symbols.filter((s) => !bySymbol.has(s)),
        markFailures,
        unavailable,
        tryBalance: balanceToWire({ asset: 'TRY', ...tryBalance }),
        balanceSource: privateReads ? 'exchange' : 'paper',
        openOrders,
      };
    },
  };
}
