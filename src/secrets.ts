// Secrets from the environment, or from files (`X_FILE=/run/secrets/x`, as Docker secrets are
// mounted): a file keeps the value out of `docker inspect` and out of every child's environment.
// A file, or a `.env`, that other users can read is reported, never silently accepted.
import { readFileSync, statSync } from 'node:fs';
import { registerSecret } from './redaction.js';

/** Every secret the project reads; each may come as X or as X_FILE, never both. */
export const SECRET_VARIABLES = ['BTCTURK_API_KEY', 'BTCTURK_API_SECRET', 'BTCBOT_PAYLOAD_KEY', 'TEMPORAL_API_KEY'] as const;
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

/** A file a variable names, with an error that names both and never quotes the contents. */
export function readTextFile(variable: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new SecretConfigError(`${variable}=${path} cannot be read (${code})`);
  }
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

/**
 * One line per secret-bearing file that a group or other users can read: every X_FILE, the TLS
 * key, and each of `envFiles` (`.env`) that assigns a secret a value.
 */
export function secretFileWarnings(env: Env, envFiles: readonly string[] = ['.env']): string[] {
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
      text = readFileSync(path, 'utf8');
    } catch {
      continue;
    }
    const secret = ENV_FILE_SECRET.exec(text)?.[1];
    if (secret !== undefined) warnings.push(`${path} holds ${secret} and ${fix(path, mode)}`);
  }
  return warnings;
}
