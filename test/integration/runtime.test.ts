// The compiled worker as an operator runs it: `npx btcbot worker` in the project, and the package's
// bin from a directory holding only what the Docker image holds. Each is one process (no node
// child through tsx), serves a cycle from the prebuilt workflow bundle, reports itself healthy, and
// on SIGTERM to the process started exits 0 after a graceful shutdown, leaving no process behind.
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { buildFreshness } from '../../src/build-info.js';
import { runCycle } from '../../src/cli/cycles.js';
import { freePort, isProcessAlive } from '../../src/devenv/process.js';
import type { RunningSimulator } from '../../src/simulator/server.js';
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

  test("the package's bin, from a directory holding only what the Docker image copies: one process, no descendants; SIGTERM exits 0", async () => {
    // The runtime stage's COPY lines decide what is staged (node_modules is linked, not copied).
    const copies = readFileSync(join(projectRoot, 'Dockerfile'), 'utf8')
      .split('\n')
      .map((l) => /^COPY --from=build \/app\/(\S+)/.exec(l)?.[1])
      .filter((p): p is string => p !== undefined);
    expect(copies.sort()).toEqual(['bin', 'dist', 'node_modules', 'package.json']);
    const image = mkdtempSync(join(scratch, 'image-'));
    for (const p of copies) {
      if (p === 'node_modules') symlinkSync(join(projectRoot, 'node_modules'), join(image, p));
      else cpSync(join(projectRoot, p), join(image, p), { recursive: true });
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
