// Alert delivery (run by the deliverCycleAlerts workflow, apart from the cycle). Each queued row is
// claimed before its request leaves and settled after: sent, failed (surely not delivered: the
// next attempt sends it again), rejected (the receiver refused it) or unknown (it may have
// arrived: never sent again). Rows still failed make the attempt fail, so Temporal retries it.
import { claimAlert, listAlerts, settleAlert, settleInterrupted } from '../store/alerts.js';
import type { DeliverAlertsInput, DeliverAlertsResult } from '../workflows/definitions.js';
import type { ActivityDeps } from './deps.js';

export class AlertDeliveryError extends Error {
  override name = 'AlertDeliveryError';
}

export function alertActivities(deps: ActivityDeps) {
  return {
    async deliverAlerts({ sourceId }: DeliverAlertsInput): Promise<DeliverAlertsResult> {
      const notifier = deps.notifier;
      if (!notifier) return { sent: 0, notSent: 0 };
      await settleInterrupted(deps.pool, sourceId);
      const due = (await listAlerts(deps.pool, sourceId)).filter((r) => r.status === 'pending' || r.status === 'failed');
      await Promise.all(due.map(async (row) => {
        const payload = await claimAlert(deps.pool, sourceId, row.kind, row.channel);
        if (payload === null) return; // settled meanwhile by another attempt
        const result = await notifier.send(row.channel, payload);
        await settleAlert(deps.pool, sourceId, row.kind, row.channel, result);
        if (result.status !== 'sent') {
          deps.logger?.warn({ event: 'alert_not_delivered', source_id: sourceId, kind: row.kind, channel: row.channel, status: result.status, error: result.error }, 'alert not delivered');
        }
      }));
      const rows = await listAlerts(deps.pool, sourceId);
      const failed = rows.filter((r) => r.status === 'failed');
      if (failed.length > 0) {
        throw new AlertDeliveryError(`${failed.length} alert(s) not delivered yet: ${failed.map((r) => `${r.kind}/${r.channel}: ${r.lastError}`).join('; ')}`);
      }
      return { sent: rows.filter((r) => r.status === 'sent').length, notSent: rows.filter((r) => r.status === 'rejected' || r.status === 'unknown').length };
    },
  };
}
