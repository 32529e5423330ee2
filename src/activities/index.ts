// Activities: one thin function per step. They call the exchange and the store, call the domain,
// and return small plain data. Dependencies are injected so tests can point them at a simulator
// and a fresh database.
import type { Exchange } from '../exchange/port.js';
import { toDecimalString } from '../domain/decimal.js';
import { toPairSymbol } from '../domain/types.js';
import { recordCycleAudit, type CycleAuditRecord } from '../store/audit.js';
import type { Pool } from '../store/db.js';
import type { MarketSnapshot } from '../workflows/types.js';

export interface ActivityDeps {
  pool: Pool;
  exchange: Pick<Exchange, 'getExchangeRules'>;
}

export function createActivities(deps: ActivityDeps) {
  return {
    /** Exchange rules for the configured symbols (GET /api/v2/server/exchangeinfo). */
    async fetchMarket({ symbols }: { symbols: string[] }): Promise<MarketSnapshot> {
      const all = await deps.exchange.getExchangeRules();
      const bySymbol = new Map(all.map((r) => [r.symbol as string, r]));
      const wanted = symbols.map(toPairSymbol);
      const rules = wanted.flatMap((s) => {
        const r = bySymbol.get(s);
        return r
          ? [{
              symbol: r.symbol, base: r.base, quote: r.quote, tradable: r.tradable,
              tickSize: toDecimalString(r.tickSize), stepSize: toDecimalString(r.stepSize),
              minNotional: toDecimalString(r.minNotional),
            }]
          : [];
      });
      const unavailable = wanted.filter((s) => !bySymbol.get(s)?.tradable);
      return { pairsListed: all.length, rules, unavailable };
    },

    /** The cycle's audit row; idempotent by cycle id. */
    async recordAudit(record: CycleAuditRecord): Promise<{ inserted: boolean }> {
      return recordCycleAudit(deps.pool, record);
    },
  };
}
