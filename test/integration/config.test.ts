// One configuration source, as a user meets it: the .env file and --env-file, a worker that refuses
// a bad configuration or a symbol the exchange does not list, and the CLI's smaller promises.
// Real processes, the real Temporal dev server and Postgres, the simulator over HTTP.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScheduleNotFoundError, type Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { freePort } from '../../src/devenv/process.js';
import { redactUrl } from '../../src/redaction.js';
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

  test('halt never stores or signals where a malformed line may have pointed it: it names the line, stores and signals where it can, shows where, exits 2', async () => {
    const address = inject('temporalAddress');
    // (a) The DATABASE_URL line lost its closing quote: the old halt fell back to the local cluster
    //     of the data directory, "persisted yes", exit 0, while the workers' database stayed un-halted.
    const queueA = uniqueId('cfg-halt-db');
    const dataA = mkdtempSync(join(scratch, 'data-'));
    const cwdA = dirWith({ '.env': `DATABASE_URL="${db.url}\nBTCBOT_TASK_QUEUE=${queueA}\n` });
    // (b) The TEMPORAL_ADDRESS line is malformed: the old halt took the stack record's server instead.
    const queueB = uniqueId('cfg-halt-t');
    const dataB = mkdtempSync(join(scratch, 'data-'));
    writeFileSync(join(dataB, 'stack.json'), JSON.stringify({
      temporal: { address, namespace: 'default', uiUrl: null, pid: null }, postgres: { local: true, dataDir: join(dataB, 'postgres') }, recordedAt: new Date().toISOString(),
    }));
    const cwdB = dirWith({ '.env': `TEMPORAL_ADDRESS 10.255.0.1:7233\nDATABASE_URL=${db.url}\nBTCBOT_TASK_QUEUE=${queueB}\n` });
    try {
      const a = await btcbot(['halt', '--reason', 'drill a'], { TEMPORAL_ADDRESS: address, BTCBOT_DATA_DIR: dataA }, { cwd: cwdA }).exited;
      expect(a.code, a.stderr).toBe(2);
      expect(a.stderr).toContain(`${join(cwdA, '.env')} line 1: DATABASE_URL: the " quote is never closed`);
      expect(a.stderr).toContain('the halt was NOT stored');
      expect(a.stdout).toMatch(/persisted\s+NOT DONE/);
      expect(a.stdout).toMatch(new RegExp(`temporal\\s+${address}, namespace default, task queue ${queueA}`));
      expect(a.stdout).toMatch(/signalled\s+0 running cycle\(s\)/); // Temporal's variables are all certain: signalled
      expect(existsSync(join(dataA, 'postgres')), 'a local cluster was set up in the data directory').toBe(false);
      expect(await getHalt(db.pool)).toBeNull();

      const b = await btcbot(['halt', '--reason', 'drill b'], { BTCBOT_DATA_DIR: dataB }, { cwd: cwdB }).exited;
      expect(b.code, b.stderr).toBe(2);
      expect(b.stderr).toContain(`${join(cwdB, '.env')} line 1: expected NAME=value`);
      expect(b.stderr).toContain('TEMPORAL_ADDRESS');
      expect(b.stdout).toMatch(/signalled\s+NOT DONE/);
      expect(b.stdout).toMatch(/persisted\s+yes/); // the database is certain: the halt is stored there
      expect(b.stdout).toContain(`database   ${redactUrl(db.url)}`); // its password masked
      expect((await getHalt(db.pool))?.reason).toBe('drill b');
    } finally {
      await clearHalt(db.pool);
    }
  });

  test('an .env that is a named pipe never blocks halt: it is not read, and halt says what it could not do', async () => {
    const cwd = dirWith({});
    spawnSync('mkfifo', [join(cwd, '.env')]);
    const proc = btcbot(['halt', '--reason', 'fifo drill'], { ...stackEnv(), TEMPORAL_NAMESPACE: 'default' }, { cwd });
    const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
    const { code, stdout, stderr } = await proc.exited;
    clearTimeout(timer);
    try {
      expect(code, `${stdout}\n${stderr}`).not.toBeNull(); // not killed: it did not block
      expect(stderr).toContain(`${join(cwd, '.env')}: not a regular file (a named pipe): not read`);
      // Everything halt needs came from the real environment: nothing is in doubt.
      expect(code, stderr).toBe(0);
      expect((await getHalt(db.pool))?.reason).toBe('fifo drill');
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

  test('every variable the worker reads is checked at start: bad addresses, unbindable endpoints, a missing namespace exit 2 naming it; an unreachable database exits 1 in one line', async () => {
    const base = { ...stackEnv(), BTCTURK_BASE_URL: simulator.url, SYMBOLS: 'BTC_TRY' };
    const cases: Array<[Record<string, string>, string, number?]> = [
      [{ TEMPORAL_ADDRESS: 'not an address' }, 'TEMPORAL_ADDRESS: expected host:port'],
      [{ TEMPORAL_ADDRESS: 'http://127.0.0.1:7233' }, 'TEMPORAL_ADDRESS: expected host:port'],
      [{ BTCBOT_HEALTH_ADDRESS: '10.255.255.1:9465' }, 'BTCBOT_HEALTH_ADDRESS: cannot listen on 10.255.255.1:9465'],
      [{ BTCBOT_METRICS_ADDRESS: '127.0.0.1:0' }, 'BTCBOT_METRICS_ADDRESS: port 0'],
      [{ BTCBOT_METRICS_ADDRESS: '10.255.255.1:9464' }, 'BTCBOT_METRICS_ADDRESS: cannot listen on 10.255.255.1:9464'],
      [{ DATABASE_URL: 'postgresql://nobody@127.0.0.1:1/none', PG_BIN: '/nowhere' }, 'cannot use Postgres at postgresql://nobody@127.0.0.1:1/none: connect ECONNREFUSED', 1],
      [{ DATABASE_URL: '', PG_BIN: '/nowhere' }, 'PG_BIN: no pg_ctl in /nowhere'],
      [{ BTCBOT_TASK_QUEUE: 'a b/c' }, 'BTCBOT_TASK_QUEUE: '],
      [{ BTCBOT_PAYLOAD_KEY_ID: 'k'.repeat(200) }, 'BTCBOT_PAYLOAD_KEY_ID: '],
      [{ TEMPORAL_NAMESPACE: 'no-such-namespace' }, 'TEMPORAL_NAMESPACE: namespace no-such-namespace does not exist'],
    ];
    const runs = await Promise.all(cases.map(([env]) => btcbot(['worker'], { ...base, ...env }).exited));
    runs.forEach((run, i) => {
      const [env, named, code = 2] = cases[i]!;
      expect(run.code, `${JSON.stringify(env)}: ${run.stderr}`).toBe(code);
      expect(run.stderr, JSON.stringify(env)).toContain(named);
      expect(run.stderr).not.toContain('worker ready');
      expect(run.stderr).not.toMatch(/^\s+at /m); // one line, no stack
    });
  });

  test('a pair the exchange does not list blocks the cycle, whoever started it: stage4-run from a shell without BTCTURK_BASE_URL exits 2', async () => {
    const queue = uniqueId('cfg-unlisted');
    // The worker checked its SYMBOLS when it started; then the exchange delists SOLTRY.
    const worker = btcbot(['worker'], { ...stackEnv(queue), BTCTURK_BASE_URL: simulator.url, SYMBOLS: 'BTC_TRY,SOL_TRY' });
    const sol = simulator.engine.pairs.get('SOLTRY')!;
    try {
      await worker.waitFor('worker ready');
      simulator.engine.pairs.delete('SOLTRY');
      const starter = { ...stackEnv(queue), SYMBOLS: 'SOL_TRY,BTC_TRY' }; // no BTCTURK_BASE_URL: the starter cannot check
      const cycleId = uniqueId('cfg-unlisted-cycle');
      const id = uniqueId('cfg-unlisted-sched');
      const [run, create] = await Promise.all([
        btcbot(['stage4-run', '--dry-run', '--cycle-id', cycleId], starter).exited,
        btcbot(['schedule', 'create', '--id', id, '--paused'], starter).exited,
      ]);
      expect(run.code, run.stdout + run.stderr).toBe(2);
      expect(run.stdout).toMatch(/outcome\s+blocked/);
      expect(run.stdout).toContain('SYMBOLS: SOLTRY is not a pair the exchange lists');
      const [audit] = await listCycleAudits(db.pool, { cycleId });
      expect(audit).toMatchObject({ outcome: 'blocked', decisions: expect.arrayContaining(['policy_block:symbol_not_listed:SOLTRY']) });

      await client.schedule.getHandle(id).delete().catch(() => {});
      expect(create.code, create.stderr).toBe(0);
      expect(create.stderr).not.toContain('workers check them when they start');
      expect(create.stderr).toContain('a cycle with a pair the exchange does not list is blocked');
    } finally {
      simulator.engine.pairs.set('SOLTRY', sol);
      worker.kill('SIGTERM');
      await worker.exited;
    }
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
