// Fills and accounting step. Per symbol: poll fills from cursor − lookback up to now (in
// consecutive windows after an outage, within one budget for the whole cycle), then at once ingest
// them (dedupe, chronological weighted-average cost, cursor) in one transaction, together with the
// symbol's opening position at its first sight or an operator's adoption. Then the per-asset
// balance drift check (live) and one PnL snapshot.
//
// Balances are compared with fills by time (domain/holdings.ts): this cycle's balance read is
// stored with the moment it was taken, and an opening, an adoption or a drift check uses the newest
// read that the fills poll has settled past (FILLS_SETTLE_SECONDS). A trade between the cycle's
// start and the balance read, or one the trade list shows late, is thus neither counted twice nor
// missed.
//
// A dry run with credentials takes the same path for the real account (its fills are the
// account's truth, and reading them is what the dry-run check verifies), narrowed to ingesting
// new real fills: it polls only symbols nothing holds (no quarantine, no adoption asked), so
// adoptions and quarantine lifts stay with live cycles; a symbol's opening is recorded at its
// first sight as in a live cycle (with the balance read it needs); within one fills window its
// cursor moves only to the newest fill it applied, and the store writes only what changed, so
// the live ledger stays byte-for-byte as it was unless the account traded; it writes no drift
// state, and takes no PnL snapshot here (its snapshot is the paper ledger's, ./paper.ts). A real
// fill it cannot apply quarantines the symbol as in a live cycle (the account's books are one),
// and that cycle's integrity alert says so.
//
// One symbol's trouble stays that symbol's: a fetch that fails makes it sit the cycle out; a fill
// that cannot be applied (an oversell, an unreadable trade row) quarantines it: the fills before
// it are applied, the cursor stays before it, so it is fetched and reported again every cycle
// until it applies or the operator adopts the holdings. Neither fails the cycle; a rejected
// credential (not a symbol's problem) and infrastructure errors (Postgres) still fail the activity.
import {
  allocateWindows, fillsPollSinceMs, fillsWindows, settledThroughMs, type FillsWindow, type Position,
} from '../domain/accounting.js';
import { Decimal, toDecimalString, ZERO } from '../domain/decimal.js';
import type { SymbolFailure } from '../domain/failures.js';
import { checkDrift, formatAdjustment, formatDrift, holdingsStep, restartsWindow, type BalanceState, type DriftAsset } from '../domain/holdings.js';
import { markFromQuote } from '../domain/market.js';
import { splitPair } from '../domain/symbols.js';
import { balanceFromWire, positionToWire, quoteFromWire, rulesFromWire, tradingConfigFromWire } from '../domain/wire.js';
import type { ExchangeRules, FillReport, PairSymbol, UnreadableTradeReport } from '../domain/types.js';
import { AuthenticationError, ExchangeConfigError, UnreadableTradeRowsError } from '../exchange/errors.js';
import {
  dropDriftStates, latestBalanceSnapshot, liftQuarantines, listAdoptionRequests, listCycleAdjustments, listQuarantines, loadDriftStates, recordBalanceSnapshots,
  saveDriftState, symbolAccountStates, type SymbolAccountState,
} from '../store/account.js';
import {
  ensureFillsCursor, ingestFills, listPositions, netOfFillsAfter, restartFillsWindow, type HoldingsRequest, type IngestFillsResult,
} from '../store/fills.js';
import type { AccountingInput, AccountingResult } from '../workflows/types.js';
import type { ActivityDeps } from './deps.js';
import { symbolFailure } from './errors.js';
import { snapshotPnl } from './pnl-snapshot.js';

/** One symbol's windows for this cycle, before the cycle-wide budget cuts them. */
interface WindowPlan {
  symbol: PairSymbol;
  state: SymbolAccountState;
  hadCursor: boolean;
  windows: FillsWindow[];
  caughtUp: boolean;
  restarted: boolean;
}

/** What happened to one symbol this cycle; reported in symbol order once every symbol is done. */
type SymbolOutcome = { plan: WindowPlan; windows: number } & (
  | { kind: 'failed'; failure: SymbolFailure }
  | { kind: 'deferred'; note: string }
  | { kind: 'ingested'; result: IngestFillsResult; fetched: number; caughtUp: boolean; polledUntilMs: number; settledThroughMs: number; notes: string[] }
);

const baseOf = (symbol: PairSymbol): string | null => splitPair(symbol)?.base ?? null;
const iso = (ms: number): string => new Date(ms).toISOString();

export function accountingActivities(deps: ActivityDeps) {
  const now = deps.now ?? Date.now;
  return {
    async syncFillsAndPnl(input: AccountingInput): Promise<AccountingResult> {
      const config = tradingConfigFromWire(input.config);
      const rules = new Map<PairSymbol, ExchangeRules>(input.rules.map(rulesFromWire).map((r) => [r.symbol, r]));
      const symbols = [...rules.keys()].sort();
      const marks = new Map<PairSymbol, Decimal>();
      for (const q of input.quotes.map(quoteFromWire)) {
        const { mark } = markFromQuote(q);
        if (mark !== null) marks.set(q.symbol, mark);
      }
      // This cycle's balance of each base asset the answer listed (free + locked); null: the read failed.
      const balances =
        input.tryBalance === null || input.balancesAtMs === null
          ? null
          : new Map(input.baseBalances.map(balanceFromWire).map((b) => [b.asset, b.free.add(b.locked)]));
      const counts: Record<string, number> = {
        fills_fetched: 0, fills_applied: 0, fills_duplicates: 0, fills_held: 0, cursor_before: 0, cursor_after: 0, fills_failures: 0,
        fills_windows: 0, openings_recorded: 0, positions_adopted: 0, quarantined_symbols: 0, balance_drift_assets: 0,
      };
      const failures: SymbolFailure[] = [];
      const notes: string[] = [];
      const sitOut = new Set<PairSymbol>();
      const reduceOnly: AccountingResult['reduceOnly'] = [];
      /** Per symbol ingested cleanly this cycle: up to when its fills are settled. */
      const settled = new Map<PairSymbol, number>();
      const dryRun = input.mode === 'dry_run';

      if (input.fetchFills) {
        // The poll ends now, after this cycle's balance read: whatever that read holds, the poll can show.
        const polledUntilMs = now();
        const settleMs = config.fillsSettleSeconds * 1000;
        const states = await symbolAccountStates(deps.pool, symbols);
        // A dry run polls only symbols nothing holds (no quarantine, no adoption asked): adoptions and
        // quarantine lifts stay the live cycles' work. It records an opening at a symbol's first
        // sight as a live cycle does (so a dry run before any live one still ingests the account's
        // real fills), and so a balance read only while some symbol it polls has none yet.
        const polled = dryRun
          ? symbols.filter((s) => { const st = states.get(s)!; return st.quarantine === null && st.adoptionRequestedAtMs === null; })
          : symbols;
        if (dryRun) counts.fills_symbols_left_to_live = symbols.length - polled.length;
        const needsBalance = !dryRun || polled.some((s) => !states.get(s)!.established);
        if (balances !== null && needsBalance) {
          await recordBalanceSnapshots(deps.pool, [...balances].map(([asset, qty]) => ({ asset, qty })), input.balancesAtMs!, input.cycleId);
        }
        const positionsBefore = await listPositions(deps.pool);
        const plans = await Promise.all(polled.map((s) => planWindows(s, states.get(s)!, polledUntilMs)));
        const allowed = allocateWindows(plans.map((p) => [p.symbol, p.windows.length] as const));
        // Each symbol is ingested as soon as its own fetch is done: an attempt that runs out of time
        // keeps what it ingested, and its retry goes on from there.
        const outcomes = await Promise.all(
          plans.map((p) => fetchAndIngest(p, allowed.get(p.symbol) ?? 0, polledUntilMs, settleMs, positionsBefore)),
        );
        for (const o of outcomes) report(o);
        // What this cycle recorded, from the rows: a retried attempt reports what its first attempt committed.
        for (const a of await listCycleAdjustments(deps.pool, input.cycleId)) {
          counts[a.kind === 'adopted' ? 'positions_adopted' : 'openings_recorded']! += 1;
          notes.push(formatAdjustment(a));
        }
      }

      // Quarantines last every cycle until resolved, whether or not this cycle reached the symbol.
      // One on a symbol no longer configured would never lift: it is lifted (its cursor still holds
      // the fill, so configuring the symbol again meets it again).
      const configured = new Set(config.symbols);
      const allQuarantines = await listQuarantines(deps.pool);
      const unconfigured = allQuarantines.filter((q) => !configured.has(q.symbol)).map((q) => q.symbol);
      for (const s of dryRun ? [] : await liftQuarantines(deps.pool, unconfigured)) {
        notes.push(`quarantine_lifted:${s}:not_configured`);
      }
      const quarantined = allQuarantines.filter((q) => configured.has(q.symbol));
      for (const q of quarantined) {
        notes.push(`quarantined:${q.symbol}:${q.reason} fill_id=${q.fillId ?? '-'} held=${q.heldFills} cycles=${q.cycles} since=${q.sinceAt}`);
      }
      counts.quarantined_symbols = quarantined.length;
      for (const a of (await listAdoptionRequests(deps.pool)).filter((x) => !configured.has(x.symbol))) {
        notes.push(`adoption_waiting:${a.symbol}:not_configured`);
      }

      const positions = await listPositions(deps.pool);
      await driftChecks(positions, new Set([...sitOut, ...quarantined.map((q) => q.symbol)]));
      if (dryRun) {
        // The real account's books, as they stand; the dry run's own PnL is the paper ledger's.
        return {
          counts, failedSymbols: [...sitOut].sort(), quarantinedSymbols: quarantined.map((q) => q.symbol), reduceOnly: [], heldBuys: [],
          failures, notes, positions: positions.map(positionToWire), pnl: null,
          riskPnl: { realizedTodayTry: '0', drawdownPct: '0' },
        };
      }

      const { pnl, riskPnl, note } = await snapshotPnl(deps.pool, input, config, positions, marks);
      if (note !== null) notes.push(note);

      return {
        counts,
        failedSymbols: [...sitOut].sort(),
        quarantinedSymbols: quarantined.map((q) => q.symbol),
        reduceOnly,
        heldBuys: quarantined
          .filter((q) => q.heldBuyQty.gt(0))
          .map((q) => ({ symbol: q.symbol, qty: toDecimalString(q.heldBuyQty), costTry: toDecimalString(q.heldBuyCostTry) })),
        failures,
        notes,
        positions: positions.map(positionToWire),
        pnl,
        riskPnl,
      };

      /** [cursor − lookback, until] in consecutive windows, oldest first; at most FILLS_WINDOWS_PER_CYCLE of them. */
      async function planWindows(symbol: PairSymbol, state: SymbolAccountState, untilMs: number): Promise<WindowPlan> {
        const ensured = await ensureFillsCursor(deps.pool, symbol, input.nowMs);
        const lookback = config.fillsPollLookbackMinutes;
        let plan = fillsWindows(fillsPollSinceMs(ensured.cursorMs, lookback, untilMs), untilMs);
        const restarted =
          restartsWindow(
            { established: state.established, quarantined: state.quarantine !== null },
            { inferOpenings: config.inferOpeningPositions, backlogFits: plan.caughtUp },
          ) && (await restartFillsWindow(deps.pool, symbol, input.nowMs));
        if (restarted) plan = fillsWindows(fillsPollSinceMs(input.nowMs, lookback, untilMs), untilMs);
        return { symbol, state, hadCursor: !ensured.created, windows: plan.windows, caughtUp: plan.caughtUp, restarted };
      }

      async function fetchAndIngest(
        plan: WindowPlan,
        allowed: number,
        polledUntilMs: number,
        settleMs: number,
        positionsBefore: readonly Position[],
      ): Promise<SymbolOutcome> {
        const { symbol } = plan;
        const windows = plan.windows.slice(0, allowed);
        if (windows.length === 0) return { plan, windows: 0, kind: 'deferred', note: `fills_deferred:${symbol}:window_budget` };
        const fills: FillReport[] = [];
        const unreadable: UnreadableTradeReport[] = [];
        for (const w of windows) {
          try {
            fills.push(...(await deps.exchange.getFills(symbol, w)));
          } catch (err) {
            if (err instanceof UnreadableTradeRowsError) {
              fills.push(...err.readable);
              unreadable.push(...err.unreadable);
              continue;
            }
            // A rejected key or a missing configuration is every symbol's problem, as in the market step.
            if (err instanceof AuthenticationError || err instanceof ExchangeConfigError) throw err;
            return { plan, windows: windows.length, kind: 'failed', failure: symbolFailure(symbol, 'fills', err) };
          }
        }
        const caughtUp = plan.caughtUp && windows.length === plan.windows.length;
        const lastEnd = windows[windows.length - 1]!.endMs;
        // A backlog window that ended long ago is settled to its end; the recent past only to the margin.
        const settledThrough = Math.min(lastEnd, settledThroughMs(polledUntilMs, settleMs));

        const decision = await holdingsFor(plan, windows[0]!.startMs, settledThrough, positionsBefore);
        if ('wait' in decision) return { plan, windows: windows.length, kind: 'deferred', note: `opening_deferred:${symbol}:${decision.wait}` };
        // The store writes only what changed. A dry run writes only what the account really did: a
        // poll within one fills window moves the cursor no further than the newest fill it applied
        // (none: not at all), so the live rows stay as they were; a longer span (the cursor over ~6 h
        // back) moves it to the settled point, so an idle dry-run stretch polls one window per cycle,
        // as a live cycle does, at one cursor write per ~6 h.
        const cursorToSettled = !dryRun || plan.windows.length > 1;
        const result = await ingestFills(deps.pool, {
          symbol, fills, unreadable, marks, cycleId: input.cycleId, holdings: decision.request,
          ...(cursorToSettled ? { settledThroughMs: settledThrough } : {}),
        });
        return {
          plan, windows: windows.length, kind: 'ingested', result, fetched: fills.length, caughtUp, polledUntilMs: lastEnd, settledThroughMs: settledThrough,
          notes: decision.notes,
        };
      }

      /** The store's request for this ingest's holdings step, or why the symbol waits. */
      async function holdingsFor(
        plan: WindowPlan,
        windowStartMs: number,
        settledThrough: number,
        positionsBefore: readonly Position[],
      ): Promise<{ request: HoldingsRequest | null; notes: string[] } | { wait: string }> {
        const { symbol, state } = plan;
        const base = rules.get(symbol)!.base;
        const markTry = marks.get(symbol);
        // An opening describes the window start: a read from then on. An adoption: a read after the request.
        const from = state.established ? state.adoptionRequestedAtMs : config.inferOpeningPositions ? windowStartMs : null;
        const snapshot = from === null ? null : await latestBalanceSnapshot(deps.pool, base, from, settledThrough);
        const balance: BalanceState = snapshot !== null ? 'settled' : balances?.has(base) ? 'settling' : 'unknown';
        const step = holdingsStep(
          { established: state.established, adoptionRequested: state.adoptionRequestedAtMs !== null },
          { inferOpenings: config.inferOpeningPositions, hasMark: markTry !== undefined, balance },
        );
        // The balance is shared by every pair with this base asset: the others' positions are theirs.
        const othersQty = positionsBefore.filter((p) => p.symbol !== symbol && baseOf(p.symbol) === base).reduce((s, p) => s.add(p.qty), ZERO);
        const atMs = input.nowMs;
        switch (step.kind) {
          case 'none':
            return { request: null, notes: [] };
          case 'wait':
            return { wait: step.reason };
          case 'adopt_waiting':
            return { request: null, notes: [`adoption_waiting:${symbol}:${step.reason}`] };
          case 'opening':
            return {
              request: step.inferred
                ? { kind: 'inferred', base, balance: snapshot!, othersQty, markTry: markTry!, windowStartMs, atMs }
                : { kind: 'zero', base, windowStartMs, atMs },
              notes: [],
            };
          case 'adopt':
            return { request: { kind: 'adopted', base, balance: snapshot!, othersQty, markTry: markTry!, atMs }, notes: [] };
        }
      }

      function report(o: SymbolOutcome): void {
        const { symbol } = o.plan;
        if (o.plan.hadCursor) counts.cursor_before! += 1;
        counts.fills_windows! += o.windows;
        if (o.plan.restarted) notes.push(`fills_window_restarted:${symbol}:from=${iso(fillsPollSinceMs(input.nowMs, config.fillsPollLookbackMinutes, input.nowMs))}`);
        if (o.kind === 'failed') {
          // This symbol sits the cycle out: nothing new is planned on books we could not update.
          counts.fills_failures! += 1;
          failures.push(o.failure);
          sitOut.add(symbol);
          return;
        }
        if (o.kind === 'deferred') {
          notes.push(o.note);
          sitOut.add(symbol);
          return;
        }
        const r = o.result;
        notes.push(...o.notes);
        counts.fills_fetched! += o.fetched;
        counts.fills_applied! += r.applied;
        counts.fills_duplicates! += r.duplicates;
        if (r.cursorAfterMs !== null) counts.cursor_after! += 1;
        if (r.quarantineCleared) notes.push(`quarantine_lifted:${symbol}`);
        if (r.adoptionBlockedBy !== null) notes.push(`adoption_waiting:${symbol}:held_fill=${r.adoptionBlockedBy}`);
        notes.push(...r.notes);
        if (r.reduceOnly) reduceOnly.push({ symbol, reason: 'fee_conversion_missing' });
        if (r.held !== null) {
          // Quarantined (by the ingest, in its transaction): the fills before it are applied, it and the rest wait.
          counts.fills_held! += r.held.fills.length;
          failures.push(symbolFailure(symbol, 'accounting', r.held.error));
          notes.push(`integrity:${r.held.error.message}`);
          return;
        }
        if (!o.caughtUp) {
          notes.push(`fills_catching_up:${symbol}:until=${iso(o.polledUntilMs)}`);
          sitOut.add(symbol);
          return;
        }
        settled.set(symbol, o.settledThroughMs);
      }

      /**
       * Live only: per base asset, the newest settled balance read not checked yet against what the
       * positions of every pair with that base held at that read (now, less the fills since). Assets
       * whose books are not current this cycle are not checked (their streak stands); a drift already
       * raised keeps its symbols from buying (live) until it is gone. Drift on an asset no configured
       * symbol trades is forgotten.
       */
      async function driftChecks(positions: readonly Position[], notCurrent: ReadonlySet<PairSymbol>): Promise<void> {
        const configuredBases = new Set(config.symbols.map(baseOf));
        const previous = await loadDriftStates(deps.pool);
        const notConfigured = [...previous.keys()].filter((a) => !configuredBases.has(a));
        for (const asset of dryRun ? [] : await dropDriftStates(deps.pool, notConfigured)) {
          notes.push(`balance_drift_dropped:${asset}:not_configured`);
          previous.delete(asset);
        }
        const byAsset = new Map<string, ExchangeRules[]>();
        for (const r of rules.values()) byAsset.set(r.base, [...(byAsset.get(r.base) ?? []), r]);
        const checking = input.mode === 'live' && input.fetchFills;
        const assets: DriftAsset[] = [];
        for (const [asset, pairs] of byAsset) {
          const pairSymbols = pairs.map((r) => r.symbol);
          const current = pairSymbols.every((s) => settled.has(s) && !notCurrent.has(s));
          const through = Math.min(...pairSymbols.map((s) => settled.get(s) ?? -Infinity));
          const read = checking && current ? await latestBalanceSnapshot(deps.pool, asset, (previous.get(asset)?.checkedAtMs ?? -1) + 1, through) : null;
          assets.push({
            asset,
            symbols: pairSymbols,
            observation:
              read === null
                ? null
                : {
                    asset,
                    balance: read,
                    positionsQty: positions
                      .filter((p) => baseOf(p.symbol) === asset)
                      .reduce((s, p) => s.add(p.qty), ZERO)
                      .sub(await netOfFillsAfter(deps.pool, pairSymbols, asset, read.atMs)),
                    toleranceQty: Decimal.max(...pairs.map((r) => r.stepSize)),
                  },
          });
        }
        const result = checkDrift(assets, previous, config.balanceDriftCycles);
        // A dry run checks nothing (no observations), so it has nothing to save: raised drift is only shown.
        if (!dryRun) for (const state of result.checked) await saveDriftState(deps.pool, state, input.cycleId);
        notes.push(...result.resolved.map((asset) => `balance_drift_resolved:${asset}`));
        for (const { state, symbols: drifting } of result.raised) {
          counts.balance_drift_assets! += 1;
          notes.push(formatDrift(state));
          // A dry run writes nothing to the exchange: the live account's drift is shown, it blocks nothing there.
          if (input.mode === 'live') for (const symbol of drifting) reduceOnly.push({ symbol, reason: 'balance_drift', asset: state.asset });
        }
      }
    },
  };
}
