// The replay gate: every committed workflow history (test/replay/histories, recorded by
// `npm run record-histories`) must replay against the current workflow code. A change to workflow
// code that would break in-flight cycles fails here, with no Temporal server needed.
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { beforeAll, describe, expect, test } from 'vitest';
import { workflowsPath } from '../../src/worker.js';

const historiesDir = fileURLToPath(new URL('../replay/histories/', import.meta.url));
const reorderedWorkflowPath = fileURLToPath(new URL('../replay/fixtures/reordered-workflow.ts', import.meta.url));

const files = readdirSync(historiesDir).filter((f) => f.endsWith('.json')).sort();
const scenarioOf = (file: string): string => basename(file, '.json');
const loadHistory = (file: string): unknown => JSON.parse(readFileSync(join(historiesDir, file), 'utf8'));
/** The recorder starts every scenario with workflow id `replay-<scenario>`. */
const workflowIdOf = (file: string): string => `replay-${scenarioOf(file)}`;

/** What the recorder records; a missing one means the gate silently lost coverage. */
const REQUIRED_SCENARIOS = [
  'dry-run', 'live-submit', 'live-fills', 'halted-signal', 'halted-submit-in-flight', 'halted-persisted', 'quarantined-oversell', 'failed-corrupt-row',
  'blocked-kill-switch', 'blocked-worker-kill-switch', 'skipped-lease', 'cancel-own-open-orders',
];

let workflowBundle: WorkflowBundleWithSourceMap;
let reorderedBundle: WorkflowBundleWithSourceMap;

beforeAll(async () => {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  [workflowBundle, reorderedBundle] = await Promise.all([
    bundleWorkflowCode({ workflowsPath, logger: new DefaultLogger('WARN') }),
    bundleWorkflowCode({ workflowsPath: reorderedWorkflowPath, logger: new DefaultLogger('WARN') }),
  ]);
}, 120_000);

describe('replay gate: committed histories replay against the current workflow code', () => {
  test('the committed histories cover every recorded scenario, each a closed execution', () => {
    expect(files.map(scenarioOf)).toEqual(expect.arrayContaining(REQUIRED_SCENARIOS));
    for (const file of files) {
      const events = (loadHistory(file) as { events: Array<{ eventType: string }> }).events;
      expect(events[0]?.eventType, file).toBe('EVENT_TYPE_WORKFLOW_EXECUTION_STARTED');
      expect(events.at(-1)?.eventType, file).toMatch(/^EVENT_TYPE_WORKFLOW_EXECUTION_(COMPLETED|FAILED)$/);
    }
  });

  test.each(files)('%s replays without a determinism violation', async (file) => {
    await expect(Worker.runReplayHistory({ workflowBundle }, loadHistory(file), workflowIdOf(file))).resolves.toBeUndefined();
  });

  test('negative control: a tradingCycle that schedules a different activity first is rejected with DeterminismViolationError', async () => {
    const replay = Worker.runReplayHistory({ workflowBundle: reorderedBundle }, loadHistory('dry-run.json'), 'replay-dry-run');
    await expect(replay).rejects.toBeInstanceOf(DeterminismViolationError);
    await expect(replay).rejects.toThrow(/prepareCycle/);
  });
});
