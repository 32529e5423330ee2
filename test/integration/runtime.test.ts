// The compiled worker as an operator runs it: `npx btcbot worker` in the project, and the package's
// bin from a directory holding only what the Docker image holds. Each is one process (no node
// child through tsx), serves a cycle from the prebuilt workflow bundle, reports itself healthy, and
// on SIGTERM to the process started exits 0 after a graceful shutdown, leaving no process behind.
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { buildFreshness } from '../../src/build-info.js';
import { runCycle } from '../../src/cli/cycles.js';
import { freePort, isProcessAlive } from '../../src/devenv/process.js';
import { startTemporalDevServer } from '../../src/devenv/temporal.js';
import { startSimulator, type RunningSimulator } from '../../src/simulator/server.js';
import { copies, dockerfileStages } from '../dockerfile.js';
import { cleanEnv, projectRoot, watch, type Proc } from './cli-harness.js';
import { startClientStack, uniqueId } from './harness.js';

let stack: Awaited<ReturnType<typeof startClientStack>>;
let db: typeof stack.db;
let simulator: RunningSimulator;
let client: Client;
const scratch = mkdtempSync(join(tmpdir(), 'btcbot-runtime-'));

beforeAll(async () => {
  // These tests run dist/; `npm test` builds it first. A stale build would test yesterday's code.
  const freshness = buildFreshness(projectRoot);
  if (freshness !== 'fresh') throw new Error(`dist/ is ${freshness} (not built from the current sources): run \`npm run build\``);
  stack = await startClientStack();
  ({ db, simulator, client } = stack);
});

afterAll(async () => {
  await stack?.close();
  rmSync(scratch, { recursive: true, force: true });
});

/** Every live descendant of `pid`, from /proc (Linux). */
function descendants(pid: number): Array<{ pid: number; cmdline: string }> {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // exited while we looked
    }
  }
  const out: Array<{ pid: number; cmdline: string }> = [];
  const walk = (p: number) => {
    for (const c of children.get(p) ?? []) {
      let cmdline = '';
      try {
        cmdline = readFileSync(`/proc/${c}/cmdline`, 'utf8').split('\0').join(' ').trim();
      } catch {
        continue;
      }
      out.push({ pid: c, cmdline });
      walk(c);
    }
  };
  walk(pid);
  return out;
}

async function workerEnv(queue: string): Promise<Record<string, string>> {
  return {
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    BTCBOT_TASK_QUEUE: queue,
    DATABASE_URL: db.url,
    BTCTURK_BASE_URL: simulator.url,
    SYMBOLS: 'BTC_TRY',
    BTCBOT_HEALTH_ADDRESS: `127.0.0.1:${await freePort()}`,
    BTCBOT_DATA_DIR: mkdtempSync(join(scratch, 'data-')),
    LOG_LEVEL: 'warn',
  };
}

/** `npx btcbot --env-file <empty> worker` in the project, as an operator types it. --env-file: the
 *  project directory may hold a developer's own .env, which this run must not read. */
function npxWorker(env: Record<string, string>, npmConfig: Record<string, string> = {}): Proc {
  const emptyEnvFile = join(mkdtempSync(join(scratch, 'envfile-')), 'empty.env');
  writeFileSync(emptyEnvFile, '');
  const npx = join(dirname(process.execPath), 'npx');
  return watch(spawn(npx, ['btcbot', '--env-file', emptyEnvFile, 'worker'], {
    cwd: projectRoot,
    env: cleanEnv({ ...env, npm_config_yes: 'true', npm_config_update_notifier: 'false', npm_config_fund: 'false', ...npmConfig }),
    stdio: ['ignore', 'pipe', 'pipe'],
  }));
}

/** Ready, healthy, serves a dry-run cycle; then SIGTERM to `proc` ends it all gracefully. */
async function exerciseAndStop(proc: Proc, env: Record<string, string>, treeBefore: () => Array<{ pid: number; cmdline: string }>) {
  await proc.waitFor('worker ready');
  const health = await fetch(`http://${env.BTCBOT_HEALTH_ADDRESS}/health`);
  expect(health.status).toBe(200);
  expect(await health.json()).toMatchObject({ healthy: true, pollers: { workflow: 'POLLING', activity: 'POLLING' } });

  const run = await runCycle(client, {
    workflowId: uniqueId('runtime-cycle'),
    taskQueue: env.BTCBOT_TASK_QUEUE!,
    input: { gates: { killSwitch: true, dryRun: true, liveTrading: false, liveTradingAck: null }, dryRunRequested: true, symbols: ['BTCTRY'], trigger: 'cli' },
  });
  expect(run.result?.outcome).toBe('ok');

  const tree = treeBefore();
  proc.kill('SIGTERM');
  const exit = await proc.exited;
  expect(exit.code, exit.stderr).toBe(0);
  expect(exit.stderr).toContain('worker stopped');
  for (const p of tree) expect(isProcessAlive(p.pid), `left behind: ${p.pid} ${p.cmdline}`).toBe(false);
  return exit;
}

describe('the compiled worker', () => {
  test('`npx btcbot worker`: npm runs node directly (no shell, no tsx); SIGTERM to npx shuts the worker down gracefully, nothing left', async () => {
    const env = await workerEnv(uniqueId('runtime-npx'));
    const proc = npxWorker(env);
    let tree: Array<{ pid: number; cmdline: string }> = [];
    await exerciseAndStop(proc, env, () => {
      tree = descendants(proc.pid);
      return tree;
    });
    expect(tree).toHaveLength(1);
    expect(tree[0]!.cmdline).toMatch(/^\S*node \S*\/btcbot --env-file \S+ worker$/);
  });

  test('`npx btcbot worker` through a shell that does not exec (npm script-shell sh): the worker notices its parent went and stops gracefully', async () => {
    const env = await workerEnv(uniqueId('runtime-sh'));
    const proc = npxWorker(env, { npm_config_script_shell: 'sh' });
    await proc.waitFor('worker ready');
    const tree = descendants(proc.pid);
    expect(tree.map((p) => p.cmdline.split(' ')[0])).toEqual(['sh', expect.stringMatching(/node$/)]);
    const worker = tree[1]!;
    proc.kill('SIGTERM'); // npm passes it to sh only; sh dies and the worker is orphaned
    await proc.exited;
    for (const deadline = Date.now() + 30_000; isProcessAlive(worker.pid) && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 100));
    expect(isProcessAlive(worker.pid)).toBe(false);
    const { stderr } = await proc.exited; // the worker kept writing to the pipe npx left it
    expect(stderr).toContain('the npx process that started this one exited: stopping as on SIGTERM');
  });

  test("the package's bin, from a directory holding only what the Docker image's stages put there: one process, no descendants; SIGTERM exits 0", async () => {
    // The build stage as its COPY lines fill it (from the project) plus what its `npm run build`
    // makes (this dist/) and `npm ci` (node_modules, linked); then the runtime stage as its COPY
    // --from=build lines take from that. A path the build stage never has fails here, as
    // `docker build` would.
    const stages = dockerfileStages(readFileSync(join(projectRoot, 'Dockerfile'), 'utf8'));
    const buildStage = stages.find((s) => s.name === 'build')!;
    const buildDir = mkdtempSync(join(scratch, 'build-stage-'));
    const inBuild = (p: string) => join(buildDir, posix.relative('/app', p));
    for (const c of copies(buildStage)) cpSync(join(projectRoot, c.source), inBuild(c.target), { recursive: true });
    cpSync(join(projectRoot, 'dist'), inBuild('/app/dist'), { recursive: true });
    symlinkSync(join(projectRoot, 'node_modules'), inBuild('/app/node_modules'));

    const runtimeCopies = copies(stages.at(-1)!).filter((c) => c.from === 'build');
    expect(runtimeCopies.map((c) => c.source).sort()).toEqual(['/app/bin', '/app/dist', '/app/node_modules', '/app/package.json']);
    const image = mkdtempSync(join(scratch, 'image-'));
    for (const c of runtimeCopies) {
      expect(existsSync(inBuild(c.source)), `COPY --from=build ${c.source}: not in the build stage`).toBe(true);
      const target = join(image, posix.relative('/app', c.target));
      if (c.source.endsWith('/node_modules')) symlinkSync(join(projectRoot, 'node_modules'), target);
      else cpSync(inBuild(c.source), target, { recursive: true });
    }

    const env = await workerEnv(uniqueId('runtime-bin'));
    const proc = watch(spawn(join(image, 'bin/btcbot.js'), ['worker'], { cwd: image, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] }));
    let tree: Array<{ pid: number; cmdline: string }> = [];
    await exerciseAndStop(proc, env, () => {
      tree = descendants(proc.pid);
      return [{ pid: proc.pid, cmdline: 'the bin' }, ...tree];
    });
    expect(tree).toEqual([]);
  });
});

describe('stopping the worker', () => {
  test('the form the README gives process managers, `sh -c "exec node <path>/bin/btcbot.js worker"` from any directory: SIGTERM drains in-flight work; a second SIGTERM is logged and the drain still finishes', async () => {
    // A simulator whose market reads take 3 s, so the cycle's market activity is in flight when the signals come.
    const slow = await startSimulator();
    try {
      const env: Record<string, string> = { ...(await workerEnv(uniqueId('runtime-drain'))), BTCTURK_BASE_URL: slow.url };
      const outside = mkdtempSync(join(scratch, 'elsewhere-'));
      const proc = watch(spawn('sh', ['-c', `exec node ${join(projectRoot, 'bin/btcbot.js')} worker`], { cwd: outside, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] }));
      await proc.waitFor('worker ready');
      for (const route of ['GET /api/v2/orderbook', 'GET /api/v2/ticker']) slow.faults.add({ route, kind: 'latency', latencyMs: 3_000, times: null });
      const workflowId = uniqueId('runtime-drain-cycle');
      const cycle = runCycle(client, {
        workflowId, taskQueue: env.BTCBOT_TASK_QUEUE!,
        input: { gates: { killSwitch: true, dryRun: true, liveTrading: false, liveTradingAck: null }, dryRunRequested: true, symbols: ['BTCTRY'], trigger: 'cli' },
      }).catch(() => null);
      for (const deadline = Date.now() + 30_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
        const report = (await (await fetch(`http://${env.BTCBOT_HEALTH_ADDRESS}/health`)).json()) as { activities: { inFlight: number } };
        if (report.activities.inFlight > 0) break;
      }
      proc.kill('SIGTERM');
      await proc.waitFor('stopping (SIGTERM)');
      proc.kill('SIGTERM');
      const exit = await proc.exited;
      expect(exit.code, exit.stderr).toBe(0);
      expect(exit.stderr).toContain('SIGTERM again: already stopping');
      expect(exit.stderr).toContain('worker stopped');
      await client.workflow.getHandle(workflowId).terminate('test cleanup').catch(() => {});
      await cycle;
    } finally {
      await slow.close();
    }
  });

  test('SIGHUP stops the worker gracefully, like SIGTERM', async () => {
    const env = await workerEnv(uniqueId('runtime-hup'));
    const proc = watch(spawn(process.execPath, [join(projectRoot, 'bin/btcbot.js'), 'worker'], { cwd: scratch, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] }));
    await proc.waitFor('worker ready');
    proc.kill('SIGHUP');
    const exit = await proc.exited;
    expect(exit.code, exit.stderr).toBe(0);
    expect(exit.stderr).toContain('worker stopped');
  });

  test('SIGTERM while the start-up SYMBOLS check waits on an exchange that never answers: the worker exits at once', async () => {
    const sockets: Socket[] = [];
    const blackhole = createServer((s) => void sockets.push(s.on('error', () => {})));
    await new Promise<void>((resolve) => blackhole.listen(0, '127.0.0.1', resolve));
    try {
      const env: Record<string, string> = { ...(await workerEnv(uniqueId('runtime-hang'))), BTCTURK_BASE_URL: `http://127.0.0.1:${(blackhole.address() as AddressInfo).port}` };
      const proc = watch(spawn(process.execPath, [join(projectRoot, 'bin/btcbot.js'), 'worker'], { cwd: scratch, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] }));
      for (let seen = false; !seen; await new Promise((r) => setTimeout(r, 100))) seen = sockets.length > 0; // the check is waiting
      proc.kill('SIGTERM');
      const exit = await Promise.race([proc.exited, new Promise<null>((r) => setTimeout(() => r(null), 10_000))]);
      if (exit === null) proc.kill('SIGKILL');
      expect(exit, 'still running 10 s after SIGTERM').not.toBeNull();
      expect(exit!.code, exit!.stderr).toBe(0);
      expect(exit!.stderr).toContain('worker stopped before it started');
    } finally {
      for (const s of sockets) s.destroy();
      blackhole.close();
    }
  });
});

describe('health', () => {
  test('the Temporal server going away turns /health to 503 (the pollers alone would still say POLLING)', async () => {
    const temporal = await startTemporalDevServer({ cliPath: inject('temporalCliPath'), port: await freePort(), uiPort: null, logFile: join(scratch, 'temporal-health.log') });
    const env: Record<string, string> = { ...(await workerEnv(uniqueId('runtime-health'))), TEMPORAL_ADDRESS: temporal.address };
    const proc = watch(spawn(process.execPath, [join(projectRoot, 'bin/btcbot.js'), 'worker'], { cwd: scratch, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] }));
    try {
      await proc.waitFor('worker ready');
      expect((await fetch(`http://${env.BTCBOT_HEALTH_ADDRESS}/health`)).status).toBe(200);
      process.kill(temporal.pid, 'SIGKILL');
      let last = { status: 200, reason: '' };
      for (const deadline = Date.now() + 60_000; last.status === 200 && Date.now() < deadline; await new Promise((r) => setTimeout(r, 500))) {
        const res = await fetch(`http://${env.BTCBOT_HEALTH_ADDRESS}/health`);
        last = { status: res.status, reason: ((await res.json()) as { reason: string }).reason };
      }
      expect(last.status).toBe(503);
      expect(last.reason).toMatch(/^Temporal unreachable/);
    } finally {
      proc.kill('SIGKILL');
      await proc.exited;
      await temporal.stop().catch(() => {});
    }
  });
});
