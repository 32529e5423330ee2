import { describe, expect, it } from 'vitest';
import { alertText, cycleAlerts, haltAlert, previousTradingState, resumeAlert } from '../../../src/domain/alerts.js';
import type { AuditView } from '../../../src/domain/cycle-story.js';

function audit(over: Partial<AuditView> = {}): AuditView {
  return {
    cycleId: 'cycle-a', mode: 'live', outcome: 'ok', startedAt: '2026-12-02T10:00:00.000Z', finishedAt: '2026-12-02T10:00:01.000Z',
    counts: { planned_actions: 0 }, decisions: [], alerts: [], envelope: {}, errorClass: null, errorMessage: null, ...over,
  };
}
const kinds = (a: AuditView, prev: Parameters<typeof cycleAlerts>[1] = null) => cycleAlerts(a, prev).map((x) => x.kind);

describe('alerts a cycle raises', () => {
  it('a clean cycle, dry run with its gate notes included, raises none', () => {
    expect(kinds(audit())).toEqual([]);
    expect(kinds(audit({ mode: 'dry_run', alerts: ['kill_switch_active', 'symbol_unavailable:XRPTRY'] }))).toEqual([]);
  });

  it('a failed cycle: its error class, message and step', () => {
    const [a] = cycleAlerts(audit({
      outcome: 'failed', counts: {}, decisions: ['failed_at:reconcile'], errorClass: 'CorruptRowError', errorMessage: 'stage4_orders row x: bad price',
    }), null);
    expect(a).toMatchObject({ kind: 'cycle_failed', severity: 'critical', title: 'btcbot: live cycle FAILED at reconcile' });
    expect(alertText(a!)).toContain('CorruptRowError: stage4_orders row x: bad price');
    expect(alertText(a!)).toContain('cycle cycle-a (live)');
  });

  it('a blocked live cycle says who blocked it and why', () => {
    const [a] = cycleAlerts(audit({ outcome: 'blocked', counts: {}, decisions: ['policy_block:kill_switch:worker'], errorMessage: 'worker: KILL_SWITCH=true blocks side effects' }), null);
    expect(a).toMatchObject({ kind: 'live_blocked', title: 'btcbot: live cycle blocked by the worker' });
    expect(a!.lines[0]).toBe('worker: KILL_SWITCH=true blocks side effects');
  });

  it('integrity and balance-drift alerts, each kind once per cycle whatever their number', () => {
    const a = audit({ alerts: ['fee_conversion_missing:1:BNB', 'fee_conversion_missing:2:BNB', 'balance_drift:BTC balance=1 positions=0.9 diff=0.1 cycles=3', 'kill_switch_active'] });
    const alerts = cycleAlerts(a, null);
    expect(alerts.map((x) => x.kind)).toEqual(['integrity', 'balance_drift']);
    expect(alerts[0]!.lines.slice(0, 2)).toEqual(['fee_conversion_missing:1:BNB', 'fee_conversion_missing:2:BNB']);
    expect(alerts[0]!.title).toBe('btcbot: 2 integrity alerts in a live cycle');
  });

  it('reduce-only alerts on the switch only: into it with the limit that hit, out of it, not while it lasts', () => {
    const reduce = audit({ alerts: ['trading_state:reduce_only'], decisions: ['risk:s4-0123456789abcdef-btctry-buy-0:max_daily_loss realized_today_try=-1200 limit=1000'] });
    const [into] = cycleAlerts(reduce, 'active');
    expect(into).toMatchObject({ kind: 'reduce_only', severity: 'warning' });
    expect(into!.lines[0]).toBe('limit: max_daily_loss realized_today_try=-1200 limit=1000');
    expect(kinds(reduce, null)).toEqual(['reduce_only']); // the first cycle ever
    expect(kinds(reduce, 'reduce_only')).toEqual([]);
    expect(cycleAlerts(audit(), 'reduce_only')[0]).toMatchObject({ kind: 'reduce_only', severity: 'info' });
    expect(kinds(audit({ counts: {} }), 'reduce_only')).toEqual([]); // did not plan: no state to compare
  });

  it('the previous state is the newest earlier cycle that planned', () => {
    expect(previousTradingState([{ alerts: [], counts: {} }, { alerts: ['trading_state:reduce_only'], counts: { planned_actions: 1 } }])).toBe('reduce_only');
    expect(previousTradingState([{ alerts: [], counts: {} }])).toBeNull();
  });

  it('halt and resume name the reason, who and when', () => {
    const h = { reason: 'canary: cancel-path check', haltedAt: '2026-12-02T10:00:00.000Z', by: 'cli:root' };
    expect(alertText(haltAlert(h, true))).toBe('btcbot: trading HALTED\nreason: canary: cancel-path check\nby cli:root at 2026-12-02T10:00:00.000Z\ncancelling the bot\'s own open orders');
    expect(alertText(resumeAlert(h, 'cli:ops', '2026-12-02T11:00:00.000Z'))).toContain('the halt was: canary: cancel-path check');
  });
});
