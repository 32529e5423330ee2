// The `btcbot` command as a user runs it: real processes, exit codes, printed output.
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { freePort } from '../../src/devenv/process.js';
import type { RunningSimulator } from '../../src/simulator/server.js';
import { listCycleAudits } from '../../src/store/audit.js';
import { clearHalt, setHalt } from '../../src/store/runtime.js';
import { btcbot } from './cli-harness.js';
import { startCycleStack, uniqueId, type CycleStack } from './harness.js';

let stack: CycleStack;
let temporal: CycleStack['temporal'];
let db: CycleStack['db'];
let simulator: RunningSimulator;
let taskQueue: string;

beforeAll(async () => {
  stack = await startCycleStack('cli-test');
  ({ temporal, db, simulator, taskQueue } = stack);
});

afterAll(async () => {
  await stack?.close();
});

const clientEnv = () => ({ TEMPORAL_ADDRESS: inject('temporalAddress'), BTCBOT_TASK_QUEUE: taskQueue, SYMBOLS: 'BTC_TRY' });

describe('btcbot stage4-run', () => {
  test('a live run blocked by the kill switch exits 2, prints the reason and leaves a policy-block audit row', async () => {
    const cycleId = uniqueId('cli-blocked');
    const { code, stdout } = await btcbot(['stage4-run', '--cycle-id', cycleId], {
      ...clientEnv(),
      DRY_RUN: 'false',
    }).exited;
    expect(code).toBe(2);
    expect(stdout).toContain('KILL_SWITCH=true blocks side effects');
    const rows = await listCycleAudits(db.pool, { cycleId });
    expect(rows.map((r) => [r.outcome, r.decisions])).toEqual([['blocked', ['policy_block:kill_switch']]]);
  });

  test('--dry-run runs the cycle and exits 0; the same --cycle-id again is deduped and not run twice', async () => {
    const cycleId = uniqueId('cli-dry');
    const first = await btcbot(['stage4-run', '--dry-run', '--cycle-id', cycleId], clientEnv()).exited;
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/outcome\s+ok/);
    expect(first.stdout).toMatch(/mode\s+dry_run/);

    const second = await btcbot(['stage4-run', '--dry-run', '--cycle-id', cycleId], clientEnv()).exited;
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('already existed; not started again');
    expect(await listCycleAudits(db.pool, { cycleId })).toHaveLength(1);
  });

  test('with no worker on its task queue, stage4-run says so after 10 s and what to start, instead of waiting in silence', async () => {
    const lonely = uniqueId('no-worker');
    const proc = btcbot(['stage4-run', '--dry-run'], { ...clientEnv(), BTCBOT_TASK_QUEUE: lonely });
    try {
      await proc.waitFor(`none is polling task queue ${lonely}?`);
    } finally {
      proc.kill('SIGINT');
    }
    const exit = await proc.exited;
    expect(exit.stderr).toMatch(/no worker has picked up cycle cycle-manual-\S+ in 10 s: .* Start `btcbot worker` \(or `btcbot up`, the local sandbox\)/);
  });

  test('a halt row stored by an older version with control characters is printed escaped by stage4-run, halt and resume', async () => {
    const RAW = /[\p{Cc}\p{Cf}\u2028\u2029]/u;
    const escaped = 'by old\\u000dversion: drift\\u001b[2J\\u001b[Hhalt: not halted\\u2028\\u200bx';
    await setHalt(db.pool, { reason: 'drift\u001b[2J\u001b[Hhalt: not halted\u2028\u200bx', haltedAt: new Date().toISOString(), by: 'old\rversion' });
    try {
      const run = await btcbot(['stage4-run', '--dry-run', '--cycle-id', uniqueId('cli-halted')], clientEnv()).exited;
      expect(run.code).toBe(2);
      expect(RAW.test(run.stdout.replace(/\n/g, ''))).toBe(false);
      expect(run.stdout).toContain('drift\\u001b[2J\\u001b[Hhalt: not halted\\u2028\\u200bx'); // the message line and the summary
      const dbEnv = { ...clientEnv(), DATABASE_URL: db.url };
      const again = await btcbot(['halt', '--reason', 'again'], dbEnv).exited;
      expect(again.stdout).toContain(`already halted since`);
      expect(again.stdout).toContain(escaped);
      expect(RAW.test(again.stdout.replace(/\n/g, ''))).toBe(false);
      const resumed = await btcbot(['resume'], dbEnv).exited;
      expect(resumed.code).toBe(0);
      expect(resumed.stdout).toContain(escaped);
      expect(RAW.test(resumed.stdout.replace(/\n/g, ''))).toBe(false);
    } finally {
      await clearHalt(db.pool);
    }
  });

  test('an unknown option exits 2 with the usage text and starts nothing', async () => {
    const { code, stderr } = await btcbot(['stage4-run', '--live-please'], clientEnv()).exited;
    expect(code).toBe(2);
    expect(stderr).toContain("Unknown option '--live-please'");
    expect(stderr).toContain('usage: btcbot');
  });

  test('a malformed gate variable exits 2 naming the variable', async () => {
    const { code, stderr } = await btcbot(['stage4-run', '--dry-run'], { ...clientEnv(), KILL_SWITCH: 'maybe' }).exited;
    expect(code).toBe(2);
    expect(stderr).toContain('KILL_SWITCH');
  });
});

describe('btcbot worker', () => {
  test('serves cycles and shuts down gracefully on SIGTERM with exit 0', async () => {
    const queue = uniqueId('cli-worker');
    const proc = btcbot(['worker'], {
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      BTCBOT_TASK_QUEUE: queue,
      DATABASE_URL: db.url,
      BTCTURK_BASE_URL: simulator.url,
    });
    await proc.waitFor('worker ready');
    const cycleId = uniqueId('cli-worker-cycle');
    const run = await btcbot(['stage4-run', '--dry-run', '--cycle-id', cycleId], {
      ...clientEnv(),
      BTCBOT_TASK_QUEUE: queue,
    }).exited;
    expect(run.code).toBe(0);
    expect(await listCycleAudits(db.pool, { cycleId })).toHaveLength(1);

    proc.kill('SIGTERM');
    const exit = await proc.exited;
    expect(exit.code).toBe(0);
    expect(exit.stderr).toContain('worker stopped');
  });

  test('refuses to start without BTCTURK_BASE_URL, exit 2', async () => {
    const { code, stderr } = await btcbot(['worker'], { TEMPORAL_ADDRESS: inject('temporalAddress'), DATABASE_URL: db.url }).exited;
    expect(code).toBe(2);
    expect(stderr).toContain('BTCTURK_BASE_URL is required');
  });

  test('refuses a plain-http exchange URL that is not loopback, exit 2', async () => {
    const { code, stderr } = await btcbot(['worker'], {
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      DATABASE_URL: db.url,
      BTCTURK_BASE_URL: 'http://api.btcturk.com',
    }).exited;
    expect(code).toBe(2);
    expect(stderr).toContain('BTCTURK_BASE_URL must use https');
  });
});

describe('btcbot up --once', () => {
  test('on an empty data dir starts Temporal and Postgres on the ports asked for, runs a dry-run cycle, and every later command finds them', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'btcbot-up-'));
    chmodSync(dataDir, 0o711); // as root, the Postgres cluster runs as the postgres user: it passes through
    const [temporalPort, uiPort] = [await freePort(), await freePort()];
    // The operator's shell holds the secrets: the servers `up` leaves running must not.
    const secrets = { BTCTURK_API_KEY: 'canary-up-key-1234', BTCTURK_API_SECRET: 'Y2FuYXJ5LXVwLXNlY3JldA==', BTCBOT_PAYLOAD_KEY: Buffer.alloc(32, 3).toString('base64') };
    const env = {
      BTCBOT_DATA_DIR: dataDir,
      BTCBOT_TEMPORAL_PORT: String(temporalPort),
      BTCBOT_UI_PORT: String(uiPort),
      TEMPORAL_CLI_PATH: inject('temporalCliPath'),
      ...secrets,
    };
    try {
      const { code, stdout, stderr } = await btcbot(['up', '--once'], env).exited;
      expect(code, stderr).toBe(0);
      expect(stdout).toMatch(/outcome\s+ok/);
      expect(stdout).toMatch(/mode\s+dry_run/);
      expect(stdout).toContain(`Temporal UI: http://127.0.0.1:${uiPort}`);
      expect(stdout).toContain('cycle_audit row written');
      // The dev server authenticates nobody: the summary says what other local users see.
      expect(stdout).toMatch(new RegExp(`exposure\\s+no authentication: every local user \\(127\\.0\\.0\\.1:${temporalPort}\\) sees workflow ids and search attributes; payloads encrypted \\(BTCBOT_PAYLOAD_KEY\\)`));
      // Nobody else reads what it left: private directories and files, servers without our secrets.
      // The data directory itself is the operator's (they named it): left as they made it.
      const mode = (p: string) => statSync(join(dataDir, p)).mode & 0o777;
      expect([mode('.'), mode('postgres'), mode('temporal'), mode('temporal/dev.db'), mode('postgres/pgpass')]).toEqual(
        [0o711, process.getuid?.() === 0 ? 0o711 : 0o700, 0o700, 0o600, 0o600],
      );
      const postmaster = Number(readFileSync(join(dataDir, 'postgres/pgdata/postmaster.pid'), 'utf8').split('\n')[0]);
      const devServer = (JSON.parse(readFileSync(join(dataDir, 'temporal/server.json'), 'utf8')) as { pid: number }).pid;
      for (const pid of [postmaster, devServer]) {
        const environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
        expect(environ).toContain('PATH=');
        for (const [name, value] of Object.entries(secrets)) expect(environ.includes(value) || environ.includes(`${name}=`), `${pid} ${name}`).toBe(false);
      }

      // No TEMPORAL_ADDRESS, no DATABASE_URL, no BTCBOT_TEMPORAL_PORT: the record `up` left is enough.
      const later = { BTCBOT_DATA_DIR: dataDir, TEMPORAL_CLI_PATH: inject('temporalCliPath') };
      const address = `127.0.0.1:${temporalPort}`;
      const run = (args: string[]) => btcbot(args, later, { compiled: true }).exited;
      const [config, doctor, status] = await Promise.all([run(['config', '--json']), run(['doctor']), run(['status'])]);
      const vars = (JSON.parse(config.stdout) as { variables: Array<{ name: string; value: string; source: string }> }).variables;
      expect(vars.find((v) => v.name === 'TEMPORAL_ADDRESS')).toEqual({ name: 'TEMPORAL_ADDRESS', value: address, source: 'btcbot up' });
      expect(doctor.stdout).toMatch(new RegExp(`^ok\\s+temporal\\s+${address} namespace default reachable`, 'm'));
      expect(doctor.stdout).toMatch(/^ok\s+postgres\s+.*schema version \d+ \(current\)/m);
      expect(status.stdout).toContain(`temporal: reachable at ${address}`);
      const halt = await run(['halt', '--reason', 'found by the record']);
      expect(halt.code, halt.stdout + halt.stderr).toBe(0);
      expect(halt.stdout).toMatch(/signalled\s+0 running cycle\(s\)/);
      expect((await run(['resume'])).stdout).toContain('halt lifted');
      const created = await run(['schedule', 'create', '--id', 'up-record', '--paused']);
      expect(created.code, created.stderr).toBe(0);
      expect((await run(['schedule', 'describe', '--id', 'up-record'])).stdout).toMatch(/state\s+paused/);
      expect((await run(['schedule', 'delete', '--id', 'up-record'])).code).toBe(0);
      for (const r of [config, doctor, status, halt, created]) expect(r.stderr).not.toMatch(/recorded no server|is not running/);

      // The services outlive --once so the run can be inspected; `down` stops them.
      const down = await btcbot(['down'], env).exited;
      expect(down.code).toBe(0);
      expect(down.stderr).toContain('stopped temporal, postgres');
    } finally {
      await btcbot(['down'], env).exited;
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test('refuses a port where a Temporal server answers that it did not start, instead of using it', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'btcbot-up-'));
    const port = inject('temporalAddress').split(':')[1]!;
    try {
      const { code, stderr } = await btcbot(['up', '--once'], { BTCBOT_DATA_DIR: dataDir, BTCBOT_TEMPORAL_PORT: port, TEMPORAL_CLI_PATH: inject('temporalCliPath') }).exited;
      expect(code).toBe(2);
      expect(stderr).toContain(`port ${port} is taken by a Temporal server that \`btcbot up\` did not start; set TEMPORAL_ADDRESS=127.0.0.1:${port} to use it on purpose`);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
