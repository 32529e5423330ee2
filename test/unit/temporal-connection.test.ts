import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { temporalConnection } from '../../src/temporal-connection.js';
import { makeTestPki, writePem } from '../support/certs.js';

const dir = mkdtempSync(join(tmpdir(), 'btcbot-tls-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const pki = makeTestPki();
const file = (name: string, text: string): string => writePem(dir, name, text);
const paths = {
  TEMPORAL_TLS_CERT: file('client.crt', pki.client.cert),
  TEMPORAL_TLS_KEY: file('client.key', pki.client.key),
  TEMPORAL_TLS_CA: file('ca.crt', pki.ca.cert),
};

describe('Temporal connection options', () => {
  it('without TLS variables or an API key: plaintext, and it says so', () => {
    const t = temporalConnection('127.0.0.1:7233', {});
    expect(t.options).toEqual({ address: '127.0.0.1:7233' });
    expect(t.plaintext).toBe(true);
    expect(t.security).toContain('plaintext');
  });

  it('mTLS: the client certificate pair, the CA and the server name, read from the files the variables name', () => {
    const t = temporalConnection('temporal.internal:7233', { ...paths, TEMPORAL_TLS_SERVER_NAME: 'temporal.test' });
    expect(t.plaintext).toBe(false);
    expect(Buffer.from(t.options.tls!.clientCertPair!.crt).toString()).toBe(pki.client.cert);
    expect(Buffer.from(t.options.tls!.clientCertPair!.key).toString()).toBe(pki.client.key);
    expect(Buffer.from(t.options.tls!.serverRootCACertificate!).toString()).toBe(pki.ca.cert);
    expect(t.options.tls!.serverNameOverride).toBe('temporal.test');
    expect(t.security).toBe(
      `mTLS, client certificate CN=btcbot-worker (TEMPORAL_TLS_CERT=${paths.TEMPORAL_TLS_CERT}); ` +
        `server verified against TEMPORAL_TLS_CA=${paths.TEMPORAL_TLS_CA}; server name temporal.test`,
    );
  });

  it('an API key (Temporal Cloud) turns TLS on with the system CAs, and the description never shows the key', () => {
    const key = 'tmprl-api-key-0123456789';
    const t = temporalConnection('us-east-1.aws.api.temporal.io:7233', { TEMPORAL_API_KEY: key });
    expect(t.options).toEqual({ address: 'us-east-1.aws.api.temporal.io:7233', tls: {}, apiKey: key });
    expect(t.security).toBe('TLS; server verified against the system CAs; API key from TEMPORAL_API_KEY');
    const fromFile = temporalConnection('x:7233', { TEMPORAL_API_KEY_FILE: file('api-key', `${key}\n`) });
    expect(fromFile.options.apiKey).toBe(key);
    expect(fromFile.security).not.toContain(key);
  });

  it('refuses half a certificate pair, PEM text instead of a path, a file that is not PEM, and a key of another certificate', () => {
    expect(() => temporalConnection('x:7233', { TEMPORAL_TLS_CERT: paths.TEMPORAL_TLS_CERT })).toThrow(
      'TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY must be set together',
    );
    expect(() => temporalConnection('x:7233', { ...paths, TEMPORAL_TLS_KEY: pki.client.key })).toThrow(
      'TEMPORAL_TLS_KEY must be the path of a PEM file, not the PEM text itself',
    );
    const junk = file('junk.crt', 'hello');
    expect(() => temporalConnection('x:7233', { TEMPORAL_TLS_CA: junk })).toThrow(`TEMPORAL_TLS_CA=${junk} is not a PEM certificate`);
    const otherKey = file('other.key', pki.strangerClient.key);
    expect(() => temporalConnection('x:7233', { ...paths, TEMPORAL_TLS_KEY: otherKey })).toThrow(
      `TEMPORAL_TLS_KEY=${otherKey} is not the key of TEMPORAL_TLS_CERT=${paths.TEMPORAL_TLS_CERT}`,
    );
    expect(() => temporalConnection('x:7233', { TEMPORAL_TLS_CA: join(dir, 'missing.crt') })).toThrow('cannot be read (ENOENT)');
  });
});
