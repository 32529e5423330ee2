// The local cluster as another local user would probe it: every login needs a password, the
// password file and data directories are private, the server holds none of our secrets in its
// environment, and the application's role cannot reach past its own database. A cluster made by
// an older version (trust authentication) is secured in place, its data kept.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync, chownSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { findPostgresBin, LOCAL_APP_ROLE, LOCAL_ADMIN_ROLE, PASSWORD_FILE, startLocalPostgres, type RunningPostgres } from '../../src/devenv/postgres.js';
import { freePort, waitUntil } from '../../src/devenv/process.js';
import { createPool } from '../../src/store/db.js';
import { migrate } from '../../src/store/migrations.js';

const CANARIES = {
  BTCTURK_API_KEY: 'canary-api-key-7f3a9c',
  BTCTURK_API_SECRET: Buffer.from('canary-api-secret-bytes-0123456').toString('base64'),
  BTCBOT_PAYLOAD_KEY: Buffer.alloc(32, 9).toString('base64'),
  TEMPORAL_API_KEY: 'canary-temporal-api-key-51e2',
};
const asRoot = process.getuid?.() === 0;
const dir = mkdtempSync(join(tmpdir(), 'btcbot-pg-sec-'));
let cluster: RunningPostgres;
let port: number;

beforeAll(async () => {
  chmodSync(dir, 0o711);
  Object.assign(process.env, CANARIES); // as if the operator's shell held the secrets
  cluster = await startLocalPostgres({ dataDir: join(dir, 'fresh'), ephemeral: true });
  port = Number(new URL(cluster.url).port);
});

afterAll(async () => {
  for (const k of Object.keys(CANARIES)) delete process.env[k];
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** The server's first answer to a startup packet without a password: 0 = let in (trust), 10 = SASL challenge. */
function authRequest(port: number, user: string, database = 'postgres'): Promise<number> {
  const params = Buffer.from(`user\0${user}\0database\0${database}\0\0`);
  const startup = Buffer.alloc(8 + params.length);
  startup.writeInt32BE(startup.length, 0);
  startup.writeInt32BE(196_608, 4); // protocol 3.0
  params.copy(startup, 8);
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port }, () => socket.write(startup));
    socket.once('data', (b: Buffer) => {
      socket.destroy();
      if (b[0] !== 0x52) return reject(new Error(`expected an Authentication message, got ${String.fromCharCode(b[0]!)}: ${b.toString('latin1')}`));
      resolve(b.readInt32BE(5));
    });
    socket.once('error', reject);
  });
}

const connectError = async (config: pg.ClientConfig): Promise<string | undefined> => {
  const client = new pg.Client(config);
  try {
    await client.connect();
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code;
  } finally {
    await client.end().catch(() => {});
  }
};

const environOf = (pid: number): string[] => readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
const postmasterPid = (pgData: string): number => Number(readFileSync(join(pgData, 'postmaster.pid'), 'utf8').split('\n')[0]);
const mode = (path: string): number => statSync(path).mode & 0o777;

describe('the local cluster', () => {
  test('asks every login for a password: none gets a SASL challenge, a wrong one is refused, the generated one works', async () => {
    for (const user of [LOCAL_ADMIN_ROLE, LOCAL_APP_ROLE, 'postgres']) expect(await authRequest(port, user), user).toBe(10);
    for (const user of [LOCAL_ADMIN_ROLE, LOCAL_APP_ROLE]) {
      expect(await connectError({ host: '127.0.0.1', port, user, password: 'guess', database: 'postgres' })).toBe('28P01');
    }
    const app = new pg.Client({ connectionString: cluster.url });
    await app.connect();
    expect((await app.query('SELECT current_user AS u')).rows[0].u).toBe(LOCAL_APP_ROLE);
    await app.end();
  });

  test('keeps its passwords in a 0600 file and its directories private', () => {
    expect(mode(join(dir, 'fresh', PASSWORD_FILE))).toBe(0o600);
    expect(mode(join(dir, 'fresh'))).toBe(asRoot ? 0o711 : 0o700); // as root, postgres passes through
    expect(mode(join(dir, 'fresh', 'pgdata'))).toBe(0o700);
    const pgpass = readFileSync(join(dir, 'fresh', PASSWORD_FILE), 'utf8');
    expect(pgpass).toContain(`*:*:*:${LOCAL_APP_ROLE}:${decodeURIComponent(new URL(cluster.url).password)}`);
  });

  test("the postmaster's environment holds no BTCTurk, payload or API key", () => {
    const environ = environOf(postmasterPid(join(dir, 'fresh', 'pgdata')));
    expect(environ.some((e) => e.startsWith('PATH='))).toBe(true); // the real environment was read
    expect(process.env.BTCTURK_API_SECRET).toBe(CANARIES.BTCTURK_API_SECRET); // and ours has the secrets
    for (const [name, value] of Object.entries(CANARIES)) {
      expect(environ.filter((e) => e.startsWith(`${name}=`) || e.includes(value)), name).toEqual([]);
    }
  });

  test('the application role is no superuser: it cannot run programs, create databases or roles, or enter other databases', async () => {
    const pool = createPool(cluster.url, 1);
    try {
      await migrate(pool);
      const role = await pool.query('SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = current_user');
      expect(role.rows[0]).toEqual({ rolsuper: false, rolcreatedb: false, rolcreaterole: false });
      // The attack of issue 16: COPY ... FROM PROGRAM as the cluster's owner.
      const refused = async (sql: string) => pool.query(sql).then(() => 'ran', (e: { code?: string }) => e.code);
      expect(await refused("CREATE TEMP TABLE o (l text); COPY o FROM PROGRAM 'id'")).toBe('42501');
      expect(await refused('CREATE DATABASE other')).toBe('42501');
      expect(await refused('CREATE ROLE other LOGIN')).toBe('42501');
      const owners = await pool.query("SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'");
      expect(owners.rows).toEqual([{ tableowner: LOCAL_APP_ROLE }]);
    } finally {
      await pool.end();
    }
    const other = new URL(cluster.url);
    other.pathname = '/postgres';
    expect(await connectError({ connectionString: other.toString() })).toBe('42501');
  });
});

describe('two processes creating the same new cluster at once', () => {
  test('one creates it while the other waits; both end up with the same working password', async () => {
    const dataDir = join(dir, 'raced');
    const both = await Promise.allSettled([startLocalPostgres({ dataDir, ephemeral: true }), startLocalPostgres({ dataDir, ephemeral: true })]);
    try {
      expect(both.map((r) => (r.status === 'rejected' ? String(r.reason) : 'started'))).toEqual(['started', 'started']);
      const [a, b] = both.map((r) => (r as PromiseFulfilledResult<RunningPostgres>).value);
      expect(a!.url).toBe(b!.url);
      const app = new pg.Client({ connectionString: a!.url });
      await app.connect(); // the password on disk is the cluster's
      await app.end();
      expect(readFileSync(join(dataDir, PASSWORD_FILE), 'utf8')).toContain(decodeURIComponent(new URL(a!.url).password));
    } finally {
      for (const r of both) if (r.status === 'fulfilled') await r.value.stop();
      const bin = findPostgresBin()!;
      const pgData = join(dataDir, 'pgdata');
      spawnSync(...((asRoot ? ['runuser', ['-u', 'postgres', '--', join(bin, 'pg_ctl'), '-D', pgData, '-m', 'immediate', '-w', 'stop']] : [join(bin, 'pg_ctl'), ['-D', pgData, '-m', 'immediate', '-w', 'stop']]) as [string, string[]]));
    }
  });
});

/** A cluster exactly as the old code made it: initdb --auth=trust, pg_ctl started with the whole environment, migrated, one row. */
async function legacyCluster(name: string) {
  const bin = findPostgresBin()!;
  const dataDir = join(dir, name);
  const pgData = join(dataDir, 'pgdata');
  mkdirSync(pgData, { recursive: true });
  chmodSync(dataDir, 0o755);
  const owner = asRoot ? readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postgres:'))!.split(':') : null;
  if (owner) chownSync(pgData, Number(owner[2]), Number(owner[3]));
  chmodSync(pgData, 0o700);
  const asOwner = (cmd: string, args: string[]) => (asRoot ? spawnSync('runuser', ['-u', 'postgres', '--', cmd, ...args]) : spawnSync(cmd, args));
  expect(asOwner(join(bin, 'initdb'), ['-D', pgData, '-U', 'btcbot', '--auth=trust', '-E', 'UTF8', '--no-locale', '--no-sync']).status).toBe(0);
  const port = await freePort();
  writeFileSync(join(dataDir, 'btcbot-cluster.json'), JSON.stringify({ port }));
  const opts = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${pgData} -c fsync=off`;
  expect(asOwner(join(bin, 'pg_ctl'), ['-D', pgData, '-l', join(pgData, 'server.log'), '-o', opts, '-w', 'start']).status).toBe(0);
  const url = `postgres://btcbot@127.0.0.1:${port}`;
  const admin = new pg.Client({ connectionString: `${url}/postgres` });
  await admin.connect();
  await admin.query('CREATE DATABASE btcbot');
  await admin.end();
  const oldPool = createPool(`${url}/btcbot`, 1);
  await migrate(oldPool);
  await oldPool.query(`INSERT INTO runtime_state (key, value) VALUES ('canary', '{"kept": true}')`);
  await oldPool.end();
  return {
    dataDir, pgData, port, url, oldPid: postmasterPid(pgData),
    stop: () => asOwner(join(bin, 'pg_ctl'), ['-D', pgData, '-m', 'immediate', '-w', 'stop']),
  };
}

const stateOf = (dataDir: string): { auth?: string } => JSON.parse(readFileSync(join(dataDir, 'btcbot-cluster.json'), 'utf8'));

describe('a cluster made by an older version (trust authentication)', () => {
  test('is secured in place on first use: passwords required, data kept and owned by the app role, secrets gone from the server', async () => {
    const legacy = await legacyCluster('legacy');
    const { dataDir, pgData, oldPid } = legacy;
    const legacyPort = legacy.port;
    expect(environOf(oldPid)).toContain(`BTCTURK_API_SECRET=${CANARIES.BTCTURK_API_SECRET}`); // the old leak, reproduced

    const lines: string[] = [];
    const secured = await startLocalPostgres({ dataDir, log: (l) => lines.push(l) });
    try {
      expect(lines.join('\n')).toContain('trust authentication');
      expect(await authRequest(legacyPort, 'btcbot')).toBe(10);
      expect(await connectError({ host: '127.0.0.1', port: legacyPort, user: 'btcbot', password: 'guess', database: 'btcbot' })).toBe('28P01');
      expect(mode(join(dataDir, PASSWORD_FILE))).toBe(0o600);
      expect(stateOf(dataDir).auth).toBe('scram-sha-256');

      const pool = createPool(secured.url, 1);
      try {
        const owners = await pool.query("SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'");
        expect(owners.rows).toEqual([{ tableowner: LOCAL_APP_ROLE }]);
        expect((await migrate(pool)).applied).toEqual([]); // the schema is the old one, intact
        const kept = await pool.query(`SELECT value FROM runtime_state WHERE key = 'canary'`);
        expect(kept.rows).toEqual([{ value: { kept: true } }]);
      } finally {
        await pool.end();
      }
      const newPid = postmasterPid(pgData);
      expect(newPid).not.toBe(oldPid); // restarted, so the old environment is gone
      for (const value of Object.values(CANARIES)) expect(environOf(newPid).some((e) => e.includes(value))).toBe(false);
    } finally {
      legacy.stop();
    }
  });

  test('securing it, interrupted half-way through the hand-over, changes nothing; the next start completes it and the app reads its tables', async () => {
    const legacy = await legacyCluster('legacy-interrupted');
    try {
      // The interruption: a lock on one table holds the hand-over there; then its connection is cut.
      const locker = new pg.Client({ connectionString: `${legacy.url}/btcbot` });
      await locker.connect();
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE public.runtime_state IN ACCESS EXCLUSIVE MODE');
      const first = startLocalPostgres({ dataDir: legacy.dataDir, log: () => {} }).then(() => 'finished', (e: Error) => `failed: ${e.message}`);
      const watcher = new pg.Client({ connectionString: `${legacy.url}/postgres` });
      await watcher.connect();
      await waitUntil(async () => {
        const r = await watcher.query(`SELECT pid FROM pg_stat_activity WHERE query LIKE 'ALTER TABLE public.%OWNER TO%' AND wait_event_type = 'Lock'`);
        if (r.rowCount === 0) return false;
        await watcher.query('SELECT pg_terminate_backend($1)', [r.rows[0].pid]);
        return true;
      }, { timeoutMs: 30_000, intervalMs: 20, what: 'the hand-over blocked on the lock' });
      expect(await first).toMatch(/^failed: terminating connection/);
      await locker.query('ROLLBACK');
      await locker.end();
      // All or nothing: the database is still the old role's, and the cluster is not recorded as secured.
      const owner = await watcher.query("SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = 'btcbot'");
      expect(owner.rows).toEqual([{ owner: 'btcbot' }]);
      await watcher.end();
      expect(stateOf(legacy.dataDir).auth).toBeUndefined();

      // The operator runs btcbot again.
      const secured = await startLocalPostgres({ dataDir: legacy.dataDir, log: () => {} });
      expect(stateOf(legacy.dataDir).auth).toBe('scram-sha-256');
      const pool = createPool(secured.url, 1);
      try {
        const owners = await pool.query("SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'");
        expect(owners.rows).toEqual([{ tableowner: LOCAL_APP_ROLE }]);
        expect((await pool.query(`SELECT value FROM runtime_state WHERE key = 'canary'`)).rows).toEqual([{ value: { kept: true } }]);
      } finally {
        await pool.end();
      }
    } finally {
      legacy.stop();
    }
  });
});
