// How every process reaches Temporal: the worker (NativeConnection) and every client command
// (Connection) build their options here, from the same variables the Temporal CLI reads:
//   TEMPORAL_TLS_CERT, TEMPORAL_TLS_KEY  paths to the client certificate and key (PEM): mTLS
//   TEMPORAL_TLS_CA                      path to the CA that signed the server (PEM); unset = system roots
//   TEMPORAL_TLS_SERVER_NAME             the name the server's certificate must carry (SNI), if not the host
//   TEMPORAL_API_KEY (or _FILE)          an API key (Temporal Cloud), sent as a bearer token over TLS
// TLS variables are file paths, never PEM text: key material stays in files (Docker secrets,
// mounted volumes) and out of the environment. Without any of them the connection is plaintext,
// which is right only for a dev server on loopback.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import type { TLSConfig } from '@temporalio/client';
import { readSecret, readTextFile, SecretConfigError } from './secrets.js';

/** What both `Connection.connect` and `NativeConnection.connect` accept. */
export interface TemporalConnectOptions {
  address: string;
  tls?: TLSConfig;
  apiKey?: string;
}

export interface TemporalConnection {
  options: TemporalConnectOptions;
  /** For `doctor` and start-up lines: what protects the connection. Never holds a secret. */
  security: string;
  /** True when nothing protects it (no TLS). */
  plaintext: boolean;
}

type Env = Readonly<Record<string, string | undefined>>;

/** A CA file may be a whole bundle (the system's is ~200 KiB). */
const MAX_PEM_FILE_BYTES = 4 * 1024 * 1024;

const set = (env: Env, name: string): string | null => env[name]?.trim() || null;

function pemFile(env: Env, name: string, kind: 'certificate' | 'private key'): Buffer | null {
  const path = set(env, name);
  if (path === null) return null;
  if (path.startsWith('-----BEGIN')) throw new SecretConfigError(`${name} must be the path of a PEM file, not the PEM text itself`);
  const text = readTextFile(name, path, MAX_PEM_FILE_BYTES);
  try {
    if (kind === 'certificate') new X509Certificate(text);
    else createPrivateKey(text);
  } catch {
    throw new SecretConfigError(`${name}=${path} is not a PEM ${kind}`);
  }
  return Buffer.from(text);
}

/** The connection to TEMPORAL_ADDRESS (given as `address`) with the security the environment asks for. */
export function temporalConnection(address: string, env: Env = process.env): TemporalConnection {
  const cert = pemFile(env, 'TEMPORAL_TLS_CERT', 'certificate');
  const key = pemFile(env, 'TEMPORAL_TLS_KEY', 'private key');
  if ((cert === null) !== (key === null)) {
    throw new SecretConfigError('TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY must be set together (the client certificate and its key)');
  }
  if (cert && key && !new X509Certificate(cert).checkPrivateKey(createPrivateKey(key))) {
    throw new SecretConfigError(`TEMPORAL_TLS_KEY=${set(env, 'TEMPORAL_TLS_KEY')} is not the key of TEMPORAL_TLS_CERT=${set(env, 'TEMPORAL_TLS_CERT')}`);
  }
  const ca = pemFile(env, 'TEMPORAL_TLS_CA', 'certificate');
  const serverName = set(env, 'TEMPORAL_TLS_SERVER_NAME');
  const apiKey = readSecret(env, 'TEMPORAL_API_KEY');

  if (!cert && !ca && !serverName && !apiKey) {
    return { options: { address }, security: 'plaintext (no TLS, no API key)', plaintext: true };
  }
  const tls: TLSConfig = {
    ...(cert && key ? { clientCertPair: { crt: cert, key } } : {}),
    ...(ca ? { serverRootCACertificate: ca } : {}),
    ...(serverName ? { serverNameOverride: serverName } : {}),
  };
  const parts = [
    cert ? `mTLS, client certificate ${subjectOf(cert)} (TEMPORAL_TLS_CERT=${set(env, 'TEMPORAL_TLS_CERT')})` : 'TLS',
    ca ? `server verified against TEMPORAL_TLS_CA=${set(env, 'TEMPORAL_TLS_CA')}` : 'server verified against the system CAs',
    ...(serverName ? [`server name ${serverName}`] : []),
    ...(apiKey ? [`API key from ${set(env, 'TEMPORAL_API_KEY_FILE') ? 'TEMPORAL_API_KEY_FILE' : 'TEMPORAL_API_KEY'}`] : []),
  ];
  return { options: { address, tls, ...(apiKey ? { apiKey } : {}) }, security: parts.join('; '), plaintext: false };
}

function subjectOf(pem: Buffer): string {
  return new X509Certificate(pem).subject.replace(/\n/g, ', ');
}
