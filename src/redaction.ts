// Redaction: one small module that exchange errors, the logger and every printed URL use.
// It must be precise both ways. Registered secrets (the configured API key and secret, and the
// secret's other spellings) go wherever they appear. Beyond those, only text that is shaped like
// a credential goes: an HMAC-SHA256 digest in base64 (an X-Signature), and the value of a
// credential-named field written as `name: value` or `name=value`. Ordinary prose that merely
// mentions a secret ("API secret must be valid base64") stays as it is.

const MARK = '[redacted]';

const registeredSecrets = new Set<string>();

/** Remember a secret so that it is removed from every text redacted afterwards (≥ 8 characters). */
export function registerSecret(secret: string): void {
  if (secret.length >= 8) registeredSecrets.add(secret);
}

/** A base64 HMAC-SHA256 digest (44 characters ending in `=`) standing alone, not inside a longer token. */
const SHA256_BASE64 = /(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{43}=(?![A-Za-z0-9+/=])/g;

/**
 * `x-signature: abc`, `"apiSecret":"abc"`, `password=abc`, `Authorization: Bearer abc`: a field
 * named like a credential, then `:` or `=`, then its value. The name must be the whole word.
 */
const CREDENTIAL_FIELD =
  /(?<![A-Za-z0-9_-])(x-signature|x-pck|api[_-]?secret|api[_-]?key|secret|password|passwd|authorization)(["']?\s*[:=]\s*["']?)((?:bearer\s+)?[^\s"',;&}]+)/gi;

/** Longest text kept; the rest is cut (a 10 MB server message is not a message). */
export const MAX_REDACTED_CHARS = 2_000;

export function redact(text: string): string {
  let out = text;
  // Registered secrets first, on the whole text, so a cut can never leave part of one behind.
  for (const secret of registeredSecrets) out = out.split(secret).join(MARK);
  if (out.length > MAX_REDACTED_CHARS) out = `${out.slice(0, MAX_REDACTED_CHARS)}…[truncated]`;
  return out.replace(CREDENTIAL_FIELD, (_m, name: string, sep: string) => `${name}${sep}${MARK}`).replace(SHA256_BASE64, MARK);
}

/** Query parameters that carry a password in libpq and pg connection strings. */
const PASSWORD_PARAM = /pass/i;

/** A connection string with its password masked, wherever it is (user info or `?password=`), for printing. */
export function redactUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return '<unparseable url>';
  }
  if (u.password) u.password = '***';
  for (const key of [...u.searchParams.keys()]) if (PASSWORD_PARAM.test(key)) u.searchParams.set(key, '***');
  return u.toString();
}
