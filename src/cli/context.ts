// What several commands share: the project root, the database, Temporal connections.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensurePostgres } from '../devenv/postgres.js';
import { migrate } from '../store/migrations.js';
import { createPool, type Pool } from '../store/db.js';

export const projectRoot = fileURLToPath(new URL('../..', import.meta.url));

export const log = (line: string): void => console.error(`[btcbot] ${line}`);

/** DATABASE_URL, or the project's local cluster (started when needed); migrated. */
export async function openDatabase(env = process.env): Promise<{ pool: Pool; url: string }> {
  const { url } = await ensurePostgres({ dataDir: join(projectRoot, '.data', 'postgres') }, env);
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
