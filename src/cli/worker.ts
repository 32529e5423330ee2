// `btcbot worker`: the long-running worker process.
//
// Start-up, in the order that keeps a misconfigured worker from ever serving a cycle:
//   1. the whole configuration is validated; any bad value exits 2 naming every bad variable;
//   2. SYMBOLS is checked against the exchange's pairs: a pair it does not list exits 2; a pair
//      listed but not trading is a warning; an exchange that cannot be reached is a warning and a
//      retry with backoff (the process stays up, not a crash loop under a restart policy). Each
//      try is one short request, abandoned at once when a stop signal comes;
//   3. Postgres (migrated), Temporal (the namespace must exist), then the worker polls; the
//      Temporal server is asked every few seconds whether it is there, for /health.
// Stops gracefully on SIGINT, SIGTERM or SIGHUP (also SIGQUIT, SIGUSR2, as the SDK would): polling
// stops, in-flight activities get the grace period, then connections close and the process exits
// 0 (also when the signal comes during start-up). A second signal is logged and changes nothing
// (a process manager and npm often both send one); a third exits at once, on purpose.
// JSON logs go to stdout (LOG_LEVEL); short status lines for a person go to stderr.
import { existsSync, statSync } from 'node:fs';
import { constants, hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { packageVersion } from '../build-info.js';
import { dataConverterFromEnv } from '../codec.js';
import { parseTradingConfig, toGateSettings, tradingConfigHash, tradingConfigProblems, type TradingConfig } from '../domain/config.js';
import { blockReason } from '../domain/gates.js';
import { ConfigError } from '../domain/errors.js';
import type { SymbolListing } from '../domain/listing.js';
import { createBtcturkExchange } from '../exchange/btcturk/client.js';
import {
  ActivityTracker, assessHealth, startHealthServer, TEMPORAL_PROBE_INTERVAL_MS, TEMPORAL_PROBE_TIMEOUT_MS, type HealthInput, type WorkerPhase,
} from '../observability/health.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { createNotifier, notifierSettingsFromEnv, type NotifierSettings } from '../observability/notifier.js';
import { installRuntime, metricsAddressFromEnv } from '../observability/runtime.js';
import { loadInfraSettings, SettingsError, type InfraSettings } from '../settings.js';
import { createCycleWorker, SHUTDOWN_FORCE_TIME, SHUTDOWN_GRACE_TIME } from '../worker.js';
import { redactUrl } from '../redaction.js';
import { temporalConnection, type TemporalConnection } from '../temporal-connection.js';
import { log, openDatabase, TemporalUnreachableError, warnAboutSecretFiles } from './context.js';
import { exposureOf, realMoneyRefusal } from './exposure.js';
import { notTradableWarning, readListing, unknownSymbolsError } from './symbols.js';

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];
const SDK_LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error'];
/** Exchange unreachable at start: retry the SYMBOLS check after 1 s, 2 s, 4 s, … at most this. */
const LISTING_RETRY_MAX_MS = 30_000;
/** One start-up read of the exchange's pairs: a single request, given up after this long. */
const LISTING_TIMEOUT_MS = 5_000;
const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR2'];
/** Names Temporal, task queues and payload key ids can safely carry here (also inside visibility queries). */
const NAME = /^[A-Za-z0-9._:/-]{1,200}$/;

export interface WorkerSettings {
  infra: InfraSettings & { exchangeBaseUrl: string };
  trading: TradingConfig;
  configHash: string;
  logLevel: string;
  sdkLevel: string;
  metricsAddress: string | null;
  healthAddress: string | null;
  dataConverter: ReturnType<typeof dataConverterFromEnv>;
  /** How to reach Temporal: address, TLS / API key (TEMPORAL_TLS_*, TEMPORAL_API_KEY). */
  temporal: TemporalConnection;
  /** Alert channels (webhook, Telegram): a bad alert variable stops the start, naming it. */
  notifier: NotifierSettings;
}

const HOST_PORT = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;

/** `host:port` (or `off`, where that means no endpoint); port 0 only where the bound port is reported. */
function hostPort(env: NodeJS.ProcessEnv, name: string, { example, off = true, portZero = true }: { example: string; off?: boolean; portZero?: boolean }): string | null {
  const raw = env[name]?.trim();
  if (!raw || (off && raw.toLowerCase() === 'off')) return null;
  const m = HOST_PORT.exec(raw);
  if (!m || Number(m[2]) > 65535) throw new ConfigError(name, `expected host:port (e.g. ${example})${off ? ' or off' : ''}, got ${JSON.stringify(raw.slice(0, 80))}`);
  if (!portZero && Number(m[2]) === 0) throw new ConfigError(name, 'port 0 is not allowed here: the endpoint needs a fixed port to be found');
  return raw;
}

function safeName(env: NodeJS.ProcessEnv, name: string, pattern = NAME): void {
  const raw = env[name]?.trim();
  if (raw && !pattern.test(raw)) {
    throw new ConfigError(name, `expected letters, digits and ${pattern === NAME ? '. _ : / -' : '. _ -'} only (at most ${pattern === NAME ? 200 : 64}), got ${JSON.stringify(raw.slice(0, 80))}`);
  }
}

/** Where the local cluster would live and what would start it, when there is no DATABASE_URL. */
function localClusterSettings(env: NodeJS.ProcessEnv): void {
  if (env.DATABASE_URL?.trim()) return;
  const dataDir = env.BTCBOT_DATA_DIR?.trim();
  if (dataDir && existsSync(dataDir) && !statSync(dataDir).isDirectory()) throw new ConfigError('BTCBOT_DATA_DIR', `${dataDir} is not a directory`);
  const bin = env.PG_BIN?.trim();
  if (bin && !existsSync(join(bin, 'pg_ctl'))) throw new ConfigError('PG_BIN', `no pg_ctl in ${bin}`);
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
  attempt(() => hostPort(env, 'TEMPORAL_ADDRESS', { example: '127.0.0.1:7233', off: false }));
  attempt(() => safeName(env, 'TEMPORAL_NAMESPACE'));
  attempt(() => safeName(env, 'BTCBOT_TASK_QUEUE'));
  attempt(() => safeName(env, 'BTCBOT_PAYLOAD_KEY_ID', /^[A-Za-z0-9._-]{1,64}$/));
  attempt(() => localClusterSettings(env));
  const logLevel = attempt(() => oneOf(env, 'LOG_LEVEL', LOG_LEVELS, 'info'));
  const sdkLevel = attempt(() => oneOf(env, 'BTCBOT_SDK_LOG_LEVEL', SDK_LOG_LEVELS, 'warn'));
  const metricsAddress = attempt(() =>
    hostPort(env, 'BTCBOT_METRICS_ADDRESS', { example: '127.0.0.1:9464', portZero: false }) === null ? null : metricsAddressFromEnv(env, null),
  );
  const healthAddress = attempt(() => hostPort(env, 'BTCBOT_HEALTH_ADDRESS', { example: '127.0.0.1:9465' }));
  const dataConverter = attempt(() => {
    try {
      return dataConverterFromEnv(env);
    } catch (err) {
      throw new ConfigError('BTCBOT_PAYLOAD_KEY', (err as Error).message.replace(/^BTCBOT_PAYLOAD_KEY /, ''));
    }
  });
  const temporal = infra ? attempt(() => temporalConnection(infra.temporalAddress, env)) : undefined;
  const notifier = attempt(() => notifierSettingsFromEnv(env));
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
    temporal: temporal!,
    notifier: notifier!,
  };
}

/**
 * The stop signals, handled by us for the whole life of the process (the SDK runtime's own handlers
 * are off: they stop listening after the first signal, so a second one killed the worker at once).
 * The first signal calls `onStop`; the second is logged and changes nothing; the third exits now.
 */
function stopSignals(onStop: () => void): { stopped: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  let received = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    received++;
    if (received === 1) {
      log(`stopping (${signal}): polling stops; in-flight activities get ${SHUTDOWN_GRACE_TIME} to finish, at most ${SHUTDOWN_FORCE_TIME}`);
      controller.abort();
      onStop();
    } else if (received === 2) {
      log(`${signal} again: already stopping, waiting for in-flight activities (at most ${SHUTDOWN_FORCE_TIME}); a third signal exits at once`);
    } else {
      log(`${signal} a third time: exiting now; activities still running are retried by Temporal on another worker`);
      process.exit(128 + (constants.signals[signal] ?? 15));
    }
  };
  for (const s of STOP_SIGNALS) process.on(s, onSignal);
  return { stopped: controller.signal, dispose: () => STOP_SIGNALS.forEach((s) => process.off(s, onSignal)) };
}

/** Resolves with null when `signal` aborts (at once if it already has). */
const whenAborted = (signal: AbortSignal): Promise<null> =>
  new Promise((resolve) => (signal.aborted ? resolve(null) : signal.addEventListener('abort', () => resolve(null), { once: true })));

/**
 * The exchange's verdict on SYMBOLS, retried while it cannot be reached; null if stopped first.
 * Each try is one request with a short timeout on a client of its own (the worker's client retries
 * for 40 s), and a stop signal abandons it at once.
 */
async function waitForListing(
  baseUrl: string,
  trading: TradingConfig,
  { stopped, logger, onRetry }: { stopped: AbortSignal; logger: Logger; onRetry(reason: string): void },
): Promise<SymbolListing | null> {
  for (let delay = 1_000; ; delay = Math.min(delay * 2, LISTING_RETRY_MAX_MS)) {
    const exchange = createBtcturkExchange({ baseUrl, timeoutMs: LISTING_TIMEOUT_MS, retry: { maxAttempts: 1 } });
    try {
      const listing = await Promise.race([readListing(exchange, trading.symbols), whenAborted(stopped)]);
      if (listing === null || stopped.aborted) return null;
      return listing;
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
    } finally {
      void exchange.close().catch(() => {}); // not awaited: closing waits for a request that hangs
    }
  }
}

/** Ask the Temporal server for its system info, a cheap call, every few seconds (for /health). */
function probeTemporal(connection: NativeConnection, into: HealthInput['temporal']): { stop(): void } {
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    connection
      .withDeadline(Date.now() + TEMPORAL_PROBE_TIMEOUT_MS, () => connection.workflowService.getSystemInfo({}))
      .then(
        () => Object.assign(into, { lastOkAtMs: Date.now(), error: null }),
        (err: unknown) => (into.error = (err as Error).message.split('\n')[0]!.slice(0, 200)),
      )
      .finally(() => (busy = false));
  }, TEMPORAL_PROBE_INTERVAL_MS);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

/** Postgres cannot be reached or used at start: one line, exit 1 (a restart policy retries). */
class PostgresUnreachableError extends Error {
  override name = 'PostgresUnreachableError';
}

/** A namespace Temporal does not have is a configuration error, not an outage. */
function namespaceMissing(err: unknown, namespace: string, address: string): ConfigError | null {
  return /namespace .* (is )?not found/i.test((err as Error).message)
    ? new ConfigError('TEMPORAL_NAMESPACE', `namespace ${namespace} does not exist on ${address} (create it: temporal operator namespace create -n ${namespace})`)
    : null;
}

/**
 * `envFiles`: the env files in use, checked for secrets other users can read.
 * Every check that needs no network comes first: a refusal never leaves a connection behind.
 */
export async function runWorker(env: NodeJS.ProcessEnv = process.env, { envFiles = [] }: { envFiles?: readonly string[] } = {}): Promise<number> {
  const settings = loadWorkerSettings(env);
  const { infra, trading } = settings;
  const refusal = realMoneyRefusal({
    armed: blockReason(toGateSettings(trading)) === null, hasCredentials: infra.credentials !== null, exchangeBaseUrl: infra.exchangeBaseUrl,
    exposure: exposureOf(settings.temporal.options, settings.dataConverter !== undefined),
  });
  if (refusal !== null) throw new SettingsError(`refusing to start: ${refusal}`);
  const logger = createLogger({ level: settings.logLevel });
  for (const warning of warnAboutSecretFiles(envFiles, env)) logger.warn({ event: 'secret_file_readable' }, warning);
  try {
    installRuntime({ logger, sdkLevel: settings.sdkLevel, metricsAddress: settings.metricsAddress, shutdownSignals: [] });
  } catch (err) {
    // The runtime binds the Prometheus endpoint as it starts.
    if (!settings.metricsAddress || !/metrics exporter/i.test((err as Error).message)) throw err;
    throw new ConfigError('BTCBOT_METRICS_ADDRESS', `cannot listen on ${settings.metricsAddress}: ${(err as Error).message.replace(/^.*?: /, '')}`);
  }

  const tracker = new ActivityTracker();
  let phase: WorkerPhase = 'starting';
  let startingReason = 'checking SYMBOLS against the exchange';
  let worker: Worker | null = null;
  const temporal: HealthInput['temporal'] = { lastOkAtMs: null, error: null };
  const signals = stopSignals(() => {
    phase = 'stopping';
    if (worker?.getState() === 'RUNNING') worker.shutdown();
  });
  let pool: Awaited<ReturnType<typeof openDatabase>>['pool'] | null = null;
  let connection: NativeConnection | null = null;
  let probe: { stop(): void } | null = null;
  let health: Awaited<ReturnType<typeof startHealthServer>> | null = null;
  const exchange = createBtcturkExchange({ baseUrl: infra.exchangeBaseUrl, ...(infra.credentials ? { credentials: infra.credentials } : {}) });
  const notifier = createNotifier(settings.notifier);
  try {
    health = settings.healthAddress
      ? await startHealthServer(settings.healthAddress, () =>
          assessHealth(
            {
              phase, startingReason, status: worker?.getStatus() ?? null, inFlight: tracker.inFlight,
              oldestStartedAtMs: tracker.oldestStartedAtMs, lastCompletedAtMs: tracker.lastCompletedAtMs, temporal,
            },
            Date.now(),
          ),
        )
      : null;
    const listing = await waitForListing(infra.exchangeBaseUrl, trading, { stopped: signals.stopped, logger, onRetry: (r) => (startingReason = r) });
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
    try {
      ({ pool } = await openDatabase(env));
    } catch (err) {
      if ((err as Error).name === 'DevEnvError') throw err; // the local cluster: its own clear message, exit 2
      const where = infra.databaseUrl ? redactUrl(infra.databaseUrl) : 'the local cluster';
      throw new PostgresUnreachableError(`cannot use Postgres at ${where}: ${(err as Error).message.split('\n')[0]}`);
    }
    try {
      connection = await NativeConnection.connect(settings.temporal.options);
    } catch (err) {
      throw new TemporalUnreachableError(`cannot reach Temporal at ${infra.temporalAddress}: ${(err as Error).message.split('\n')[0]}`);
    }
    temporal.lastOkAtMs = Date.now();
    try {
      worker = await createCycleWorker({
        connection, namespace: infra.temporalNamespace, taskQueue: infra.taskQueue, dataConverter: settings.dataConverter,
        identity: `${process.pid}@${hostname()} btcbot/${packageVersion()} cfg:${settings.configHash}`,
        activityTracker: tracker,
        deps: { pool, exchange, env, hasCredentials: infra.credentials !== null, logger, notifier, metrics: settings.metricsAddress !== null },
      });
    } catch (err) {
      throw namespaceMissing(err, infra.temporalNamespace, infra.temporalAddress) ?? err;
    }
    if (signals.stopped.aborted) {
      log('worker stopped before it started');
      return 0;
    }
    const running = worker.run();
    phase = 'running';
    probe = probeTemporal(connection, temporal);
    const ready = {
      task_queue: infra.taskQueue, temporal: infra.temporalAddress, temporal_security: settings.temporal.security, exchange: redactUrl(infra.exchangeBaseUrl),
      metrics: settings.metricsAddress, health: health?.url ?? null, config_hash: settings.configHash, alerts: notifier.channels,
    };
    logger.info({ event: 'worker_ready', ...ready }, 'worker ready');
    log(`worker ready: task queue ${infra.taskQueue} on ${infra.temporalAddress}, exchange ${ready.exchange}, trading configuration ${settings.configHash}` +
      (settings.metricsAddress ? `, metrics http://${settings.metricsAddress}/metrics` : '') +
      (health ? `, health ${health.url}` : ''));
    await running;
    phase = 'stopping';
    logger.info({ event: 'worker_stopped' }, 'worker stopped');
    log('worker stopped');
    return 0;
  } finally {
    phase = 'stopping';
    probe?.stop();
    await Promise.allSettled([exchange.close(), pool?.end(), health?.close(), notifier.close()]);
    await connection?.close();
    signals.dispose();
  }
}
