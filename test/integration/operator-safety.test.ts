// What an operator types and reads: `halt --reason` refuses control characters, `status` never
// prints stored control characters raw, and secrets given as files (Docker secrets) work, with a
// warning when other users can read them.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { startSimulator, type RunningSimulator } from '../../src/simulator/server.js';
import { clearHalt, getHalt, setHalt } from '../../src/store/runtime.js';
import { btcbot } from './cli-harness.js';
import { createTestDatabase } from './harness.js';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let simulator: RunningSimulator;
const dir = mkdtempSync(join(tmpdir(), 'btcbot-ops-sec-'));

beforeAll(async () => {
  [db, simulator] = await Promise.all([createTestDatabase(), startSimulator()]);
});
afterAll(async () => {
  await simulator?.close();
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

const env = () => ({ DATABASE_URL: db.url, TEMPORAL_ADDRESS: inject('temporalAddress') });
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\p{Cf}\u2028\u2029]/u;

describe('halt --reason and status', () => {
  test('a --reason with control characters is refused with exit 2, and nothing is halted', async () => {
    const reasons = ['ok\u001b[2K\rhalt: not halted', 'two\nlines', 'rtl \u202eevil', 'zero\u200bwidth'];
    const exits = await Promise.all(reasons.map((reason) => btcbot(['halt', '--reason', reason], env()).exited));
    for (const [i, { code, stderr }] of exits.entries()) {
      expect(code, JSON.stringify(reasons[i])).toBe(2);
      expect(stderr).toContain('--reason must not contain control characters');
    }
    expect(await getHalt(db.pool)).toBeNull();
  });

  test('status shows a stored reason with control characters escaped, in text and in JSON', async () => {
    const reason = 'drift\u001b[2J\u001b[Hhalt: not halted\u009b31m';
    await setHalt(db.pool, { reason, haltedAt: new Date().toISOString(), by: 'old\rversion' });
    try {
      const text = await btcbot(['status'], env()).exited;
      expect(text.code).toBe(0);
      expect(RAW_CONTROL.test(text.stdout)).toBe(false);
      expect(text.stdout).toContain('by old\\u000dversion: drift\\u001b[2J\\u001b[Hhalt: not halted\\u009b31m');
      const json = await btcbot(['status', '--json'], env()).exited;
      expect(RAW_CONTROL.test(json.stdout)).toBe(false);
      expect((JSON.parse(json.stdout) as { halt: { reason: string } }).halt.reason).toBe(reason); // the same value, escaped
    } finally {
      await clearHalt(db.pool);
    }
  });
});

describe('secrets from files', () => {
  const file = (name: string, text: string, mode: number): string => {
    const path = join(dir, name);
    writeFileSync(path, `${text}\n`);
    chmodSync(path, mode);
    return path;
  };

  test('doctor reads the key and secret from *_FILE, signs with them, warns that the secret file is readable by others, and (armed) reminds once what the key should allow', async () => {
    const keyFile = file('api_key', simulator.credentials.apiKey, 0o600);
    const secretFile = file('api_secret', simulator.credentials.apiSecret, 0o644);
    const { stdout } = await btcbot(['doctor'], {
      ...env(), BTCTURK_BASE_URL: simulator.url, BTCTURK_API_KEY_FILE: keyFile, BTCTURK_API_SECRET_FILE: secretFile,
      KILL_SWITCH: 'false', DRY_RUN: 'false', LIVE_TRADING: 'true', LIVE_TRADING_ACK: 'I_UNDERSTAND',
    }).exited;
    expect(stdout.split('\n').filter((l) => l.startsWith('note: live trading is armed'))).toHaveLength(1);
    expect(stdout).toContain('no withdrawal permission');
    expect(stdout).toMatch(/ok\s+credentials\s+key sim-…0001: balances readable/);
    expect(stdout).toContain(`warn  secret files`);
    expect(stdout).toContain(`BTCTURK_API_SECRET_FILE=${secretFile} is readable by other users (mode 0644): chmod 600 ${secretFile}`);
    expect(stdout).not.toContain(simulator.credentials.apiSecret);
    // The dev server has no authentication: doctor says who else can drive the worker, and how to close it.
    expect(stdout).toMatch(/warn\s+temporal security\s+plaintext \(no TLS, no API key\), no BTCBOT_PAYLOAD_KEY: every local user \(127\.0\.0\.1:\d+\) can read every cycle's payloads/);
    expect(stdout).toContain('set BTCBOT_PAYLOAD_KEY');
  });

  test('a worker given both BTCTURK_API_SECRET and BTCTURK_API_SECRET_FILE refuses to start, naming both', async () => {
    const secretFile = file('api_secret_2', simulator.credentials.apiSecret, 0o600);
    const { code, stderr } = await btcbot(['worker'], {
      ...env(), BTCTURK_BASE_URL: simulator.url, BTCTURK_API_KEY: simulator.credentials.apiKey,
      BTCTURK_API_SECRET: simulator.credentials.apiSecret, BTCTURK_API_SECRET_FILE: secretFile,
    }).exited;
    expect(code).toBe(2);
    expect(stderr).toContain('BTCTURK_API_SECRET and BTCTURK_API_SECRET_FILE are both set: set only one');
    expect(stderr).not.toContain(simulator.credentials.apiSecret);
  });
});

describe('real money over an open Temporal', () => {
  test('a live-armed worker with credentials for the real exchange, over plaintext Temporal without the payload key, exits 2 before any network call', async () => {
    let connections = 0;
    const trap = createServer((socket) => {
      connections += 1;
      socket.destroy();
    });
    await new Promise<void>((resolve) => trap.listen(0, '127.0.0.1', resolve));
    const at = `127.0.0.1:${(trap.address() as AddressInfo).port}`;
    try {
      const { code, stderr } = await btcbot(['worker'], {
        TEMPORAL_ADDRESS: at, DATABASE_URL: `postgres://btcbot:pw@${at}/btcbot`,
        BTCTURK_BASE_URL: 'https://api.btcturk.com', BTCTURK_API_KEY: 'canary-real-key-0123', BTCTURK_API_SECRET: Buffer.alloc(32, 5).toString('base64'),
        KILL_SWITCH: 'false', DRY_RUN: 'false', LIVE_TRADING: 'true', LIVE_TRADING_ACK: 'I_UNDERSTAND',
      }).exited;
      expect(code).toBe(2);
      expect(stderr).toContain('refusing to start: live trading is armed with BTCTurk credentials for api.btcturk.com');
      expect(stderr).toContain(`every local user (${at}) could read this account's cycles`);
      expect(stderr).toContain('set BTCBOT_PAYLOAD_KEY');
      expect(connections).toBe(0); // neither Temporal nor Postgres was contacted
    } finally {
      trap.close();
    }
  });
});
