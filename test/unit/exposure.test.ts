// Real money never rides on a Temporal connection that nobody authenticates and no payload key protects.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { exposureLine, exposureOf, isLoopbackAddress, realMoneyRefusal } from '../../src/cli/exposure.js';
import { temporalConnection } from '../../src/temporal-connection.js';
import { makeTestPki, writePem } from '../support/certs.js';

const dir = mkdtempSync(join(tmpdir(), 'btcbot-exposure-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const pki = makeTestPki();
const mtls = { TEMPORAL_TLS_CERT: writePem(dir, 'c.crt', pki.client.cert), TEMPORAL_TLS_KEY: writePem(dir, 'c.key', pki.client.key) };

const plain = temporalConnection('127.0.0.1:7233', {});
const real = 'https://api.btcturk.com';
const armedWorker = { armed: true, hasCredentials: true, exchangeBaseUrl: real };

describe('who can drive the worker through Temporal', () => {
  it('a live-armed worker with credentials for the real exchange over plaintext, without the payload key, is refused', () => {
    const refusal = realMoneyRefusal({ ...armedWorker, exposure: exposureOf(plain.options, false) });
    expect(refusal).toContain('live trading is armed with BTCTurk credentials for api.btcturk.com');
    expect(refusal).toContain('every local user (127.0.0.1:7233) could read');
    expect(refusal).toContain('set BTCBOT_PAYLOAD_KEY');
    const remote = temporalConnection('temporal.internal:7233', {});
    expect(realMoneyRefusal({ ...armedWorker, exposure: exposureOf(remote.options, false) })).toContain('anyone who reaches temporal.internal:7233');
  });

  it('the payload key, a client certificate or an API key is enough', () => {
    expect(realMoneyRefusal({ ...armedWorker, exposure: exposureOf(plain.options, true) })).toBeNull();
    expect(realMoneyRefusal({ ...armedWorker, exposure: exposureOf(temporalConnection('t:7233', mtls).options, false) })).toBeNull();
    expect(realMoneyRefusal({ ...armedWorker, exposure: exposureOf(temporalConnection('t:7233', { TEMPORAL_API_KEY: 'tmprl-key-0123456789' }).options, false) })).toBeNull();
  });

  it('server-only TLS authenticates nobody: still refused', () => {
    const serverTls = temporalConnection('t:7233', { TEMPORAL_TLS_CA: writePem(dir, 'ca.crt', pki.ca.cert) });
    expect(serverTls.plaintext).toBe(false);
    expect(realMoneyRefusal({ ...armedWorker, exposure: exposureOf(serverTls.options, false) })).not.toBeNull();
  });

  it('no real money, no refusal: not armed, no credentials, or the loopback simulator (chaos runs, tests)', () => {
    const exposure = exposureOf(plain.options, false);
    expect(realMoneyRefusal({ ...armedWorker, armed: false, exposure })).toBeNull();
    expect(realMoneyRefusal({ ...armedWorker, hasCredentials: false, exposure })).toBeNull();
    for (const sim of ['http://127.0.0.1:8099', 'http://localhost:8099', 'http://[::1]:8099', 'https://127.0.0.2:443']) {
      expect(realMoneyRefusal({ ...armedWorker, exchangeBaseUrl: sim, exposure }), sim).toBeNull();
    }
  });

  it('up\'s summary line says what others see, and how to close it', () => {
    expect(exposureLine(exposureOf(plain.options, false))).toBe(
      'no authentication: every local user (127.0.0.1:7233) can read these cycles, payloads included, and start workflows; set BTCBOT_PAYLOAD_KEY',
    );
    expect(exposureLine(exposureOf(plain.options, true))).toContain('sees workflow ids and search attributes; payloads encrypted');
    expect(exposureLine(exposureOf(temporalConnection('t:7233', mtls).options, true))).toBe('clients authenticated; payloads encrypted (BTCBOT_PAYLOAD_KEY)');
  });

  it('loopback addresses', () => {
    expect(['127.0.0.1:7233', 'localhost:7233', '[::1]:7233', '127.1.2.3:1'].map(isLoopbackAddress)).toEqual([true, true, true, true]);
    expect(['10.0.0.1:7233', 'temporal:7233', 'localhost.evil.example:7233', '[::2]:7233'].map(isLoopbackAddress)).toEqual([false, false, false, false]);
  });
});
