// Payload encryption: round trip, authentication, key handling.
import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter } from '@temporalio/common';
import { describe, expect, test } from 'vitest';
import { dataConverterFromEnv, EncryptionCodec, PayloadDecryptError } from '../../src/codec.js';

const key = randomBytes(32);
const codec = new EncryptionCodec('k1', key);
const payload = defaultPayloadConverter.toPayload({ symbol: 'BTCTRY', price: '3400000' });

describe('EncryptionCodec', () => {
  test('round-trips a payload and hides its content', async () => {
    const [enc] = await codec.encode([payload]);
    expect(Buffer.from(enc!.data!).toString('latin1')).not.toContain('BTCTRY');
    expect(Buffer.from(enc!.metadata!.encoding!).toString()).toBe('binary/encrypted');
    const [dec] = await codec.decode([enc!]);
    expect(defaultPayloadConverter.fromPayload(dec!)).toEqual({ symbol: 'BTCTRY', price: '3400000' });
  });

  test('refuses tampered ciphertext', async () => {
    const [enc] = await codec.encode([payload]);
    const data = Buffer.from(enc!.data!);
    data[20] = data[20]! ^ 0xff;
    await expect(codec.decode([{ ...enc!, data }])).rejects.toBeInstanceOf(PayloadDecryptError);
  });

  test('refuses a payload encrypted under another key id, and one from another key', async () => {
    const [enc] = await new EncryptionCodec('k2', key).encode([payload]);
    await expect(codec.decode([enc!])).rejects.toThrow(/key id "k2"/);
    const [other] = await new EncryptionCodec('k1', randomBytes(32)).encode([payload]);
    await expect(codec.decode([other!])).rejects.toBeInstanceOf(PayloadDecryptError);
  });

  test('refuses an unencrypted payload: only holders of the key can start cycles or schedule activities', async () => {
    await expect(codec.decode([payload])).rejects.toThrow(PayloadDecryptError);
    await expect(codec.decode([payload])).rejects.toThrow(/not encrypted .*"json\/plain"/);
    const nullPayload = defaultPayloadConverter.toPayload(undefined);
    await expect(codec.decode([nullPayload])).rejects.toThrow(/not encrypted/);
  });
});

describe('dataConverterFromEnv', () => {
  test('is off without BTCBOT_PAYLOAD_KEY and on with a valid key', () => {
    expect(dataConverterFromEnv({})).toBeUndefined();
    expect(dataConverterFromEnv({ BTCBOT_PAYLOAD_KEY: key.toString('base64') })?.payloadCodecs).toHaveLength(1);
  });

  test('rejects a key that is not base64 or not 32 bytes, naming the variable', () => {
    expect(() => dataConverterFromEnv({ BTCBOT_PAYLOAD_KEY: 'not base64!' })).toThrow(/BTCBOT_PAYLOAD_KEY/);
    expect(() => dataConverterFromEnv({ BTCBOT_PAYLOAD_KEY: randomBytes(16).toString('base64') })).toThrow(/32 bytes/);
  });
});
