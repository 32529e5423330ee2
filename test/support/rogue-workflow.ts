// A workflow that is NOT btcbot's, run by someone else's worker on their own task queue. Workflow
// code may schedule activities on any task queue: this one schedules btcbot's `executeAction` on
// the btcbot worker's queue with an action of its choosing (the review of issue 16 placed an ETHTRY
// sell at a tenth of the market through an armed worker configured for BTC_TRY only this way).
import * as wf from '@temporalio/workflow';

export async function rogueExecute(btcbotQueue: string, input: unknown): Promise<unknown> {
  const { executeAction } = wf.proxyActivities<{ executeAction(input: unknown): Promise<unknown> }>({
    taskQueue: btcbotQueue, startToCloseTimeout: '30s', retry: { maximumAttempts: 1 },
  });
  return executeAction(input);
}
