// Secrets from the environment, or from files (`X_FILE=/run/secrets/x`, as Docker secrets are
// mounted): a file keeps the value out of `docker inspect` and out of every child's environment.
// A file, or a `.env`, that other users can read is reported, never silently accepted.
import { closeSync, constants, fstatSync, openSync, readFileSync, statSync, type Stats } from 'node:fs';
import { registerSecret } from './redaction.js';

/** Every secret the project reads; each may come as X or as X_FILE, never both. */
export const SECRET_VARIABLES = [
  'BTCTURK_API_KEY', 'BTCTURK_API_SECRET', 'BTCBOT_PAYLOAD_KEY', 'TEMPORAL_API_KEY',
  // Alert channels (a webhook URL usually carries its own token) and the codec server's token.
  'BTCBOT_ALERT_WEBHOOK_URL', 'BTCBOT_TELEGRAM_BOT_TOKEN', 'BTCBOT_CODEC_TOKEN',
] as const;
export type SecretVariable = (typeof SECRET_VARIABLES)[number];

/** Files that hold key material without being a *_FILE secret (checked for permissions the same way). */
const KEY_FILE_VARIABLES = ['TEMPORAL_TLS_KEY'] as const;

export class SecretConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Readonly<Record<string, string | undefined>>;

const set = (v: string | undefined): string | null => (v === undefined || v.trim() === '' ? null : v.trim());

/**
 * The value of X, or the contents of the file X_FILE names (trimmed); null when neither is set.
 * Whatever is read is registered for redaction: no log line or error message shows it afterwards.
 */
export function readSecret(env: Env, name: SecretVariable): string | null {
  const direct = set(env[name]);
  const file = set(env[`${name}_FILE`]);
  if (direct !== null && file !== null) throw new SecretConfigError(`${name} and ${name}_FILE are both set: set only one`);
  const value = file === null ? direct : readTextFile(`${name}_FILE`, file).trim();
  if (value === '') throw new SecretConfigError(`${name}_FILE=${file} is empty`);
  if (value !== null) registerSecret(value);
  return value;
}

/** Largest secret file read (a key or a token is a few hundred bytes). */
export const MAX_SECRET_FILE_BYTES = 64 * 1024;

/**
 * A file a variable names, with an error that names both and never quotes the contents. Only a
 * regular file of at most `maxBytes`: a FIFO, a device (/dev/zero) or a directory is refused at
 * once instead of hanging start-up or reading without end. Opened non-blocking, so even opening
 * a FIFO with no writer returns.
 */
export function readTextFile(variable: string, path: string, maxBytes = MAX_SECRET_FILE_BYTES): string {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw new SecretConfigError(`${variable}=${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new SecretConfigError(`${variable}=${path} is not a regular file (${fileKind(st)})`);
    if (st.size > maxBytes) throw new SecretConfigError(`${variable}=${path} is ${st.size} bytes, more than the ${maxBytes} a key file may hold`);
    return readFileSync(fd, 'utf8');
  } catch (err) {
    if (err instanceof SecretConfigError) throw err;
    throw new SecretConfigError(`${variable}=${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  } finally {
    closeSync(fd);
  }
}

function fileKind(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isSocket()) return 'a socket';
  return 'not a file';
}

/** The mode bits a group or other users have, or null when the file is private (or missing). */
function othersCanRead(path: string): string | null {
  try {
    const mode = statSync(path).mode & 0o777;
    return (mode & 0o044) === 0 ? null : mode.toString(8).padStart(4, '0');
  } catch {
    return null; // a missing file is reported by whoever reads it
  }
}

/** `NAME=value` with a non-empty value (not `NAME=`, `NAME=""` or `NAME= # comment`). */
const ENV_FILE_SECRET = new RegExp(`^[ \\t]*(?:export[ \\t]+)?(${SECRET_VARIABLES.join('|')})[ \\t]*=[ \\t]*(?!["'\`]?[ \\t]*(?:#|$)|""|''|\`\`)`, 'm');

/** The env files checked when none is named: what `docker compose` reads. */
export const DEFAULT_ENV_FILES: readonly string[] = ['.env'];

/**
 * One line per secret-bearing file that a group or other users can read: every X_FILE, the TLS
 * key, and each of `envFiles` (the env files in use) that assigns a secret a value.
 */
export function secretFileWarnings(env: Env, envFiles: readonly string[]): string[] {
  const warnings: string[] = [];
  const fix = (path: string, mode: string) => `is readable by other users (mode ${mode}): chmod 600 ${path}`;
  const files = [...SECRET_VARIABLES.map((n) => `${n}_FILE`), ...KEY_FILE_VARIABLES];
  for (const variable of files) {
    const path = set(env[variable]);
    const mode = path === null ? null : othersCanRead(path);
    if (path !== null && mode !== null) warnings.push(`${variable}=${path} ${fix(path, mode)}`);
  }
  for (const path of envFiles) {
    const mode = othersCanRead(path);
    if (mode === null) continue;
    let text: string;
    try {
      text = readTextFile(path, path);
    } catch {
      continue; // not a readable regular file: whoever loads it reports that
    }
    const secret = ENV_FILE_SECRET.exec(text)?.[1];
    if (secret !== undefined) warnings.push(`${path} holds ${secret} and ${fix(path, mode)}`);
  }
  return warnings;
}
