// Cancel the bot's own working orders and wait until none is left (`btcbot halt --cancel-open`).
// Each round: a sweep reconciles with the exchange (pending and unknown submits resolved by client
// id first, final states of orders that left the book, fills ingested) and plans the cancels; the
// cancels run; then, BTCTurk cancels being asynchronous (an order may stay listed, and fill, after
// its cancel was acknowledged), the next round looks again. Done when the exchange lists none of our
// orders and none of ours is working, unresolved, or closed only by inference and still in its
// recovery window (such an order may still appear); otherwise it reports exactly which. Real
// orders are cancelled only when both the starter's and the worker's gates allow live writes;
// simulated rows always are (a live halt cancels leftover dry-run rows too, in the database only).
import * as wf from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import { liveWritesAllowed } from '../domain/gates.js';
import { ACTIVITY_HEARTBEAT_TIMEOUT, NON_RETRYABLE_ERROR_TYPES } from '../shared.js';
import { cancelProgressQuery, type CancelOwnOrdersInput, type CancelOwnOrdersProgress, type CancelOwnOrdersResult } from './definitions.js';

type Activities = ReturnType<typeof createActivities>;

const { haltSweep, executeAction } = wf.proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  cancellationType: wf.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED, // a write is never abandoned mid-flight
  heartbeatTimeout: ACTIVITY_HEARTBEAT_TIMEOUT,
  scheduleToCloseTimeout: '2m',
  retry: { initialInterval: '1s', maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES },
});

export const DEFAULT_CANCEL_WAIT_SECONDS = 90;
/** Between rounds: long enough for an acknowledged cancel to complete, short enough to show progress. */
const ROUND_PAUSE = '2s';

export async function cancelOwnOpenOrders(input: CancelOwnOrdersInput): Promise<CancelOwnOrdersResult> {
  const mode = liveWritesAllowed(input.gates) ? 'live' : 'dry_run';
  const { workflowId } = wf.workflowInfo();
  const deadline = Date.now() + (input.waitSeconds ?? DEFAULT_CANCEL_WAIT_SECONDS) * 1000;
  const progress: CancelOwnOrdersProgress = { round: 0, requested: 0, failed: 0, stillWorking: [], unresolved: [], filled: [], fillsApplied: 0 };
  wf.setHandler(cancelProgressQuery, () => progress);
  const requested = new Set<string>();
  const failed = new Set<string>();
  const filled = new Set<string>();

  for (;;) {
    progress.round += 1;
    const sweep = await haltSweep({ mode, haltId: workflowId });
    for (const f of sweep.filled) filled.add(f);
    progress.filled = [...filled];
    progress.fillsApplied += sweep.fillsApplied;
    progress.stillWorking = sweep.stillWorking;
    progress.unresolved = sweep.unresolved;
    progress.mayStillAppear = sweep.mayStillAppear ?? [];
    progress.readsFailed = sweep.readsFailed;
    for (const action of sweep.cancels) {
      const id = action.kind === 'cancel' ? action.exchangeOrderId : action.clientOrderId;
      try {
        const r = await executeAction({ cycleId: workflowId, mode, nowMs: Date.now(), action });
        if (r.outcome === 'cancel_requested' || r.outcome === 'canceled') requested.add(id);
        else if (r.outcome === 'cancel_failed') failed.add(id);
      } catch (err) {
        if (!(err instanceof wf.ActivityFailure)) throw err;
        failed.add(id); // e.g. the worker's gates are closed: the order stays tracked
      }
    }
    progress.requested = requested.size;
    progress.failed = failed.size;
    const nothingToCancel = sweep.cancels.length === 0 && sweep.listedOurs === 0 && sweep.readsFailed.length === 0 &&
      sweep.stillWorking.length === 0 && sweep.unresolved.length === 0;
    const clear = nothingToCancel && progress.mayStillAppear.length === 0;
    // Only real cancels need the exchange to catch up: simulated rows are settled at once. Orders
    // closed by inference were looked up by this sweep; waiting longer cannot cancel them.
    const waitForExchange = mode === 'live' || sweep.listedOurs > 0;
    const onlyMayStillAppear = nothingToCancel && progress.round >= 2;
    if (clear || onlyMayStillAppear || Date.now() >= deadline || (!waitForExchange && sweep.cancels.length === 0)) {
      return { ...progress, simulatedOnly: mode !== 'live', done: clear };
    }
    if (waitForExchange) await wf.sleep(ROUND_PAUSE);
  }
}
