// Alert channels: a webhook (JSON POST) and Telegram's bot API, both optional. Every request has
// a deadline and its result is a value, never an exception: a notifier that is down, slow or
// refusing never blocks a cycle or a halt. Whether a failed request may be sent again is decided
// here, once: only when it surely did not arrive.
import { Agent, errors as undiciErrors, request } from 'undici';
import { alertText, type Alert } from '../domain/alerts.js';
import { cutText, redact } from '../redaction.js';
import { readSecret } from '../secrets.js';
import { SettingsError, validateServiceUrl } from '../settings.js';

export const ALERT_CHANNELS = ['webhook', 'telegram'] as const;
export type AlertChannel = (typeof ALERT_CHANNELS)[number];

export const DEFAULT_TELEGRAM_API_URL = 'https://api.telegram.org';
/** One request's deadline, connect to last byte. */
export const ALERT_REQUEST_TIMEOUT_MS = 5_000;
/** Telegram refuses longer messages (4096). */
const MAX_TEXT_CHARS = 3_500;
const MAX_RESPONSE_BYTES = 64 * 1024;

export interface NotifierSettings {
  readonly webhookUrl: string | null;
  readonly telegram: { readonly apiUrl: string; readonly token: string; readonly chatId: string } | null;
}

/** What a request came to. `failed`: surely not delivered, worth another attempt; `rejected`: the
 *  receiver refused it (retrying sends the same refusal); `unknown`: it may have arrived. */
export type DeliveryResult =
  | { readonly status: 'sent' }
  | { readonly status: 'failed' | 'rejected' | 'unknown'; readonly error: string };

/** The body a webhook receives; Telegram gets `text`. Redacted. */
export interface AlertPayload {
  readonly source: 'btcbot';
  readonly kind: string;
  readonly severity: string;
  readonly title: string;
  readonly text: string;
  readonly cycle_id: string | null;
  readonly mode: string | null;
  readonly at: string;
  readonly account: string;
}

const set = (v: string | undefined): string | null => (v === undefined || v.trim() === '' ? null : v.trim());

/**
 * BTCBOT_ALERT_WEBHOOK_URL (or _FILE), BTCBOT_TELEGRAM_BOT_TOKEN (or _FILE) with
 * BTCBOT_TELEGRAM_CHAT_ID, and BTCBOT_TELEGRAM_API_URL. Every URL is https, or http to loopback.
 * A bad value is a ConfigError naming the variable, never showing a secret.
 */
export function notifierSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): NotifierSettings {
  const webhook = readSecret(env, 'BTCBOT_ALERT_WEBHOOK_URL');
  const token = readSecret(env, 'BTCBOT_TELEGRAM_BOT_TOKEN');
  const chatId = set(env.BTCBOT_TELEGRAM_CHAT_ID);
  if ((token === null) !== (chatId === null)) {
    throw new SettingsError('BTCBOT_TELEGRAM_BOT_TOKEN (or its _FILE) and BTCBOT_TELEGRAM_CHAT_ID must be set together');
  }
  // The token goes into the request path: nothing that could change the path or the host.
  if (token !== null && !/^[A-Za-z0-9:_-]{8,200}$/.test(token)) {
    throw new SettingsError('BTCBOT_TELEGRAM_BOT_TOKEN must look like a bot token (digits, a colon, letters, digits, _ and -)');
  }
  if (chatId !== null && !/^(-?\d{1,20}|@[A-Za-z0-9_]{4,64})$/.test(chatId)) {
    throw new SettingsError(`BTCBOT_TELEGRAM_CHAT_ID must be a numeric chat id or @channelname, got ${JSON.stringify(chatId.slice(0, 40))}`);
  }
  const apiUrl = validateServiceUrl('BTCBOT_TELEGRAM_API_URL', set(env.BTCBOT_TELEGRAM_API_URL) ?? DEFAULT_TELEGRAM_API_URL).replace(/\/+$/, '');
  return {
    webhookUrl: webhook === null ? null : validateServiceUrl('BTCBOT_ALERT_WEBHOOK_URL', webhook, { shown: false }),
    telegram: token === null || chatId === null ? null : { apiUrl, token, chatId },
  };
}

export function configuredChannels(s: NotifierSettings): AlertChannel[] {
  return ALERT_CHANNELS.filter((c) => (c === 'webhook' ? s.webhookUrl !== null : s.telegram !== null));
}

export function alertPayload(alert: Alert, account: string): AlertPayload {
  const text = redact(alertText(alert));
  return {
    source: 'btcbot', kind: alert.kind, severity: alert.severity, title: redact(alert.title),
    text: text.length > MAX_TEXT_CHARS ? `${cutText(text, MAX_TEXT_CHARS)}…` : text,
    cycle_id: alert.cycleId, mode: alert.mode, at: alert.at, account,
  };
}

/** Errors raised before the request could have reached the receiver. */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT', 'CERT_HAS_EXPIRED', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'ERR_TLS_CERT_ALTNAME_INVALID']);

export interface Notifier {
  /** The channels configured; empty means alerts are off. */
  readonly channels: readonly AlertChannel[];
  send(channel: AlertChannel, payload: AlertPayload): Promise<DeliveryResult>;
  close(): Promise<void>;
}

export function createNotifier(settings: NotifierSettings, { timeoutMs = ALERT_REQUEST_TIMEOUT_MS }: { timeoutMs?: number } = {}): Notifier {
  const agent = new Agent({ connect: { timeout: timeoutMs }, maxResponseSize: MAX_RESPONSE_BYTES, keepAliveTimeout: 1_000 });

  async function post(url: string, body: unknown): Promise<{ status: number; text: string } | DeliveryResult> {
    try {
      const res = await request(url, {
        method: 'POST',
        dispatcher: agent,
        headers: { 'content-type': 'application/json', 'user-agent': 'btcbot-alerts' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
      return { status: res.statusCode, text: await res.body.text() };
    } catch (err) {
      const e = err as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
      const code = e.code ?? e.cause?.code ?? e.name;
      // The token is in Telegram's URL path: every message is redacted (the token is registered).
      const error = cutText(redact(`${code}: ${e.message}`), 300);
      const notSent = NOT_SENT_CODES.has(code ?? '') || err instanceof undiciErrors.ConnectTimeoutError;
      return { status: notSent ? 'failed' : 'unknown', error };
    }
  }

  /** 2xx sent; 429 and 5xx worth another attempt; any other status is a refusal. */
  function fromStatus(status: number, what: string): DeliveryResult {
    if (status >= 200 && status < 300) return { status: 'sent' };
    return { status: status === 429 || status >= 500 ? 'failed' : 'rejected', error: `${what} answered HTTP ${status}` };
  }

  return {
    channels: configuredChannels(settings),
    async send(channel, payload) {
      if (channel === 'webhook') {
        if (settings.webhookUrl === null) return { status: 'rejected', error: 'no webhook configured' };
        const res = await post(settings.webhookUrl, payload);
        return 'text' in res ? fromStatus(res.status, 'the webhook') : res;
      }
      const tg = settings.telegram;
      if (tg === null) return { status: 'rejected', error: 'Telegram is not configured' };
      const res = await post(`${tg.apiUrl}/bot${tg.token}/sendMessage`, {
        chat_id: tg.chatId, text: payload.text, disable_web_page_preview: true,
      });
      if (!('text' in res)) return res;
      const outcome = fromStatus(res.status, 'Telegram');
      if (outcome.status !== 'sent') {
        let description = '';
        try {
          description = String((JSON.parse(res.text) as { description?: unknown }).description ?? '');
        } catch {
          // not JSON: the status says enough
        }
        return { ...outcome, error: cutText(redact(`${outcome.error}${description ? `: ${description}` : ''}`), 300) };
      }
      return outcome;
    },
    close: () => agent.close(),
  };
}
