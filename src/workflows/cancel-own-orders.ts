// Cancel the bot's own working orders (`btcbot halt --cancel-open`). Real orders are cancelled only
// when both the starter's and the worker's gates allow live writes; simulated rows always are.
import * as wf from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import { liveWritesAllowed } from '../domain/gates.js';
import { ACTIVITY_HEARTBEAT_TIMEOUT, NON_RETRYABLE_ERROR_TYPES } from '../shared.js';
import type { CancelOwnOrdersInput, CancelOwnOrdersResult } from './definitions.js';

type Activities = ReturnType<typeof createActivities>;

const { planOwnOrderCancels, executeAction } = wf.proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  heartbeatTimeout: ACTIVITY_HEARTBEAT_TIMEOUT,
  scheduleToCloseTimeout: '2m',
  retry: { initialInterval: '1s', maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES },
});

export async function cancelOwnOpenOrders(input: CancelOwnOrdersInput): Promise<CancelOwnOrdersResult> {
  const mode = liveWritesAllowed(input.gates) ? 'live' : 'dry_run';
  const nowMs = Date.now();
  let requested = 0;
  let failed = 0;
  for (const action of await planOwnOrderCancels()) {
    try {
      const r = await executeAction({ cycleId: wf.workflowInfo().workflowId, mode, nowMs, action });
      if (r.outcome === 'cancel_requested' || r.outcome === 'canceled') requested += 1;
      else if (r.outcome === 'cancel_failed') failed += 1;
    } catch (err) {
      if (!(err instanceof wf.ActivityFailure)) throw err;
      failed += 1; // e.g. the worker's gates are closed: the order stays tracked
    }
  }
  return { requested, failed, simulatedOnly: mode !== 'live' };
}
