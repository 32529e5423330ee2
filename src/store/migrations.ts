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
  {
    version: 2,
    name: 'orders, fills, positions, cursors, pnl snapshots, high-water marks',
    sql: `
      CREATE TABLE stage4_orders (
        id                 bigserial PRIMARY KEY,
        client_order_id    text,
        exchange_order_id  text,
        symbol             text NOT NULL,
        side               text NOT NULL CHECK (side IN ('buy', 'sell')),
        price              numeric NOT NULL CHECK (price > 0),
        qty                numeric NOT NULL CHECK (qty > 0),
        left_qty           numeric NOT NULL CHECK (left_qty >= 0),
        status             text NOT NULL CHECK (status IN ('pending_submit', 'open', 'partial', 'cancel_requested',
                             'filled', 'canceled', 'rejected', 'unknown', 'unknown_closed')),
        mode               text NOT NULL CHECK (mode IN ('live', 'dry_run', 'external')),
        cycle_id           text,
        last_error         text,
        created_at         timestamptz NOT NULL,
        updated_at         timestamptz NOT NULL,
        CHECK (client_order_id IS NOT NULL OR mode = 'external'),
        CHECK (client_order_id IS NULL OR length(client_order_id) BETWEEN 1 AND 50)
      );
      CREATE UNIQUE INDEX stage4_orders_client_order_id_key ON stage4_orders (client_order_id)
        WHERE client_order_id IS NOT NULL;
      CREATE UNIQUE INDEX stage4_orders_external_exchange_id_key ON stage4_orders (exchange_order_id)
        WHERE client_order_id IS NULL;
      CREATE INDEX stage4_orders_exchange_order_id_idx ON stage4_orders (exchange_order_id);
      CREATE INDEX stage4_orders_status_idx ON stage4_orders (status);

      CREATE TABLE stage4_fills (
        fill_id            text PRIMARY KEY,
        exchange_order_id  text NOT NULL,
        client_order_id    text,
        symbol             text NOT NULL,
        side               text NOT NULL CHECK (side IN ('buy', 'sell')),
        price              numeric NOT NULL CHECK (price > 0),
        qty                numeric NOT NULL CHECK (qty > 0),
        fee                numeric NOT NULL CHECK (fee >= 0),
        tax                numeric NOT NULL CHECK (tax >= 0),
        fee_asset          text NOT NULL,
        ts_ms              bigint NOT NULL,
        fee_try            numeric NOT NULL,
        realized_pnl_delta_try numeric NOT NULL,
        cycle_id           text,
        applied_at         timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX stage4_fills_symbol_ts_idx ON stage4_fills (symbol, ts_ms);
      CREATE INDEX stage4_fills_exchange_order_id_idx ON stage4_fills (exchange_order_id);

      CREATE TABLE stage4_positions (
        symbol            text PRIMARY KEY,
        qty               numeric NOT NULL CHECK (qty >= 0),
        cost_basis_try    numeric NOT NULL CHECK (cost_basis_try >= 0),
        realized_pnl_try  numeric NOT NULL,
        last_fill_ts_ms   bigint,
        updated_at        timestamptz NOT NULL DEFAULT now()
      );

      CREATE TABLE cursors (
        key         text PRIMARY KEY,
        value_ms    bigint,
        updated_at  timestamptz NOT NULL DEFAULT now()
      );

      CREATE TABLE pnl_snapshots (
        id                   bigserial PRIMARY KEY,
        cycle_id             text,
        account_id           text NOT NULL,
        mode                 text NOT NULL CHECK (mode IN ('live', 'dry_run')),
        ts                   timestamptz NOT NULL,
        total_equity_try     numeric NOT NULL,
        realized_total_try   numeric NOT NULL,
        realized_today_try   numeric NOT NULL,
        drawdown_pct         numeric NOT NULL,
        high_water_mark_try  numeric NOT NULL
      );
      CREATE INDEX pnl_snapshots_scope_ts_idx ON pnl_snapshots (account_id, mode, ts DESC);
      CREATE UNIQUE INDEX pnl_snapshots_cycle_key ON pnl_snapshots (cycle_id, account_id, mode) WHERE cycle_id IS NOT NULL;

      CREATE TABLE high_water_marks (
        account_id  text NOT NULL,
        mode        text NOT NULL CHECK (mode IN ('live', 'dry_run')),
        value_try   numeric NOT NULL,
        updated_at  timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (account_id, mode)
      );
    `,
  },
  {
    version: 3,
    name: 'cycle lease; halted and skipped cycle outcomes',
    sql: `
      ALTER TABLE cycle_audit DROP CONSTRAINT cycle_audit_outcome_check;
      ALTER TABLE cycle_audit ADD CONSTRAINT cycle_audit_outcome_check
        CHECK (outcome IN ('ok', 'blocked', 'failed', 'halted', 'skipped'));

      -- At most one cycle per account at a time, whoever started it (schedule or operator).
      CREATE TABLE cycle_leases (
        account_id  text PRIMARY KEY,
        holder      text NOT NULL,
        acquired_at timestamptz NOT NULL DEFAULT now(),
        expires_at  timestamptz NOT NULL
      );
    `,
  },
  {
    version: 7,
    name: 'operator view: alert outbox, snapshot cash and positions value, history indexes',
    sql: `
      -- One row per alert and channel, written with the cycle's audit row (never twice: the key),
      -- then delivered at most once: a row is claimed (sending) before the request leaves.
      CREATE TABLE alerts_sent (
        source_id   text NOT NULL,
        kind        text NOT NULL,
        channel     text NOT NULL CHECK (channel IN ('webhook', 'telegram')),
        status      text NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'rejected', 'unknown')),
        attempts    integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
        payload     jsonb NOT NULL,
        last_error  text,
        created_at  timestamptz NOT NULL DEFAULT now(),
        updated_at  timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (source_id, kind, channel)
      );
      CREATE INDEX alerts_sent_status_idx ON alerts_sent (status) WHERE status <> 'sent';

      -- The parts of total equity, so the bot's own share (TRY up to TRY_CASH_MAX plus positions)
      -- can be told from the whole account's. NULL on snapshots taken before this migration.
      ALTER TABLE pnl_snapshots ADD COLUMN try_cash_try numeric, ADD COLUMN positions_value_try numeric;

      -- btcbot trades/orders --since, and the last cycle per mode.
      CREATE INDEX stage4_fills_ts_idx ON stage4_fills (ts_ms);
      CREATE INDEX stage4_orders_created_at_idx ON stage4_orders (created_at);
      CREATE INDEX cycle_audit_mode_finished_at_idx ON cycle_audit (mode, finished_at DESC);
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
