// The alert kinds the observability test does not reach (it covers cycle_failed, integrity,
// live_blocked, halt and resume): a switch into reduce-only and a balance drift, raised by live
// cycles on the real stack (Temporal dev server, Postgres, the simulator over HTTP), delivered by
// the cycle's deliverCycleAlerts child to a local webhook receiver, each once for its cycle.
import type { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { runCycle } from '../../src/cli/cycles.js';
import { Decimal } from '../../src/domain/decimal.js';
import type { GateSettings } from '../../src/domain/gates.js';
import { createBtcturkExchange } from '../../src/exchange/btcturk/client.js';
import type { Exchange } from '../../src/exchange/port.js';
import { createNotifier, notifierSettingsFromEnv } from '../../src/observability/notifier.js';
import { startSimulator, type RunningSimulator } from '../../src/simulator/server.js';
import { createCycleWorker } from '../../src/worker.js';
import { startAlertReceiver, type AlertReceiver } from '../support/alert-receiver.js';
import { connectTemporal, createTestDatabase, uniqueId } from './harness.js';

const ARMED: GateSettings = { killSwitch: false, dryRun: false, liveTrading: true, liveTradingAck: 'I_UNDERSTAND' };

let temporal: Awaited<ReturnType<typeof connectTemporal>>;
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let sim: RunningSimulator;
let exchange: Exchange;
let receiver: AlertReceiver;
let worker: Worker;
let running: Promise<void>;
const taskQueue = uniqueId('alert-kinds');

beforeAll(async () => {
  [temporal, db, sim, receiver] = await Promise.all([connectTemporal(), createTestDatabase(), startSimulator({ seed: 5 }), startAlertReceiver()]);
  exchange = createBtcturkExchange({ baseUrl: sim.url, credentials: sim.credentials });
  worker = await createCycleWorker({
    connection: temporal.nativeConnection, namespace: 'default', taskQueue, workflowBundle: temporal.workflowBundle,
    deps: {
      pool: db.pool, exchange, hasCredentials: true,
      notifier: createNotifier(notifierSettingsFromEnv({ BTCBOT_ALERT_WEBHOOK_URL: `${receiver.url}/hook` })),
      // The account's 0.1 BTC (an inferred opening) is most of the equity: a 2 % fall is a 1 % drawdown.
      env: {
        SYMBOLS: 'BTC_TRY', KILL_SWITCH: 'false', DRY_RUN: 'false', LIVE_TRADING: 'true', LIVE_TRADING_ACK: 'I_UNDERSTAND',
        FILLS_SETTLE_SECONDS: '0', MAX_DRAWDOWN_PCT: '0.5', BALANCE_DRIFT_CYCLES: '1',
      },
    },
  });
  running = worker.run();
}, 60_000);

afterAll(async () => {
  worker?.shutdown();
  await running;
  await Promise.allSettled([exchange?.close(), sim?.close(), receiver?.close()]);
  await db?.drop();
  await temporal?.close();
});

const cycle = async (): Promise<string> => {
  const workflowId = uniqueId('cycle-kinds');
  const run = await runCycle(temporal.client, { workflowId, taskQueue, input: { gates: ARMED, dryRunRequested: false, symbols: ['BTCTRY'], trigger: 'test' } });
  expect(run.result?.outcome, JSON.stringify(run)).toBe('ok');
  return workflowId;
};

test('a switch into reduce-only and a balance drift each reach the webhook once, for the cycle that raised them', async () => {
  const first = await cycle(); // the opening, the high-water mark
  const mid = new Decimal(sim.engine.groundTruth().mids['BTCTRY']!);
  sim.engine.setMid('BTCTRY', mid.mul('0.98').toDecimalPlaces(0));
  const fell = await cycle(); // drawdown over MAX_DRAWDOWN_PCT: reduce-only
  // The balance no longer matches the position (coins moved out by hand): drift, raised at once (1 cycle).
  sim.engine.setBalance('BTC', '0.09');
  const drifted = await cycle();
  const again = await cycle(); // still reduce-only, still drifting: no new switch

  // The outbox is written with each cycle's audit row: what it holds once the cycles are done is every alert they raised.
  const queued = (await db.pool.query<{ source_id: string; kind: string }>(
    'SELECT source_id, kind FROM alerts_sent WHERE source_id = ANY($1) ORDER BY source_id, kind', [[first, fell, drifted, again]],
  )).rows.map((r) => `${r.source_id} ${r.kind}`);
  expect(queued.filter((q) => q.endsWith(' reduce_only'))).toEqual([`${fell} reduce_only`]); // the switch, not the cycle that stayed
  expect(queued).toContain(`${drifted} balance_drift`);
  expect(queued.filter((q) => q.startsWith(first))).toEqual([]);
  // Every queued alert reaches the webhook, each (cycle, kind) once.
  await receiver.waitUntil((r) => r.length >= queued.length);
  const got = receiver.received.map((r) => `${String(r.body.cycle_id)} ${String(r.body.kind)}`);
  expect(got.sort()).toEqual([...queued].sort());
}, 120_000);
