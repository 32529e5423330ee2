// Worker memory: one worker process runs 1,000 dry-run cycles; its RSS after 100 and after 1,000
// cycles must be within 10 % (no per-cycle leak: workflow cache, sandbox, pg pool, HTTP agent).
//
// The worker is a separate process — this file, re-run with BENCH_MEMORY_ROLE=worker — built like
// `btcbot worker` (src/cli/worker.ts): createCycleWorker with the worker's environment as its
// trading config, a pg pool and the BTCTurk client with API credentials (live-like dry runs: real
// reads of the simulator's account, simulated orders). Two differences: the client's rate limiter
// is off (1,000 back-to-back cycles would otherwise wait on BTCTurk's per-minute quotas for most
// of an hour) and the process runs with --expose-gc, so every reading follows a full GC and
// compares live memory rather than GC timing. Everything on loopback; temp dirs removed at the end.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { NativeConnection } from '@temporalio/worker';
import { runCycle } from '../src/cli/cycles.js';
import type { GateSettings } from '../src/domain/gates.js';
import { createBtcturkExchange } from '../src/exchange/btcturk/client.js';
import { startSimulator } from '../src/simulator/server.js';
import { createPool } from '../src/store/db.js';
import { createCycleWorker } from '../src/worker.js';
import { installRuntimeOnce, report, round1, startBenchStack } from './support.js';

const SAFE: GateSettings = { killSwitch: true, dryRun: true, liveTrading: false, liveTradingAck: null };
const TASK_QUEUE = 'bench-memory';
const TARGET_RATIO = 1.1;

interface MemoryReading {
  rss: number;
  heapUsed: number;
  external: number;
}

type ToWorker = { type: 'measure' } | { type: 'stop' };
type FromWorker = { type: 'ready' } | ({ type: 'memory' } & MemoryReading);

const mb = (bytes: number): number => round1(bytes / 1024 / 1024);

/** The child: a cycle worker that answers memory readings over IPC until told to stop. */
async function runMemoryWorker(): Promise<void> {
  installRuntimeOnce();
  const env = process.env;
  const pool = createPool(env.DATABASE_URL!);
  const exchange = createBtcturkExchange({
    baseUrl: env.BTCTURK_BASE_URL!, credentials: { apiKey: env.BTCTURK_API_KEY!, apiSecret: env.BTCTURK_API_SECRET! }, rateLimiter: false,
  });
  const connection = await NativeConnection.connect({ address: env.TEMPORAL_ADDRESS! });
  const worker = await createCycleWorker({ connection, namespace: 'default', taskQueue: TASK_QUEUE, deps: { pool, exchange, env, hasCredentials: true } });
  process.on('message', (msg: ToWorker) => {
    if (msg.type === 'stop') return worker.shutdown();
    globalThis.gc?.();
    globalThis.gc?.();
    const m = process.memoryUsage();
    process.send!({ type: 'memory', rss: m.rss, heapUsed: m.heapUsed, external: m.external } satisfies FromWorker);
  });
  process.send!({ type: 'ready' } satisfies FromWorker);
  try {
    await worker.run();
  } finally {
    await Promise.allSettled([exchange.close(), pool.end()]);
    await connection.close();
    process.disconnect();
  }
}

function nextMessage(child: ChildProcess, type: FromWorker['type'], timeoutMs: number): Promise<FromWorker> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`worker did not send ${type} within ${timeoutMs} ms`)), timeoutMs);
    const onMessage = (m: FromWorker): void => {
      if (m.type === type) done(null, m);
    };
    const onExit = (code: number | null): void => done(new Error(`worker exited (${code}) while waiting for ${type}`));
    function done(err: Error | null, m?: FromWorker): void {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(m!);
    }
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

export async function benchMemory({ cycles = 1000, earlyAt = 100, timeLimitMs = 25 * 60_000 } = {}): Promise<void> {
  const stack = await startBenchStack();
  const sim = await startSimulator({ seed: 7 });
  let child: ChildProcess | null = null;
  try {
    const db = await stack.database('btcbot_bench_memory');
    child = fork(fileURLToPath(import.meta.url), [], {
      execArgv: ['--expose-gc', '--import', 'tsx'],
      // Only what the worker needs: its trading config stays at the safe defaults (DRY_RUN, KILL_SWITCH).
      env: {
        PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', BENCH_MEMORY_ROLE: 'worker',
        TEMPORAL_ADDRESS: stack.address, DATABASE_URL: db.url, BTCTURK_BASE_URL: sim.url,
        BTCTURK_API_KEY: sim.credentials.apiKey, BTCTURK_API_SECRET: sim.credentials.apiSecret,
        SYMBOLS: 'BTC_TRY,ETH_TRY,SOL_TRY',
      },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const worker = child;
    await nextMessage(worker, 'ready', 120_000);
    const measure = async (): Promise<MemoryReading> => {
      const reply = nextMessage(worker, 'memory', 30_000);
      worker.send({ type: 'measure' } satisfies ToWorker);
      return (await reply) as MemoryReading;
    };

    const readings = new Map<number, MemoryReading>([[0, await measure()]]);
    const outcomes: Record<string, number> = {};
    const t0 = performance.now();
    for (let i = 1; i <= cycles; i++) {
      if (performance.now() - t0 > timeLimitMs) throw new Error(`memory bench exceeded ${timeLimitMs / 60_000} min after ${i - 1} cycles`);
      const run = await runCycle(stack.client, {
        workflowId: `bench-memory-${i}`, taskQueue: TASK_QUEUE,
        input: { gates: SAFE, dryRunRequested: true, symbols: ['BTCTRY', 'ETHTRY', 'SOLTRY'], trigger: 'bench' },
      });
      const outcome = run.result?.outcome ?? 'failed';
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
      if (i === earlyAt || i === cycles) readings.set(i, await measure());
    }
    const seconds = (performance.now() - t0) / 1000;
    const early = readings.get(earlyAt)!;
    const late = readings.get(cycles)!;
    const ratio = late.rss / early.rss;
    report({
      bench: 'worker_memory', cycles, mode: 'dry_run', credentials: true, symbols: 3, outcomes, seconds: round1(seconds),
      rss_mb_start: mb(readings.get(0)!.rss), [`rss_mb_after_${earlyAt}`]: mb(early.rss), [`rss_mb_after_${cycles}`]: mb(late.rss), rss_ratio: Math.round(ratio * 1000) / 1000,
      [`heap_used_mb_after_${earlyAt}`]: mb(early.heapUsed), [`heap_used_mb_after_${cycles}`]: mb(late.heapUsed),
      target_rss_ratio: `<= ${TARGET_RATIO}`, met: ratio <= TARGET_RATIO && (outcomes.ok ?? 0) === cycles,
    });
  } finally {
    if (child && child.exitCode === null) {
      const exited = new Promise<void>((resolve) => child!.once('exit', () => resolve()));
      child.send({ type: 'stop' } satisfies ToWorker);
      const timer = setTimeout(() => child!.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    }
    await sim.close();
    await stack.stop();
  }
}

if (process.env.BENCH_MEMORY_ROLE === 'worker' && process.argv[1] === fileURLToPath(import.meta.url)) {
  runMemoryWorker().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
