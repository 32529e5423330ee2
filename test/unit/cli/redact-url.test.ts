// Credentials inside URLs never reach the terminal: `btcbot config`, `doctor`, `up`, `halt` and the
// stack record print URLs through redactUrl.
import { describe, expect, test } from 'vitest';
import { configReport } from '../../../src/cli/config.js';
import { redactUrl } from '../../../src/redaction.js';

describe('redactUrl', () => {
  test('drops user info and masks password, sslpassword and *key query parameters; keeps the rest', () => {
    expect(redactUrl('https://apiuser:hunter2@api.btcturk.com/path?x=1')).toBe('https://***@api.btcturk.com/path?x=1');
    expect(redactUrl('postgres://btcbot:pw@db:5432/btcbot?sslmode=require&password=hunter2&sslpassword=s3&sslkey=%2Fk&apikey=a&api_key=b'))
      .toBe('postgres://btcbot:***@db:5432/btcbot?sslmode=require&password=***&sslpassword=***&sslkey=***&apikey=***&api_key=***');
    expect(redactUrl('postgres://btcbot@127.0.0.1:5432/btcbot')).toBe('postgres://btcbot@127.0.0.1:5432/btcbot');
    expect(redactUrl('https://api.btcturk.com')).toBe('https://api.btcturk.com'); // nothing to hide: as given
    expect(redactUrl('not a url hunter2')).toBe('<unparseable url>');
  });
});

describe('btcbot config', () => {
  test('prints no credential that sits inside a URL (BTCTURK_BASE_URL user info, DATABASE_URL ?password=)', () => {
    const env = {
      BTCTURK_BASE_URL: 'https://apiuser:hunter2-basepw@api.btcturk.com',
      DATABASE_URL: 'postgres://btcbot@127.0.0.1:39023/btcbot?password=hunter2-querypw',
    };
    const sources = {
      envFile: { path: '/x/.env', explicit: false, found: true, applied: Object.keys(env), shadowed: [], problems: [] },
      stackRecordFile: null,
      sourceOf: () => 'env file' as const,
    };
    const report = configReport(env, sources);
    const printed = JSON.stringify(report);
    expect(printed).not.toContain('hunter2');
    const row = (name: string) => report.groups.flatMap(([, rows]) => rows).find((r) => r.name === name)?.value;
    expect(row('BTCTURK_BASE_URL')).toBe('https://***@api.btcturk.com/');
    expect(row('DATABASE_URL')).toBe('postgres://btcbot@127.0.0.1:39023/btcbot?password=***');
  });
});
