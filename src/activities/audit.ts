// Audit step, always last: one cycle_audit row per cycle, and the account lease released.
import { recordCycleAudit, type CycleAuditRecord } from '../store/audit.js';
import { releaseLease } from '../store/leases.js';
import { DEFAULT_ACCOUNT_ID, type ActivityDeps } from './deps.js';

export function auditActivities(deps: ActivityDeps) {
  return {
    async recordAudit(record: CycleAuditRecord): Promise<{ inserted: boolean }> {
      const result = await recordCycleAudit(deps.pool, record);
      await releaseLease(deps.pool, deps.accountId ?? DEFAULT_ACCOUNT_ID, record.cycleId);
      return result;
    },
  };
}
