// Optional payload encryption for Temporal (BTCBOT_PAYLOAD_KEY): workflow and activity inputs and
// results, signals, queries and memos are stored encrypted with AES-256-GCM. Search attributes,
// workflow ids and failure messages are not payloads and stay readable; they never carry secrets.
// Every worker and client of the namespace must use the same key; the UI shows ciphertext unless
// given a codec endpoint. With a key, decoding refuses anything not encrypted with it: a workflow
// started, signalled or scheduling activities without the key (another workflow on the namespace
// calling btcbot's executeAction, `temporal workflow start` from anyone who can reach the server)
// never reaches btcbot's code. The key is what proves a payload came from one of ours.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { DataConverter, Payload, PayloadCodec } from '@temporalio/common';
import proto from '@temporalio/proto';
import { readSecret } from './secrets.js';

const { Payload: PayloadProto } = proto.temporal.api.common.v1;
/** The encoding of every payload encrypted with the key (the codec server decodes only these). */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class PayloadKeyError extends Error {
  override name = 'ConfigError';
}

export class PayloadDecryptError extends Error {
  override name = 'PayloadDecryptError';
}

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

export class EncryptionCodec implements PayloadCodec {
  constructor(
    private readonly keyId: string,
    private readonly key: Buffer,
  ) {
    if (key.length !== 32) throw new PayloadKeyError('BTCBOT_PAYLOAD_KEY must be 32 bytes, base64-encoded');
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', this.key, iv);
      const plain = PayloadProto.encode(p).finish();
      const data = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
      return { metadata: { encoding: utf8(ENCRYPTED_ENCODING), 'encryption-key-id': utf8(this.keyId) }, data };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => {
      const encoding = p.metadata?.encoding ? Buffer.from(p.metadata.encoding).toString() : '';
      if (encoding !== ENCRYPTED_ENCODING) {
        throw new PayloadDecryptError(
          `payload is not encrypted (encoding ${JSON.stringify(encoding.slice(0, 40))}): with BTCBOT_PAYLOAD_KEY set only payloads ` +
            'encrypted with that key are accepted (sent by a client or workflow without the key)',
        );
      }
      const keyId = Buffer.from(p.metadata?.['encryption-key-id'] ?? []).toString();
      if (keyId !== this.keyId) throw new PayloadDecryptError(`payload encrypted with key id ${JSON.stringify(keyId)}, not ${JSON.stringify(this.keyId)}`);
      const data = Buffer.from(p.data ?? []);
      if (data.length < IV_BYTES + TAG_BYTES) throw new PayloadDecryptError('encrypted payload too short');
      const decipher = createDecipheriv('aes-256-gcm', this.key, data.subarray(0, IV_BYTES));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      try {
        const plain = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
        return PayloadProto.decode(plain);
      } catch {
        throw new PayloadDecryptError('encrypted payload failed authentication (wrong key or tampered data)');
      }
    });
  }
}

/** The data converter for this process: encrypted when BTCBOT_PAYLOAD_KEY (or its _FILE) is set, else the default. */
export function dataConverterFromEnv(env: NodeJS.ProcessEnv = process.env): DataConverter | undefined {
  const raw = readSecret(env, 'BTCBOT_PAYLOAD_KEY');
  if (!raw) return undefined;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(raw)) throw new PayloadKeyError('BTCBOT_PAYLOAD_KEY must be base64');
  const keyId = env.BTCBOT_PAYLOAD_KEY_ID?.trim() || 'k1';
  return { payloadCodecs: [new EncryptionCodec(keyId, Buffer.from(raw, 'base64'))] };
}
