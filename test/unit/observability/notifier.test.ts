// The alert notifier: its settings, redaction of what it sends, and what each answer comes to,
// against a local receiver (no request leaves loopback).
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { haltAlert, type Alert } from '../../../src/domain/alerts.js';
import { alertPayload, createNotifier, notifierSettingsFromEnv } from '../../../src/observability/notifier.js';
import { registerSecret } from '../../../src/redaction.js';
import { SettingsError } from '../../../src/settings.js';
import { startAlertReceiver, type AlertReceiver } from '../../support/alert-receiver.js';

const TOKEN = '987654:AAtest_token-abcdef';

describe('notifier settings', () => {
  test('nothing set: no channel; the Telegram API defaults to api.telegram.org', () => {
    const s = notifierSettingsFromEnv({});
    expect(s).toEqual({ webhookUrl: null, telegram: null });
    expect(createNotifier(s).channels).toEqual([]);
  });

  test('Telegram needs the token and the chat id together; a token that could change the URL is refused', () => {
    expect(() => notifierSettingsFromEnv({ BTCBOT_TELEGRAM_BOT_TOKEN: TOKEN })).toThrow(/must be set together/);
    expect(() => notifierSettingsFromEnv({ BTCBOT_TELEGRAM_CHAT_ID: '-100123' })).toThrow(/must be set together/);
    expect(() => notifierSettingsFromEnv({ BTCBOT_TELEGRAM_BOT_TOKEN: '123/../evil?x=', BTCBOT_TELEGRAM_CHAT_ID: '-100123' })).toThrow(/must look like a bot token/);
    expect(() => notifierSettingsFromEnv({ BTCBOT_TELEGRAM_BOT_TOKEN: TOKEN, BTCBOT_TELEGRAM_CHAT_ID: 'not a chat' })).toThrow(/BTCBOT_TELEGRAM_CHAT_ID/);
    expect(notifierSettingsFromEnv({ BTCBOT_TELEGRAM_BOT_TOKEN: TOKEN, BTCBOT_TELEGRAM_CHAT_ID: '@ops_channel' }).telegram)
      .toEqual({ apiUrl: 'https://api.telegram.org', token: TOKEN, chatId: '@ops_channel' });
  });

  test('URLs are https or loopback http; the webhook URL (it carries a token) is never shown in the error', () => {
    const secretHook = 'http://hooks.example.com/T0/SECRET-PART';
    let caught: unknown;
    try {
      notifierSettingsFromEnv({ BTCBOT_ALERT_WEBHOOK_URL: secretHook });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(SettingsError);
    expect((caught as Error).message).toMatch(/BTCBOT_ALERT_WEBHOOK_URL must use https/);
    expect((caught as Error).message).not.toContain('SECRET-PART');
    expect(() => notifierSettingsFromEnv({ BTCBOT_ALERT_WEBHOOK_URL: 'not a url SECRET-PART' })).toThrow(/^BTCBOT_ALERT_WEBHOOK_URL is not a URL$/);
    expect(() => notifierSettingsFromEnv({ BTCBOT_TELEGRAM_API_URL: 'http://api.telegram.org' })).toThrow(/BTCBOT_TELEGRAM_API_URL must use https/);
    expect(notifierSettingsFromEnv({ BTCBOT_ALERT_WEBHOOK_URL: 'http://127.0.0.1:9/hook' }).webhookUrl).toBe('http://127.0.0.1:9/hook');
  });
});

describe('alert payload', () => {
  test('redacts registered secrets and bounds the text', () => {
    registerSecret('sk-live-0123456789abcdef');
    const alert: Alert = {
      ...haltAlert({ reason: 'leaked sk-live-0123456789abcdef in a reason', haltedAt: '2026-12-02T10:00:00.000Z', by: 'cli:ops' }, false),
      lines: ['x'.repeat(5_000)],
    };
    const p = alertPayload(alert, 'default');
    expect(JSON.stringify(p)).not.toContain('sk-live-0123456789abcdef');
    expect(p.text.length).toBeLessThanOrEqual(3_501);
    expect(p).toMatchObject({ source: 'btcbot', kind: 'halt', severity: 'critical', account: 'default', cycle_id: null });
  });

  test('bounds the text between characters: an emoji at the limit is never cut in half', () => {
    // Every padding from well before to past the cut (the text is redacted, then bounded).
    for (let pad = 1_900; pad <= 3_600; pad++) {
      const alert: Alert = { ...haltAlert({ reason: 'r', haltedAt: '2026-12-02T10:00:00.000Z', by: 'cli:ops' }, false), lines: [`${'x'.repeat(pad)}\u{1F680}${'y'.repeat(100)}`] };
      expect(alertPayload(alert, 'default').text).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/);
    }
  });
});

describe('delivery results', () => {
  let ok: AlertReceiver;
  let failing: AlertReceiver;
  let refusing: AlertReceiver;
  beforeAll(async () => {
    [ok, failing, refusing] = await Promise.all([startAlertReceiver(), startAlertReceiver({ status: 503 }), startAlertReceiver({ status: 400 })]);
  });
  afterAll(async () => {
    await Promise.all([ok.close(), failing.close(), refusing.close()]);
  });
  const payload = alertPayload(haltAlert({ reason: 'r', haltedAt: '2026-12-02T10:00:00.000Z', by: 'cli:ops' }, false), 'default');

  test('webhook: 2xx sent; 5xx failed (worth another attempt); 4xx rejected; a refused connection failed', async () => {
    const send = async (url: string) => {
      const n = createNotifier(notifierSettingsFromEnv({ BTCBOT_ALERT_WEBHOOK_URL: url }), { timeoutMs: 2_000 });
      try {
        return await n.send('webhook', payload);
      } finally {
        await n.close();
      }
    };
    expect(await send(`${ok.url}/hook`)).toEqual({ status: 'sent' });
    expect(ok.received.at(-1)).toEqual({ path: '/hook', body: payload });
    expect(await send(failing.url)).toEqual({ status: 'failed', error: 'the webhook answered HTTP 503' });
    expect(await send(refusing.url)).toEqual({ status: 'rejected', error: 'the webhook answered HTTP 400' });
    const closed = await startAlertReceiver();
    const url = closed.url;
    await closed.close();
    expect(await send(url)).toMatchObject({ status: 'failed', error: expect.stringMatching(/^ECONNREFUSED/) });
  });

  test('Telegram: sendMessage under the configured API URL, the token never in an error', async () => {
    const env = (url: string) => ({ BTCBOT_TELEGRAM_BOT_TOKEN: TOKEN, BTCBOT_TELEGRAM_CHAT_ID: '-1001', BTCBOT_TELEGRAM_API_URL: url });
    registerSecret(TOKEN);
    const n = createNotifier(notifierSettingsFromEnv(env(ok.url)));
    expect(await n.send('telegram', payload)).toEqual({ status: 'sent' });
    expect(ok.received.at(-1)).toEqual({ path: `/bot${TOKEN}/sendMessage`, body: { chat_id: '-1001', text: payload.text, disable_web_page_preview: true } });
    await n.close();
    const bad = createNotifier(notifierSettingsFromEnv(env(refusing.url)));
    const r = await bad.send('telegram', payload);
    await bad.close();
    expect(r).toEqual({ status: 'rejected', error: 'Telegram answered HTTP 400: receiver told to fail' });
    expect(JSON.stringify(r)).not.toContain(TOKEN);
  });
});
