// X.509 certificates made in the test, with nothing but node:crypto (no openssl binary, no npm
// package): a CA, a server certificate for 127.0.0.1/localhost and client certificates it signs.
// Just enough DER for a v3 certificate with ECDSA P-256 keys and the extensions TLS stacks check
// (rustls in the worker's native core is strict: v3, SAN, CA basic constraints, key usage).
import { generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
const tlv = (tag: number, ...parts: Buffer[]): Buffer => {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([tag]), length(body.length), body]);
};
const seq = (...parts: Buffer[]) => tlv(0x30, ...parts);
const set = (...parts: Buffer[]) => tlv(0x31, ...parts);
const int = (bytes: Buffer): Buffer => {
  let b = bytes;
  while (b.length > 1 && b[0] === 0) b = b.subarray(1);
  return tlv(0x02, (b[0]! & 0x80) !== 0 ? Buffer.concat([Buffer.from([0]), b]) : b);
};
const oid = (dotted: string): Buffer => {
  const [a, b, ...rest] = dotted.split('.').map(Number);
  const out = [a! * 40 + b!];
  for (const arc of rest) {
    const chunk: number[] = [];
    for (let v = arc; ; v = Math.floor(v / 128)) {
      chunk.unshift((v % 128) | (chunk.length ? 0x80 : 0));
      if (v < 128) break;
    }
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
};
const utcTime = (d: Date): Buffer => tlv(0x17, Buffer.from(`${d.toISOString().slice(2, 19).replace(/[-:T]/g, '')}Z`));
const bits = (byte: number): Buffer => {
  let unused = 0;
  while (unused < 7 && ((byte >> unused) & 1) === 0) unused++;
  return tlv(0x03, Buffer.from([unused, byte]));
};
const name = (cn: string): Buffer => seq(set(seq(oid('2.5.4.3'), tlv(0x0c, Buffer.from(cn)))));
const extension = (id: string, critical: boolean, value: Buffer): Buffer =>
  seq(oid(id), ...(critical ? [tlv(0x01, Buffer.from([0xff]))] : []), tlv(0x04, value));

const ECDSA_SHA256 = seq(oid('1.2.840.10045.4.3.2'));
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

export interface Issued {
  /** PEM */
  cert: string;
  /** PEM, PKCS#8 */
  key: string;
}

interface Signer {
  name: string;
  key: KeyObject;
}

function issue(
  subject: string,
  issuer: Signer | 'self',
  kind: { ca: true } | { ca: false; usage: string; dnsNames?: string[]; ips?: string[] },
): Issued & { signer: Signer } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const signer = issuer === 'self' ? { name: subject, key: privateKey } : issuer;
  const now = Date.now();
  const extensions = kind.ca
    ? [extension('2.5.29.19', true, seq(tlv(0x01, Buffer.from([0xff])))), extension('2.5.29.15', true, bits(0x86))]
    : [
        extension('2.5.29.19', true, seq()),
        extension('2.5.29.15', true, bits(0x80)),
        extension('2.5.29.37', false, seq(oid(kind.usage))),
        ...(kind.dnsNames || kind.ips
          ? [extension('2.5.29.17', false, seq(
              ...(kind.dnsNames ?? []).map((d) => tlv(0x82, Buffer.from(d))),
              ...(kind.ips ?? []).map((ip) => tlv(0x87, Buffer.from(ip.split('.').map(Number)))),
            ))]
          : []),
      ];
  const tbs = seq(
    tlv(0xa0, int(Buffer.from([2]))),
    int(Buffer.concat([Buffer.from([0x01]), randomBytes(15)])),
    ECDSA_SHA256,
    name(signer.name),
    seq(utcTime(new Date(now - 3_600_000)), utcTime(new Date(now + 86_400_000))),
    name(subject),
    publicKey.export({ type: 'spki', format: 'der' }),
    tlv(0xa3, seq(...extensions)),
  );
  const der = seq(tbs, ECDSA_SHA256, tlv(0x03, Buffer.concat([Buffer.from([0]), sign('sha256', tbs, signer.key)])));
  const cert = `-----BEGIN CERTIFICATE-----\n${der.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;
  return { cert, key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), signer: { name: subject, key: privateKey } };
}

export interface TestPki {
  ca: Issued;
  /** For 127.0.0.1 and localhost. */
  server: Issued;
  /** Signed by the CA, for clientAuth. */
  client: Issued;
  /** A client certificate from a CA the server does not trust. */
  strangerClient: Issued;
}

export function makeTestPki(): TestPki {
  const ca = issue('btcbot test CA', 'self', { ca: true });
  const otherCa = issue('some other CA', 'self', { ca: true });
  const strip = ({ cert, key }: Issued): Issued => ({ cert, key });
  return {
    ca: strip(ca),
    server: strip(issue('temporal.test', ca.signer, { ca: false, usage: SERVER_AUTH, dnsNames: ['localhost', 'temporal.test'], ips: ['127.0.0.1'] })),
    client: strip(issue('btcbot-worker', ca.signer, { ca: false, usage: CLIENT_AUTH })),
    strangerClient: strip(issue('intruder', otherCa.signer, { ca: false, usage: CLIENT_AUTH })),
  };
}

/** Write `text` to `dir/name`, mode 0600 (as key material should be); returns the path. */
export function writePem(dir: string, name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  chmodSync(path, 0o600);
  return path;
}
