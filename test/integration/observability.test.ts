// A real `btcbot worker` process with real-looking credentials, given as files (Docker secrets):
// its JSON logs, its Prometheus metrics, and a scan of everything it leaves behind (logs, workflow
// histories, every database row, error messages, `status --json`) for the API key and secret.
// (TEMPORAL_API_KEY needs TLS: temporal-tls.test.ts scans for it.)
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { runCycle, type CycleRun } from '../../src/cli/cycles.js';
import { Decimal } from '../../src/domain/decimal.js';
import type { GateSettings } from '../../src/domain/gates.js';
import { asClientOrderId, toPairSymbol } from '../../src/domain/types.js';
import { freePort } from '../../src/devenv/process.js';
import { createBtcturkExchange } from '../../src/exchange/btcturk/client.js';
import { startSimulator, type RunningSimulator } from '../../src/simulator/server.js';
import { btcbot, type Exit, type Proc } from './cli-harness.js';
import { connectTemporal, createTestDatabase, uniqueId } from './harness.js';

const ARMED: GateSettings = { killSwitch: false, dryRun: false, liveTrading: true, liveTradingAck: 'I_UNDERSTAND' };
const apiKey = `ak${randomBytes(12).toString('hex')}`;
const apiSecret = randomBytes(32).toString('base64');
const secretsDir = mkdtempSync(join(tmpdir(), 'btcbot-obs-secrets-'));
const secretFile = (name: string, value: string): string => {
  const path = join(secretsDir, name);
  writeFileSync(path, `${value}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return path;
};
/** The credentials as the worker and every command get them: files, as Docker mounts secrets. */
const credentialFiles = { BTCTURK_API_KEY_FILE: secretFile('btcturk_api_key', apiKey), BTCTURK_API_SECRET_FILE: secretFile('btcturk_api_secret', apiSecret) };

let temporal: Awaited<ReturnType<typeof connectTemporal>>;
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let simulator: RunningSimulator;
let worker: Proc;
let metricsPort: number;
const taskQueue = uniqueId('obs');
const runs: CycleRun[] = [];

const cycle = async (overrides: { gates?: GateSettings; dryRunRequested?: boolean } = {}) => {
  const run = await runCycle(temporal.client, {
    workflowId: uniqueId('cycle-obs'), taskQueue,
    input: { gates: ARMED, dryRunRequested: false, symbols: ['BTCTRY'], trigger: 'test', ...overrides },
  });
  runs.push(run);
  return run;
};

beforeAll(async () => {
  [temporal, db, simulator, metricsPort] = await Promise.all([
    connectTemporal(), createTestDatabase(), startSimulator({ credentials: [{ apiKey, apiSecret }] }), freePort(),
  ]);
  worker = btcbot(['worker'], {
    TEMPORAL_ADDRESS: inject('temporalAddress'), BTCBOT_TASK_QUEUE: taskQueue, DATABASE_URL: db.url,
    BTCTURK_BASE_URL: simulator.url, ...credentialFiles,
    KILL_SWITCH: 'false', DRY_RUN: 'false', LIVE_TRADING: 'true', LIVE_TRADING_ACK: 'I_UNDERSTAND', SYMBOLS: 'BTC_TRY',
    // The account's BTC predates the bot; not inferring it lets the outsider's sell below oversell.
    INFER_OPENING_POSITIONS: 'false',
    BTCBOT_METRICS_ADDRESS: `127.0.0.1:${metricsPort}`, LOG_LEVEL: 'debug', BTCBOT_SDK_LOG_LEVEL: 'debug',
  });
  await worker.waitFor('worker ready');

  // A spread of paths: a live submit, an ambiguous submit, a rate-limited read, a dry run, an
  // oversell the bot never bought for (the symbol is quarantined, the cycle goes on), and a cycle
  // that fails (a hand-corrupted positions row).
  await cycle();
  simulator.faults.add({ route: 'POST /api/v1/order', kind: 'dropAfterCommit', times: 1 });
  simulator.faults.add({ route: 'GET /api/v1/users/balances', kind: 'http429', retryAfterSec: 1, times: 1 });
  simulator.engine.setMid('BTCTRY', new Decimal(simulator.engine.groundTruth().mids['BTCTRY']!).mul('0.95').toDecimalPlaces(0));
  await cycle();
  await cycle({ dryRunRequested: true });
  const outsider = createBtcturkExchange({ baseUrl: simulator.url, credentials: { apiKey, apiSecret } });
  await outsider.submitLimitOrder({
    symbol: toPairSymbol('BTCTRY'), side: 'sell', qty: new Decimal('0.05'), clientOrderId: asClientOrderId('outsider-1'),
    price: new Decimal(simulator.engine.groundTruth().mids['BTCTRY']!).mul('0.8').toDecimalPlaces(0),
  });
  await outsider.close();
  await cycle();
  await db.pool.query("INSERT INTO stage4_positions (symbol, qty, cost_basis_try, realized_pnl_try) VALUES ('not a symbol', 0, 0, 0)");
  await cycle();
}, 180_000);

afterAll(async () => {
  if (worker) await stopWorker();
  await simulator?.close();
  await db?.drop();
  await temporal?.close();
  rmSync(secretsDir, { recursive: true, force: true });
});

describe('btcbot worker observability', () => {
  test('serves Prometheus metrics: the SDK runtime metrics and btcbot counters by outcome', async () => {
    const res = await request(`http://127.0.0.1:${metricsPort}/metrics`);
    const text = await res.body.text();
    expect(res.statusCode).toBe(200);
    expect(text).toMatch(/temporal_\w+/); // the SDK's own metrics
    // Summed over every label set (mode, task queue, ...).
    const cycles = (outcome: string) =>
      [...text.matchAll(new RegExp(`^btcbot_cycles\\w*\\{[^}]*outcome="${outcome}"[^}]*\\} (\\d+)$`, 'gm'))].reduce((n, m) => n + Number(m[1]), 0);
    expect(cycles('ok')).toBe(4);
    expect(cycles('failed')).toBe(1);
    expect(text).toMatch(/btcbot_orders_submitted\w*\{[^}]*\} [1-9]/);
    expect(text).toMatch(/btcbot_integrity_alerts\w*\{[^}]*\} 1/);
  });

  test('writes one JSON log line per cycle with its id, mode, outcome and counters', async () => {
    const lines = (await stopWorker()).stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const finished = lines.filter((l) => l.event === 'cycle_finished');
    expect(finished.map((l) => l.cycle_id).sort()).toEqual(runs.map((r) => r.workflowId).sort());
    const first = finished.find((l) => l.cycle_id === runs[0]!.workflowId)!;
    expect(first).toMatchObject({ mode: 'live', outcome: 'ok', counts: { submitted: 1 }, service: 'btcbot' });
    expect(finished.find((l) => l.cycle_id === runs[3]!.workflowId)).toMatchObject({
      outcome: 'ok', symbol_failures: [expect.stringMatching(/^symbol_failed:accounting:BTCTRY:AccountingIntegrityError: oversell_detected/)],
    });
    expect(finished.find((l) => l.cycle_id === runs[4]!.workflowId)).toMatchObject({ outcome: 'failed', error_class: 'CorruptRowError' });
  });

  test('the API key and secret, read from *_FILE, appear in no log line, workflow history, database row, error message or status --json', async () => {
    const workerExit = await stopWorker();
    const status = await btcbot(['status', '--json', '--cycles', '10'], {
      TEMPORAL_ADDRESS: inject('temporalAddress'), BTCBOT_TASK_QUEUE: taskQueue, DATABASE_URL: db.url, ...credentialFiles,
    }).exited;
    expect(status.code, status.stderr).toBe(0);
    // The row planted to fail a cycle is named by status, which still shows everything else.
    expect((JSON.parse(status.stdout) as { unreadableRows: string[] }).unreadableRows).toEqual([expect.stringContaining('not a symbol')]);
    const haystacks: Array<[string, string]> = [
      ['worker stdout', workerExit.stdout],
      ['worker stderr', workerExit.stderr],
      ['status --json', status.stdout],
      ['status stderr', status.stderr],
    ];
    for (const run of runs) {
      const history = await temporal.client.workflow.getHandle(run.workflowId).fetchHistory();
      haystacks.push([`history ${run.workflowId}`, decodeAll(history)]);
      if (run.failure) haystacks.push([`failure ${run.workflowId}`, run.failure]);
    }
    const tables = await db.pool.query<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'",
    );
    for (const { table_name } of tables.rows) {
      const rows = await db.pool.query(`SELECT row_to_json(t)::text AS j FROM ${table_name} t`);
      haystacks.push([`table ${table_name}`, rows.rows.map((r) => r.j).join('\n')]);
    }
    // The scan is not vacuous: it saw the cycles and the failure.
    expect(haystacks.find(([name]) => name === 'table cycle_audit')?.[1]).toContain('AccountingIntegrityError');
    expect(workerExit.stdout).toContain('cycle_finished');
    expect((JSON.parse(status.stdout) as { cycles: unknown[] }).cycles).toHaveLength(runs.length);
    for (const [name, text] of haystacks) {
      expect(text.includes(apiKey), `${name} contains the API key`).toBe(false);
      expect(text.includes(apiSecret), `${name} contains the API secret`).toBe(false);
    }
  });
});

/** Every string in a history, with payload bytes decoded as UTF-8. */
function decodeAll(value: unknown): string {
  const out: string[] = [];
  const walk = (v: unknown, depth: number): void => {
    if (depth > 40 || v === null || v === undefined) return;
    if (v instanceof Uint8Array) out.push(Buffer.from(v).toString('utf8'));
    else if (typeof v === 'string') out.push(v);
    else if (typeof v === 'object') for (const x of Object.values(v as object)) walk(x, depth + 1);
  };
  walk(value, 0);
  return out.join('\n');
}

let stopped: Promise<Exit> | null = null;
function stopWorker(): Promise<Exit> {
  if (!stopped) {
    worker.kill('SIGTERM');
    stopped = worker.exited;
  }
  return stopped;
}
