// `btcbot config`: the alert, Telegram, codec and paper variables are known (listed with their
// values, masked where they carry a secret), never reported as "not read by btcbot".
import { describe, expect, test } from 'vitest';
import { configReport, type ConfigSources } from '../../../src/cli/config.js';

const NEW_VARIABLES = {
  BTCBOT_ALERT_WEBHOOK_URL: 'https://hooks.example.test/services/T000/B000/sekr1tpath',
  BTCBOT_TELEGRAM_BOT_TOKEN: '123456:ABCdefGHIjklMNOpqr',
  BTCBOT_TELEGRAM_CHAT_ID: '-1001234567',
  BTCBOT_TELEGRAM_API_URL: 'http://127.0.0.1:9999',
  BTCBOT_CODEC_TOKEN: 'codec-token-0123456789',
  PAPER_START: 'snapshot',
};

function report(env: Record<string, string>) {
  const names = Object.keys(env);
  const sources: ConfigSources = {
    envFile: { path: '/tmp/.env', explicit: false, found: true, applied: names, shadowed: [], problems: [] },
    stackRecordFile: null,
    sourceOf: (name) => (name in env ? 'env file' : 'default'),
  };
  return configReport(env, sources);
}

describe('btcbot config', () => {
  test('knows the alert, Telegram, codec and paper variables; secrets and the webhook URL (its path may be a secret) are masked whole', () => {
    const r = report(NEW_VARIABLES);
    expect(r.notRead).toEqual([]);
    const rows = new Map(r.groups.flatMap(([, g]) => g).map((row) => [row.name, row]));
    expect(rows.get('BTCBOT_ALERT_WEBHOOK_URL')).toEqual({ name: 'BTCBOT_ALERT_WEBHOOK_URL', value: '*** (set)', source: 'env file' });
    expect(rows.get('BTCBOT_TELEGRAM_BOT_TOKEN')!.value).toBe('*** (set)');
    expect(rows.get('BTCBOT_CODEC_TOKEN')!.value).toBe('*** (set)');
    expect(rows.get('BTCBOT_TELEGRAM_CHAT_ID')!.value).toBe('-1001234567');
    expect(rows.get('BTCBOT_TELEGRAM_API_URL')!.value).toBe('http://127.0.0.1:9999');
    expect(rows.get('PAPER_START')!.value).toBe('snapshot');
    const shown = JSON.stringify(r);
    for (const secret of ['sekr1tpath', 'ABCdefGHIjklMNOpqr', 'codec-token-0123456789']) expect(shown).not.toContain(secret);
  });

  test('the *_FILE forms of the secrets are known too', () => {
    const r = report({ BTCBOT_ALERT_WEBHOOK_URL_FILE: '/run/secrets/hook', BTCBOT_TELEGRAM_BOT_TOKEN_FILE: '/run/secrets/tg', BTCBOT_CODEC_TOKEN_FILE: '/run/secrets/codec' });
    expect(r.notRead).toEqual([]);
  });
});
