// Bench-only workflow for the latency floor (bench/cycle.ts): `n` empty activities in sequence on
// the same server and task queue machinery as a cycle. Bundled with its own workflowsPath.
import * as wf from '@temporalio/workflow';

export interface FloorActivities {
  noop(): Promise<void>;
}

const { noop } = wf.proxyActivities<FloorActivities>({ startToCloseTimeout: '10s' });

export async function emptyActivities(n: number): Promise<number> {
  for (let i = 0; i < n; i++) await noop();
  return n;
}
