// `btcbot worker`: the long-running worker process. Stops gracefully on SIGINT/SIGTERM: polling
// stops, in-flight activities get the grace period, then connections close and the process exits 0.
import { NativeConnection } from '@temporalio/worker';
import { createBtcturkExchange } from '../exchange/btcturk/client.js';
import { loadInfraSettings, SettingsError } from '../settings.js';
import { createCycleWorker } from '../worker.js';
import { installTemporalRuntime, log, openDatabase } from './context.js';

export async function runWorker(): Promise<number> {
  const infra = loadInfraSettings();
  installTemporalRuntime();
  if (!infra.exchangeBaseUrl) {
    throw new SettingsError(
      'BTCTURK_BASE_URL is required for a worker (the simulator: `btcbot simulator`; the exchange: https://api.btcturk.com)',
    );
  }
  const { pool } = await openDatabase();
  const exchange = createBtcturkExchange({
    baseUrl: infra.exchangeBaseUrl,
    ...(infra.credentials ? { credentials: infra.credentials } : {}),
  });
  const connection = await NativeConnection.connect({ address: infra.temporalAddress });
  try {
    const worker = await createCycleWorker({
      connection, namespace: infra.temporalNamespace, taskQueue: infra.taskQueue, deps: { pool, exchange, env: process.env, hasCredentials: infra.credentials !== null },
    });
    log(`worker ready: task queue ${infra.taskQueue} on ${infra.temporalAddress}, exchange ${infra.exchangeBaseUrl}`);
    await worker.run();
    log('worker stopped');
    return 0;
  } finally {
    await Promise.allSettled([exchange.close(), pool.end()]);
    await connection.close();
  }
}
