// The compose deployment's Postgres roles step, run by the real script with the real psql against
// the test cluster, the way the `postgres-roles` service runs it at every start: the worker's role is
// no superuser and owns only its database, Temporal's role cannot even connect to it; a second run
// (an existing volume) succeeds and takes new passwords; a volume from the earlier single-role file
// is refused with the way out.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, expect, inject, test } from 'vitest';
import { databaseUrl, findPostgresBin } from '../../src/devenv/postgres.js';
import { createPool } from '../../src/store/db.js';
import { migrate } from '../../src/store/migrations.js';
import { projectRoot } from './cli-harness.js';
import { uniqueId } from './harness.js';

const admin = new URL(inject('postgresAdminUrl'));
const names = { app: uniqueId('btcbot_app').replace(/-/g, '_'), db: uniqueId('btcbot_db').replace(/-/g, '_'), temporal: uniqueId('temporal_r').replace(/-/g, '_'), old: uniqueId('old_btcbot').replace(/-/g, '_') };
let superuser: pg.Client;

beforeAll(async () => {
  superuser = new pg.Client({ connectionString: admin.toString() });
  await superuser.connect();
});

afterAll(async () => {
  await superuser.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(names.db)} WITH (FORCE)`);
  for (const role of [names.app, names.temporal, names.old]) await superuser.query(`DROP ROLE IF EXISTS ${pg.escapeIdentifier(role)}`);
  await superuser.end();
});

function roles(passwords: { app: string; temporal: string }, appRole = names.app) {
  const bin = findPostgresBin();
  expect(bin, 'PostgreSQL binaries (psql)').not.toBeNull();
  return spawnSync('sh', [join(projectRoot, 'deploy/postgres/roles.sh')], {
    encoding: 'utf8',
    env: {
      PATH: `${bin}:${process.env.PATH ?? ''}`,
      PGHOST: admin.hostname, PGPORT: admin.port, PGUSER: decodeURIComponent(admin.username), PGPASSWORD: decodeURIComponent(admin.password), PGDATABASE: 'postgres',
      BTCBOT_DB_USER: appRole, BTCBOT_DB_NAME: names.db, BTCBOT_DB_PASSWORD: passwords.app,
      TEMPORAL_DB_USER: names.temporal, TEMPORAL_DB_PASSWORD: passwords.temporal,
    },
  });
}

const as = (role: string, password: string, db: string): string => {
  const u = new URL(databaseUrl(admin.toString(), db));
  u.username = role;
  u.password = password;
  return u.toString();
};

test('deploy/postgres/roles.sh: a least-privilege worker role that owns only its database, a separate role for Temporal; run again, it succeeds and takes the new passwords', async () => {
  const first = roles({ app: 'app-pw-0123456789', temporal: 'temporal-pw-0123456789' });
  expect(first.status, first.stderr).toBe(0);
  const found = await superuser.query<{ rolname: string; rolsuper: boolean; rolcreatedb: boolean; rolcreaterole: boolean }>(
    'SELECT rolname, rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = ANY($1) ORDER BY rolname',
    [[names.app, names.temporal]],
  );
  expect(found.rows).toEqual(expect.arrayContaining([
    { rolname: names.app, rolsuper: false, rolcreatedb: false, rolcreaterole: false },
    { rolname: names.temporal, rolsuper: false, rolcreatedb: true, rolcreaterole: false },
  ]));

  // The worker's role migrates its own database (it owns the public schema there) and uses it.
  const pool = createPool(as(names.app, 'app-pw-0123456789', names.db));
  try {
    expect((await migrate(pool)).current).toBeGreaterThan(0);
    await expect(pool.query('CREATE DATABASE should_not_exist')).rejects.toMatchObject({ code: '42501' });
  } finally {
    await pool.end();
  }
  // Temporal's role cannot connect to the worker's database.
  const temporal = new pg.Client({ connectionString: as(names.temporal, 'temporal-pw-0123456789', names.db) });
  await expect(temporal.connect()).rejects.toMatchObject({ code: '42501' });

  // An existing volume: every start runs the step again. It changes nothing but the passwords
  // (compared as stored: the test cluster trusts loopback connections, so a login proves nothing).
  const stored = async () => (await superuser.query<{ rolname: string; rolpassword: string }>(
    'SELECT rolname, rolpassword FROM pg_authid WHERE rolname = ANY($1) ORDER BY rolname', [[names.app, names.temporal]])).rows;
  const before = await stored();
  const again = roles({ app: 'app-pw-rotated-0123', temporal: 'temporal-pw-rotated-0123' });
  expect(again.status, again.stderr).toBe(0);
  const after = await stored();
  for (const [i, row] of after.entries()) expect(row.rolpassword, row.rolname).not.toBe(before[i]!.rolpassword);
  const app = new pg.Client({ connectionString: as(names.app, 'app-pw-rotated-0123', names.db) });
  await app.connect();
  expect((await app.query('SELECT count(*)::int AS n FROM schema_migrations')).rows[0].n).toBeGreaterThan(0); // the data stayed
  await app.end();
  const privileges = await superuser.query<{ rolsuper: boolean; rolcreatedb: boolean }>('SELECT rolsuper, rolcreatedb FROM pg_roles WHERE rolname = $1', [names.app]);
  expect(privileges.rows[0]).toEqual({ rolsuper: false, rolcreatedb: false });
});

test('a volume from the earlier compose file (the worker\'s role is the superuser) is refused, pointing at the upgrade steps', async () => {
  await superuser.query(`CREATE ROLE ${pg.escapeIdentifier(names.old)} LOGIN SUPERUSER PASSWORD 'old-pw'`);
  const r = roles({ app: 'x-0123456789', temporal: 'y-0123456789' }, names.old);
  expect(r.status).not.toBe(0);
  expect(r.stderr).toContain(`role ${names.old} is a superuser`);
  expect(r.stderr).toContain('README, "Upgrading an existing compose deployment"');
  const still = await superuser.query<{ rolsuper: boolean }>('SELECT rolsuper FROM pg_roles WHERE rolname = $1', [names.old]);
  expect(still.rows[0]?.rolsuper).toBe(true); // nothing was changed
});
