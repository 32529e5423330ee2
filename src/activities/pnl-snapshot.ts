// The PnL step both ledgers share: one snapshot per cycle and mode (the live ledger's in live
// cycles, the paper ledger's in dry runs), with the day's baseline and the mode's own high-water
// mark. Never a snapshot from a partial balance: without one, realized PnL still counts (it needs
// no balance) and the drawdown stays what the last snapshot measured.
import type { Position } from '../domain/accounting.js';
import type { TradingConfig } from '../domain/config.js';
import { toDecimalString, ZERO, type Decimal } from '../domain/decimal.js';
import type { TradingMode } from '../domain/gates.js';
import { computePnlSnapshot, dayStartMs, selectDayBaseline } from '../domain/pnl.js';
import type { PairSymbol } from '../domain/types.js';
import { balanceFromWire, pnlSnapshotToWire } from '../domain/wire.js';
import type { Pool } from '../store/db.js';
import { getHighWaterMark, latestSnapshot, realizedPointsBefore, recordSnapshot } from '../store/pnl.js';
import type { AccountingInput, AccountingResult } from '../workflows/types.js';

export async function snapshotPnl(
  pool: Pool,
  input: Pick<AccountingInput, 'accountId' | 'cycleId' | 'nowMs' | 'tryBalance'> & { mode: TradingMode },
  config: TradingConfig,
  positions: readonly Position[],
  marks: ReadonlyMap<PairSymbol, Decimal>,
): Promise<{ pnl: AccountingResult['pnl']; riskPnl: AccountingResult['riskPnl']; note: string | null }> {
  const dayStart = dayStartMs(input.nowMs, config.dayBoundaryOffsetMinutes);
  const baseline = selectDayBaseline(await realizedPointsBefore(pool, input.accountId, input.mode, dayStart), dayStart);
  if (input.tryBalance === null) {
    const realized = positions.reduce((sum, p) => sum.add(p.realizedPnlTry), ZERO);
    const last = await latestSnapshot(pool, input.accountId, input.mode);
    return {
      pnl: null, note: 'pnl_snapshot_skipped:balance_unavailable',
      riskPnl: { realizedTodayTry: toDecimalString(realized.sub(baseline ?? ZERO)), drawdownPct: toDecimalString(last?.drawdownPct ?? ZERO) },
    };
  }
  const snapshot = computePnlSnapshot({
    nowMs: input.nowMs,
    positions,
    marks,
    tryBalance: balanceFromWire(input.tryBalance),
    baselineRealizedTry: baseline,
    previousHighWaterMarkTry: await getHighWaterMark(pool, input.accountId, input.mode),
    utcOffsetMinutes: config.dayBoundaryOffsetMinutes,
  });
  await recordSnapshot(pool, input.accountId, input.mode, input.cycleId, snapshot);
  const pnl = pnlSnapshotToWire(snapshot);
  return { pnl, riskPnl: { realizedTodayTry: pnl.realizedTodayTry, drawdownPct: pnl.drawdownPct }, note: null };
}
