// What an operator is told, and when. Pure: the cycle's audit record (and the trading state of the
// cycle before it) in, the alerts out. Sending them (webhook, Telegram), deduplicating per cycle and
// redacting are the caller's.
//
// A cycle raises at most one alert of each kind:
// - cycle_failed   every failed cycle, with its error and the step it failed at;
// - live_blocked   every blocked cycle that was to run live (the gates or the worker refused it);
// - integrity      the cycle's integrity alerts (oversell, fee conversion missing, reconcile
//                  anomalies, quarantines), every cycle they are present;
// - balance_drift  the cycle's balance-drift alerts, every cycle they are present;
// - reduce_only    a switch: trading entered reduce-only, or left it, compared with the last cycle
//                  of the same mode that planned.
// halt and resume are raised by the command that does them.
import { cycleStory, integrityAlerts, parseEntry, tradingStateOf, type AuditView, type TradingState } from './cycle-story.js';

export const ALERT_KINDS = ['halt', 'resume', 'cycle_failed', 'live_blocked', 'integrity', 'balance_drift', 'reduce_only'] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];

export interface Alert {
  readonly kind: AlertKind;
  readonly severity: 'critical' | 'warning' | 'info';
  /** One line, e.g. `btcbot: live cycle FAILED at accounting`. */
  readonly title: string;
  /** The detail lines. */
  readonly lines: readonly string[];
  readonly cycleId: string | null;
  readonly mode: string | null;
  readonly at: string;
}

/** The whole message as text (Telegram's, and the webhook's `text`). */
export function alertText(a: Alert): string {
  return [a.title, ...a.lines].join('\n');
}

const MAX_LINES = 20;

function lines(items: readonly string[]): string[] {
  return items.length <= MAX_LINES ? [...items] : [...items.slice(0, MAX_LINES), `… and ${items.length - MAX_LINES} more`];
}

/**
 * The alerts one cycle raises. `previous` is the trading state of the last earlier cycle of the
 * same mode that planned (null when there is none): reduce-only alerts only on a switch.
 */
export function cycleAlerts(audit: AuditView, previous: TradingState | null): Alert[] {
  const base = { cycleId: audit.cycleId, mode: audit.mode, at: audit.finishedAt };
  const footer = `cycle ${audit.cycleId} (${audit.mode})`;
  const out: Alert[] = [];
  const story = cycleStory(audit);

  if (audit.outcome === 'failed') {
    const step = story.error?.step ? ` at ${story.error.step}` : '';
    out.push({
      ...base, kind: 'cycle_failed', severity: 'critical',
      title: `btcbot: ${audit.mode} cycle FAILED${step}`,
      lines: [`${audit.errorClass ?? 'Error'}: ${audit.errorMessage ?? ''}`.trim(), footer],
    });
  }
  if (audit.outcome === 'blocked' && audit.mode === 'live') {
    const by = story.gates.block?.by === 'worker' ? ' by the worker' : '';
    out.push({
      ...base, kind: 'live_blocked', severity: 'warning',
      title: `btcbot: live cycle blocked${by}`,
      lines: [audit.errorMessage ?? story.gates.block?.reason ?? 'blocked by policy', footer],
    });
  }
  const entries = audit.alerts.map(parseEntry);
  const drift = entries.filter((e) => e.kind === 'balance_drift').map((e) => e.raw);
  const integrity = integrityAlerts(audit).filter((raw) => parseEntry(raw).kind !== 'balance_drift');
  if (integrity.length > 0) {
    out.push({
      ...base, kind: 'integrity', severity: 'critical',
      title: `btcbot: ${integrity.length} integrity alert${integrity.length === 1 ? '' : 's'} in a ${audit.mode} cycle`,
      lines: [...lines(integrity), footer],
    });
  }
  if (drift.length > 0) {
    out.push({
      ...base, kind: 'balance_drift', severity: 'critical',
      title: `btcbot: balance drift in a ${audit.mode} cycle`,
      lines: [...lines(drift), footer],
    });
  }
  const state = tradingStateOf(audit);
  if (state === 'reduce_only' && previous !== 'reduce_only') {
    const why = story.actions.find((a) => a.risk !== null && /^(max_daily_loss|max_drawdown)\b/.test(a.risk))?.risk;
    out.push({
      ...base, kind: 'reduce_only', severity: 'warning',
      title: `btcbot: ${audit.mode} trading switched to REDUCE-ONLY (no new buys)`,
      lines: [...(why ? [`limit: ${why}`] : []), footer],
    });
  } else if (state === 'active' && previous === 'reduce_only') {
    out.push({
      ...base, kind: 'reduce_only', severity: 'info',
      title: `btcbot: ${audit.mode} trading is active again (left reduce-only)`,
      lines: [footer],
    });
  }
  return out;
}

/** The trading state to compare with: the newest earlier cycle (newest first) that planned. */
export function previousTradingState(earlier: ReadonlyArray<Pick<AuditView, 'alerts' | 'counts'>>): TradingState | null {
  for (const a of earlier) {
    const s = tradingStateOf(a);
    if (s !== null) return s;
  }
  return null;
}

export function haltAlert(h: { reason: string; haltedAt: string; by: string }, cancelOpen: boolean): Alert {
  return {
    kind: 'halt', severity: 'critical', cycleId: null, mode: null, at: h.haltedAt,
    title: 'btcbot: trading HALTED',
    lines: [`reason: ${h.reason}`, `by ${h.by} at ${h.haltedAt}`, ...(cancelOpen ? ['cancelling the bot\'s own open orders'] : [])],
  };
}

export function resumeAlert(lifted: { reason: string; haltedAt: string; by: string }, by: string, at: string): Alert {
  return {
    kind: 'resume', severity: 'info', cycleId: null, mode: null, at,
    title: 'btcbot: trading resumed (halt lifted)',
    lines: [`by ${by} at ${at}`, `the halt was: ${lifted.reason} (since ${lifted.haltedAt}, by ${lifted.by})`],
  };
}
