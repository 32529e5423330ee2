// Alert delivery, apart from the cycle: a cycle whose audit row queued alerts starts this workflow
// as an abandoned child and finishes at once, so a notifier that is down or slow never holds a
// cycle (or the next one) up. The activity retries with backoff; each alert row is sent at most
// once (see src/store/alerts.ts), so neither a retry nor a replay sends anything twice.
import * as wf from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import { ACTIVITY_HEARTBEAT_TIMEOUT } from '../shared.js';
import { DELIVER_ALERTS_WORKFLOW, type DeliverAlertsInput, type DeliverAlertsResult } from './definitions.js';

type Activities = ReturnType<typeof createActivities>;

// About 6 minutes of attempts (5 s doubling to 2 min); every request inside has a 5 s deadline.
const { deliverAlerts } = wf.proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  heartbeatTimeout: ACTIVITY_HEARTBEAT_TIMEOUT,
  scheduleToCloseTimeout: '10m',
  retry: { initialInterval: '5s', backoffCoefficient: 2, maximumInterval: '2m', maximumAttempts: 6 },
});

export async function deliverCycleAlerts(input: DeliverAlertsInput): Promise<DeliverAlertsResult> {
  return deliverAlerts(input);
}

/** Start the delivery of a cycle's queued alerts and return: the cycle never waits for it. */
export async function startAlertDelivery(cycleId: string): Promise<void> {
  try {
    await wf.startChild(DELIVER_ALERTS_WORKFLOW, {
      workflowId: `${cycleId}-alerts`,
      args: [{ sourceId: cycleId } satisfies DeliverAlertsInput],
      parentClosePolicy: wf.ParentClosePolicy.ABANDON,
      staticSummary: `btcbot alerts of ${cycleId}`,
    });
  } catch (err) {
    // Already started (the same cycle id ran before) or refused: alerts never fail a cycle.
    wf.log.warn('alert delivery not started', { cycleId, error: (err as Error).message });
  }
}
