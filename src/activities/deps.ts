// What activities are built from. Injected, so tests point them at a simulator and a fresh database.
import type { Env } from '../domain/config.js';
import type { Exchange } from '../exchange/port.js';
import type { Logger } from '../observability/logger.js';
import type { Notifier } from '../observability/notifier.js';
import type { Pool } from '../store/db.js';

export interface ActivityDeps {
  pool: Pool;
  /** The real exchange client. Dry-run cycles only read through it. */
  exchange: Exchange;
  /** The worker's environment: its trading config and its own gates. Default: empty (all safe defaults). */
  env?: Env;
  /** Whether `exchange` carries API credentials (private reads and writes). Default false: paper mode. */
  hasCredentials?: boolean;
  accountId?: string;
  /** Structured logger for the per-cycle line; none in tests that do not look at logs. */
  logger?: Logger;
  /** Whether the process exports metrics: gauges are read from the database only then. Default false. */
  metrics?: boolean;
  /** Alert channels (webhook, Telegram); none: no alerts are queued or sent. */
  notifier?: Notifier;
  /** Clock for cache ages and lease times; activities take cycle time from their input. */
  now?: () => number;
}

export const DEFAULT_ACCOUNT_ID = 'default';
export const CYCLE_LEASE_TTL_MS = 10 * 60_000;
