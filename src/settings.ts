// Process settings from the environment: where Temporal, Postgres and the exchange are.
// Trading settings (gates, symbols, limits) are parsed by src/domain/config.ts.
import { validateBaseUrl } from './exchange/btcturk/http.js';
import { readSecret } from './secrets.js';
import { DEFAULT_NAMESPACE, DEFAULT_TASK_QUEUE } from './shared.js';

export class SettingsError extends Error {
  override name = 'ConfigError';
}

export interface InfraSettings {
  temporalAddress: string;
  temporalNamespace: string;
  taskQueue: string;
  databaseUrl: string | null;
  /** null when unset: commands that need the exchange fail with a clear message. */
  exchangeBaseUrl: string | null;
  credentials: { apiKey: string; apiSecret: string } | null;
}

/** The exchange client's rule (https, or plain http to a loopback simulator), as a settings error. */
export function validateExchangeBaseUrl(raw: string): string {
  return validateServiceUrl('BTCTURK_BASE_URL', raw).replace(/\/+$/, '');
}

/**
 * Any URL btcbot sends to (the exchange, alert webhooks, the Telegram API): https, or plain http
 * only to loopback, no credentials in it; the exchange client's rule. `shown` = false keeps the
 * value itself out of the message (a webhook URL carries its token).
 */
export function validateServiceUrl(variable: string, raw: string, { shown = true }: { shown?: boolean } = {}): string {
  if (!URL.canParse(raw)) throw new SettingsError(`${variable} is not a URL${shown ? `: ${JSON.stringify(raw.slice(0, 80))}` : ''}`);
  try {
    validateBaseUrl(raw);
  } catch {
    throw new SettingsError(`${variable} must use https (plain http is allowed only on loopback) and carry no credentials`);
  }
  return raw;
}

export function loadInfraSettings(env: NodeJS.ProcessEnv = process.env): InfraSettings {
  // Each from the variable or from its *_FILE (Docker secrets), never both.
  const apiKey = readSecret(env, 'BTCTURK_API_KEY');
  const apiSecret = readSecret(env, 'BTCTURK_API_SECRET');
  if ((apiKey === null) !== (apiSecret === null)) {
    throw new SettingsError('BTCTURK_API_KEY and BTCTURK_API_SECRET (or their *_FILE forms) must be set together');
  }
  return {
    temporalAddress: env.TEMPORAL_ADDRESS?.trim() || '127.0.0.1:7233',
    temporalNamespace: env.TEMPORAL_NAMESPACE?.trim() || DEFAULT_NAMESPACE,
    taskQueue: env.BTCBOT_TASK_QUEUE?.trim() || DEFAULT_TASK_QUEUE,
    databaseUrl: env.DATABASE_URL?.trim() || null,
    exchangeBaseUrl: env.BTCTURK_BASE_URL?.trim() ? validateExchangeBaseUrl(env.BTCTURK_BASE_URL.trim()) : null,
    credentials: apiKey && apiSecret ? { apiKey, apiSecret } : null,
  };
}
