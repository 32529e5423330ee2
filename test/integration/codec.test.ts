// Payload encryption end to end: the cycle runs with an encrypting worker and client, and what
// Temporal stores is ciphertext.
import { randomBytes } from 'node:crypto';
import { Client } from '@temporalio/client';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { dataConverterFromEnv } from '../../src/codec.js';
import { runCycle } from '../../src/cli/cycles.js';
import { createBtcturkExchange } from '../../src/exchange/btcturk/client.js';
import { startSimulator, type RunningSimulator } from '../../src/simulator/server.js';
import { createCycleWorker } from '../../src/worker.js';
import type { Worker } from '@temporalio/worker';
import { connectTemporal, createTestDatabase, uniqueId } from './harness.js';

const dataConverter = dataConverterFromEnv({ BTCBOT_PAYLOAD_KEY: randomBytes(32).toString('base64') })!;
let temporal: Awaited<ReturnType<typeof connectTemporal>>;
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let simulator: RunningSimulator;
let worker: Worker;
let running: Promise<void>;
const taskQueue = uniqueId('codec');

beforeAll(async () => {
  [temporal, db, simulator] = await Promise.all([connectTemporal(), createTestDatabase(), startSimulator()]);
  const exchange = createBtcturkExchange({ baseUrl: simulator.url });
  worker = await createCycleWorker({
    connection: temporal.nativeConnection, namespace: 'default', taskQueue, dataConverter,
    deps: { pool: db.pool, exchange }, workflowBundle: temporal.workflowBundle,
  });
  running = worker.run();
});

afterAll(async () => {
  worker?.shutdown();
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
