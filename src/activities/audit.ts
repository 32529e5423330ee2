// Audit step, always last: one cycle_audit row per cycle, the account lease released, one log
// line and the engine's counters.
import { metricMeter } from '@temporalio/activity';
import { recordCycleMetrics } from '../observability/metrics.js';
import { recordCycleAudit, type CycleAuditRecord } from '../store/audit.js';
import { releaseLease } from '../store/leases.js';
import { DEFAULT_ACCOUNT_ID, type ActivityDeps } from './deps.js';

export function auditActivities(deps: ActivityDeps) {
  return {
    async recordAudit(record: CycleAuditRecord): Promise<{ inserted: boolean }> {
      const result = await recordCycleAudit(deps.pool, record);
      await releaseLease(deps.pool, deps.accountId ?? DEFAULT_ACCOUNT_ID, record.cycleId);
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
      return result;
    },
  };
}
