// `btcbot worker`: the long-running worker process. Stops gracefully on SIGINT/SIGTERM: polling
// stops, in-flight activities get the grace period, then connections close and the process exits 0.
// JSON logs go to stdout (LOG_LEVEL); short status lines for a person go to stderr.
import { NativeConnection } from '@temporalio/worker';
import { dataConverterFromEnv } from '../codec.js';
import { parseTradingConfig, toGateSettings } from '../domain/config.js';
import { blockReason } from '../domain/gates.js';
import { createBtcturkExchange } from '../exchange/btcturk/client.js';
import { createLogger } from '../observability/logger.js';
import { createNotifier, notifierSettingsFromEnv } from '../observability/notifier.js';
import { installRuntime, metricsAddressFromEnv } from '../observability/runtime.js';
import { loadInfraSettings, SettingsError } from '../settings.js';
import { DEFAULT_ENV_FILES } from '../secrets.js';
import { temporalConnection } from '../temporal-connection.js';
import { createCycleWorker } from '../worker.js';
import { log, openDatabase, warnAboutSecretFiles } from './context.js';
import { exposureOf, realMoneyRefusal } from './exposure.js';

/** Whether this worker's own gates allow live writes. A malformed gate variable is not armed (its cycles fail on it). */
function liveArmed(env: NodeJS.ProcessEnv): boolean {
  try {
    return blockReason(toGateSettings(parseTradingConfig(env))) === null;
  } catch {
    return false;
  }
}

/** `envFiles`: the env files in use, checked for secrets other users can read. */
export async function runWorker({ envFiles = DEFAULT_ENV_FILES }: { envFiles?: readonly string[] } = {}): Promise<number> {
  const infra = loadInfraSettings();
  if (!infra.exchangeBaseUrl) {
    throw new SettingsError(
      'BTCTURK_BASE_URL is required for a worker (the simulator: `btcbot simulator`; the exchange: https://api.btcturk.com)',
    );
  }
  // Every check that needs no network comes first: a refusal never leaves a connection behind.
  const temporal = temporalConnection(infra.temporalAddress);
  const dataConverter = dataConverterFromEnv();
  const notifier = createNotifier(notifierSettingsFromEnv()); // a bad alert variable stops the start, naming it
  const refusal = realMoneyRefusal({
    armed: liveArmed(process.env), hasCredentials: infra.credentials !== null, exchangeBaseUrl: infra.exchangeBaseUrl,
    exposure: exposureOf(temporal.options, dataConverter !== undefined),
  });
  if (refusal !== null) throw new SettingsError(`refusing to start: ${refusal}`);
  const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'info' });
  for (const warning of warnAboutSecretFiles(envFiles)) logger.warn({ event: 'secret_file_readable' }, warning);
  const metricsAddress = metricsAddressFromEnv(process.env, null);
  installRuntime({ logger, sdkLevel: process.env.BTCBOT_SDK_LOG_LEVEL, metricsAddress });

  const { pool } = await openDatabase();
  const exchange = createBtcturkExchange({
    baseUrl: infra.exchangeBaseUrl,
    ...(infra.credentials ? { credentials: infra.credentials } : {}),
  });
  const connection = await NativeConnection.connect(temporal.options);
  try {
    const worker = await createCycleWorker({
      connection, namespace: infra.temporalNamespace, taskQueue: infra.taskQueue, dataConverter,
      deps: { pool, exchange, env: process.env, hasCredentials: infra.credentials !== null, logger, notifier, metrics: metricsAddress !== null },
    });
    const ready = {
      task_queue: infra.taskQueue, temporal: infra.temporalAddress, temporal_security: temporal.security,
      exchange: infra.exchangeBaseUrl, metrics: metricsAddress, alerts: notifier.channels,
    };
    logger.info({ event: 'worker_ready', ...ready }, 'worker ready');
    log(`worker ready: task queue ${infra.taskQueue} on ${infra.temporalAddress}, exchange ${infra.exchangeBaseUrl}` +
      (metricsAddress ? `, metrics http://${metricsAddress}/metrics` : ''));
    await worker.run();
    logger.info({ event: 'worker_stopped' }, 'worker stopped');
    log('worker stopped');
    return 0;
  } finally {
    await Promise.allSettled([exchange.close(), pool.end(), notifier.close()]);
    await connection.close();
  }
}
