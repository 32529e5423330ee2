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
    version: 4,
    name: 'order sightings, send deadlines and duplicates; one row per exchange order',
    sql: `
      ALTER TABLE stage4_orders
        -- No POST for this row leaves after this: the deadline of the attempt that recorded it.
        ADD COLUMN send_deadline_at timestamptz,
        -- When a submit attempt gave up without a definite answer (the absence window starts here).
        ADD COLUMN submit_ended_at timestamptz,
        -- Last time the exchange showed the order: listed, found by a lookup, or in fills.
        ADD COLUMN last_seen_at timestamptz,
        -- "Order not found" lookups since the last sighting.
        ADD COLUMN not_found_count integer NOT NULL DEFAULT 0 CHECK (not_found_count >= 0),
        -- When the last counted "not found" was: lookups count only when spread over the window.
        ADD COLUMN last_not_found_at timestamptz,
        -- A further exchange order under one of our client ids (BTCTurk does not keep them unique).
        ADD COLUMN duplicate_of text CHECK (duplicate_of IS NULL OR length(duplicate_of) BETWEEN 1 AND 50);

      ALTER TABLE stage4_orders DROP CONSTRAINT stage4_orders_check;
      ALTER TABLE stage4_orders ADD CONSTRAINT stage4_orders_identity_check
        CHECK (client_order_id IS NOT NULL OR mode = 'external' OR duplicate_of IS NOT NULL);
      ALTER TABLE stage4_orders ADD CONSTRAINT stage4_orders_duplicate_check
        CHECK (duplicate_of IS NULL OR (client_order_id IS NULL AND exchange_order_id IS NOT NULL AND mode = 'live'));

      -- Client ids are unique among our own rows; external orders may share one ("advanced", Q10).
      DROP INDEX stage4_orders_client_order_id_key;
      CREATE UNIQUE INDEX stage4_orders_client_order_id_key ON stage4_orders (client_order_id)
        WHERE client_order_id IS NOT NULL AND mode <> 'external';
      -- One row per exchange order, whoever placed it: an order is never tracked twice or merged.
      DROP INDEX stage4_orders_external_exchange_id_key;
      DROP INDEX stage4_orders_exchange_order_id_idx;
      CREATE UNIQUE INDEX stage4_orders_exchange_order_id_key ON stage4_orders (exchange_order_id)
        WHERE exchange_order_id IS NOT NULL;
      CREATE INDEX stage4_orders_updated_at_idx ON stage4_orders (updated_at);
      -- Reconcile looks up fills by client id (fill evidence for orders it does not track yet).
      CREATE INDEX stage4_fills_client_order_id_idx ON stage4_fills (client_order_id) WHERE client_order_id IS NOT NULL;
    `,
  },
  {
    version: 5,
    name: 'account truth: fills without order id, position adjustments, quarantines, adoptions, balance drift and snapshots',
    sql: `
      -- BTCTurk's 2018 documented trade rows carry no orderId; such a fill is known by its trade id.
      -- (Matching across id forms finds fills by symbol and time: stage4_fills_symbol_ts_idx.)
      ALTER TABLE stage4_fills ALTER COLUMN exchange_order_id DROP NOT NULL;

      -- Every change to a position that is not a fill: the opening at a symbol's first sight
      -- (inferred from the balance, or zero), and each adoption the operator asked for.
      CREATE TABLE position_adjustments (
        id                bigserial PRIMARY KEY,
        symbol            text NOT NULL,
        kind              text NOT NULL CHECK (kind IN ('inferred', 'zero', 'legacy', 'adopted')),
        qty_delta         numeric NOT NULL,
        cost_delta_try    numeric NOT NULL,
        mark_try          numeric,
        balance_qty       numeric,
        balance_at_ms     bigint,
        others_qty        numeric NOT NULL,
        fills_net_qty     numeric NOT NULL,
        drift_qty         numeric NOT NULL,
        covered_fill_id   text,
        window_start_ms   bigint,
        cycle_id          text,
        at_ms             bigint NOT NULL,
        recorded_at       timestamptz NOT NULL DEFAULT now()
      );
      -- One opening per symbol, whoever infers it.
      CREATE UNIQUE INDEX position_adjustments_opening_key ON position_adjustments (symbol) WHERE kind <> 'adopted';
      -- Symbols accounted before openings existed keep their positions as they are.
      INSERT INTO position_adjustments (symbol, kind, qty_delta, cost_delta_try, others_qty, fills_net_qty, drift_qty, at_ms)
        SELECT substr(key, length('fills_cursor:') + 1), 'legacy', 0, 0, 0, 0, 0, COALESCE(value_ms, 0)
        FROM cursors WHERE key LIKE 'fills_cursor:%';

      -- A symbol whose fills cannot be applied: no new orders there (cancels run) until resolved.
      CREATE TABLE symbol_quarantines (
        symbol       text PRIMARY KEY,
        reason       text NOT NULL,
        fill_id      text,
        detail       text NOT NULL,
        -- What waits behind the fill: buys count toward the exposure limit while it lasts.
        held_fills   integer NOT NULL DEFAULT 0,
        held_buy_qty numeric NOT NULL DEFAULT 0,
        held_buy_cost_try numeric NOT NULL DEFAULT 0,
        cycles       integer NOT NULL DEFAULT 1,
        since_cycle  text,
        last_cycle   text,
        since_at     timestamptz NOT NULL DEFAULT now(),
        updated_at   timestamptz NOT NULL DEFAULT now()
      );

      -- btcbot positions adopt SYMBOL: carried out by the next cycle that has the balance and a mark.
      CREATE TABLE adoption_requests (
        symbol        text PRIMARY KEY,
        requested_by  text NOT NULL,
        requested_at  timestamptz NOT NULL DEFAULT now()
      );

      -- Per base asset: the bot's positions against the exchange balance, live cycles only.
      CREATE TABLE balance_drift (
        asset          text PRIMARY KEY,
        streak         integer NOT NULL,
        diff_qty       numeric NOT NULL,
        balance_qty    numeric NOT NULL,
        positions_qty  numeric NOT NULL,
        checked_at_ms  bigint NOT NULL,
        raised         boolean NOT NULL,
        raised_at      timestamptz,
        last_cycle     text,
        updated_at     timestamptz NOT NULL DEFAULT now()
      );

      -- Each cycle's balance of every base asset, with the moment it was read: an opening, an
      -- adoption or a drift check compares a balance with the fills up to that moment, once the
      -- fills poll has settled past it.
      CREATE TABLE balance_snapshots (
        asset     text NOT NULL,
        at_ms     bigint NOT NULL,
        qty       numeric NOT NULL,
        cycle_id  text,
        PRIMARY KEY (asset, at_ms)
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
  {
    version: 8,
    name: 'paper ledger: fills, positions, public-trades cursors and cash of dry-run orders',
    sql: `
      -- The dry-run (paper) ledger, apart from the live one (stage4_fills, stage4_positions, cursors):
      -- the same shape, so the same accounting applies, and nothing paper can reach a live row.
      CREATE TABLE paper_fills (
        fill_id            text PRIMARY KEY,
        exchange_order_id  text NOT NULL,
        client_order_id    text NOT NULL,
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
        public_trade_id    text NOT NULL,
        cycle_id           text,
        applied_at         timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX paper_fills_symbol_ts_idx ON paper_fills (symbol, ts_ms);
      CREATE INDEX paper_fills_client_order_id_idx ON paper_fills (client_order_id);

      CREATE TABLE paper_positions (
        symbol            text PRIMARY KEY,
        qty               numeric NOT NULL CHECK (qty >= 0),
        cost_basis_try    numeric NOT NULL CHECK (cost_basis_try >= 0),
        realized_pnl_try  numeric NOT NULL,
        last_fill_ts_ms   bigint,
        updated_at        timestamptz NOT NULL DEFAULT now()
      );

      -- The newest public trade already looked at, per symbol: each trade fills paper orders once.
      CREATE TABLE paper_trade_cursors (
        symbol         text PRIMARY KEY,
        last_ts_ms     bigint NOT NULL,
        last_trade_id  text NOT NULL,
        -- The last cycle whose page of public trades (50 rows at most) may have missed trades.
        gap_cycle_id   text,
        updated_at     timestamptz NOT NULL DEFAULT now()
      );

      -- Where paper cash started; cash now = start + the paper fills' cash flows (never stored twice).
      CREATE TABLE paper_account (
        id          boolean PRIMARY KEY DEFAULT true CHECK (id),
        start_try   numeric NOT NULL CHECK (start_try >= 0),
        source      text NOT NULL CHECK (source IN ('fixed', 'snapshot')),
        started_at  timestamptz NOT NULL DEFAULT now()
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
