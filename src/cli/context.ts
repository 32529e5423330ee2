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
import { secretFileWarnings } from '../secrets.js';
import { printable } from './printable.js';
import { loadInfraSettings, type InfraSettings } from '../settings.js';
import { temporalConnection } from '../temporal-connection.js';

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
 * Where Temporal and Postgres are, for operator commands (halt, resume, status, schedule). Exchange
 * variables are ignored on purpose: a malformed BTCTURK_* value must never stop an operator from
 * halting trading or reading its state.
 */
export function loadControlSettings(env: NodeJS.ProcessEnv = process.env): InfraSettings {
  const ignored = ['BTCTURK_BASE_URL', 'BTCTURK_API_KEY', 'BTCTURK_API_SECRET', 'BTCTURK_API_KEY_FILE', 'BTCTURK_API_SECRET_FILE'];
  return loadInfraSettings({ ...env, ...Object.fromEntries(ignored.map((name) => [name, undefined])) });
}

/** Temporal could not be reached: a one-line message and exit 1, no stack. */
export class TemporalUnreachableError extends Error {
  override name = 'TemporalUnreachableError';
}

/** A Temporal client for one command; `close()` when done. */
export async function connectClient(
  settings: Pick<InfraSettings, 'temporalAddress' | 'temporalNamespace'>,
  { connectTimeout = '5s', env = process.env }: { connectTimeout?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<{ client: Client; connection: Connection; close(): Promise<void> }> {
  // A bad TLS variable is a configuration error (exit 2), not an unreachable server.
  const { options } = temporalConnection(settings.temporalAddress, env);
  let connection: Connection;
  try {
    connection = await Connection.connect({ ...options, connectTimeout });
  } catch (err) {
    throw new TemporalUnreachableError(`cannot reach Temporal at ${settings.temporalAddress}: ${(err as Error).message}`);
  }
  return {
    client: new Client({ connection, namespace: settings.temporalNamespace, dataConverter: dataConverterFromEnv() }),
    connection,
    close: () => connection.close(),
  };
}

/** Secret files (and `.env`) that other users can read, each said once on stderr. */
export function warnAboutSecretFiles(envFiles: readonly string[], env: NodeJS.ProcessEnv = process.env): string[] {
  const warnings = secretFileWarnings(env, envFiles);
  for (const w of warnings) log(`warning: ${w}`);
  return warnings;
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
  // Values carry stored text (halt reasons, cycle messages, errors): never raw control characters.
  return rows.map(([k, v]) => `${indent}${k.padEnd(width)}  ${printable(v)}`.trimEnd()).join('\n');
}
