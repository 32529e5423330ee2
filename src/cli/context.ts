// What several commands share: the project root, the database, Temporal connections.
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { fileURLToPath } from 'node:url';
import { dataConverterFromEnv } from '../codec.js';
import { ensurePostgres } from '../devenv/postgres.js';
import { evaluateGates, type GateSettings } from '../domain/gates.js';
import { localDataDir } from '../devenv/stack.js';
import { migrate } from '../store/migrations.js';
import { createPool, type Pool } from '../store/db.js';
import { loadInfraSettings, type InfraSettings } from '../settings.js';

export const projectRoot = fileURLToPath(new URL('../..', import.meta.url));

export const log = (line: string): void => console.error(`[btcbot] ${line}`);


/** DATABASE_URL, or the project's local cluster (started when needed); migrated. */
export async function openDatabase(env = process.env): Promise<{ pool: Pool; url: string }> {
  const { url } = await ensurePostgres({ dataDir: join(localDataDir(projectRoot, env), 'postgres') }, env);
  const pool = createPool(url);
  const report = await migrate(pool);
  if (report.applied.length > 0) log(`database migrated to version ${report.current}`);
  return { pool, url };
}

/**
 * A URL as it may be printed: no password, in user info or in the query (`password`, `sslpassword`,
 * anything ending in `key`). A database URL keeps its user name (the role, no secret); any other
 * URL loses its user info whole (it is credentials there).
 */
export function redactUrl(url: string): string {
  if (!URL.canParse(url)) return '<unparseable url>';
  const u = new URL(url);
  const database = /^postgres(ql)?:$/.test(u.protocol);
  const search = u.search.replace(/([?&])((?:ssl)?password|[^=&]*key)=[^&]*/gi, '$1$2=***');
  if (!u.password && (database || !u.username) && search === u.search) return url; // nothing to hide: as given
  if (u.password) u.password = '***';
  if (u.username && !database) {
    u.username = '***';
    u.password = '';
  }
  u.search = search;
  return u.toString();
}

/**
 * Where Temporal and Postgres are, for operator commands (halt, resume, status, schedule). Exchange
 * variables are ignored on purpose: a malformed BTCTURK_* value must never stop an operator from
 * halting trading or reading its state.
 */
export function loadControlSettings(env: NodeJS.ProcessEnv = process.env): InfraSettings {
  return loadInfraSettings({ ...env, BTCTURK_BASE_URL: undefined, BTCTURK_API_KEY: undefined, BTCTURK_API_SECRET: undefined });
}

/** Temporal could not be reached: a one-line message and exit 1, no stack. */
export class TemporalUnreachableError extends Error {
  override name = 'TemporalUnreachableError';
}

/** A Temporal client for one command; `close()` when done. */
export async function connectClient(
  settings: Pick<InfraSettings, 'temporalAddress' | 'temporalNamespace'>,
  { connectTimeout = '5s' }: { connectTimeout?: string } = {},
): Promise<{ client: Client; connection: Connection; close(): Promise<void> }> {
  let connection: Connection;
  try {
    connection = await Connection.connect({ address: settings.temporalAddress, connectTimeout });
  } catch (err) {
    throw new TemporalUnreachableError(`cannot reach Temporal at ${settings.temporalAddress}: ${(err as Error).message}`);
  }
  return {
    client: new Client({ connection, namespace: settings.temporalNamespace, dataConverter: dataConverterFromEnv() }),
    connection,
    close: () => connection.close(),
  };
}

/** What mode a cycle started with these gates would get, and why, in one line. */
export function describeGates(gates: GateSettings, dryRunRequested = false): string {
  const decision = evaluateGates(gates, dryRunRequested);
  if (decision.outcome === 'blocked') return `blocked: ${decision.message} (dry runs still run)`;
  if (decision.mode === 'live') return 'live: all four gates are set; cycles may write to the exchange';
  const why = [gates.dryRun && 'DRY_RUN=true', dryRunRequested && '--dry-run'].filter(Boolean).join(' and ');
  const notes = decision.notes.length > 0 ? `; notes ${decision.notes.join(', ')}` : '';
  return `dry_run (${why}): no exchange writes${notes}`;
}

/** Two-column `  key  value` lines, as the cycle summary prints them. */
export function formatTable(rows: ReadonlyArray<readonly [string, string]>, indent = '  '): string {
  if (rows.length === 0) return '';
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${indent}${k.padEnd(width)}  ${v}`.trimEnd()).join('\n');
}
