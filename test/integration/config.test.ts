// One configuration source, as a user meets it: the .env file and --env-file, a worker that refuses
// a bad configuration or a symbol the exchange does not list, and the CLI's smaller promises.
// Real processes, the real Temporal dev server and Postgres, the simulator over HTTP.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScheduleNotFoundError, type Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { freePort } from '../../src/devenv/process.js';
import { DEFAULT_PAIRS } from '../../src/simulator/pairs.js';
import { startSimulator, type RunningSimulator } from '../../src/simulator/server.js';
import { listCycleAudits } from '../../src/store/audit.js';
import { clearHalt, getHalt } from '../../src/store/runtime.js';
import { btcbot as sources, harnessCwd, projectRoot } from './cli-harness.js';
import { startClientStack, uniqueId } from './harness.js';

let stack: Awaited<ReturnType<typeof startClientStack>>;
let db: typeof stack.db;
let simulator: RunningSimulator;
let client: Client;
const scratch = mkdtempSync(join(tmpdir(), 'btcbot-config-'));

beforeAll(async () => {
  stack = await startClientStack();
  ({ db, simulator, client } = stack);
});

afterAll(async () => {
  await stack?.close();
  rmSync(scratch, { recursive: true, force: true });
});

/** Every command here runs compiled (the package's bin): what an operator runs, and it starts faster. */
const btcbot: typeof sources = (args, env, opts) => sources(args, env, { compiled: true, ...opts });

/** A working directory holding `files` (name → content). */
function dirWith(files: Record<string, string>): string {
  const dir = mkdtempSync(join(scratch, 'cwd-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

const stackEnv = (queue = uniqueId('cfg')): Record<string, string> => ({
  TEMPORAL_ADDRESS: inject('temporalAddress'),
  BTCBOT_TASK_QUEUE: queue,
  DATABASE_URL: db.url,
  BTCBOT_DATA_DIR: mkdtempSync(join(scratch, 'data-')),
});

interface ConfigJson {
  envFile: { path: string; found: boolean };
  variables: Array<{ name: string; value: string; source: string }>;
}
async function configOf(env: Record<string, string>, cwd: string, args: string[] = []): Promise<Map<string, { value: string; source: string }>> {
  const { code, stdout, stderr } = await btcbot([...args, 'config', '--json'], env, { cwd }).exited;
  expect(code, stderr).toBe(0);
  return new Map((JSON.parse(stdout) as ConfigJson).variables.map((v) => [v.name, { value: v.value, source: v.source }]));
}

async function scheduleGone(id: string): Promise<boolean> {
  try {
    await client.schedule.getHandle(id).describe();
    return false;
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) return true;
    throw err;
  }
}

describe('.env and --env-file', () => {
  test('./.env configures the command, the real environment wins over it, and --env-file picks another file instead', async () => {
    const cwd = dirWith({
      '.env': 'MAX_POSITION_NOTIONAL_TRY=500\nSYMBOLS=eth_try\nKILL_SWITCH=false\n',
      'canary.env': 'MAX_POSITION_NOTIONAL_TRY=250\n',
    });
    const fromDotEnv = await configOf({ KILL_SWITCH: 'true' }, cwd);
    expect(fromDotEnv.get('MAX_POSITION_NOTIONAL_TRY')).toEqual({ value: '500', source: 'env file' });
    expect(fromDotEnv.get('SYMBOLS')).toEqual({ value: 'ETHTRY', source: 'env file' });
    expect(fromDotEnv.get('KILL_SWITCH')).toEqual({ value: 'true', source: 'environment' });
    expect(fromDotEnv.get('DRY_RUN')).toEqual({ value: 'true', source: 'default' });

    const fromOther = await configOf({}, cwd, ['--env-file', 'canary.env']);
    expect(fromOther.get('MAX_POSITION_NOTIONAL_TRY')).toEqual({ value: '250', source: 'env file' });
    expect(fromOther.get('SYMBOLS')).toEqual({ value: 'BTCTRY,ETHTRY,SOLTRY', source: 'default' });
  });

  test('schedule create takes its gates and symbols from ./.env (what the old CLI silently ignored)', async () => {
    const id = uniqueId('cfg-sched');
    const cwd = dirWith({ '.env': 'SYMBOLS=ETH_TRY\nDRY_RUN=false\n' });
    const created = await btcbot(['schedule', 'create', '--id', id, '--paused'], { ...stackEnv(), BTCTURK_BASE_URL: simulator.url }, { cwd }).exited;
    try {
      expect(created.code, created.stderr).toBe(0);
      const d = await client.schedule.getHandle(id).describe();
      expect(d.action.args?.[0]).toMatchObject({ symbols: ['ETHTRY'], gates: { dryRun: false, killSwitch: true } });
    } finally {
      await client.schedule.getHandle(id).delete().catch(() => {});
    }
  });

  test('a malformed .env stops the worker with exit 2 naming the line, but never stops halt', async () => {
    const queue = uniqueId('cfg-halt');
    const cwd = dirWith({ '.env': `DATABASE_URL=${db.url}\nMAX_POSITION_NOTIONAL_TRY 500\nBTCBOT_TASK_QUEUE=${queue}\n` });
    const base = { TEMPORAL_ADDRESS: inject('temporalAddress'), BTCTURK_BASE_URL: simulator.url, BTCBOT_DATA_DIR: mkdtempSync(join(scratch, 'data-')) };

    const worker = await btcbot(['worker'], base, { cwd }).exited;
    expect(worker.code).toBe(2);
    expect(worker.stderr).toContain(`${join(cwd, '.env')} line 2: expected NAME=value (nothing from the file was applied)`);
    expect(worker.stderr).not.toContain('worker ready');

    const halt = await btcbot(['halt', '--reason', 'bad .env drill'], base, { cwd }).exited;
    try {
      expect(halt.code, halt.stderr).toBe(0);
      expect(halt.stdout).toContain('trading HALTED');
      expect(halt.stdout).toContain(`on task queue ${queue}`); // the well-formed lines applied
      expect(halt.stderr).toContain('line 2: expected NAME=value (its well-formed lines were applied)');
      expect((await getHalt(db.pool))?.reason).toBe('bad .env drill'); // stored in the database the file names
    } finally {
      await clearHalt(db.pool);
    }
  });

  test("the test harness runs btcbot outside the project, so a developer's own .env never reaches a test", async () => {
    const { stdout } = await btcbot(['config', '--json'], {}).exited;
    const { envFile } = JSON.parse(stdout) as ConfigJson;
    expect(envFile.path).toBe(join(harnessCwd(), '.env'));
    expect(envFile.path.startsWith(projectRoot)).toBe(false);
    expect(envFile.found).toBe(false);
  });
});

describe('the worker refuses a bad configuration before it serves anything', () => {
  test('bad values exit 2 naming every bad variable, from the environment or .env; the worker never becomes ready', async () => {
    const cwd = dirWith({ '.env': 'MAX_DRAWDOWN_PCT=150\n' });
    const { code, stderr } = await btcbot(['worker'], { ...stackEnv(), BTCTURK_BASE_URL: simulator.url, KILL_SWITCH: 'maybe', LOG_LEVEL: 'loud' }, { cwd }).exited;
    expect(code).toBe(2);
    expect(stderr).toContain('KILL_SWITCH: expected true/false/1/0/yes/no, got "maybe"');
    expect(stderr).toContain('MAX_DRAWDOWN_PCT: must be <= 100, got 150');
    expect(stderr).toContain('LOG_LEVEL: expected one of');
    expect(stderr).not.toContain('worker ready');
  });

  test('a symbol the exchange does not list: worker, doctor, schedule create and stage4-run exit 2 naming it; nothing is created or run', async () => {
    const env = { ...stackEnv(), BTCTURK_BASE_URL: simulator.url, SYMBOLS: 'FOO_TRY,BTC_TRY' };
    const named = 'SYMBOLS: FOOTRY is not a pair the exchange lists';
    const id = uniqueId('cfg-foo');
    const cycleId = uniqueId('cfg-foo-cycle');
    const [worker, doctor, create, run] = await Promise.all([
      btcbot(['worker'], env).exited,
      btcbot(['doctor'], env).exited,
      btcbot(['schedule', 'create', '--id', id], env).exited,
      btcbot(['stage4-run', '--dry-run', '--cycle-id', cycleId], env).exited,
    ]);
    expect(worker.code).toBe(2);
    expect(worker.stderr).toContain(named);
    expect(worker.stderr).not.toContain('worker ready');

    expect(doctor.code).toBe(2);
    expect(doctor.stdout).toMatch(new RegExp(`FAIL\\s+symbols\\s+${named}`));

    expect(create.code).toBe(2);
    expect(create.stderr).toContain(named);
    expect(await scheduleGone(id)).toBe(true);

    expect(run.code).toBe(2);
    expect(run.stderr).toContain(named);
    expect(await listCycleAudits(db.pool, { cycleId })).toEqual([]);
  });

  test('a listed pair that is not trading right now is a warning: the worker starts, doctor warns', async () => {
    const pairs = DEFAULT_PAIRS.map((p) => (p.base === 'ETH' ? { ...p, status: 'MAINTENANCE' } : p));
    const sim = await startSimulator({ pairs });
    try {
      const env = { ...stackEnv(), BTCTURK_BASE_URL: sim.url, SYMBOLS: 'BTC_TRY,ETH_TRY' };
      const worker = btcbot(['worker'], env);
      await worker.waitFor('worker ready');
      worker.kill('SIGTERM');
      const exit = await worker.exited;
      expect(exit.code).toBe(0);
      expect(exit.stderr).toContain('warning: SYMBOLS: ETHTRY is listed but not trading right now');

      const doctor = await btcbot(['doctor'], env).exited;
      expect(doctor.stdout).toMatch(/warn\s+symbols\s+SYMBOLS: ETHTRY is listed but not trading right now/);
    } finally {
      await sim.close();
    }
  });

  test('an exchange unreachable at start: the worker stays up, reports 503 and retries, then serves once it answers', async () => {
    const port = await freePort();
    const healthAddress = `127.0.0.1:${await freePort()}`;
    const worker = btcbot(['worker'], { ...stackEnv(), BTCTURK_BASE_URL: `http://127.0.0.1:${port}`, SYMBOLS: 'BTC_TRY', BTCBOT_HEALTH_ADDRESS: healthAddress });
    await worker.waitFor("cannot read the exchange's pairs to check SYMBOLS");
    const waiting = await fetch(`http://${healthAddress}/health`);
    expect(waiting.status).toBe(503);
    expect(((await waiting.json()) as { reason: string }).reason).toMatch(/^starting: waiting for the exchange to check SYMBOLS/);

    const sim = await startSimulator({ port });
    try {
      await worker.waitFor('worker ready');
      expect((await fetch(`http://${healthAddress}/health`)).status).toBe(200);
      worker.kill('SIGTERM');
      expect((await worker.exited).code).toBe(0);
    } finally {
      await sim.close();
    }
  });
});

describe('CLI', () => {
  test('per-command --help and --version exit 0', async () => {
    const help = await btcbot(['schedule', 'trigger', '--help']).exited;
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('usage: btcbot schedule trigger [--id ID] [--even-if-paused]');
    expect(help.stdout).toContain('--env-file PATH');
    const version = await btcbot(['--version']).exited;
    expect(version.code).toBe(0);
    expect(version.stdout).toMatch(/^btcbot \d+\.\d+\.\d+ /);
  });

  test('--every 2m30s, schedule list, and trigger on a paused schedule: refused (exit 2, no cycle) unless --even-if-paused', async () => {
    const env = stackEnv();
    const id = uniqueId('cfg-paused');
    try {
      const create = await btcbot(['schedule', 'create', '--id', id, '--every', '2m30s', '--paused', '--dry-run'], env).exited;
      expect(create.code, create.stderr).toBe(0);
      expect(create.stdout).toMatch(/every\s+2m30s/);

      // Listing goes through Temporal's visibility store: poll until the new schedule shows.
      let listed = '';
      for (const deadline = Date.now() + 30_000; !listed.includes(id) && Date.now() < deadline; ) {
        listed = (await btcbot(['schedule', 'list'], env).exited).stdout;
      }
      expect(listed).toMatch(new RegExp(`${id}\\s+paused \\(created paused by btcbot schedule create\\), every 2m30s; mode dry_run`));

      const refused = await btcbot(['schedule', 'trigger', '--id', id], env).exited;
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain(`schedule ${id} is paused`);
      expect((await client.schedule.getHandle(id).describe()).info.numActionsTaken).toBe(0);

      const forced = await btcbot(['schedule', 'trigger', '--id', id, '--even-if-paused'], env).exited;
      expect(forced.code, forced.stderr).toBe(0);
      expect(forced.stdout).toContain('The schedule is paused and stays paused');
      let d = await client.schedule.getHandle(id).describe();
      for (const deadline = Date.now() + 30_000; d.info.numActionsTaken === 0 && Date.now() < deadline; ) {
        await new Promise((r) => setTimeout(r, 200));
        d = await client.schedule.getHandle(id).describe();
      }
      expect(d.info.numActionsTaken).toBe(1);
      expect(d.state.paused).toBe(true);
      // No worker polls this queue: end the started cycle rather than leave it waiting.
      for (const a of d.info.recentActions) await client.workflow.getHandle(a.action.workflow.workflowId).terminate('test cleanup').catch(() => {});
    } finally {
      await client.schedule.getHandle(id).delete().catch(() => {});
    }
  });
});
