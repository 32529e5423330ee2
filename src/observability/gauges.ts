// btcbot's gauges: what an operator alerts on. Set after every cycle from the DATABASE state (see
// src/store/operator-state.ts), not from what this worker's own cycle saw, so with several workers
// every one of them exports the same truth as of its last cycle; labelled by account. Aggregate
// across workers with `max by (account, ...)` (the README's Metrics section and
// deploy/prometheus/alerts.yml show how). Prometheus samples are floats: money here is for
// watching and alerting, never for accounting (that is `btcbot pnl` and the database).
import type { MetricMeter } from '@temporalio/common';
import { cycleStory, SYMBOL_STATES } from '../domain/cycle-story.js';
import type { Decimal } from '../domain/decimal.js';
import { botEquityTry } from '../domain/pnl.js';
import { ORDER_MODES, TRADING_MODES, type OperatorState } from '../store/operator-state.js';

/** name → help text: the gauges btcbot exports (the alert rules test checks they exist). */
export const GAUGES = {
  btcbot_halted: 'The persisted halt is set (1) or not (0)',
  btcbot_trading_state: 'Per symbol and mode, after the newest cycle: 1 for its state, 0 for the others',
  btcbot_equity_try: 'Total equity of the account in TRY (all TRY plus positions at mark), latest snapshot; the drawdown basis',
  btcbot_bot_equity_try: "The bot's own equity in TRY: its TRY (at most TRY_CASH_MAX) plus its positions at mark, latest snapshot",
  btcbot_realized_today_try: 'Realized PnL of the trading day (DAY_BOUNDARY_TZ) in TRY, latest snapshot',
  btcbot_drawdown_pct: 'Drawdown from the high-water mark in percent, latest snapshot',
  btcbot_position_notional_try: 'Value of the positions at mark in TRY, latest snapshot',
  btcbot_position_qty: 'Quantity held per symbol (base asset) and mode (live: the account; dry_run: the paper ledger)',
  btcbot_alerts_undelivered: 'Alerts of the last 24 h that reached no channel, by status: failed (not delivered), rejected (refused by the receiver) or unknown (an attempt stopped mid-send)',
  btcbot_open_orders: 'Orders in a working state (pending_submit, unknown, open, partial, cancel_requested) per mode',
  btcbot_last_success_timestamp_seconds: 'When the last cycle with outcome ok finished (Unix seconds)',
  btcbot_state_read_timestamp_seconds: 'When this worker last read the database state behind these gauges (Unix seconds)',
} as const;

export type GaugeName = keyof typeof GAUGES;

const num = (d: Decimal): number => d.toNumber();

export function recordStateGauges(
  meter: MetricMeter,
  state: OperatorState,
  opts: { accountId: string; tryCashMax: Decimal; nowMs: number },
): void {
  const gauge = (name: GaugeName, unit = '') => meter.createGauge(name, 'float', unit, GAUGES[name]);
  const account = opts.accountId;
  gauge('btcbot_halted').set(state.halt === null ? 0 : 1, { account });
  gauge('btcbot_state_read_timestamp_seconds', 's').set(opts.nowMs / 1000, { account });

  for (const mode of TRADING_MODES) {
    const s = state.snapshots[mode];
    if (s !== null) {
      gauge('btcbot_equity_try', 'TRY').set(num(s.totalEquityTry), { account, mode });
      gauge('btcbot_realized_today_try', 'TRY').set(num(s.realizedTodayTry), { account, mode });
      gauge('btcbot_drawdown_pct', '%').set(num(s.drawdownPct), { account, mode });
      if (s.tryCashTry !== null && s.positionsValueTry !== null) {
        gauge('btcbot_bot_equity_try', 'TRY').set(num(botEquityTry({ tryCashTry: s.tryCashTry, positionsValueTry: s.positionsValueTry }, opts.tryCashMax)), { account, mode });
        gauge('btcbot_position_notional_try', 'TRY').set(num(s.positionsValueTry), { account, mode });
      }
    }
    const ok = state.lastOk[mode];
    if (ok !== null) gauge('btcbot_last_success_timestamp_seconds', 's').set(Date.parse(ok.finishedAt) / 1000, { account, mode });
    const latest = state.latestCycles[mode];
    if (latest !== null) {
      for (const sym of cycleStory(latest).symbols) {
        for (const st of SYMBOL_STATES) gauge('btcbot_trading_state').set(st === sym.state ? 1 : 0, { account, mode, symbol: sym.symbol, state: st });
      }
    }
  }
  for (const mode of ORDER_MODES) gauge('btcbot_open_orders').set(state.openOrders[mode], { account, mode });
  for (const p of state.positions) gauge('btcbot_position_qty').set(num(p.qty), { account, mode: 'live', symbol: p.symbol });
  for (const p of state.paperPositions) gauge('btcbot_position_qty').set(num(p.qty), { account, mode: 'dry_run', symbol: p.symbol });
  for (const status of ['failed', 'rejected', 'unknown'] as const) gauge('btcbot_alerts_undelivered').set(state.alertsUndelivered[status], { account, status });
}
