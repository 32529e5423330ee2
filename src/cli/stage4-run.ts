// `btcbot stage4-run [--dry-run] [--cycle-id ID]`: run one cycle through Temporal and wait.
// Exit codes: 0 ok, 1 failed, 2 blocked by policy or configuration (the cycle writes a policy-block
// audit row). A worker must be running (`btcbot worker` or `btcbot up`).
import { Client, Connection } from '@temporalio/client';
import { loadInfraSettings } from '../settings.js';
import { loadCycleSettings } from './cycle-settings.js';
import { exitCodeOf, formatCycleSummary, newCycleId, runCycle } from './cycles.js';

export async function stage4Run({ dryRun, cycleId }: { dryRun: boolean; cycleId?: string }): Promise<number> {
  const infra = loadInfraSettings();
  const settings = loadCycleSettings();
  const connection = await Connection.connect({ address: infra.temporalAddress, connectTimeout: '5s' });
  try {
    const client = new Client({ connection, namespace: infra.temporalNamespace });
    const workflowId = cycleId ?? newCycleId(Date.now(), 'manual');
    const run = await runCycle(client, {
      workflowId,
      taskQueue: infra.taskQueue,
      input: { gates: settings.gates, dryRunRequested: dryRun, symbols: settings.symbols, trigger: 'cli' },
    });
    if (run.result?.outcome === 'blocked' && run.result.message) console.log(run.result.message);
    console.log(formatCycleSummary(run));
    return exitCodeOf(run);
  } finally {
    await connection.close();
  }
}
