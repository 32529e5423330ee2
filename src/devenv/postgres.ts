// Postgres for local runs and tests: DATABASE_URL when set, otherwise a private cluster that the
// project initialises and starts itself (initdb/pg_ctl into a project-local data dir, on loopback).
// Nobody else gets in: every login needs a password (scram-sha-256), the generated passwords live
// in a 0600 file beside the cluster, and the application connects as a role that owns its own
// database and schema and nothing else. The superuser is for provisioning here only.
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { createPool, type Pool } from '../store/db.js';
import { migrate } from '../store/migrations.js';
import { DevEnvError, freePort, isExecutable, makePrivateDir, run, runOrThrow, which, withLockFile } from './process.js';

export const LOCAL_DB_NAME = 'btcbot';
/** What the application connects as: owns its database and the schema in it; not a superuser. */
export const LOCAL_APP_ROLE = 'btcbot_app';
/** The cluster's superuser, for provisioning (roles, databases) only. */
export const LOCAL_ADMIN_ROLE = 'btcbot_admin';
/** The superuser of clusters made before passwords (trust authentication, all local users in). */
const LEGACY_ADMIN_ROLE = 'btcbot';
/** The generated passwords, in libpq's pgpass format (`PGPASSFILE=<it> psql ...` works), mode 0600. */
export const PASSWORD_FILE = 'pgpass';

export interface LocalPostgresOptions {
  dataDir: string;
  /** Port for a new cluster; an existing cluster keeps the port it was created with. */
  port?: number;
  /** Trade durability for speed (tests): fsync off. Never for data you care about. */
  ephemeral?: boolean;
  /** Where to say what was done to an existing cluster (securing an old one). Default stderr. */
  log?: (line: string) => void;
}

export interface RunningPostgres {
  /** The application's database, as the application role (password included: never print it raw). */
  url: string;
  /** The same cluster's `postgres` database as its superuser: for creating databases (tests, bench). */
  adminUrl: string;
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
  /** Absent in clusters made by older versions: those used trust authentication. */
  auth?: 'scram-sha-256';
  /** The superuser's name (older clusters: `btcbot`). */
  admin?: string;
}

type Passwords = Record<string, string>;

function writePrivateFile(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

function readPasswords(dataDir: string): Passwords | null {
  const file = join(dataDir, PASSWORD_FILE);
  if (!existsSync(file)) return null;
  if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600); // loosened by hand: tighten again
  const entries = readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('#'))
    .map((l) => l.split(':'))
    .filter((f) => f.length === 5)
    .map((f) => [f[3]!, f[4]!] as const);
  return Object.fromEntries(entries);
}

function writePasswords(dataDir: string, passwords: Passwords): void {
  const lines = Object.entries(passwords).map(([role, pw]) => `*:*:*:${role}:${pw}`);
  writePrivateFile(
    join(dataDir, PASSWORD_FILE),
    `# Generated passwords of the local cluster (pgpass format: PGPASSFILE=<this file> psql -h 127.0.0.1 ...).\n${lines.join('\n')}\n`,
  );
}

const newPassword = (): string => randomBytes(24).toString('hex');

/** A SCRAM-SHA-256 verifier, so the password itself never travels in SQL (nor lands in a server log). */
export function scramVerifier(password: string, salt = randomBytes(16), iterations = 4096): string {
  const salted = pbkdf2Sync(password, salt, iterations, 32, 'sha256');
  const storedKey = createHash('sha256').update(createHmac('sha256', salted).update('Client Key').digest()).digest('base64');
  const serverKey = createHmac('sha256', salted).update('Server Key').digest('base64');
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey}:${serverKey}`;
}

const urlFor = (role: string, password: string, port: number, db: string): string =>
  `postgres://${role}:${encodeURIComponent(password)}@127.0.0.1:${port}/${db}`;

/** pg_hba.conf of a secured cluster: a password for every connection, local or loopback. */
const HBA = `# Written by btcbot: every connection needs a password (scram-sha-256).
local   all             all                                     scram-sha-256
host    all             all             127.0.0.1/32            scram-sha-256
host    all             all             ::1/128                 scram-sha-256
local   replication     all                                     scram-sha-256
host    replication     all             127.0.0.1/32            scram-sha-256
host    replication     all             ::1/128                 scram-sha-256
`;

export async function startLocalPostgres(opts: LocalPostgresOptions): Promise<RunningPostgres> {
  const bin = findPostgresBin();
  if (!bin) {
    throw new DevEnvError(
      'no PostgreSQL server binaries found (initdb, pg_ctl): set DATABASE_URL, set PG_BIN, ' +
        'or install them (Debian: apt-get install -y postgresql)',
    );
  }
  const { dataDir } = opts;
  const log = opts.log ?? ((line: string) => console.error(`[btcbot] ${line}`));
  const owner = clusterOwnerIds();
  makePrivateDir(dataDir, { passThrough: owner !== null });
  // One process at a time sets the cluster up: two creating it at once would each write their own
  // passwords, and only one initdb can win (a cluster nobody could log into).
  return withLockFile(join(dataDir, SETUP_LOCK), `setting up the local cluster in ${dataDir}`, () => setUp(bin, opts, owner, log));
}

/** Held while one process creates, secures, starts or provisions the cluster. */
const SETUP_LOCK = 'setup.lock';

async function setUp(
  bin: string,
  opts: LocalPostgresOptions,
  owner: { uid: number; gid: number } | null,
  log: (line: string) => void,
): Promise<RunningPostgres> {
  const { dataDir } = opts;
  const stateFile = join(dataDir, 'btcbot-cluster.json');
  const pgData = join(dataDir, 'pgdata');
  if (!existsSync(join(pgData, 'PG_VERSION'))) {
    if (owner && (await run('runuser', ['-u', 'postgres', '--', 'test', '-x', dataDir])).code !== 0) {
      throw new DevEnvError(
        `the postgres user cannot reach ${dataDir}; make its parent directories traversable (chmod o+x) or set DATABASE_URL`,
      );
    }
    mkdirSync(pgData, { recursive: true, mode: 0o700 });
    if (owner) chownSync(pgData, owner.uid, owner.gid);
    chmodSync(pgData, 0o700);
    // The passwords are on disk before the cluster exists: a crash can never leave one nobody can log into.
    const passwords = { [LOCAL_ADMIN_ROLE]: newPassword(), [LOCAL_APP_ROLE]: newPassword() };
    writePasswords(dataDir, passwords);
    const pwFile = join(dataDir, `.initdb-pw-${process.pid}`);
    writePrivateFile(pwFile, `${passwords[LOCAL_ADMIN_ROLE]}\n`);
    if (owner) chownSync(pwFile, owner.uid, owner.gid);
    try {
      const [cmd, args] = asClusterOwner(join(bin, 'initdb'), [
        '-D', pgData, '-U', LOCAL_ADMIN_ROLE, '--auth=scram-sha-256', `--pwfile=${pwFile}`,
        '-E', 'UTF8', '--no-locale', '--no-sync',
      ]);
      await runOrThrow(cmd, args);
    } finally {
      rmSync(pwFile, { force: true });
    }
    const state: ClusterState = { port: opts.port ?? (await freePort()), auth: 'scram-sha-256', admin: LOCAL_ADMIN_ROLE };
    writePrivateFile(stateFile, JSON.stringify(state));
  }
  const state = JSON.parse(readFileSync(stateFile, 'utf8')) as ClusterState;
  const admin = state.admin ?? LEGACY_ADMIN_ROLE;

  const pgCtl = (args: string[]) => asClusterOwner(join(bin, 'pg_ctl'), ['-D', pgData, ...args]);
  const status = await run(...pgCtl(['status']));
  const runningBefore = status.code === 0;
  const settings = [
    `-p ${state.port}`,
    `-c listen_addresses=127.0.0.1`,
    `-c unix_socket_directories=${pgData}`,
    `-c max_connections=200`,
    ...(opts.ephemeral ? ['-c fsync=off', '-c synchronous_commit=off', '-c full_page_writes=off'] : []),
  ].join(' ');
  const serverArgs = ['-l', join(pgData, 'server.log'), '-o', settings, '-w', '-t', '60'];
  if (!runningBefore) await runOrThrow(...pgCtl([...serverArgs, 'start']));

  let passwords = readPasswords(dataDir);
  if (state.auth !== 'scram-sha-256') {
    log(
      `the local cluster in ${dataDir} was made by an older btcbot with trust authentication ` +
        '(any local user could log in as its superuser): securing it now',
    );
    passwords = { [admin]: passwords?.[admin] ?? newPassword(), [LOCAL_APP_ROLE]: passwords?.[LOCAL_APP_ROLE] ?? newPassword() };
    writePasswords(dataDir, passwords);
    const adminUrl = urlFor(admin, passwords[admin]!, state.port, 'postgres');
    await setPassword(adminUrl, admin, passwords[admin]!);
    await provision(adminUrl, passwords[LOCAL_APP_ROLE]!);
    writeFileSync(join(pgData, 'pg_hba.conf'), HBA);
    // Restart, not reload: a server an older version started still holds that shell's environment
    // (API keys included); a restart gives it the scrubbed one.
    await runOrThrow(...pgCtl([...serverArgs, '-m', 'fast', 'restart']));
    writePrivateFile(stateFile, JSON.stringify({ ...state, auth: 'scram-sha-256', admin } satisfies ClusterState));
    log(`done: passwords required; the application connects as ${LOCAL_APP_ROLE}, passwords in ${join(dataDir, PASSWORD_FILE)} (0600)`);
  }
  if (!passwords?.[admin] || !passwords[LOCAL_APP_ROLE]) {
    throw new DevEnvError(
      `the local cluster in ${dataDir} needs its password file ${join(dataDir, PASSWORD_FILE)}, which is missing or incomplete: ` +
        `restore it, or remove ${dataDir} to start a new, empty cluster`,
    );
  }
  const adminUrl = urlFor(admin, passwords[admin], state.port, 'postgres');
  await provision(adminUrl, passwords[LOCAL_APP_ROLE]);
  return {
    url: urlFor(LOCAL_APP_ROLE, passwords[LOCAL_APP_ROLE], state.port, LOCAL_DB_NAME),
    adminUrl,
    stop: async () => {
      if (runningBefore) return;
      await run(...pgCtl(['-m', 'fast', '-w', 'stop']));
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

async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  // A connection cut mid-query rejects that query; without a listener it would also crash the process.
  client.on('error', () => {});
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Duplicate role or database: another process provisioned the same thing at the same moment. */
const raced = (err: unknown): boolean => ['42710', '42P04'].includes((err as { code?: string }).code ?? '');

async function setPassword(adminUrl: string, role: string, password: string): Promise<void> {
  await withClient(adminUrl, (c) => c.query(`ALTER ROLE ${pg.escapeIdentifier(role)} PASSWORD ${pg.escapeLiteral(scramVerifier(password))}`));
}

/**
 * The application role and its database, idempotently: a login role with no privileges beyond
 * its own database (which it owns, with the schema and every table in it). Other databases of
 * the cluster are closed to it.
 */
async function provision(adminUrl: string, appPassword: string): Promise<void> {
  const app = pg.escapeIdentifier(LOCAL_APP_ROLE);
  await withClient(adminUrl, async (c) => {
    const role = await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [LOCAL_APP_ROLE]);
    if (role.rowCount === 0) {
      await c
        .query(`CREATE ROLE ${app} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD ${pg.escapeLiteral(scramVerifier(appPassword))}`)
        .catch((err: unknown) => {
          if (!raced(err)) throw err;
        });
      await c.query('REVOKE CONNECT, TEMPORARY ON DATABASE postgres FROM PUBLIC');
      await c.query('REVOKE CONNECT, TEMPORARY ON DATABASE template1 FROM PUBLIC');
    }
  });
  await createDatabaseIfMissing(adminUrl, LOCAL_DB_NAME, LOCAL_APP_ROLE);
}

/**
 * Create database `name` if missing. With `owner`, that role owns it, its `public` schema and
 * everything in there (a database made by an older version too), and nobody else may connect.
 */
export async function createDatabaseIfMissing(adminUrl: string, name: string, owner?: string): Promise<void> {
  await withClient(adminUrl, async (c) => {
    const r = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (r.rowCount !== 0) return;
    await c.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}${owner ? ` OWNER ${pg.escapeIdentifier(owner)}` : ''}`).catch((err: unknown) => {
      if (!raced(err)) throw err;
    });
  });
  if (owner) await handOver(databaseUrl(adminUrl, name), owner);
}

/**
 * What in the connected database is not yet `owner`'s: the database, the public schema, and each
 * object in that schema that has an owner of its own (a table's indexes and sequences follow it).
 * Empty means the hand-over is complete; this list, never the database's owner alone, decides it.
 */
const NOT_OWNED = `
  WITH r AS (SELECT oid FROM pg_roles WHERE rolname = $1)
  SELECT 'DATABASE' AS kind, quote_ident(datname) AS object FROM pg_database, r WHERE datname = current_database() AND datdba <> r.oid
  UNION ALL
  SELECT 'SCHEMA', 'public' FROM pg_namespace, r WHERE nspname = 'public' AND nspowner <> r.oid
  UNION ALL
  SELECT CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END,
         'public.' || quote_ident(c.relname)
    FROM pg_class c, r
   WHERE c.relnamespace = 'public'::regnamespace AND c.relowner <> r.oid AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
     AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('a', 'i'))
  UNION ALL
  SELECT 'ROUTINE', 'public.' || quote_ident(p.proname) || '(' || pg_get_function_identity_arguments(p.oid) || ')' FROM pg_proc p, r WHERE p.pronamespace = 'public'::regnamespace AND p.proowner <> r.oid
  UNION ALL
  SELECT 'TYPE', 'public.' || quote_ident(t.typname) FROM pg_type t, r
   WHERE t.typnamespace = 'public'::regnamespace AND t.typowner <> r.oid AND t.typtype IN ('e', 'd', 'r')`;

/**
 * Give `owner` the database of `adminDbUrl` and everything in its public schema, and close it to
 * everyone else. One transaction: an interrupted hand-over (Ctrl-C, a crash, a dropped
 * connection) leaves everything as it was, and the next start does all of it again.
 */
async function handOver(adminDbUrl: string, owner: string): Promise<void> {
  const o = pg.escapeIdentifier(owner);
  await withClient(adminDbUrl, async (c) => {
    const pending = (await c.query<{ kind: string; object: string }>(NOT_OWNED, [owner])).rows;
    if (pending.length === 0) return;
    await c.query('BEGIN');
    try {
      const db = await c.query<{ name: string }>('SELECT quote_ident(current_database()) AS name');
      await c.query(`ALTER DATABASE ${db.rows[0]!.name} OWNER TO ${o}`);
      await c.query(`REVOKE ALL ON DATABASE ${db.rows[0]!.name} FROM PUBLIC`);
      await c.query(`ALTER SCHEMA public OWNER TO ${o}`);
      await c.query('REVOKE ALL ON SCHEMA public FROM PUBLIC');
      for (const { kind, object } of pending) {
        if (kind !== 'DATABASE' && kind !== 'SCHEMA') await c.query(`ALTER ${kind} ${object} OWNER TO ${o}`);
      }
      await c.query('COMMIT');
    } catch (err) {
      await c.query('ROLLBACK').catch(() => {});
      throw err;
    }
  });
}

/** DATABASE_URL if set, else a local cluster in `dataDir`. */
export async function ensurePostgres(opts: LocalPostgresOptions, env = process.env): Promise<RunningPostgres> {
  if (env.DATABASE_URL) return { url: env.DATABASE_URL, adminUrl: env.DATABASE_URL, stop: async () => {} };
  return startLocalPostgres(opts);
}

/** The same cluster's URL for another database (`postgres` is the admin database). */
export function databaseUrl(clusterUrl: string, name: string): string {
  const url = new URL(clusterUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * Create database `name` on the cluster if missing, owned by the role of `cluster.url` (the
 * application's); a pool on it as that role, migrated unless told not to.
 */
export async function createMigratedDatabase(
  cluster: Pick<RunningPostgres, 'url' | 'adminUrl'>,
  name: string,
  { migrated = true }: { migrated?: boolean } = {},
): Promise<{ url: string; pool: Pool }> {
  const owner = decodeURIComponent(new URL(cluster.url).username);
  const admin = decodeURIComponent(new URL(cluster.adminUrl).username);
  await createDatabaseIfMissing(cluster.adminUrl, name, owner === admin ? undefined : owner);
  const url = databaseUrl(cluster.url, name);
  const pool = createPool(url);
  if (migrated) await migrate(pool);
  return { url, pool };
}
