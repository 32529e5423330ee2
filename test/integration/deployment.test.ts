// The compose deployment's Postgres roles, created by the real init script with the real psql on the
// test cluster: the worker's role is no superuser, can migrate and use only its own database, and
// Temporal's role cannot even connect to it.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import pg from 'pg';
import { expect, inject, test } from 'vitest';
import { databaseUrl, findPostgresBin } from '../../src/devenv/postgres.js';
import { createPool } from '../../src/store/db.js';
import { migrate } from '../../src/store/migrations.js';
import { projectRoot } from './cli-harness.js';
import { uniqueId } from './harness.js';

test('deploy/postgres/10-roles.sh: a least-privilege worker role that owns only its database, and a separate role for Temporal', async () => {
  const admin = new URL(inject('postgresAdminUrl'));
  const names = { app: uniqueId('btcbot_app').replace(/-/g, '_'), db: uniqueId('btcbot_db').replace(/-/g, '_'), temporal: uniqueId('temporal_r').replace(/-/g, '_') };
  const passwords = { app: 'app-pw-0123456789', temporal: 'temporal-pw-0123456789' };
  const bin = findPostgresBin();
  expect(bin, 'PostgreSQL binaries (psql)').not.toBeNull();
  const script = spawnSync('sh', [join(projectRoot, 'deploy/postgres/10-roles.sh')], {
    encoding: 'utf8',
    env: {
      PATH: `${bin}:${process.env.PATH ?? ''}`,
      PGHOST: admin.hostname, PGPORT: admin.port, PGPASSWORD: decodeURIComponent(admin.password),
      POSTGRES_USER: decodeURIComponent(admin.username), POSTGRES_DB: 'postgres',
      BTCBOT_DB_USER: names.app, BTCBOT_DB_NAME: names.db, BTCBOT_DB_PASSWORD: passwords.app,
      TEMPORAL_DB_USER: names.temporal, TEMPORAL_DB_PASSWORD: passwords.temporal,
    },
  });
  const superuser = new pg.Client({ connectionString: admin.toString() });
  await superuser.connect();
  const as = (role: string, password: string, db: string): string => {
    const u = new URL(databaseUrl(admin.toString(), db));
    u.username = role;
    u.password = password;
    return u.toString();
  };
  try {
    expect(script.status, script.stderr).toBe(0);
    const roles = await superuser.query<{ rolname: string; rolsuper: boolean; rolcreatedb: boolean; rolcreaterole: boolean }>(
      'SELECT rolname, rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = ANY($1) ORDER BY rolname',
      [[names.app, names.temporal]],
    );
    expect(roles.rows).toEqual(expect.arrayContaining([
      { rolname: names.app, rolsuper: false, rolcreatedb: false, rolcreaterole: false },
      { rolname: names.temporal, rolsuper: false, rolcreatedb: true, rolcreaterole: false },
    ]));

    // The worker's role migrates its own database (it owns the public schema there) and uses it.
    const pool = createPool(as(names.app, passwords.app, names.db));
    try {
      const report = await migrate(pool);
      expect(report.current).toBeGreaterThan(0);
      await expect(pool.query('CREATE DATABASE should_not_exist')).rejects.toMatchObject({ code: '42501' });
    } finally {
      await pool.end();
    }

    // Temporal's role cannot connect to the worker's database.
    const temporal = new pg.Client({ connectionString: as(names.temporal, passwords.temporal, names.db) });
    await expect(temporal.connect()).rejects.toMatchObject({ code: '42501' });
  } finally {
    await superuser.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(names.db)} WITH (FORCE)`);
    for (const role of [names.app, names.temporal]) await superuser.query(`DROP ROLE IF EXISTS ${pg.escapeIdentifier(role)}`);
    await superuser.end();
  }
});
