import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { BtcturkSigner, signBtcturk, validateCredentials } from '../../../src/exchange/btcturk/auth.js';
import { ExchangeConfigError } from '../../../src/exchange/errors.js';

const apiKey = 'sim-public-key-0001';
const apiSecret = 'c2ltLXNlY3JldC1ieXRlcy0wMTIzNDU2Nzg5YWJjZGVm';

describe('BTCTurk auth', () => {
  it('signs key + stamp with the base64-decoded secret (reference §3 test vector)', () => {
    expect(signBtcturk(apiKey, Buffer.from(apiSecret, 'base64'), '1700000000000')).toBe('zU/6X+8hqv19Eg5m4EDoaSMubDbWPMW4FKyaZ5NlsMc=');
    // The classic mistake (secret text bytes as the key) gives the documented wrong value.
    expect(signBtcturk(apiKey, Buffer.from(apiSecret, 'utf8'), '1700000000000')).toBe('PEYFta49A+0X6Z95vapsef+I7jqzA3JFR6w/MIor8tU=');
  });

  it('headers carry X-PCK, X-Stamp and X-Signature', () => {
    const signer = new BtcturkSigner({ apiKey, apiSecret });
    expect(signer.headers(1_700_000_000_000)).toEqual({
      'X-PCK': apiKey,
      'X-Stamp': '1700000000000',
      'X-Signature': 'zU/6X+8hqv19Eg5m4EDoaSMubDbWPMW4FKyaZ5NlsMc=',
    });
  });

  it('stamps strictly increase when the clock repeats or steps back', () => {
    const signer = new BtcturkSigner({ apiKey, apiSecret });
    const stamps = [1000, 1000, 1000, 999, 1500, 1200].map((t) => signer.nextStamp(t));
    expect(stamps).toEqual([1000, 1001, 1002, 1003, 1500, 1501]);
  });

  it.each([
    ['a missing key', { apiKey: '', apiSecret }],
    ['a missing secret', { apiKey, apiSecret: '' }],
    ['a secret that is not base64', { apiKey, apiSecret: 'this is not base64!' }],
    ['an unpadded secret', { apiKey, apiSecret: 'c2ltLXNlY3JldA' }],
  ])('%s is an ExchangeConfigError that does not echo the secret', (_what, creds) => {
    let err: unknown;
    try {
      validateCredentials(creds);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ExchangeConfigError);
    if (creds.apiSecret !== '') expect((err as Error).message).not.toContain(creds.apiSecret);
  });

  it('the signer never prints its secret', () => {
    const signer = new BtcturkSigner({ apiKey, apiSecret });
    expect(JSON.stringify({ signer })).not.toContain(apiSecret);
    expect(inspect(signer)).not.toContain(apiSecret);
  });
});
