// Shared pieces of the benchmarks: one JSON line per figure, a Postgres to measure against.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalPostgres } from '../src/devenv/postgres.js';

export function report(figure: Record<string, unknown>): void {
  console.log(JSON.stringify(figure));
}

/** BENCH_DATABASE_URL, else a throwaway local cluster (never the user's DATABASE_URL). */
export async function benchDatabase(): Promise<{ url: string; stop(): Promise<void> }> {
  if (process.env.BENCH_DATABASE_URL) return { url: process.env.BENCH_DATABASE_URL, stop: async () => {} };
  const dir = mkdtempSync(join(tmpdir(), 'btcbot-bench-'));
  chmodSync(dir, 0o755);
  // Durable settings (fsync on): the figure is what a real deployment would see.
  const pg = await startLocalPostgres({ dataDir: join(dir, 'postgres') });
  return {
    url: pg.url,
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
