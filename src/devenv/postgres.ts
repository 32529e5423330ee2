// Postgres for local runs and tests: DATABASE_URL when set, otherwise a private cluster that the
// project initialises and starts itself (initdb/pg_ctl into a project-local data dir, on loopback).
import { chmodSync, chownSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { createPool, type Pool } from '../store/db.js';
import { migrate } from '../store/migrations.js';
import { DevEnvError, freePort, isExecutable, run, runOrThrow, which } from './process.js';

export const LOCAL_DB_NAME = 'btcbot';
export const LOCAL_DB_USER = 'btcbot';

export interface LocalPostgresOptions {
  dataDir: string;
  /** Port for a new cluster; an existing cluster keeps the port it was created with. */
  port?: number;
  /** Trade durability for speed (tests): fsync off. Never for data you care about. */
  ephemeral?: boolean;
}

export interface RunningPostgres {
  url: string;
  /** Stops the cluster if this call started it; a no-op for DATABASE_URL. */
  stop(): Promise<void>;
}

/** Where initdb/pg_ctl live: PG_BIN, then PATH, then Debian's /usr/lib/postgresql/<v>/bin. */
export function findPostgresBin(env: NodeJS.ProcessEnv = process.env): string | null {
  if (env.PG_BIN && isExecutable(join(env.PG_BIN, 'pg_ctl'))) return env.PG_BIN;
  const onPath = which('pg_ctl');
  if (onPath && isExecutable(join(onPath, '..', 'initdb'))) return join(onPath, '..');
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    for (const v of versions) {
      const bin = join(root, v, 'bin');
      if (isExecutable(join(bin, 'pg_ctl')) && isExecutable(join(bin, 'initdb'))) return bin;
    }
  }
  return null;
}

/** initdb and postgres refuse to run as root; run them as the `postgres` system user then. */
function asClusterOwner(cmd: string, args: string[]): [string, string[]] {
  if (process.getuid?.() !== 0) return [cmd, args];
  return ['runuser', ['-u', 'postgres', '--', cmd, ...args]];
}

function clusterOwnerIds(): { uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  if (!line) throw new DevEnvError('running as root, but there is no `postgres` user to own the cluster');
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

interface ClusterState {
  port: number;
}

export async function startLocalPostgres(opts: LocalPostgresOptions): Promise<RunningPostgres> {
  const bin = findPostgresBin();
  if (!bin) {
    throw new DevEnvError(
      'no PostgreSQL server binaries found (initdb, pg_ctl): set DATABASE_URL, set PG_BIN, ' +
        'or install them (Debian: apt-get install -y postgresql)',
    );
  }
  const { dataDir } = opts;
  const stateFile = join(dataDir, 'btcbot-cluster.json');
  const owner = clusterOwnerIds();
  const pgData = join(dataDir, 'pgdata');

  if (!existsSync(join(pgData, 'PG_VERSION'))) {
    await runOrThrow('mkdir', ['-p', pgData]);
    chmodSync(dataDir, 0o755);
    if (owner && (await run('runuser', ['-u', 'postgres', '--', 'test', '-x', dataDir])).code !== 0) {
      throw new DevEnvError(
        `the postgres user cannot reach ${dataDir}; make its parent directories traversable (chmod o+x) or set DATABASE_URL`,
      );
    }
    if (owner) chownSync(pgData, owner.uid, owner.gid);
    chmodSync(pgData, 0o700);
    const [cmd, args] = asClusterOwner(join(bin, 'initdb'), [
      '-D', pgData, '-U', LOCAL_DB_USER, '--auth=trust', '-E', 'UTF8', '--no-locale', '--no-sync',
    ]);
    await runOrThrow(cmd, args);
    const state: ClusterState = { port: opts.port ?? (await freePort()) };
    writeFileSync(stateFile, JSON.stringify(state));
  }
  const state = JSON.parse(readFileSync(stateFile, 'utf8')) as ClusterState;

  const status = await run(...asClusterOwner(join(bin, 'pg_ctl'), ['-D', pgData, 'status']));
  let startedHere = false;
  if (status.code !== 0) {
    const settings = [
      `-p ${state.port}`,
      `-c listen_addresses=127.0.0.1`,
      `-c unix_socket_directories=${pgData}`,
      `-c max_connections=200`,
      ...(opts.ephemeral ? ['-c fsync=off', '-c synchronous_commit=off', '-c full_page_writes=off'] : []),
    ].join(' ');
    const [cmd, args] = asClusterOwner(join(bin, 'pg_ctl'), [
      '-D', pgData, '-l', join(pgData, 'server.log'), '-o', settings, '-w', '-t', '60', 'start',
    ]);
    await runOrThrow(cmd, args);
    startedHere = true;
  }

  const adminUrl = `postgres://${LOCAL_DB_USER}@127.0.0.1:${state.port}/postgres`;
  await createDatabaseIfMissing(adminUrl, LOCAL_DB_NAME);
  return {
    url: `postgres://${LOCAL_DB_USER}@127.0.0.1:${state.port}/${LOCAL_DB_NAME}`,
    stop: async () => {
      if (!startedHere) return;
      await run(...asClusterOwner(join(bin, 'pg_ctl'), ['-D', pgData, '-m', 'fast', '-w', 'stop']));
    },
  };
}

/** Stop a cluster started by an earlier `btcbot up` (for `btcbot down`). */
export async function stopLocalPostgres(dataDir: string): Promise<boolean> {
  const bin = findPostgresBin();
  const pgData = join(dataDir, 'pgdata');
  if (!bin || !existsSync(join(pgData, 'PG_VERSION'))) return false;
  const r = await run(...asClusterOwner(join(bin, 'pg_ctl'), ['-D', pgData, '-m', 'fast', '-w', 'stop']));
  return r.code === 0;
}

export async function createDatabaseIfMissing(adminUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const r = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (r.rowCount === 0) await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  } catch (err) {
    // Two processes racing to create the same database: the loser sees duplicate_database.
    if ((err as { code?: string }).code !== '42P04') throw err;
  } finally {
    await client.end();
  }
}

/** DATABASE_URL if set, else a local cluster in `dataDir`. */
export async function ensurePostgres(opts: LocalPostgresOptions, env = process.env): Promise<RunningPostgres> {
  if (env.DATABASE_URL) return { url: env.DATABASE_URL, stop: async () => {} };
  return startLocalPostgres(opts);
}

/** The same cluster's URL for another database (`postgres` is the admin database). */
export function databaseUrl(clusterUrl: string, name: string): string {
  const url = new URL(clusterUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Create database `name` on the cluster of `adminUrl` if missing; a pool on it, migrated unless told not to. */
export async function createMigratedDatabase(
  adminUrl: string,
  name: string,
  { migrated = true }: { migrated?: boolean } = {},
): Promise<{ url: string; pool: Pool }> {
  await createDatabaseIfMissing(adminUrl, name);
  const url = databaseUrl(adminUrl, name);
  const pool = createPool(url);
  if (migrated) await migrate(pool);
  return { url, pool };
}
