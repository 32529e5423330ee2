// Audit step, always last: one cycle_audit row per cycle (with its alerts queued in the same
// transaction), the account lease released, one log line, the engine's counters and gauges.
import { metricMeter } from '@temporalio/activity';
import { cycleAlerts, previousTradingState } from '../domain/alerts.js';
import { parseTradingConfig } from '../domain/config.js';
import { recordStateGauges } from '../observability/gauges.js';
import { recordCycleMetrics } from '../observability/metrics.js';
import { alertPayload } from '../observability/notifier.js';
import type { QueuedAlert } from '../store/alerts.js';
import { countDeliverable } from '../store/alerts.js';
import { listCycleAudits, recordCycleAudit, type CycleAuditRecord } from '../store/audit.js';
import { releaseLease } from '../store/leases.js';
import { readOperatorState } from '../store/operator-state.js';
import { DEFAULT_ACCOUNT_ID, type ActivityDeps } from './deps.js';

/** How far back the trading state of an earlier cycle is looked for (reduce-only switches). */
const PREVIOUS_CYCLES = 50;

export function auditActivities(deps: ActivityDeps) {
  const accountId = deps.accountId ?? DEFAULT_ACCOUNT_ID;
  const channels = deps.notifier?.channels ?? [];

  /**
   * The alerts this cycle raises, one row per configured channel; none when no channel is. A
   * failure here is logged and queues nothing: alerting never keeps the audit row from landing.
   */
  async function alertsOf(record: CycleAuditRecord): Promise<QueuedAlert[]> {
    if (channels.length === 0) return [];
    try {
      const earlier = await listCycleAudits(deps.pool, {
        mode: record.mode, limit: PREVIOUS_CYCLES, before: { finishedAt: record.finishedAt, cycleId: record.cycleId },
      });
      return cycleAlerts(record, previousTradingState(earlier)).flatMap((alert) =>
        channels.map((channel) => ({ kind: alert.kind, channel, payload: alertPayload(alert, accountId) })),
      );
    } catch (err) {
      deps.logger?.warn({ event: 'alerts_not_queued', cycle_id: record.cycleId, error: (err as Error).message }, 'alerts not queued');
      return [];
    }
  }

  /** Gauges from the database after the cycle. A failure here is logged, never fails the audit. */
  async function updateGauges(): Promise<void> {
    if (deps.metrics !== true) return;
    try {
      const state = await readOperatorState(deps.pool, accountId);
      const tryCashMax = parseTradingConfig(deps.env ?? {}).tryCashMax;
      recordStateGauges(metricMeter, state, { accountId, tryCashMax, nowMs: (deps.now ?? Date.now)() });
    } catch (err) {
      deps.logger?.warn({ event: 'gauges_not_updated', error: (err as Error).message }, 'gauges not updated');
    }
  }

  return {
    async recordAudit(record: CycleAuditRecord): Promise<{ inserted: boolean; alertsPending: number }> {
      const result = await recordCycleAudit(deps.pool, record, await alertsOf(record));
      if (result.alertsNotQueued !== undefined) {
        deps.logger?.warn({ event: 'alerts_not_queued', cycle_id: record.cycleId, error: result.alertsNotQueued }, 'alerts not queued');
      }
      await releaseLease(deps.pool, accountId, record.cycleId);
      if (result.inserted) {
        // Once per cycle, not per retry of this activity.
        recordCycleMetrics(metricMeter, record);
        deps.logger?.info(
          {
            event: 'cycle_finished', cycle_id: record.cycleId, mode: record.mode, outcome: record.outcome,
            counts: record.counts, alerts: record.alerts.length, error_class: record.errorClass,
            // Each failed step of a symbol with its cause (the alerts carry them as `symbol_failed:…`).
            symbol_failures: record.alerts.filter((a) => a.startsWith('symbol_failed:')),
          },
          `cycle ${record.cycleId} ${record.outcome}`,
        );
      }
      await updateGauges();
      // Counted on every attempt: a retry after the insert still starts the delivery.
      const alertsPending = channels.length === 0 ? 0 : await countDeliverable(deps.pool, record.cycleId);
      return { inserted: result.inserted, alertsPending };
    },
  };
}
