// Structured JSON logs (pino). Credentials never reach a log line: known secret-bearing fields are
// censored by path, and every string is scrubbed of registered secrets and signature-shaped text
// (src/redaction.ts, which the exchange client applies to its errors too).
import { pino, type DestinationStream, type Logger } from 'pino';
import { redact } from '../redaction.js';

export type { Logger };

/** Fields that may carry credentials or signatures, wherever they appear (two levels deep). */
export const REDACTED_PATHS = [
  'apiKey', 'apiSecret', 'secret', 'signature', 'password', 'credentials', 'authorization',
  'BTCTURK_API_KEY', 'BTCTURK_API_SECRET', 'BTCBOT_PAYLOAD_KEY',
  'headers["x-pck"]', 'headers["x-signature"]', 'headers["x-stamp"]',
  '*.apiKey', '*.apiSecret', '*.secret', '*.signature', '*.password', '*.credentials', '*.authorization',
  '*.BTCTURK_API_KEY', '*.BTCTURK_API_SECRET', '*.BTCBOT_PAYLOAD_KEY',
  '*.headers["x-pck"]', '*.headers["x-signature"]',
];

const LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']);

function scrub(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redact(value);
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) return { type: value.name, message: redact(value.message) };
  if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1));
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, scrub(v, depth + 1)]));
}

export function createLogger(
  { level = 'info', destination }: { level?: string; destination?: DestinationStream } = {},
): Logger {
  const lvl = level.toLowerCase();
  return pino(
    {
      level: LEVELS.has(lvl) ? lvl : 'info',
      base: { service: 'btcbot' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      formatters: { log: (obj) => scrub(obj) as Record<string, unknown> },
      hooks: {
        logMethod(args, method) {
          method.apply(this, args.map((a) => (typeof a === 'string' ? redact(a) : a)) as Parameters<typeof method>);
        },
      },
    },
    destination ?? pino.destination({ dest: 1, sync: true }),
  );
}
