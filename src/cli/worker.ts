// `btcbot worker`: the long-running worker process.
//
// Start-up, in the order that keeps a misconfigured worker from ever serving a cycle:
//   1. the whole configuration is validated; any bad value exits 2 naming every bad variable;
//   2. SYMBOLS is checked against the exchange's pairs: a pair it does not list exits 2; a pair
//      listed but not trading is a warning; an exchange that cannot be reached is a warning and a
//      retry with backoff (the process stays up, not a crash loop under a restart policy);
//   3. Postgres (migrated), Temporal, then the worker polls.
// Stops gracefully on SIGINT/SIGTERM: polling stops, in-flight activities get the grace period,
// then connections close and the process exits 0 (also when the signal comes during start-up).
// JSON logs go to stdout (LOG_LEVEL); short status lines for a person go to stderr.
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { packageVersion } from '../build-info.js';
import { dataConverterFromEnv } from '../codec.js';
import { parseTradingConfig, tradingConfigHash, tradingConfigProblems, type TradingConfig } from '../domain/config.js';
import { ConfigError } from '../domain/errors.js';
import type { SymbolListing } from '../domain/listing.js';
import { createBtcturkExchange } from '../exchange/btcturk/client.js';
import type { Exchange } from '../exchange/port.js';
import { ActivityTracker, assessHealth, startHealthServer, type WorkerPhase } from '../observability/health.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { installRuntime, metricsAddressFromEnv } from '../observability/runtime.js';
import { loadInfraSettings, type InfraSettings } from '../settings.js';
import { createCycleWorker } from '../worker.js';
import { log, openDatabase } from './context.js';
import { notTradableWarning, readListing, unknownSymbolsError } from './symbols.js';

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];
const SDK_LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error'];
/** Exchange unreachable at start: retry the SYMBOLS check after 1 s, 2 s, 4 s, … at most this. */
const LISTING_RETRY_MAX_MS = 30_000;

export interface WorkerSettings {
  infra: InfraSettings & { exchangeBaseUrl: string };
  trading: TradingConfig;
  configHash: string;
  logLevel: string;
  sdkLevel: string;
  metricsAddress: string | null;
  healthAddress: string | null;
  dataConverter: ReturnType<typeof dataConverterFromEnv>;
}

const HOST_PORT = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;

function hostPort(env: NodeJS.ProcessEnv, name: string): string | null {
  const raw = env[name]?.trim();
  if (!raw || raw.toLowerCase() === 'off') return null;
  const m = HOST_PORT.exec(raw);
  if (!m || Number(m[2]) > 65535) throw new ConfigError(name, `expected host:port (e.g. 127.0.0.1:9464) or off, got ${JSON.stringify(raw.slice(0, 80))}`);
  return raw;
}

function oneOf(env: NodeJS.ProcessEnv, name: string, allowed: string[], dflt: string): string {
  const raw = env[name]?.trim().toLowerCase();
  if (!raw) return dflt;
  if (!allowed.includes(raw)) throw new ConfigError(name, `expected one of ${allowed.join(', ')}, got ${JSON.stringify(raw.slice(0, 40))}`);
  return raw;
}

/** The worker's configuration is invalid: every problem, each naming its variable (exit 2). */
export class WorkerConfigError extends Error {
  override name = 'ConfigError';
  constructor(readonly problems: readonly string[]) {
    super(problems.join('; '));
  }
}

/**
 * Every variable the worker reads, validated at once; a WorkerConfigError lists every bad one.
 * `requireExchange: false` checks the values only (`btcbot config`), not that BTCTURK_BASE_URL is set.
 */
export function loadWorkerSettings(env: NodeJS.ProcessEnv, { requireExchange = true }: { requireExchange?: boolean } = {}): WorkerSettings {
  const problems: string[] = [];
  const attempt = <T>(f: () => T): T | undefined => {
    try {
      return f();
    } catch (err) {
      problems.push((err as Error).message);
      return undefined;
    }
  };
  const infra = attempt(() => loadInfraSettings(env));
  if (requireExchange && infra && !infra.exchangeBaseUrl) {
    problems.push('BTCTURK_BASE_URL is required for a worker (the simulator: `btcbot simulator`; the exchange: https://api.btcturk.com)');
  }
  attempt(() => {
    const url = env.DATABASE_URL?.trim();
    if (url && !/^postgres(ql)?:$/.test(URL.canParse(url) ? new URL(url).protocol : '')) {
      throw new ConfigError('DATABASE_URL', 'expected a postgres:// connection string');
    }
  });
  const tradingProblems = tradingConfigProblems(env);
  problems.push(...tradingProblems);
  const trading = tradingProblems.length === 0 ? parseTradingConfig(env) : undefined;
  const logLevel = attempt(() => oneOf(env, 'LOG_LEVEL', LOG_LEVELS, 'info'));
  const sdkLevel = attempt(() => oneOf(env, 'BTCBOT_SDK_LOG_LEVEL', SDK_LOG_LEVELS, 'warn'));
  const metricsAddress = attempt(() => (hostPort(env, 'BTCBOT_METRICS_ADDRESS') === null ? null : metricsAddressFromEnv(env, null)));
  const healthAddress = attempt(() => hostPort(env, 'BTCBOT_HEALTH_ADDRESS'));
  const dataConverter = attempt(() => {
    try {
      return dataConverterFromEnv(env);
    } catch (err) {
      throw new ConfigError('BTCBOT_PAYLOAD_KEY', (err as Error).message.replace(/^BTCBOT_PAYLOAD_KEY /, ''));
    }
  });
  if (problems.length > 0) throw new WorkerConfigError(problems);
  return {
    infra: infra as WorkerSettings['infra'],
    trading: trading!,
    configHash: tradingConfigHash(trading!),
    logLevel: logLevel!,
    sdkLevel: sdkLevel!,
    metricsAddress: metricsAddress ?? null,
    healthAddress: healthAddress ?? null,
    dataConverter,
  };
}

/** Resolves when SIGINT or SIGTERM arrives; the Temporal runtime's own handlers stop a running worker. */
function stopSignals(): { stopped: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return {
    stopped: controller.signal,
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/** The exchange's verdict on SYMBOLS, retried while it cannot be reached; null if stopped first. */
async function waitForListing(
  exchange: Exchange,
  trading: TradingConfig,
  { stopped, logger, onRetry }: { stopped: AbortSignal; logger: Logger; onRetry(reason: string): void },
): Promise<SymbolListing | null> {
  for (let delay = 1_000; ; delay = Math.min(delay * 2, LISTING_RETRY_MAX_MS)) {
    try {
      return await readListing(exchange, trading.symbols);
    } catch (err) {
      if (stopped.aborted) return null;
      const reason = (err as Error).message.split('\n')[0]!;
      logger.warn({ event: 'exchange_unreachable_at_start', retry_in_ms: delay, error: reason }, 'exchange unreachable at start');
      log(`warning: cannot read the exchange's pairs to check SYMBOLS (${reason}); retrying in ${delay / 1000} s`);
      onRetry(`waiting for the exchange to check SYMBOLS (${reason})`);
      try {
        await sleep(delay, undefined, { signal: stopped });
      } catch {
        return null;
      }
    }
  }
}

export async function runWorker(env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const settings = loadWorkerSettings(env);
  const { infra, trading } = settings;
  const logger = createLogger({ level: settings.logLevel });
  installRuntime({ logger, sdkLevel: settings.sdkLevel, metricsAddress: settings.metricsAddress });

  const signals = stopSignals();
  const tracker = new ActivityTracker();
  let phase: WorkerPhase = 'starting';
  let startingReason = 'checking SYMBOLS against the exchange';
  let worker: Worker | null = null;
  const health = settings.healthAddress
    ? await startHealthServer(settings.healthAddress, () =>
        assessHealth(
          {
            phase,
            startingReason,
            status: worker?.getStatus() ?? null,
            inFlight: tracker.inFlight,
            oldestStartedAtMs: tracker.oldestStartedAtMs,
            lastCompletedAtMs: tracker.lastCompletedAtMs,
          },
          Date.now(),
        ),
      )
    : null;

  const exchange = createBtcturkExchange({ baseUrl: infra.exchangeBaseUrl, ...(infra.credentials ? { credentials: infra.credentials } : {}) });
  let pool: Awaited<ReturnType<typeof openDatabase>>['pool'] | null = null;
  let connection: NativeConnection | null = null;
  try {
    const listing = await waitForListing(exchange, trading, { stopped: signals.stopped, logger, onRetry: (r) => (startingReason = r) });
    if (listing === null) {
      log('worker stopped before it started');
      return 0;
    }
    const unknown = unknownSymbolsError(listing);
    if (unknown) throw unknown;
    const notTradable = notTradableWarning(listing);
    if (notTradable) {
      logger.warn({ event: 'symbols_not_tradable', symbols: listing.notTradable }, notTradable);
      log(`warning: ${notTradable}`);
    }

    startingReason = 'connecting to Postgres and Temporal';
    ({ pool } = await openDatabase(env));
    connection = await NativeConnection.connect({ address: infra.temporalAddress });
    worker = await createCycleWorker({
      connection, namespace: infra.temporalNamespace, taskQueue: infra.taskQueue, dataConverter: settings.dataConverter,
      identity: `${process.pid}@${hostname()} btcbot/${packageVersion()} cfg:${settings.configHash}`,
      activityTracker: tracker,
      deps: { pool, exchange, env, hasCredentials: infra.credentials !== null, logger },
    });
    if (signals.stopped.aborted) {
      log('worker stopped before it started');
      return 0;
    }
    signals.dispose(); // from here the Temporal runtime's own signal handlers shut the worker down
    phase = 'running';
    const ready = {
      task_queue: infra.taskQueue, temporal: infra.temporalAddress, exchange: infra.exchangeBaseUrl,
      metrics: settings.metricsAddress, health: health?.url ?? null, config_hash: settings.configHash,
    };
    logger.info({ event: 'worker_ready', ...ready }, 'worker ready');
    log(`worker ready: task queue ${infra.taskQueue} on ${infra.temporalAddress}, exchange ${infra.exchangeBaseUrl}, trading configuration ${settings.configHash}` +
      (settings.metricsAddress ? `, metrics http://${settings.metricsAddress}/metrics` : '') +
      (health ? `, health ${health.url}` : ''));
    await worker.run();
    phase = 'stopping';
    logger.info({ event: 'worker_stopped' }, 'worker stopped');
    log('worker stopped');
    return 0;
  } finally {
    phase = 'stopping';
    signals.dispose();
    await Promise.allSettled([exchange.close(), pool?.end(), health?.close()]);
    await connection?.close();
  }
}
