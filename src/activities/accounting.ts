// Fills and accounting step. Per symbol: poll fills from cursor − lookback (in consecutive windows
// after an outage), then ingest them (dedupe, chronological weighted-average cost, cursor) in one
// transaction, together with the symbol's opening position at its first sight or an operator's
// adoption. Then the per-asset balance drift check (live) and one PnL snapshot.
//
// One symbol's trouble stays that symbol's: a fetch that fails makes it sit the cycle out; a fill
// that cannot be applied (AccountingIntegrityError, e.g. an oversell) quarantines it and leaves
// the cursor where it was, so the fill is fetched and reported again every cycle until it applies
// or the operator adopts the holdings. Neither fails the cycle; infrastructure errors (Postgres)
// still fail the activity, which Temporal retries.
import { fillsPollSinceMs, fillsWindows, type Position } from '../domain/accounting.js';
import { Decimal, toDecimalString, ZERO } from '../domain/decimal.js';
import { AccountingIntegrityError } from '../domain/errors.js';
import type { SymbolFailure } from '../domain/failures.js';
import { checkDrift, formatAdjustment, formatDrift, holdingsStep, restartsWindow, type DriftAsset } from '../domain/holdings.js';
import { markFromQuote } from '../domain/market.js';
import { computePnlSnapshot, dayStartMs, selectDayBaseline } from '../domain/pnl.js';
import { splitPair } from '../domain/symbols.js';
import { balanceFromWire, pnlSnapshotToWire, positionToWire, quoteFromWire, rulesFromWire, tradingConfigFromWire } from '../domain/wire.js';
import type { ExchangeRules, FillReport, PairSymbol } from '../domain/types.js';
import { listQuarantines, loadDriftStates, quarantineSymbol, saveDriftState, symbolAccountStates, type SymbolAccountState } from '../store/account.js';
import { ensureFillsCursor, ingestFills, listPositions, restartFillsWindow, type HoldingsRequest } from '../store/fills.js';
import { getHighWaterMark, latestSnapshot, realizedPointsBefore, recordSnapshot } from '../store/pnl.js';
import type { AccountingInput, AccountingResult } from '../workflows/types.js';
import type { ActivityDeps } from './deps.js';
import { symbolFailure } from './errors.js';

type Fetched = { symbol: PairSymbol; hadCursor: boolean } & (
  | { fills: FillReport[]; windowStartMs: number; polledUntilMs: number; caughtUp: boolean; windows: number; restarted: boolean }
  | { fills: null; failure: SymbolFailure }
);

const baseOf = (symbol: PairSymbol): string | null => splitPair(symbol)?.base ?? null;
const iso = (ms: number): string => new Date(ms).toISOString();

export function accountingActivities(deps: ActivityDeps) {
  return {
    async syncFillsAndPnl(input: AccountingInput): Promise<AccountingResult> {
      const config = tradingConfigFromWire(input.config);
      const rules = new Map<PairSymbol, ExchangeRules>(input.rules.map(rulesFromWire).map((r) => [r.symbol, r]));
      const symbols = [...rules.keys()];
      const marks = new Map<PairSymbol, Decimal>();
      for (const q of input.quotes.map(quoteFromWire)) {
        const { mark } = markFromQuote(q);
        if (mark !== null) marks.set(q.symbol, mark);
      }
      // The base assets' balances (free + locked); null: the read failed this cycle.
      const balances = input.tryBalance === null ? null : new Map(input.baseBalances.map(balanceFromWire).map((b) => [b.asset, b.free.add(b.locked)]));
      const counts: Record<string, number> = {
        fills_fetched: 0, fills_applied: 0, fills_duplicates: 0, cursor_before: 0, cursor_after: 0, fills_failures: 0,
        fills_windows: 0, openings_recorded: 0, positions_adopted: 0, quarantined_symbols: 0, balance_drift_assets: 0,
      };
      const failures: SymbolFailure[] = [];
      const notes: string[] = [];
      const sitOut = new Set<PairSymbol>();
      const reduceOnly: AccountingResult['reduceOnly'] = [];

      if (input.fetchFills) {
        const states = await symbolAccountStates(deps.pool, symbols);
        // Fetch every symbol's fills together; ingest them one transaction per symbol, in order.
        const fetched = await Promise.all(symbols.map((s) => fetchFills(s, states.get(s)!)));
        const held = new Map((await listPositions(deps.pool)).map((p) => [p.symbol, p]));
        for (const f of fetched) {
          if (f.hadCursor) counts.cursor_before! += 1;
          if (f.fills === null) {
            // This symbol sits the cycle out: nothing new is planned on books we could not update.
            counts.fills_failures! += 1;
            failures.push(f.failure);
            sitOut.add(f.symbol);
            continue;
          }
          counts.fills_windows! += f.windows;
          if (f.restarted) notes.push(`fills_window_restarted:${f.symbol}:from=${iso(fillsPollSinceMs(input.nowMs, config.fillsPollLookbackMinutes, input.nowMs))}`);
          const after = await ingestSymbol(f, states.get(f.symbol)!, held);
          if (after !== null) held.set(f.symbol, after);
        }
      }

      // Quarantines last every cycle until resolved, whether or not this cycle reached the symbol.
      const quarantined = (await listQuarantines(deps.pool)).filter((q) => rules.has(q.symbol));
      for (const q of quarantined) notes.push(`quarantined:${q.symbol}:${q.reason} fill_id=${q.fillId ?? '-'} cycles=${q.cycles} since=${q.sinceAt}`);
      counts.quarantined_symbols = quarantined.length;

      const positions = await listPositions(deps.pool);
      await driftChecks(positions, new Set([...sitOut, ...quarantined.map((q) => q.symbol)]));

      const dayStart = dayStartMs(input.nowMs, config.dayBoundaryOffsetMinutes);
      const baseline = selectDayBaseline(await realizedPointsBefore(deps.pool, input.accountId, input.mode, dayStart), dayStart);
      let pnl: AccountingResult['pnl'] = null;
      let riskPnl: AccountingResult['riskPnl'];
      if (input.tryBalance !== null) {
        const snapshot = computePnlSnapshot({
          nowMs: input.nowMs,
          positions,
          marks,
          tryBalance: balanceFromWire(input.tryBalance),
          baselineRealizedTry: baseline,
          previousHighWaterMarkTry: await getHighWaterMark(deps.pool, input.accountId, input.mode),
          utcOffsetMinutes: config.dayBoundaryOffsetMinutes,
        });
        await recordSnapshot(deps.pool, input.accountId, input.mode, input.cycleId, snapshot);
        pnl = pnlSnapshotToWire(snapshot);
        riskPnl = { realizedTodayTry: pnl.realizedTodayTry, drawdownPct: pnl.drawdownPct };
      } else {
        // Never a snapshot from a partial balance. Realized PnL needs no balance; the drawdown stays
        // what the last snapshot measured.
        const realized = positions.reduce((sum, p) => sum.add(p.realizedPnlTry), ZERO);
        const last = await latestSnapshot(deps.pool, input.accountId, input.mode);
        riskPnl = { realizedTodayTry: toDecimalString(realized.sub(baseline ?? ZERO)), drawdownPct: toDecimalString(last?.drawdownPct ?? ZERO) };
        notes.push('pnl_snapshot_skipped:balance_unavailable');
      }

      return {
        counts,
        failedSymbols: [...sitOut].sort(),
        quarantinedSymbols: quarantined.map((q) => q.symbol),
        reduceOnly,
        failures,
        notes,
        positions: positions.map(positionToWire),
        pnl,
        riskPnl,
      };

      /** [cursor − lookback, now] in consecutive windows, oldest first; at most FILLS_WINDOWS_PER_CYCLE of them. */
      async function fetchFills(symbol: PairSymbol, state: SymbolAccountState): Promise<Fetched> {
        const ensured = await ensureFillsCursor(deps.pool, symbol, input.nowMs);
        const hadCursor = !ensured.created;
        let { cursorMs } = ensured;
        let plan = fillsWindows(fillsPollSinceMs(cursorMs, config.fillsPollLookbackMinutes, input.nowMs), input.nowMs);
        const restarted =
          restartsWindow(
            { established: state.established, quarantined: state.quarantine !== null },
            { inferOpenings: config.inferOpeningPositions, backlogFits: plan.caughtUp },
          ) && (await restartFillsWindow(deps.pool, symbol, input.nowMs));
        if (restarted) {
          cursorMs = input.nowMs;
          plan = fillsWindows(fillsPollSinceMs(cursorMs, config.fillsPollLookbackMinutes, input.nowMs), input.nowMs);
        }
        try {
          const fills: FillReport[] = [];
          for (const w of plan.windows) fills.push(...(await deps.exchange.getFills(symbol, w)));
          const first = plan.windows[0];
          const last = plan.windows[plan.windows.length - 1];
          return {
            symbol, hadCursor, fills, windowStartMs: first?.startMs ?? input.nowMs, polledUntilMs: last?.endMs ?? input.nowMs, caughtUp: plan.caughtUp,
            windows: plan.windows.length, restarted,
          };
        } catch (err) {
          return { symbol, hadCursor, fills: null, failure: symbolFailure(symbol, 'fills', err) };
        }
      }

      /** The store's request for this ingest's holdings step, or why the symbol waits. */
      function holdingsFor(f: Extract<Fetched, { fills: FillReport[] }>, state: SymbolAccountState, held: ReadonlyMap<PairSymbol, Position>):
        | { request: HoldingsRequest | null }
        | { wait: string } {
        const base = rules.get(f.symbol)!.base;
        const balanceQty = balances === null ? null : (balances.get(base) ?? ZERO);
        const markTry = marks.get(f.symbol);
        const step = holdingsStep(state, {
          inferOpenings: config.inferOpeningPositions, hasBalance: balanceQty !== null, hasMark: markTry !== undefined, fillsCurrent: f.caughtUp,
        });
        // The balance is shared by every pair with this base asset: the others' positions are theirs.
        const othersQty = [...held.values()].filter((p) => p.symbol !== f.symbol && baseOf(p.symbol) === base).reduce((s, p) => s.add(p.qty), ZERO);
        const at = { base, windowStartMs: f.windowStartMs, atMs: input.nowMs };
        switch (step.kind) {
          case 'none':
            return { request: null };
          case 'wait':
            return { wait: step.reason };
          case 'adopt_waiting':
            notes.push(`adoption_waiting:${f.symbol}:${step.reason}`);
            return { request: null };
          case 'opening':
            return { request: step.inferred ? { kind: 'inferred', ...at, balanceQty: balanceQty!, othersQty, markTry: markTry! } : { kind: 'zero', ...at } };
          case 'adopt':
            return { request: { kind: 'adopted', ...at, balanceQty: balanceQty!, othersQty, markTry: markTry!, complete: step.complete } };
        }
      }

      async function ingestSymbol(
        f: Extract<Fetched, { fills: FillReport[] }>,
        state: SymbolAccountState,
        held: ReadonlyMap<PairSymbol, Position>,
      ): Promise<Position | null> {
        const holdings = holdingsFor(f, state, held);
        if ('wait' in holdings) {
          notes.push(`opening_deferred:${f.symbol}:${holdings.wait}`);
          sitOut.add(f.symbol);
          return null;
        }
        try {
          const r = await ingestFills(deps.pool, {
            symbol: f.symbol, fills: f.fills, marks, cycleId: input.cycleId, polledUntilMs: f.polledUntilMs, holdings: holdings.request,
          });
          counts.fills_fetched! += f.fills.length;
          counts.fills_applied! += r.applied;
          counts.fills_duplicates! += r.duplicates;
          if (r.cursorAfterMs !== null) counts.cursor_after! += 1;
          for (const a of r.adjustments) {
            counts[a.kind === 'adopted' ? 'positions_adopted' : 'openings_recorded']! += 1;
            notes.push(formatAdjustment(a));
          }
          if (holdings.request?.kind === 'adopted' && !holdings.request.complete && !r.holdingsSkipped) {
            notes.push(`adoption_waiting:${f.symbol}:fills_catching_up`);
          }
          if (r.quarantineCleared) notes.push(`quarantine_lifted:${f.symbol}`);
          notes.push(...r.notes);
          if (r.reduceOnly) reduceOnly.push({ symbol: f.symbol, reason: 'fee_conversion_missing' });
          if (!f.caughtUp) {
            notes.push(`fills_catching_up:${f.symbol}:until=${iso(f.polledUntilMs)}`);
            sitOut.add(f.symbol);
          }
          return r.position;
        } catch (err) {
          if (!(err instanceof AccountingIntegrityError)) throw err;
          // Nothing was applied and the cursor stayed: the fill is fetched and reported again.
          await quarantineSymbol(deps.pool, {
            symbol: f.symbol, reason: err.reason, fillId: err.detail['fill_id'] ?? null, detail: err.message, cycleId: input.cycleId,
          });
          failures.push(symbolFailure(f.symbol, 'accounting', err));
          notes.push(`integrity:${err.message}`);
          return null;
        }
      }

      /**
       * Live only: per base asset, the positions of every pair with that base against the balance.
       * Assets whose books are not current this cycle are not checked (their streak stands); a
       * drift already raised keeps its symbols from buying until it is gone.
       */
      async function driftChecks(positions: readonly Position[], notCurrent: ReadonlySet<PairSymbol>): Promise<void> {
        const byAsset = new Map<string, ExchangeRules[]>();
        for (const r of rules.values()) byAsset.set(r.base, [...(byAsset.get(r.base) ?? []), r]);
        const checking = input.mode === 'live' && balances !== null && input.fetchFills;
        const assets: DriftAsset[] = [...byAsset].map(([asset, pairs]) => ({
          asset,
          symbols: pairs.map((r) => r.symbol),
          observation:
            !checking || pairs.some((r) => notCurrent.has(r.symbol))
              ? null
              : {
                  asset,
                  balanceQty: balances.get(asset) ?? ZERO,
                  positionsQty: positions.filter((p) => baseOf(p.symbol) === asset).reduce((s, p) => s.add(p.qty), ZERO),
                  toleranceQty: Decimal.max(...pairs.map((r) => r.stepSize)),
                },
        }));
        const result = checkDrift(assets, await loadDriftStates(deps.pool), config.balanceDriftCycles);
        for (const state of result.checked) await saveDriftState(deps.pool, state, input.cycleId);
        notes.push(...result.resolved.map((asset) => `balance_drift_resolved:${asset}`));
        for (const { state, symbols: drifting } of result.raised) {
          counts.balance_drift_assets! += 1;
          notes.push(formatDrift(state));
          for (const symbol of drifting) reduceOnly.push({ symbol, reason: 'balance_drift', asset: state.asset });
        }
      }
    },
  };
}
