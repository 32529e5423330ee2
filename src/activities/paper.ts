// The dry-run path of the market and accounting steps: a paper venue over the real market.
//
// Market (dry run): before anything is read for planning, the paper orders are matched against the
// public trades printed since the last look (domain/paper-fills.ts), and the fills land in the
// paper ledger together with the orders' new states. So reconcile, risk and the plan see the
// orders, positions and cash as they are after those fills, as a live cycle sees the exchange's.
// What the paper ledger notes (dropped or cut fills, duplicate conflicts) goes into the snapshot's
// notes, and so into the audit; a paper oversell is an integrity alert and its symbol sits out.
// The plan's TRY balance is paper cash (its start plus the paper fills' cash flows), less what
// working paper buys hold. A symbol whose public trades could not be read sits the cycle out, like
// a symbol whose open orders could not be read in a live cycle.
//
// Accounting (dry run): first the real account (./accounting.ts): with credentials, the account's
// new real fills are ingested into the live ledger, which is the real account's record whoever
// traded; a poll that finds nothing new writes nothing, so the live rows stay byte-for-byte as
// they were unless the account really traded. Then the paper positions and a PnL snapshot of the
// paper ledger, under mode dry_run (its own high-water mark): the live high-water mark and the
// live PnL snapshots are never written by a dry run. The plan sees the paper positions; the real
// account's ingest shows in the counts (fills_*) and in what it found this cycle (an opening, a
// fill it could not apply: a new quarantine and its integrity alert); the live ledger's standing
// quarantines, drift and failed polls stay the live cycles' story (status, positions) and block
// no paper order.
import { activityInfo } from '@temporalio/activity';
import type { TradingConfig } from '../domain/config.js';
import { AccountingIntegrityError, ConfigError } from '../domain/errors.js';
import { Decimal, ZERO } from '../domain/decimal.js';
import { LIVE_STATES } from '../domain/lifecycle.js';
import { markFromQuote } from '../domain/market.js';
import { simulatePaperFills, type PaperFees } from '../domain/paper-fills.js';
import { DEFAULT_FEE_TAX_RATE, paperTryBalance } from '../domain/risk.js';
import { balanceToWire, positionToWire, quoteFromWire, tradingConfigFromWire } from '../domain/wire.js';
import { toPairSymbol, type PairSymbol } from '../domain/types.js';
import { PUBLIC_TRADES_LIMIT } from '../exchange/port.js';
import { listOrders } from '../store/orders.js';
import {
  getPaperAccount, getPaperCursor, ingestPaperFills, listPaperPositions, paperCashTry, paperCycleSummary, startPaperAccount,
  type PaperAccount,
} from '../store/paper.js';
import type { AccountingInput, AccountingResult, MarketInput, MarketSnapshot, SymbolOpenOrdersWire } from '../workflows/types.js';
import type { ActivityDeps } from './deps.js';
import { snapshotPnl } from './pnl-snapshot.js';

interface Steps {
  fetchMarket(input: MarketInput): Promise<MarketSnapshot>;
  syncFillsAndPnl(input: AccountingInput): Promise<AccountingResult>;
}

/** A real-account note a dry run reports: what its own ingest did, not the ledger's standing state. */
const isNewsOfThisIngest = (note: string): boolean => /^(integrity|fee_conversion_missing|opening_inferred|opening_zero|duplicate_fill_conflict):/.test(note);

/** The market and accounting activities, taking the paper path in dry runs. */
export function paperActivities(deps: ActivityDeps, live: Steps): Steps {
  const now = deps.now ?? Date.now;

  /** The paper account, started on first use: PAPER_START=fixed or a one-time snapshot of real TRY. */
  async function paperAccount(config: TradingConfig): Promise<PaperAccount> {
    const existing = await getPaperAccount(deps.pool);
    if (existing) return existing;
    let startTry = config.dryRunTryBalance;
    if (config.paperStart === 'snapshot') {
      if (!deps.hasCredentials) throw new ConfigError('PAPER_START', 'snapshot needs API credentials on the worker to read the real TRY balance');
      const row = (await deps.exchange.getBalances()).find((b) => b.asset.toUpperCase() === 'TRY');
      startTry = (row?.free ?? ZERO).add(row?.locked ?? ZERO);
    }
    // Two workers starting it at once: the first start stands (never replaced, never mixed); the
    // other's is dropped, and said so when it differs (another DRY_RUN_TRY_BALANCE or PAPER_START).
    const { account, created } = await startPaperAccount(deps.pool, { startTry, source: config.paperStart, nowMs: now() });
    if (!created && (!account.startTry.eq(startTry) || account.source !== config.paperStart)) {
      deps.logger?.warn(
        { event: 'paper_start_discarded', kept_start_try: account.startTry.toFixed(), kept_source: account.source, discarded_start_try: startTry.toFixed(), discarded_source: config.paperStart },
        'paper ledger already started by another worker: its start stands',
      );
    }
    return account;
  }

  /**
   * Match every working paper order against the public trades since the last look. `failed`: the
   * symbols that sit the cycle out, with why (trades unreadable, or a paper oversell: the rest go
   * on, as a live oversell quarantines only its symbol); `notes`: what the paper ledger noted.
   */
  async function matchPaperOrders(
    symbols: readonly PairSymbol[], config: TradingConfig, cycleId: string | null, nowMs: number,
  ): Promise<{ failed: Map<PairSymbol, string>; notes: string[] }> {
    const working = await listOrders(deps.pool, { modes: ['dry_run'], states: ['open', 'partial'] });
    const fees: PaperFees = { makerBps: config.feeBpsMaker, taxRate: DEFAULT_FEE_TAX_RATE, feeAsset: 'TRY' };
    const failed = new Map<PairSymbol, string>();
    const notes: string[] = [];
    const withOrders = symbols.filter((s) => working.some((o) => o.symbol === s));
    const looks = await Promise.all(
      withOrders.map(async (symbol) => {
        try {
          return { symbol, cursor: await getPaperCursor(deps.pool, symbol), trades: await deps.exchange.getPublicTrades(symbol, PUBLIC_TRADES_LIMIT) };
        } catch (err) {
          failed.set(symbol, `public_trades:${(err as Error).name}`);
          return null;
        }
      }),
    );
    for (const look of looks) {
      if (look === null) continue;
      const orders = working
        .filter((o) => o.symbol === look.symbol && o.clientOrderId !== null && o.exchangeOrderId !== null)
        .map((o) => ({ ...o, clientOrderId: o.clientOrderId!, exchangeOrderId: o.exchangeOrderId! }));
      const model = simulatePaperFills({ symbol: look.symbol, orders, trades: look.trades, cursor: look.cursor, pageLimit: PUBLIC_TRADES_LIMIT, fees });
      try {
        const ingested = await ingestPaperFills(deps.pool, { symbol: look.symbol, fills: model.fills, marks: new Map(), cursor: model.cursor, gap: model.gap, cycleId, nowMs, fees });
        notes.push(...ingested.notes);
      } catch (err) {
        if (!(err instanceof AccountingIntegrityError)) throw err;
        // Nothing of this look was written; the symbol sits out until the books add up.
        failed.set(look.symbol, `paper_accounting:${err.message}`);
        notes.push(`integrity:${err.message}`);
      }
    }
    return { failed, notes };
  }

  async function paperBalance(account: PaperAccount): Promise<{ free: Decimal; locked: Decimal }> {
    const cash = await paperCashTry(deps.pool, account);
    return paperTryBalance(cash, await listOrders(deps.pool, { modes: ['dry_run'], states: [...LIVE_STATES] }));
  }

  return {
    async fetchMarket(input: MarketInput): Promise<MarketSnapshot> {
      if (input.mode !== 'dry_run') return live.fetchMarket(input);
      const config = tradingConfigFromWire(input.config);
      const account = await paperAccount(config);
      // The market input carries no cycle id: the cycle is the workflow that scheduled this activity.
      const paper = await matchPaperOrders(input.symbols.map(toPairSymbol), config, activityInfo().workflowExecution?.workflowId ?? null, now());
      const snapshot = await live.fetchMarket(input);
      const openOrders: SymbolOpenOrdersWire[] = snapshot.openOrders.map((s) => {
        const error = paper.failed.get(toPairSymbol(s.symbol));
        return error === undefined ? s : { symbol: s.symbol, status: 'failed', error };
      });
      return {
        ...snapshot, openOrders, notes: [...snapshot.notes, ...paper.notes],
        tryBalance: balanceToWire({ asset: 'TRY', ...(await paperBalance(account)) }), balanceSource: 'paper',
      };
    },

    async syncFillsAndPnl(input: AccountingInput): Promise<AccountingResult> {
      if (input.mode !== 'dry_run') return live.syncFillsAndPnl(input);
      const real = input.fetchFills ? await live.syncFillsAndPnl(input) : null;
      const marks = new Map<PairSymbol, Decimal>();
      for (const q of input.quotes.map(quoteFromWire)) {
        const { mark } = markFromQuote(q);
        if (mark !== null) marks.set(q.symbol, mark);
      }
      const config = tradingConfigFromWire(input.config);
      const positions = await listPaperPositions(deps.pool);
      const summary = await paperCycleSummary(deps.pool, input.cycleId);
      const result = {
        counts: { ...real?.counts, paper_fills_applied: summary.fills, paper_trades_gaps: summary.gapSymbols.length },
        failedSymbols: [],
        quarantinedSymbols: [],
        reduceOnly: [],
        heldBuys: [],
        // The real account's standing notes (quarantines, drift, failed polls) are the live ledger's
        // story, told by live cycles, `status` and `positions`: here they would read as why a paper
        // symbol did (not) trade, and re-send live alerts every dry run. What this dry run's own
        // ingest found (a fill it could not apply, which quarantined the symbol just now; an openings
        // record) is news of this cycle, and stays.
        failures: (real?.failures ?? []).filter((f) => f.step === 'accounting'),
        notes: [...(real?.notes ?? []).filter(isNewsOfThisIngest), ...summary.gapSymbols.map((s) => `paper_trades_gap:${s}`)],
        positions: positions.map(positionToWire),
      };
      // The market step's paper balance (paper cash after this cycle's paper fills); without it, no snapshot.
      const { pnl, riskPnl, note } = await snapshotPnl(deps.pool, { ...input, mode: 'dry_run' }, config, positions, marks);
      return { ...result, notes: note === null ? result.notes : [...result.notes, note], pnl, riskPnl };
    },
  };
}
