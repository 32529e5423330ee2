import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dataConverterFromEnv } from '../../src/codec.js';
import { MAX_SECRET_FILE_BYTES, readSecret, secretFileWarnings } from '../../src/secrets.js';
import { redact } from '../../src/redaction.js';
import { loadInfraSettings } from '../../src/settings.js';

const dir = mkdtempSync(join(tmpdir(), 'btcbot-secrets-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A file holding `text`, with `mode`. */
function secretFile(name: string, text: string, mode = 0o600): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  chmodSync(path, mode);
  return path;
}

const KEY = 'ak-0123456789abcdef';
const SECRET = Buffer.from('a secret of thirty-two bytes!!!!').toString('base64');

describe('secrets from files (*_FILE, Docker secrets)', () => {
  it('reads the API key and secret from their files, without the trailing newline', () => {
    const settings = loadInfraSettings({
      BTCTURK_API_KEY_FILE: secretFile('key', `${KEY}\n`),
      BTCTURK_API_SECRET_FILE: secretFile('secret', `${SECRET}\n`),
    });
    expect(settings.credentials).toEqual({ apiKey: KEY, apiSecret: SECRET });
  });

  it('reads the payload key from BTCBOT_PAYLOAD_KEY_FILE: the codec encrypts with it', async () => {
    const key = Buffer.alloc(32, 7).toString('base64');
    const fromFile = dataConverterFromEnv({ BTCBOT_PAYLOAD_KEY_FILE: secretFile('payload', `${key}\n`) });
    const fromVar = dataConverterFromEnv({ BTCBOT_PAYLOAD_KEY: key });
    const [encoded] = await fromFile!.payloadCodecs![0]!.encode([{ metadata: {}, data: new TextEncoder().encode('"x"') }]);
    const [decoded] = await fromVar!.payloadCodecs![0]!.decode([encoded!]);
    expect(new TextDecoder().decode(decoded!.data!)).toBe('"x"');
  });

  it('setting both X and X_FILE is an error naming both', () => {
    const file = secretFile('both', KEY);
    for (const name of ['BTCTURK_API_KEY', 'BTCTURK_API_SECRET', 'BTCBOT_PAYLOAD_KEY', 'TEMPORAL_API_KEY'] as const) {
      expect(() => readSecret({ [name]: KEY, [`${name}_FILE`]: file }, name)).toThrow(`${name} and ${name}_FILE are both set`);
    }
  });

  it('a missing or empty file is an error naming the variable and the path, never a silent "not set"', () => {
    const missing = join(dir, 'nope');
    expect(() => loadInfraSettings({ BTCTURK_API_KEY_FILE: missing, BTCTURK_API_SECRET: SECRET })).toThrow(
      `BTCTURK_API_KEY_FILE=${missing} cannot be read (ENOENT)`,
    );
    const empty = secretFile('empty', '\n');
    expect(() => readSecret({ BTCTURK_API_SECRET_FILE: empty }, 'BTCTURK_API_SECRET')).toThrow(`BTCTURK_API_SECRET_FILE=${empty} is empty`);
  });

  it('a FIFO, a device or a directory is refused at once with an error naming the variable, never read (start-up would hang)', () => {
    const fifo = join(dir, 'fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    expect(() => readSecret({ BTCTURK_API_SECRET_FILE: fifo }, 'BTCTURK_API_SECRET')).toThrow(`BTCTURK_API_SECRET_FILE=${fifo} is not a regular file (a FIFO)`);
    expect(() => readSecret({ BTCTURK_API_KEY_FILE: '/dev/zero' }, 'BTCTURK_API_KEY')).toThrow('BTCTURK_API_KEY_FILE=/dev/zero is not a regular file (a device)');
    expect(() => readSecret({ TEMPORAL_API_KEY_FILE: dir }, 'TEMPORAL_API_KEY')).toThrow(`TEMPORAL_API_KEY_FILE=${dir} is not a regular file (a directory)`);
    expect(secretFileWarnings({}, [fifo])).toEqual([]); // a FIFO as the env file does not hang the check either
  });

  it('a file larger than 64 KiB is refused, naming the variable', () => {
    const big = secretFile('big', 'x'.repeat(MAX_SECRET_FILE_BYTES + 1));
    expect(() => readSecret({ BTCBOT_PAYLOAD_KEY_FILE: big }, 'BTCBOT_PAYLOAD_KEY')).toThrow(`BTCBOT_PAYLOAD_KEY_FILE=${big} is ${MAX_SECRET_FILE_BYTES + 1} bytes`);
    expect(readSecret({ BTCBOT_PAYLOAD_KEY_FILE: secretFile('max', 'y'.repeat(MAX_SECRET_FILE_BYTES)) }, 'BTCBOT_PAYLOAD_KEY')).toHaveLength(MAX_SECRET_FILE_BYTES);
  });

  it('every secret read, from the variable or its file, is registered for redaction (TEMPORAL_API_KEY too)', () => {
    const temporalKey = 'tmprl-canary-api-key-0a1b2c3d';
    const fileSecret = 'canary-from-a-file-9f8e7d6c';
    expect(redact(`dial failed with ${temporalKey}`)).toContain(temporalKey); // not yet known
    readSecret({ TEMPORAL_API_KEY: temporalKey }, 'TEMPORAL_API_KEY');
    readSecret({ BTCTURK_API_KEY_FILE: secretFile('registered', `${fileSecret}\n`) }, 'BTCTURK_API_KEY');
    expect(redact(`dial failed with ${temporalKey} and ${fileSecret}`)).toBe('dial failed with [redacted] and [redacted]');
  });

  it('a malformed key read from a file is an error that does not quote the file contents', () => {
    const notBase64 = secretFile('garbage', 'not-base64-secret-value!!');
    expect(() => dataConverterFromEnv({ BTCBOT_PAYLOAD_KEY_FILE: notBase64 })).toThrow(/^BTCBOT_PAYLOAD_KEY must be base64$/);
  });
});

describe('warnings about secret files other users can read', () => {
  it('warns for a group- or world-readable *_FILE and says how to fix it; a 0600 file is fine', () => {
    const open = secretFile('open-secret', SECRET, 0o644);
    const groupOnly = secretFile('group-secret', SECRET, 0o640);
    const closed = secretFile('closed-secret', SECRET, 0o600);
    expect(secretFileWarnings({ BTCTURK_API_SECRET_FILE: open, BTCTURK_API_KEY_FILE: closed }, [])).toEqual([
      `BTCTURK_API_SECRET_FILE=${open} is readable by other users (mode 0644): chmod 600 ${open}`,
    ]);
    expect(secretFileWarnings({ BTCBOT_PAYLOAD_KEY_FILE: groupOnly }, [])).toEqual([
      `BTCBOT_PAYLOAD_KEY_FILE=${groupOnly} is readable by other users (mode 0640): chmod 600 ${groupOnly}`,
    ]);
  });

  it('warns for the TLS key file too', () => {
    const key = secretFile('client.key', '-----BEGIN PRIVATE KEY-----\n', 0o604);
    expect(secretFileWarnings({ TEMPORAL_TLS_KEY: key }, [])).toEqual([`TEMPORAL_TLS_KEY=${key} is readable by other users (mode 0604): chmod 600 ${key}`]);
  });

  it('warns for a readable .env only when it assigns a secret a value', () => {
    const withSecret = secretFile('with.env', `KILL_SWITCH=true\nexport BTCTURK_API_SECRET="${SECRET}"\n`, 0o644);
    const emptySecrets = secretFile('empty.env', 'BTCTURK_API_KEY=\nBTCTURK_API_SECRET=""\nBTCBOT_PAYLOAD_KEY=   # later\nDRY_RUN=true\n', 0o644);
    const privateEnv = secretFile('private.env', `BTCTURK_API_SECRET=${SECRET}\n`, 0o600);
    expect(secretFileWarnings({}, [withSecret, emptySecrets, privateEnv, join(dir, 'absent.env')])).toEqual([
      `${withSecret} holds BTCTURK_API_SECRET and is readable by other users (mode 0644): chmod 600 ${withSecret}`,
    ]);
  });
});
