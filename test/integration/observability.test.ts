// A real `btcbot worker` process with real-looking credentials, given as files (Docker secrets):
// its JSON logs, its Prometheus metrics, and a scan of everything it leaves behind (logs, workflow
// histories, every database row, error messages, `status --json`) for the API key and secret.
// (TEMPORAL_API_KEY needs TLS: temporal-tls.test.ts scans for it.) The same worker sends alerts to
// a local webhook and a local Telegram API, and exports the operator's gauges; the operator's
// commands (cycle show, status, trades, orders, pnl --daily, halt, resume) read what it left.
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
import { SA_OUTCOME } from '../../src/shared.js';
import { getHalt } from '../../src/store/runtime.js';
import { parseCsv } from '../support/csv-parse.js';
import { startAlertReceiver, type AlertReceiver } from '../support/alert-receiver.js';
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
let receiver: AlertReceiver;
const telegramToken = `123456:${randomBytes(12).toString('hex')}`;
const startedAtMs = Date.now();
const taskQueue = uniqueId('obs');
const runs: CycleRun[] = [];
/** The cycles beforeAll runs, in order (see there). */
const RUN = { live: 0, ambiguous: 1, dry: 2, quarantine: 3, failed: 4, blocked: 5 } as const;

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
  receiver = await startAlertReceiver();
  worker = btcbot(['worker'], {
    TEMPORAL_ADDRESS: inject('temporalAddress'), BTCBOT_TASK_QUEUE: taskQueue, DATABASE_URL: db.url,
    BTCTURK_BASE_URL: simulator.url, ...credentialFiles,
    KILL_SWITCH: 'false', DRY_RUN: 'false', LIVE_TRADING: 'true', LIVE_TRADING_ACK: 'I_UNDERSTAND', SYMBOLS: 'BTC_TRY',
    // The account's BTC predates the bot; not inferring it lets the outsider's sell below oversell.
    INFER_OPENING_POSITIONS: 'false',
    BTCBOT_METRICS_ADDRESS: `127.0.0.1:${metricsPort}`, LOG_LEVEL: 'debug', BTCBOT_SDK_LOG_LEVEL: 'debug', ...alertEnv(),
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
  // A dry run with the kill switch on: it carries the gate note kill_switch_active, not an integrity alert.
  await cycle({ gates: { ...ARMED, killSwitch: true }, dryRunRequested: true });
  const outsider = createBtcturkExchange({ baseUrl: simulator.url, credentials: { apiKey, apiSecret } });
  await outsider.submitLimitOrder({
    symbol: toPairSymbol('BTCTRY'), side: 'sell', qty: new Decimal('0.05'), clientOrderId: asClientOrderId('outsider-1'),
    price: new Decimal(simulator.engine.groundTruth().mids['BTCTRY']!).mul('0.8').toDecimalPlaces(0),
  });
  await outsider.close();
  await cycle();
  await db.pool.query("INSERT INTO stage4_positions (symbol, qty, cost_basis_try, realized_pnl_try) VALUES ('not a symbol', 0, 0, 0)");
  await cycle();
  await db.pool.query("DELETE FROM stage4_positions WHERE symbol = 'not a symbol'");
  // A live cycle the starter's gates block (KILL_SWITCH): an operator is told.
  await cycle({ gates: { ...ARMED, killSwitch: true } });
}, 180_000);

/** Alerts to the local receiver: the webhook at /hook, Telegram's bot API under /tg. */
function alertEnv(receiverUrl = receiver.url): Record<string, string> {
  return {
    BTCBOT_ALERT_WEBHOOK_URL: `${receiverUrl}/hook`, BTCBOT_TELEGRAM_API_URL: `${receiverUrl}/tg`,
    BTCBOT_TELEGRAM_BOT_TOKEN: telegramToken, BTCBOT_TELEGRAM_CHAT_ID: '-1001234567',
  };
}
const cliEnv = (extra: Record<string, string> = {}) => ({
  TEMPORAL_ADDRESS: inject('temporalAddress'), BTCBOT_TASK_QUEUE: taskQueue, DATABASE_URL: db.url, ...credentialFiles, ...extra,
});
/** [channel, cycle id, kind] of every request the receiver got. */
const deliveries = () => receiver.received.map((r) => r.path === '/hook'
  ? ['webhook', r.body.cycle_id, r.body.kind]
  : ['telegram', /cycle (\S+) \(/.exec(String(r.body.text))?.[1] ?? null, String(r.body.text).split('\n')[0]]);

afterAll(async () => {
  if (worker) await stopWorker();
  await simulator?.close();
  await receiver?.close();
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
    expect(cycles('blocked')).toBe(1);
  });

  test('exports gauges an operator can alert on, set from the database after each cycle and labelled by account', async () => {
    const text = await (await request(`http://127.0.0.1:${metricsPort}/metrics`)).body.text();
    const gauge = (name: string, labels: Record<string, string> = {}): number[] =>
      [...text.matchAll(new RegExp(`^${name}\\{([^}]*)\\} (\\S+)$`, 'gm'))]
        .filter((m) => Object.entries({ account: 'default', ...labels }).every(([k, v]) => m[1]!.includes(`${k}="${v}"`)))
        .map((m) => Number(m[2]));
    for (const name of ['btcbot_halted', 'btcbot_equity_try', 'btcbot_open_orders', 'btcbot_last_success_timestamp_seconds', 'btcbot_trading_state']) {
      expect(text, name).toMatch(new RegExp(`^# TYPE ${name} gauge$`, 'm'));
    }
    expect(gauge('btcbot_halted')).toEqual([0]);
    const [openLive] = gauge('btcbot_open_orders', { mode: 'live' });
    const stored = await db.pool.query<{ n: string }>("SELECT count(*) AS n FROM stage4_orders WHERE mode = 'live' AND status IN ('pending_submit', 'unknown', 'open', 'partial', 'cancel_requested')");
    expect(openLive).toBe(Number(stored.rows[0]!.n));
    const snap = await db.pool.query<{ total_equity_try: string }>("SELECT total_equity_try FROM pnl_snapshots WHERE mode = 'live' ORDER BY ts DESC, id DESC LIMIT 1");
    expect(gauge('btcbot_equity_try', { mode: 'live' })).toEqual([Number(snap.rows[0]!.total_equity_try)]);
    expect(gauge('btcbot_bot_equity_try', { mode: 'live' })).toHaveLength(1);
    // The last ok cycle: the dry run (the live cycle after it failed, the one after that was blocked).
    const lastOk = await db.pool.query<{ s: string }>("SELECT extract(epoch FROM finished_at)::text AS s FROM cycle_audit WHERE mode = 'dry_run' AND outcome = 'ok' ORDER BY finished_at DESC LIMIT 1");
    const [lastOkDry] = gauge('btcbot_last_success_timestamp_seconds', { mode: 'dry_run' });
    expect(lastOkDry! * 1000).toBeGreaterThan(startedAtMs);
    expect(Math.abs(lastOkDry! - Number(lastOk.rows[0]!.s))).toBeLessThan(0.01);
    // The newest live cycle was blocked: BTCTRY's state is `blocked`, one state at 1, the others 0.
    expect(gauge('btcbot_trading_state', { mode: 'live', symbol: 'BTCTRY', state: 'blocked' })).toEqual([1]);
    expect(gauge('btcbot_trading_state', { mode: 'live', symbol: 'BTCTRY' }).reduce((a, b) => a + b, 0)).toBe(1);
  });

  test('sends each alert a cycle raises to the webhook and to Telegram once: the failed cycle, its integrity alert, the blocked live cycle', async () => {
    const failed = runs[RUN.failed]!.workflowId;
    const integrity = runs[RUN.quarantine]!.workflowId;
    const blocked = runs[RUN.blocked]!.workflowId;
    // Delivery runs apart from the cycle (a child workflow): wait for three requests per channel.
    await receiver.waitUntil((r) => r.length >= 6);
    const webhook = deliveries().filter(([c]) => c === 'webhook').map(([, id, kind]) => `${id} ${kind}`).sort();
    expect(webhook).toEqual([`${blocked} live_blocked`, `${failed} cycle_failed`, `${integrity} integrity`].sort());
    const telegram = deliveries().filter(([c]) => c === 'telegram');
    expect(telegram.map(([, id, title]) => `${id} ${title}`).sort()).toEqual([
      `${blocked} btcbot: live cycle blocked`,
      `${integrity} btcbot: 2 integrity alerts in a live cycle`, // the oversell and its quarantine
      `${failed} btcbot: live cycle FAILED at accounting`,
    ].sort());
    for (const r of receiver.received.filter((x) => x.path !== '/hook')) {
      expect(r.path).toBe(`/tg/bot${telegramToken}/sendMessage`);
      expect(r.body.chat_id).toBe('-1001234567');
    }
    // The outbox agrees: every row sent, on its first attempt.
    const rows = await db.pool.query<{ status: string; attempts: number }>('SELECT status, attempts FROM alerts_sent');
    expect(rows.rows).toHaveLength(6);
    expect(rows.rows.every((r) => r.status === 'sent' && r.attempts === 1)).toBe(true);
  });

  test('the Temporal UI tells cycles apart: outcome in a search attribute and the current details, one summary per executeAction', async () => {
    const metadata = async (id: string) =>
      (await temporal.client.workflow.getHandle(id).query<{ currentDetails?: string }>('__temporal_workflow_metadata')).currentDetails ?? '';
    const blocked = await temporal.client.workflow.getHandle(runs[RUN.blocked]!.workflowId).describe();
    expect(blocked.status.name).toBe('COMPLETED'); // the run completed; what it came to is below
    expect(blocked.typedSearchAttributes.get(SA_OUTCOME)).toBe('blocked');
    expect(await metadata(runs[RUN.blocked]!.workflowId)).toMatch(/^\*\*blocked\*\* \(kill_switch\) · live/);
    expect(await metadata(runs[RUN.live]!.workflowId)).toMatch(/^\*\*ok\*\* · live/);
    // Every executeAction bar names its action (side, symbol, qty, price, why): the bars differ.
    const summaries: string[] = [];
    for (const run of runs) {
      for (const e of (await temporal.client.workflow.getHandle(run.workflowId).fetchHistory()).events ?? []) {
        const attrs = e.activityTaskScheduledEventAttributes;
        if (attrs?.activityType?.name !== 'executeAction') continue;
        const data = e.userMetadata?.summary?.data;
        summaries.push(data ? (JSON.parse(Buffer.from(data).toString('utf8')) as string) : '(none)');
      }
    }
    expect(new Set(summaries).size).toBeGreaterThan(1);
    for (const s of summaries) expect(s).toMatch(/^(buy|sell|cancel (buy|sell)) BTCTRY [\d.]+ @ [\d.]+ \(\w+\)$/);
  });

  test('`cycle show` tells the failed cycle\'s story: mode, the error with its step, the alerts and the notifications sent', async () => {
    const failed = runs[RUN.failed]!.workflowId;
    // The three commands run at once (each is a process start).
    const [shown, json, missing] = await Promise.all([
      btcbot(['cycle', 'show', failed], cliEnv()).exited,
      btcbot(['cycle', 'show', 'latest', '--json'], cliEnv()).exited,
      btcbot(['cycle', 'show', 'cycle-that-never-ran'], cliEnv()).exited,
    ]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain(`cycle ${failed}`);
    // One line per field (stored text is made printable line by line, never the newlines between them).
    expect(shown.stdout).not.toContain('\\u000a');
    expect(shown.stdout).toMatch(/^ {2}outcome\s+failed$/m);
    expect(shown.stdout).toMatch(/^ {2}error\s+CorruptRowError at step accounting: /m);
    expect(shown.stdout).toMatch(/cycle_failed\s+webhook\s+sent\s+1/);
    expect(json.code, json.stderr).toBe(0);
    const report = JSON.parse(json.stdout) as { story: { cycleId: string; outcome: string; gates: { block: { reason: string } | null }; symbols: Array<{ symbol: string; state: string }> } };
    expect(report.story).toMatchObject({ cycleId: runs[RUN.blocked]!.workflowId, outcome: 'blocked', gates: { block: { reason: 'kill_switch' } } });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no cycle_audit row for "cycle-that-never-ran"');
  });

  test('`status` labels its columns, shows the bot\'s equity share, the last good cycle\'s age and why each symbol is not trading', async () => {
    const out = await btcbot(['status'], cliEnv({ TRY_CASH_MAX: '600' })).exited;
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toMatch(/^ {2}finished\s+outcome\s+mode\s+cycle\s+what happened/m);
    expect(out.stdout).toMatch(/last successful cycle: live \S+ ago \(cycle-obs-\w+\); dry_run \S+ ago/);
    expect(out.stdout).toMatch(/^ {2}live\s+BTCTRY\s+blocked\s+cycle blocked \(kill_switch\)/m);
    expect(out.stdout).toMatch(/bot equity [\d.]+ TRY \(TRY_CASH_MAX 600\), account equity [\d.]+ TRY/);
    if (!/open orders \(0\)/.test(out.stdout)) expect(out.stdout).toMatch(/^ {2}symbol\s+side\s+left qty\s+qty\s+price\s+state/m);
  });

  test('`trades --csv` and `orders --csv` give the stored decimals back exactly, fee and tax apart; `pnl --daily` has the day', async () => {
    const [trades, orders, daily, bad, paper] = await Promise.all([
      btcbot(['trades', '--csv', '--mode', 'live', '--symbol', 'BTC_TRY'], cliEnv()).exited,
      btcbot(['orders', '--csv', '--mode', 'live'], cliEnv()).exited,
      btcbot(['pnl', '--daily', '--mode', 'live', '--csv'], cliEnv({ DAY_BOUNDARY_TZ: 'UTC' })).exited,
      btcbot(['trades', '--since', 'yesterday'], cliEnv()).exited,
      btcbot(['trades', '--mode', 'dry_run'], cliEnv()).exited,
    ]);
    // Dry runs keep their own (paper) fills: no note claiming otherwise.
    expect(paper.code, paper.stderr).toBe(0);
    expect(paper.stderr).not.toMatch(/paper ledger|keep no fills/);
    expect(trades.code, trades.stderr).toBe(0);
    const [header, ...rows] = parseCsv(trades.stdout);
    const col = (name: string) => header!.indexOf(name);
    const stored = await db.pool.query<{ fill_id: string; qty: string; price: string; fee: string; tax: string }>(
      "SELECT fill_id, qty::text, price::text, fee::text, tax::text FROM stage4_fills WHERE symbol = 'BTCTRY' ORDER BY fill_id",
    );
    expect(stored.rows.length).toBeGreaterThan(0);
    expect(rows.map((r) => [r[col('fill_id')], r[col('qty')], r[col('price')], r[col('fee')], r[col('tax')]]).sort())
      .toEqual(stored.rows.map((r) => [r.fill_id, r.qty, r.price, r.fee, r.tax].map((v) => new Decimal(v).toFixed())).sort());
    expect(orders.code, orders.stderr).toBe(0);
    const storedOrders = await db.pool.query("SELECT 1 FROM stage4_orders WHERE mode = 'live'");
    expect(parseCsv(orders.stdout)).toHaveLength(storedOrders.rows.length + 1);
    expect(daily.code, daily.stderr).toBe(0);
    const [dh, ...days] = parseCsv(daily.stdout);
    expect(dh!.slice(0, 4)).toEqual(['trading_day', 'mode', 'fills', 'realized_pnl_try']);
    expect(days.map((d) => d[0])).toContain(new Date().toISOString().slice(0, 10));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--since "yesterday": give a date');
  });

  test('canary step 5 of the README, as written, finds the integrity alert and nothing else (not the dry run\'s gate note)', async () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const step5 = readme.slice(readme.indexOf('# 5. Watch the audit'), readme.indexOf('# 6.'));
    const sql = /psql "\$DATABASE_URL" -c "([^"]+)"/.exec(step5)![1]!;
    const rows = (await db.pool.query<{ cycle_id: string; alert: string }>(sql)).rows;
    // The quarantining cycle, twice: its integrity alert (the oversell) and its quarantine note.
    expect([...new Set(rows.map((r) => r.cycle_id))]).toEqual([runs[RUN.quarantine]!.workflowId]);
    expect(rows.map((r) => r.alert.split(':')[0]).sort()).toEqual(['integrity', 'quarantined']);
    const dry = await db.pool.query("SELECT 1 FROM cycle_audit WHERE alerts ? 'kill_switch_active'");
    expect(dry.rows).toHaveLength(1); // the old query (alerts <> '[]') matched this row too
    expect(step5).toContain("jq '.cycles[] | select(.integrity | length > 0) | {cycleId, outcome, integrity}'");
    const status = await btcbot(['status', '--json'], cliEnv()).exited;
    const cycles = (JSON.parse(status.stdout) as { cycles: Array<{ cycleId: string; integrity: string[] }> }).cycles;
    expect(cycles.filter((c) => c.integrity.length > 0).map((c) => c.cycleId)).toEqual([runs[RUN.quarantine]!.workflowId]);
  });

  test('halt and resume alert the operator; a failing notifier never blocks the halt', async () => {
    const refusing = await startAlertReceiver({ status: 500 });
    try {
      const halted = await btcbot(['halt', '--reason', 'obs: notifier down'], cliEnv(alertEnv(refusing.url))).exited;
      expect(halted.code, halted.stderr).toBe(0);
      expect(halted.stdout).toContain('trading HALTED');
      expect(halted.stderr).toMatch(/halt alert NOT delivered on webhook \(the webhook answered HTTP 500\), telegram/);
      expect(refusing.received).toHaveLength(2); // tried once per channel, never retried in a loop
    } finally {
      await refusing.close();
    }
    expect((await getHalt(db.pool))?.reason).toBe('obs: notifier down'); // stored whatever the notifier did

    const before = receiver.received.length;
    const resumed = await btcbot(['resume'], cliEnv(alertEnv())).exited;
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain('resume alert sent (webhook, telegram)');
    const sent = receiver.received.slice(before);
    expect(sent.map((r) => r.body.kind ?? String(r.body.text).split('\n')[0]).sort())
      .toEqual(['btcbot: trading resumed (halt lifted)', 'resume']);
    expect(String(sent.find((r) => r.path === '/hook')!.body.text)).toContain('the halt was: obs: notifier down');
  });

  test('writes one JSON log line per cycle with its id, mode, outcome and counters', async () => {
    const lines = (await stopWorker()).stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const finished = lines.filter((l) => l.event === 'cycle_finished');
    expect(finished.map((l) => l.cycle_id).sort()).toEqual(runs.map((r) => r.workflowId).sort());
    const first = finished.find((l) => l.cycle_id === runs[RUN.live]!.workflowId)!;
    expect(first).toMatchObject({ mode: 'live', outcome: 'ok', counts: { submitted: 1 }, service: 'btcbot' });
    expect(finished.find((l) => l.cycle_id === runs[RUN.quarantine]!.workflowId)).toMatchObject({
      outcome: 'ok', symbol_failures: [expect.stringMatching(/^symbol_failed:accounting:BTCTRY:AccountingIntegrityError: oversell_detected/)],
    });
    expect(finished.find((l) => l.cycle_id === runs[RUN.failed]!.workflowId)).toMatchObject({ outcome: 'failed', error_class: 'CorruptRowError' });
  });

  test('the API key and secret, read from *_FILE, appear in no log line, workflow history, database row, error message or status --json', async () => {
    const workerExit = await stopWorker();
    const status = await btcbot(['status', '--json', '--cycles', '10'], {
      TEMPORAL_ADDRESS: inject('temporalAddress'), BTCBOT_TASK_QUEUE: taskQueue, DATABASE_URL: db.url, ...credentialFiles,
    }).exited;
    expect(status.code, status.stderr).toBe(0);
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
      expect(text.includes(telegramToken), `${name} contains the Telegram bot token`).toBe(false);
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
