// Fills and accounting step: per symbol, poll fills from cursor − lookback, then ingest (dedupe,
// chronological weighted-average cost, cursor) in one transaction; then one PnL snapshot.
// An oversell is an AccountingIntegrityError: non-retryable, it fails the cycle with an alert.
import { fillsPollSinceMs } from '../domain/accounting.js';
import { type Decimal } from '../domain/decimal.js';
import { markFromQuote } from '../domain/market.js';
import { computePnlSnapshot, dayStartMs, selectDayBaseline } from '../domain/pnl.js';
import { balanceFromWire, pnlSnapshotToWire, positionToWire, quoteFromWire } from '../domain/wire.js';
import { toPairSymbol, type PairSymbol } from '../domain/types.js';
import { getCursorMs, ingestFills, listPositions } from '../store/fills.js';
import { getHighWaterMark, realizedPointsBefore, recordSnapshot } from '../store/pnl.js';
import type { AccountingInput, AccountingResult } from '../workflows/types.js';
import type { ActivityDeps } from './deps.js';

export function accountingActivities(deps: ActivityDeps) {
  return {
    async syncFillsAndPnl(input: AccountingInput): Promise<AccountingResult> {
      const marks = new Map<PairSymbol, Decimal>();
      for (const q of input.quotes.map(quoteFromWire)) {
        const { mark } = markFromQuote(q);
        if (mark !== null) marks.set(q.symbol, mark);
      }
      const counts = { fills_fetched: 0, fills_applied: 0, fills_duplicates: 0, cursor_before: 0, cursor_after: 0, fills_failures: 0 };
      const failedSymbols: string[] = [];
      const notes: string[] = [];
      const reduceOnly: string[] = [];

      // Fetch every symbol's fills together; ingest them one transaction per symbol, in order.
      const fetched = input.fetchFills
        ? await Promise.all(
            input.symbols.map(toPairSymbol).map(async (symbol) => {
              const cursor = await getCursorMs(deps.pool, symbol);
              try {
                const startMs = fillsPollSinceMs(cursor, input.lookbackMinutes, input.nowMs);
                return { symbol, cursor, fills: await deps.exchange.getFills(symbol, { startMs, endMs: input.nowMs }), error: null };
              } catch (err) {
                return { symbol, cursor, fills: null, error: (err as Error).name };
              }
            }),
          )
        : [];
      for (const { symbol, cursor, fills, error } of fetched) {
        if (cursor !== null) counts.cursor_before += 1;
        if (fills === null) {
          // This symbol sits the cycle out: nothing is planned on books we could not update.
          counts.fills_failures += 1;
          failedSymbols.push(symbol);
          notes.push(`fills_fetch_failed:${symbol}:${error}`);
          continue;
        }
        const r = await ingestFills(deps.pool, { symbol, fills, marks, cycleId: input.cycleId, polledUntilMs: input.nowMs });
        counts.fills_fetched += fills.length;
        counts.fills_applied += r.applied;
        counts.fills_duplicates += r.duplicates;
        if (r.cursorAfterMs !== null) counts.cursor_after += 1;
        notes.push(...r.notes);
        if (r.reduceOnly) reduceOnly.push(symbol);
      }

      const positions = await listPositions(deps.pool);
      const dayStart = dayStartMs(input.nowMs, input.dayBoundaryOffsetMinutes);
      const points = await realizedPointsBefore(deps.pool, input.accountId, input.mode, dayStart);
      const snapshot = computePnlSnapshot({
        nowMs: input.nowMs,
        positions,
        marks,
        tryBalance: balanceFromWire(input.tryBalance),
        baselineRealizedTry: selectDayBaseline(points, dayStart),
        previousHighWaterMarkTry: await getHighWaterMark(deps.pool, input.accountId, input.mode),
        utcOffsetMinutes: input.dayBoundaryOffsetMinutes,
      });
      await recordSnapshot(deps.pool, input.accountId, input.mode, input.cycleId, snapshot);
      return {
        counts,
        failedSymbols,
        notes,
        reduceOnlySymbols: reduceOnly,
        positions: positions.map(positionToWire),
        pnl: pnlSnapshotToWire(snapshot),
      };
    },
  };
}
