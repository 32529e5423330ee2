// What several commands share: the project root, the database, Temporal connections.
import { join } from 'node:path';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { fileURLToPath } from 'node:url';
import { ensurePostgres } from '../devenv/postgres.js';
import { localDataDir } from '../devenv/stack.js';
import { migrate } from '../store/migrations.js';
import { createPool, type Pool } from '../store/db.js';

export const projectRoot = fileURLToPath(new URL('../..', import.meta.url));

export const log = (line: string): void => console.error(`[btcbot] ${line}`);

/** The SDK's own log lines at WARN unless LOG_LEVEL says otherwise; call before any connection. */
export function installTemporalRuntime(env = process.env): void {
  const level = (env.LOG_LEVEL?.trim().toUpperCase() || 'WARN') as 'TRACE' | 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  const valid = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'];
  Runtime.install({ logger: new DefaultLogger(valid.includes(level) ? level : 'WARN') });
}

/** DATABASE_URL, or the project's local cluster (started when needed); migrated. */
export async function openDatabase(env = process.env): Promise<{ pool: Pool; url: string }> {
  const { url } = await ensurePostgres({ dataDir: join(localDataDir(projectRoot, env), 'postgres') }, env);
  const pool = createPool(url);
  const report = await migrate(pool);
  if (report.applied.length > 0) log(`database migrated to version ${report.current}`);
  return { pool, url };
}

/** A connection string with any password masked, for printing. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<unparseable url>';
  }
}
