// The Temporal runtime of a process: SDK and workflow logs go through our logger; metrics are
// served in Prometheus format (the SDK's own plus btcbot's counters from activities).
import { DefaultLogger, makeTelemetryFilterString, Runtime, type LogLevel } from '@temporalio/worker';
import type { Logger } from './logger.js';

const SDK_LEVEL: Record<string, LogLevel> = { trace: 'TRACE', debug: 'DEBUG', info: 'INFO', warn: 'WARN', error: 'ERROR' };

export interface RuntimeOptions {
  logger: Logger;
  /** SDK log level (default WARN: the SDK is chatty at INFO). */
  sdkLevel?: string;
  /** `host:port` for GET /metrics, or null for no metrics endpoint. */
  metricsAddress: string | null;
  /** Signals on which the runtime shuts down every worker (default: the SDK's); [] when the caller handles them. */
  shutdownSignals?: NodeJS.Signals[];
}

export function installRuntime(opts: RuntimeOptions): void {
  const level = SDK_LEVEL[(opts.sdkLevel ?? 'warn').toLowerCase()] ?? 'WARN';
  const pinoLevel = (l: LogLevel) => l.toLowerCase() as 'trace' | 'debug' | 'info' | 'warn' | 'error';
  Runtime.install({
    ...(opts.shutdownSignals ? { shutdownSignals: opts.shutdownSignals } : {}),
    logger: new DefaultLogger(level, (entry) => {
      opts.logger[pinoLevel(entry.level)]({ sdk: true, ...(entry.meta ?? {}) }, entry.message);
    }),
    telemetryOptions: {
      logging: { filter: makeTelemetryFilterString({ core: level }), forward: {} },
      ...(opts.metricsAddress ? { metrics: { prometheus: { bindAddress: opts.metricsAddress } } } : {}),
    },
  });
}

/** BTCBOT_METRICS_ADDRESS: `host:port`, `off`, or unset for the default loopback port. */
export function metricsAddressFromEnv(env: NodeJS.ProcessEnv, fallback: string | null): string | null {
  const raw = env.BTCBOT_METRICS_ADDRESS?.trim();
  if (!raw) return fallback;
  if (raw.toLowerCase() === 'off') return null;
  return raw;
}
