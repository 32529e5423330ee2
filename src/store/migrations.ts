// Schema migrations: ordered, each applied once in its own transaction, safe to re-run and safe
// when several processes start at once (an advisory lock serialises them).
import type { Pool } from './db.js';
import { inTransaction } from './db.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

const MIGRATION_LOCK_KEY = 4_242_001;

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'cycle_audit and runtime_state',
    sql: `
      CREATE TABLE cycle_audit (
        cycle_id       text PRIMARY KEY,
        workflow_id    text NOT NULL,
        run_id         text NOT NULL,
        mode           text NOT NULL CHECK (mode IN ('live', 'dry_run')),
        outcome        text NOT NULL CHECK (outcome IN ('ok', 'blocked', 'failed', 'halted')),
        started_at     timestamptz NOT NULL,
        finished_at    timestamptz NOT NULL,
        counts         jsonb NOT NULL DEFAULT '{}'::jsonb,
        decisions      jsonb NOT NULL DEFAULT '[]'::jsonb,
        alerts         jsonb NOT NULL DEFAULT '[]'::jsonb,
        envelope       jsonb NOT NULL DEFAULT '{}'::jsonb,
        error_class    text,
        error_message  text,
        recorded_at    timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX cycle_audit_finished_at_idx ON cycle_audit (finished_at DESC);

      CREATE TABLE runtime_state (
        key         text PRIMARY KEY,
        value       jsonb NOT NULL,
        updated_at  timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
];

export interface MigrationReport {
  applied: number[];
  current: number;
}

export async function migrate(pool: Pool, migrations: readonly Migration[] = MIGRATIONS): Promise<MigrationReport> {
  return inTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    await client.query(`
      CREATE TABLE IF NOT EXISTS schema_migrations (
        version     integer PRIMARY KEY,
        name        text NOT NULL,
        applied_at  timestamptz NOT NULL DEFAULT now()
      )`);
    const done = new Set(
      (await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version),
    );
    const applied: number[] = [];
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (done.has(m.version)) continue;
      await client.query(m.sql);
      await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      applied.push(m.version);
    }
    const current = Math.max(0, ...done, ...applied);
    return { applied, current };
  });
}
