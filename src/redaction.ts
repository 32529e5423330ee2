// Redaction: one small module that exchange errors, the logger and every printed URL use.
// It must be precise both ways. Registered secrets (the configured API key and secret, and the
// secret's other spellings, every *_FILE secret, TEMPORAL_API_KEY) go wherever they appear. Beyond
// those, only text that is shaped like a credential goes: an HMAC-SHA256 digest in base64 (an
// X-Signature), the value of a credential-named field written as `name: value` or `name=value`
// (`BTCTURK_API_SECRET=…`, `x-api-key: …`, `Authorization: Basic …`), and a credential-shaped token
// right after a credential word (`secret Zm9v…`). Ordinary prose that merely mentions a secret
// ("API secret must be valid base64") stays as it is.

const MARK = '[redacted]';

const registeredSecrets = new Set<string>();

/** Remember a secret so that it is removed from every text redacted afterwards (≥ 8 characters). */
export function registerSecret(secret: string): void {
  if (secret.length >= 8) registeredSecrets.add(secret);
}

/** A base64 HMAC-SHA256 digest (44 characters ending in `=`) standing alone, not inside a longer token. */
const SHA256_BASE64 = /(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{43}=(?![A-Za-z0-9+/=])/g;

/** Words that name a credential. A field's name may carry a prefix (`BTCTURK_API_SECRET`, `x-api-key`, `client_secret`). */
const CREDENTIAL_NAME =
  '(?:api[_-]?secret|client[_-]?secret|secret|api[_-]?key|payload[_-]?key|private[_-]?key|secret[_-]?key|access[_-]?key|' +
  'password|passwd|x-signature|signature|x-pck|authorization|access[_-]?token|token)';

/**
 * `x-signature: abc`, `"btcturk_api_secret":"abc"`, `TEMPORAL_API_KEY=abc`, `Authorization: Basic abc`:
 * a field named like a credential (the whole name: `BTCTURK_API_SECRET_FILE=/path` is a path, kept),
 * then `:` or `=`, then its value (an auth scheme and its credential together).
 */
const CREDENTIAL_FIELD = new RegExp(
  `(?<![A-Za-z0-9_-])((?:[A-Za-z0-9]+[_-])*?${CREDENTIAL_NAME})(?![A-Za-z0-9_-])(["']?\\s*[:=]\\s*["']?)` +
    `((?:(?:basic|bearer|digest|token|negotiate)\\s+)?[^\\s"',;&}]+)`,
  'gi',
);

/**
 * `invalid secret Zm9vYmFy... supplied`, `Bearer eyJhbGciOi...`: a credential word, a space, then a
 * token shaped like a credential: 16 or more characters of base64/url-safe text with letters and
 * digits both. Prose goes on ("API secret must be valid base64", "password authentication failed").
 */
const CREDENTIAL_WORD = new RegExp(
  `(?<![A-Za-z0-9_-])((?:[A-Za-z0-9]+[_-])*?(?:${CREDENTIAL_NAME}|key|bearer|basic))(\\s+)` +
    '(?=[A-Za-z0-9+/=_.~-]*[0-9])(?=[A-Za-z0-9+/=_.~-]*[A-Za-z])[A-Za-z0-9+/=_.~-]{16,}(?![A-Za-z0-9+/=_.~-])',
  'gi',
);

/** Half of a UTF-16 surrogate pair, on its own. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * The first `max` UTF-16 units of `text`, cut between characters: a pair (an emoji) at the limit
 * goes whole, and any half pair already in the text becomes U+FFFD. Half a pair is not text:
 * Postgres refuses it in jsonb.
 */
export function cutText(text: string, max: number): string {
  const end = max > 0 && max < text.length && /[\uD800-\uDBFF]/.test(text[max - 1]!) ? max - 1 : max;
  return wellFormed(text.slice(0, end));
}

const wellFormed = (text: string): string => text.replace(LONE_SURROGATE, '\uFFFD');

/** Longest text kept; the rest is cut (a 10 MB server message is not a message). */
export const MAX_REDACTED_CHARS = 2_000;

export function redact(text: string): string {
  let out = text;
  // Registered secrets first, on the whole text, so a cut can never leave part of one behind.
  for (const secret of registeredSecrets) out = out.split(secret).join(MARK);
  out = out.length > MAX_REDACTED_CHARS ? `${cutText(out, MAX_REDACTED_CHARS)}…[truncated]` : wellFormed(out);
  return out
    .replace(CREDENTIAL_FIELD, (_m, name: string, sep: string) => `${name}${sep}${MARK}`)
    .replace(CREDENTIAL_WORD, (_m, name: string, space: string) => `${name}${space}${MARK}`)
    .replace(SHA256_BASE64, MARK);
}

/** Query parameters that carry a secret: a password (libpq's `password`, `sslpassword`) or a key (`sslkey`, `apikey`, `api_key`). */
const SECRET_PARAM = /([?&])([^=&]*pass[^=&]*|[^=&]*key)=[^&]*/gi;

/**
 * A URL as it may be printed: no password, in user info or in the query. A database URL keeps its
 * user name (the role, no secret); any other URL loses its user info whole (it is credentials
 * there). A URL with nothing to hide is returned as given; one that cannot be parsed is never echoed.
 */
export function redactUrl(url: string): string {
  if (!URL.canParse(url)) return '<unparseable url>';
  const u = new URL(url);
  const database = /^postgres(ql)?:$/.test(u.protocol);
  const search = u.search.replace(SECRET_PARAM, '$1$2=***');
  if (!u.password && (database || !u.username) && search === u.search) return url;
  if (u.password) u.password = '***';
  if (u.username && !database) {
    u.username = '***';
    u.password = '';
  }
  u.search = search;
  return u.toString();
}
