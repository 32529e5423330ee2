// Payload encryption end to end: the cycle runs with an encrypting worker and client, and what
// Temporal stores is ciphertext; what is sent without the key never reaches btcbot's code.
import { randomBytes } from 'node:crypto';
import { Client } from '@temporalio/client';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { waitUntil } from '../../src/devenv/process.js';
import { listCycleAudits } from '../../src/store/audit.js';
import { asClientOrderId } from '../../src/domain/types.js';
import { getOrderByClientId } from '../../src/store/orders.js';
import { dataConverterFromEnv } from '../../src/codec.js';
import { runCycle } from '../../src/cli/cycles.js';
import { createBtcturkExchange } from '../../src/exchange/btcturk/client.js';
import { startSimulator, type RunningSimulator } from '../../src/simulator/server.js';
import { createCycleWorker } from '../../src/worker.js';
import type { Worker } from '@temporalio/worker';
import { connectTemporal, createRogueWorker, createTestDatabase, uniqueId } from './harness.js';

const dataConverter = dataConverterFromEnv({ BTCBOT_PAYLOAD_KEY: randomBytes(32).toString('base64') })!;
let temporal: Awaited<ReturnType<typeof connectTemporal>>;
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let simulator: RunningSimulator;
let worker: Worker;
let rogueWorker: Worker;
let running: Promise<unknown>;
const taskQueue = uniqueId('codec');
const rogueQueue = uniqueId('codec-rogue');

beforeAll(async () => {
  [temporal, db, simulator] = await Promise.all([connectTemporal(), createTestDatabase(), startSimulator()]);
  const exchange = createBtcturkExchange({ baseUrl: simulator.url });
  worker = await createCycleWorker({
    connection: temporal.nativeConnection, namespace: 'default', taskQueue, dataConverter,
    deps: { pool: db.pool, exchange }, workflowBundle: temporal.workflowBundle,
  });
  rogueWorker = await createRogueWorker(temporal.nativeConnection, rogueQueue); // no key: plaintext payloads
  running = Promise.all([worker.run(), rogueWorker.run()]);
});

afterAll(async () => {
  worker?.shutdown();
  rogueWorker?.shutdown();
  await running;
  await simulator?.close();
  await db?.drop();
  await temporal?.close();
});

test('with BTCBOT_PAYLOAD_KEY a cycle runs normally and its history holds only ciphertext payloads', async () => {
  const client = new Client({ connection: temporal.client.connection, namespace: 'default', dataConverter });
  const workflowId = uniqueId('cycle-enc');
  const run = await runCycle(client, {
    workflowId, taskQueue,
    input: {
      gates: { killSwitch: true, dryRun: true, liveTrading: false, liveTradingAck: null },
      dryRunRequested: true, symbols: ['SOLTRY'], trigger: 'test',
    },
  });
  expect(run.result).toMatchObject({ outcome: 'ok', mode: 'dry_run' });

  const history = await temporal.client.workflow.getHandle(workflowId).fetchHistory(); // a client without the key
  const payloads = (history.events ?? []).flatMap((e) => [
    ...(e.workflowExecutionStartedEventAttributes?.input?.payloads ?? []),
    ...(e.activityTaskScheduledEventAttributes?.input?.payloads ?? []),
    ...(e.activityTaskCompletedEventAttributes?.result?.payloads ?? []),
    ...(e.workflowExecutionCompletedEventAttributes?.result?.payloads ?? []),
  ]);
  expect(payloads.length).toBeGreaterThan(5);
  for (const p of payloads) {
    expect(Buffer.from(p.metadata!.encoding!).toString()).toBe('binary/encrypted');
    expect(Buffer.from(p.data!).toString('latin1')).not.toContain('SOLTRY');
  }
  // Without the key the result cannot be read.
  await expect(temporal.client.workflow.getHandle(workflowId).result()).rejects.toThrow();
});

test('a cycle started without the key never runs: its first workflow task fails to decode, nothing is audited', async () => {
  const workflowId = uniqueId('cycle-plain');
  const handle = await temporal.client.workflow.start('tradingCycle', {
    taskQueue, workflowId,
    args: [{ gates: { killSwitch: true, dryRun: true, liveTrading: false, liveTradingAck: null }, dryRunRequested: true, symbols: ['SOLTRY'], trigger: 'no-key' }],
  });
  try {
    let failure = '';
    await waitUntil(async () => {
      const events = (await handle.fetchHistory()).events ?? [];
      failure = events.find((e) => e.workflowTaskFailedEventAttributes)?.workflowTaskFailedEventAttributes?.failure?.message ?? '';
      return failure !== '';
    }, { timeoutMs: 30_000, intervalMs: 200, what: 'the workflow task failure' });
    expect(failure).toMatch(/not encrypted/);
    expect((await handle.describe()).status.name).toBe('RUNNING'); // stuck, not run: no activity was scheduled
    expect(await listCycleAudits(db.pool, { cycleId: workflowId })).toEqual([]);
  } finally {
    await handle.terminate('test done');
  }
});

test('a foreign workflow without the key scheduling executeAction on our queue is refused before the activity runs', async () => {
  const action = { kind: 'submit', clientOrderId: 'rogue-plain-1', symbol: 'SOLTRY', side: 'buy', price: '1', qty: '1', reason: 'new_intent', afterCancelOf: [] };
  const outcome = await temporal.client.workflow
    .execute('rogueExecute', { taskQueue: rogueQueue, workflowId: uniqueId('rogue-plain'), args: [taskQueue, { cycleId: 'rogue', mode: 'dry_run', nowMs: Date.now(), action }] })
    .then(() => 'ran', (err: Error & { cause?: Error & { cause?: Error } }) => err.cause?.cause?.message ?? err.message);
  expect(outcome).toMatch(/not encrypted/);
  expect(await getOrderByClientId(db.pool, asClientOrderId('rogue-plain-1'))).toBeNull(); // a dry-run submit would have recorded it
});
