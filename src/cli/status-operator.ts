// The parts of `btcbot status` that answer "is it working, with what, and why not": the age of
// the last successful cycle, the bot's own equity share next to the account's, and one "why not
// trading" line per symbol from the newest cycle of each mode (read by src/domain/cycle-story.ts).
import { parseTradingConfig } from '../domain/config.js';
import { cycleStory, type SymbolState } from '../domain/cycle-story.js';
import { toDecimalString } from '../domain/decimal.js';
import type { TradingMode } from '../domain/gates.js';
import { botEquityTry } from '../domain/pnl.js';
import type { Pool } from '../store/db.js';
import { readOperatorState, TRADING_MODES, UNDELIVERED_WINDOW_HOURS, type OperatorState } from '../store/operator-state.js';
import { table } from './table.js';

export const BOT_EQUITY_DEFINITION =
  'free + locked TRY up to TRY_CASH_MAX, plus the positions of the configured pairs at the cycle\'s marks (TRY_CASH_MAX of this environment)';

export interface OperatorView {
  lastOk: Record<TradingMode, null | { cycleId: string; finishedAt: string; ageSeconds: number }>;
  /** The bot's share next to the account's total (the drawdown basis). Decimal strings. */
  equity: Record<TradingMode, null | { totalEquityTry: string; botEquityTry: string | null; tryCashMaxTry: string | null; note: string | null }>;
  botEquityDefinition: string;
  /** From the newest cycle of each mode that was not skipped. */
  symbols: Array<{ mode: string; cycleId: string; finishedAt: string; symbol: string; state: SymbolState; why: string }>;
  /** Alerts that reached no channel (see OperatorState). */
  alertsUndelivered: OperatorState['alertsUndelivered'];
}

export async function readOperatorView(pool: Pool, env: NodeJS.ProcessEnv, nowMs: number, accountId = 'default'): Promise<OperatorView> {
  // The same database state the worker's gauges are set from.
  const state = await readOperatorState(pool, accountId);
  let cashMax: ReturnType<typeof parseTradingConfig>['tryCashMax'] | null = null;
  let configError: string | null = null;
  try {
    cashMax = parseTradingConfig(env).tryCashMax;
  } catch (err) {
    configError = (err as Error).message;
  }
  const view: OperatorView = {
    lastOk: { live: null, dry_run: null }, equity: { live: null, dry_run: null }, botEquityDefinition: BOT_EQUITY_DEFINITION, symbols: [],
    alertsUndelivered: state.alertsUndelivered,
  };
  for (const mode of TRADING_MODES) {
    const ok = state.lastOk[mode];
    if (ok) view.lastOk[mode] = { cycleId: ok.cycleId, finishedAt: ok.finishedAt, ageSeconds: Math.max(0, Math.round((nowMs - Date.parse(ok.finishedAt)) / 1000)) };
    const s = state.snapshots[mode];
    if (s) {
      const parts = s.tryCashTry !== null && s.positionsValueTry !== null ? { tryCashTry: s.tryCashTry, positionsValueTry: s.positionsValueTry } : null;
      view.equity[mode] = {
        totalEquityTry: toDecimalString(s.totalEquityTry),
        botEquityTry: parts && cashMax ? toDecimalString(botEquityTry(parts, cashMax)) : null,
        tryCashMaxTry: cashMax ? toDecimalString(cashMax) : null,
        note: configError ?? (parts ? null : 'snapshot taken before the bot\'s share was recorded'),
      };
    }
    const audit = state.latestCycles[mode];
    if (audit === null) continue;
    for (const sym of cycleStory(audit).symbols) {
      view.symbols.push({ mode: audit.mode, cycleId: audit.cycleId, finishedAt: audit.finishedAt, symbol: sym.symbol, state: sym.state, why: sym.why });
    }
  }
  return view;
}

/** `45s`, `12m 5s`, `3h 2m`, `2d 4h`. */
export function formatAge(seconds: number): string {
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ${seconds % 60}s`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h ${Math.floor((seconds % 3600) / 60)}m`;
  return `${Math.floor(seconds / 86_400)}d ${Math.floor((seconds % 86_400) / 3600)}h`;
}

/** Null when every alert of the window reached its channels (or none was sent). */
export function formatUndeliveredAlerts(v: OperatorView): string | null {
  const a = v.alertsUndelivered;
  if (a.failed + a.rejected + a.unknown === 0) return null;
  const parts = [
    a.failed > 0 ? `${a.failed} failed (not delivered; retried for about 5 minutes, then left)` : null,
    a.rejected > 0 ? `${a.rejected} rejected (the receiver refused it: check the chat id, token or URL)` : null,
    a.unknown > 0 ? `${a.unknown} unknown (an attempt stopped while sending; it may have arrived)` : null,
  ].filter((p): p is string => p !== null);
  const n = a.newest;
  const newest = n ? `; newest: ${n.kind} on ${n.channel} at ${n.at}, ${n.status}${n.error ? `: ${n.error}` : ''} (\`btcbot cycle show ${n.sourceId}\`)` : '';
  return `ALERTS NOT DELIVERED in the last ${UNDELIVERED_WINDOW_HOURS} h: ${parts.join(', ')}${newest}`;
}

export function formatLastOk(v: OperatorView): string {
  const parts = TRADING_MODES.map((m) => {
    const ok = v.lastOk[m];
    return ok ? `${m} ${formatAge(ok.ageSeconds)} ago (${ok.cycleId})` : `${m} never`;
  });
  return `last successful cycle: ${parts.join('; ')}`;
}

/** The equity line of one mode: the bot's share first, then the whole account. */
export function formatEquity(v: OperatorView, mode: TradingMode): string | null {
  const e = v.equity[mode];
  if (!e) return null;
  const bot = e.botEquityTry !== null ? `bot equity ${e.botEquityTry} TRY (TRY_CASH_MAX ${e.tryCashMaxTry})` : `bot equity unknown${e.note ? ` (${e.note})` : ''}`;
  return `${bot}, account equity ${e.totalEquityTry} TRY`;
}

export function formatWhyNotTrading(v: OperatorView, nowMs: number): string[] {
  if (v.symbols.length === 0) return ['  no cycle yet'];
  return table([
    ['mode', 'symbol', 'state', 'why (newest cycle of the mode)'],
    ...v.symbols.map((s) => [s.mode, s.symbol, s.state, `${s.why} [${formatAge(Math.max(0, Math.round((nowMs - Date.parse(s.finishedAt)) / 1000)))} ago]`]),
  ]);
}
