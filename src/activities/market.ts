// Market step: exchange rules (cached across cycles), marks, balances, open orders per symbol.
// A failing symbol is reported as failed, never as "no orders" (defect 2), and with its cause. A
// malformed pair in exchange info fails only itself, and only if configured. A failed balance read
// fails nothing: the cycle runs without buys and without a PnL snapshot, and its cancels still go.
// A balances answer without a TRY row is such a failed read; one without a base asset's row leaves
// that asset unknown this cycle (never read as zero). The read is timestamped: the accounting step
// compares it with the fills up to that moment.
import type { Decimal } from '../domain/decimal.js';
import type { SymbolFailure } from '../domain/failures.js';
import { tradingConfigFromWire, balanceToWire, orderReportToWire, quoteToWire, rulesToWire } from '../domain/wire.js';
import { markFromQuote } from '../domain/market.js';
import { paperTryBalance } from '../domain/risk.js';
import { LIVE_STATES } from '../domain/lifecycle.js';
import { toPairSymbol, type BalanceReport, type PairSymbol } from '../domain/types.js';
import { AuthenticationError, ExchangeConfigError, MalformedResponseError } from '../exchange/errors.js';
import type { ExchangeRulesReport } from '../exchange/port.js';
import { listOrders } from '../store/orders.js';
import type { MarketInput, MarketSnapshot, SymbolOpenOrdersWire } from '../workflows/types.js';
import type { ActivityDeps } from './deps.js';
import { symbolFailure } from './errors.js';

/** Accounting is in TRY: a pair quoted in anything else cannot be booked (cost, fees, limits). */
const ACCOUNTING_QUOTE = 'TRY';

export function marketActivities(deps: ActivityDeps) {
  const now = deps.now ?? Date.now;
  let rulesCache: { atMs: number; report: ExchangeRulesReport } | null = null;

  async function rules(ttlSec: number): Promise<ExchangeRulesReport> {
    if (rulesCache && now() - rulesCache.atMs < ttlSec * 1000) return rulesCache.report;
    const fresh = await deps.exchange.getExchangeRules();
    rulesCache = { atMs: now(), report: fresh };
    return fresh;
  }

  /**
   * Every balance row with the moment the answer arrived, or the read's failure. Never a made-up
   * balance in live mode (defect 8): an answer without a TRY row is a failed read.
   */
  async function balances(
    privateReads: boolean,
    paperBalance: Decimal,
  ): Promise<{ rows: BalanceReport[]; atMs: number; error: null } | { rows: null; atMs: null; error: unknown }> {
    if (!privateReads) {
      const paper = paperTryBalance(paperBalance, await listOrders(deps.pool, { modes: ['dry_run'], states: [...LIVE_STATES] }));
      return { rows: [{ asset: 'TRY', ...paper }], atMs: now(), error: null };
    }
    try {
      const rows = await deps.exchange.getBalances();
      // A trade in the request's flight may be on either side of this moment; the drift check reports that remainder.
      const atMs = now();
      if (!rows.some((b) => b.asset.toUpperCase() === ACCOUNTING_QUOTE)) {
        return { rows: null, atMs: null, error: new MalformedResponseError(`balances: the answer lists no ${ACCOUNTING_QUOTE} row (${rows.length} rows)`) };
      }
      return { rows, atMs, error: null };
    } catch (err) {
      // Wrong credentials or configuration is no passing outage: every private call would fail.
      if (err instanceof AuthenticationError || err instanceof ExchangeConfigError) throw err;
      return { rows: null, atMs: null, error: err };
    }
  }

  return {
    async fetchMarket(input: MarketInput): Promise<MarketSnapshot> {
      const config = tradingConfigFromWire(input.config);
      const symbols = input.symbols.map(toPairSymbol);
      const report = await rules(config.rulesCacheTtlSec);
      const bySymbol = new Map(report.rules.map((r) => [r.symbol, r]));
      const failures: SymbolFailure[] = [];
      const notes = report.malformed.map((m) => `pair_skipped:${m.symbol ?? '?'}:${m.reason}`);
      const unavailable: PairSymbol[] = [];
      for (const s of symbols) {
        const r = bySymbol.get(s);
        const broken = report.malformed.find((m) => m.symbol === s);
        if (r?.tradable && r.quote === ACCOUNTING_QUOTE) continue;
        unavailable.push(s);
        if (broken !== undefined && r === undefined) failures.push({ symbol: s, step: 'rules', errorClass: 'MalformedResponseError', message: broken.reason });
        else if (r !== undefined && r.quote !== ACCOUNTING_QUOTE) notes.push(`symbol_unsupported:${s}:quote=${r.quote}`);
      }
      const listed = symbols.filter((s) => !unavailable.includes(s));

      const privateReads = input.hasCredentials;
      // Quotes, balances and open orders are independent reads: issued together (the client's rate
      // limiter keeps them within BTCTurk's per-endpoint quotas).
      const [quotes, balance, openOrders] = await Promise.all([
        Promise.all(
          listed.map(async (s) => {
            try {
              return { symbol: s, quote: await deps.exchange.getQuote(s), error: null };
            } catch (err) {
              return { symbol: s, quote: null, error: err };
            }
          }),
        ),
        balances(privateReads, config.dryRunTryBalance),
        Promise.all(
          listed.map(async (s): Promise<SymbolOpenOrdersWire> => {
            if (!privateReads) return { symbol: s, status: 'ok', orders: [] };
            try {
              return { symbol: s, status: 'ok', orders: (await deps.exchange.getOpenOrders(s)).map(orderReportToWire) };
            } catch (err) {
              failures.push(symbolFailure(s, 'open_orders', err));
              return { symbol: s, status: 'failed', error: (err as Error).name };
            }
          }),
        ),
      ]);
      const markFailures = quotes.flatMap((q) => {
        if (q.quote === null) {
          failures.push(symbolFailure(q.symbol, 'mark', q.error));
          return [{ symbol: q.symbol as string, reason: `quote_failed:${(q.error as Error).name}` }];
        }
        const { anomaly } = markFromQuote(q.quote);
        return anomaly ? [{ symbol: q.symbol as string, reason: anomaly }] : [];
      });
      if (balance.rows === null) failures.push(symbolFailure('*', 'balances', balance.error));
      const row = (asset: string) => balance.rows?.find((b) => b.asset.toUpperCase() === asset);
      const tryRow = row('TRY');
      const bases = [...new Set(listed.map((s) => bySymbol.get(s)!.base))].sort();

      return {
        pairsListed: report.rules.length + report.malformed.length,
        rules: listed.map((s) => rulesToWire(bySymbol.get(s)!)),
        quotes: quotes.flatMap((q) => (q.quote ? [quoteToWire(q.quote)] : [])),
        // Not in the list at all (a malformed entry is listed: it fails only itself, above).
        unlisted: symbols.filter((s) => !bySymbol.has(s) && !report.malformed.some((m) => m.symbol === s)),
        markFailures,
        unavailable,
        tryBalance: tryRow === undefined ? null : balanceToWire({ asset: 'TRY', free: tryRow.free, locked: tryRow.locked }),
        // An asset the answer does not list is unknown this cycle, not zero: it is left out.
        baseBalances: !privateReads ? [] : bases.flatMap((asset) => {
          const b = row(asset);
          return b === undefined ? [] : [balanceToWire({ ...b, asset })];
        }),
        balancesAtMs: balance.atMs,
        balanceSource: privateReads ? 'exchange' : 'paper',
        openOrders,
        failures: failures.sort((a, b) => (a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : a.step < b.step ? -1 : 1)),
        notes,
      };
    },
  };
}
