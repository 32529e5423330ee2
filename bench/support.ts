// Shared pieces of the benchmarks: one JSON line per figure, a Postgres to measure against.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createMigratedDatabase, databaseUrl, startLocalPostgres } from '../src/devenv/postgres.js';
import { freePort } from '../src/devenv/process.js';
import { ensureTemporalCli, startTemporalDevServer } from '../src/devenv/temporal.js';
import { Decimal } from '../src/domain/decimal.js';
import { DEFAULT_PAIRS, type SimPairConfig } from '../src/simulator/pairs.js';
import type { Pool } from '../src/store/db.js';
import { workflowsPath } from '../src/worker.js';

export function report(figure: Record<string, unknown>): void {
  console.log(JSON.stringify(figure));
}

/** BENCH_DATABASE_URL, else a throwaway local cluster (never the user's DATABASE_URL). */
export async function benchDatabase(): Promise<{ url: string; adminUrl: string; stop(): Promise<void> }> {
  const given = process.env.BENCH_DATABASE_URL;
  if (given) return { url: given, adminUrl: databaseUrl(given, 'postgres'), stop: async () => {} };
  const dir = mkdtempSync(join(tmpdir(), 'btcbot-bench-'));
  chmodSync(dir, 0o711); // as root, the cluster's postgres user passes through
  // Durable settings (fsync on): the figure is what a real deployment would see.
  const pg = await startLocalPostgres({ dataDir: join(dir, 'postgres') });
  return {
    url: pg.url,
    adminUrl: pg.adminUrl,
    stop: async () => {
      await pg.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Sample RSS every 10 ms while `fn` runs; returns its result and the peak. */
export async function withPeakRss<T>(fn: () => Promise<T>): Promise<{ result: T; peakRssMb: number }> {
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 10);
  try {
    const result = await fn();
    peak = Math.max(peak, process.memoryUsage.rss());
    return { result, peakRssMb: Math.round(peak / 1024 / 1024) };
  } finally {
    clearInterval(timer);
  }
}

// ---- Temporal-backed benchmarks (cycle, memory): a private stack on loopback ----

const projectRoot = fileURLToPath(new URL('..', import.meta.url));

export const percentile = (values: readonly number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
};
export const round1 = (x: number): number => Math.round(x * 10) / 10;

let runtimeInstalled = false;
/** The Temporal runtime can be installed once per process; several benches share it. */
export function installRuntimeOnce(): void {
  if (runtimeInstalled) return;
  Runtime.install({ logger: new DefaultLogger('WARN') });
  runtimeInstalled = true;
}

export interface BenchStack {
  address: string;
  client: Client;
  nativeConnection: NativeConnection;
  workflowBundle: WorkflowBundleWithSourceMap;
  /** A fresh, migrated database on the bench's Postgres. */
  database(name: string): Promise<{ url: string; pool: Pool }>;
  stop(): Promise<void>;
}

/** A headless Temporal dev server on a free port, a throwaway Postgres, the cycle bundle. */
export async function startBenchStack(): Promise<BenchStack> {
  installRuntimeOnce();
  const dir = mkdtempSync(join(tmpdir(), 'btcbot-bench-temporal-'));
  const stops: Array<() => Promise<unknown>> = [async () => rmSync(dir, { recursive: true, force: true })];
  const stop = async (): Promise<void> => {
    for (const s of stops.splice(0)) await s().catch((err: unknown) => console.error(`[bench] cleanup: ${(err as Error).message}`));
  };
  try {
    const cli = await ensureTemporalCli(projectRoot, (l) => console.error(`[bench] ${l}`));
    const [server, db, workflowBundle] = await Promise.all([
      freePort().then((port) => startTemporalDevServer({ cliPath: cli.path, port, uiPort: null, logFile: join(dir, 'temporal.log') })),
      benchDatabase(),
      bundleWorkflowCode({ workflowsPath, logger: new DefaultLogger('WARN') }),
    ]);
    stops.unshift(() => db.stop(), () => server.stop());
    const [nativeConnection, connection] = await Promise.all([
      NativeConnection.connect({ address: server.address }),
      Connection.connect({ address: server.address }),
    ]);
    stops.unshift(() => nativeConnection.close(), () => connection.close());
    const pools: Pool[] = [];
    stops.unshift(async () => Promise.all(pools.map((p) => p.end())));
    return {
      address: server.address,
      client: new Client({ connection, namespace: 'default' }),
      nativeConnection,
      workflowBundle,
      database: async (name) => {
        const created = await createMigratedDatabase(db, name);
        pools.push(created.pool);
        return created;
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

const EXTRA_BASES: ReadonlyArray<[base: string, price: string, tick: string, numeratorScale: number]> = [
  ['XRP', '21.5', '0.001', 1], ['ADA', '15.2', '0.001', 1], ['DOGE', '5.61', '0.0001', 0], ['AVAX', '1200', '0.01', 3],
  ['DOT', '230', '0.01', 2], ['LINK', '540', '0.01', 2], ['LTC', '3100', '0.1', 4], ['TRX', '7.9', '0.0001', 0],
  ['ATOM', '290', '0.01', 2], ['NEAR', '180', '0.01', 2], ['UNI', '310', '0.01', 2], ['APT', '320', '0.01', 2],
  ['ARB', '28.4', '0.001', 1], ['OP', '62.1', '0.001', 1], ['FIL', '170', '0.01', 2], ['XLM', '12.3', '0.001', 1],
];

/** `n` TRY pairs: the simulator's defaults (BTC, ETH, SOL, USDT), then realistic extra ones. */
export function benchPairs(n: number): SimPairConfig[] {
  const extra: SimPairConfig[] = EXTRA_BASES.map(([base, price, tick, numeratorScale], i) => ({
    id: 200 + i, base, quote: 'TRY', numeratorScale, denominatorScale: tick.split('.')[1]?.length ?? 0, hasFraction: true, tickSize: tick,
    minExchangeValue: '99.91', minimumLimitOrderPrice: new Decimal(price).div(10).toFixed(), maximumLimitOrderPrice: new Decimal(price).mul(10).toFixed(),
    status: 'TRADING', price,
  }));
  const all = [...DEFAULT_PAIRS, ...extra];
  if (n > all.length) throw new Error(`at most ${all.length} bench pairs`);
  return all.slice(0, n);
}

/** `BTC_TRY,ETH_TRY,…` for the worker's SYMBOLS and `BTCTRY,…` for the cycle input: the same pairs. */
export function symbolLists(pairs: readonly SimPairConfig[]): { env: string; input: string[] } {
  return { env: pairs.map((p) => `${p.base}_${p.quote}`).join(','), input: pairs.map((p) => `${p.base}${p.quote}`) };
}
