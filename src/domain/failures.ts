// A symbol's failed step with its cause, kept as data: the error class and a short message naming
// what was wrong. Crosses Temporal payloads (plain strings), lands in the audit row's alerts, the
// cycle's log line and the `stage4-run` summary.

export type FailedStep = 'rules' | 'mark' | 'open_orders' | 'balances' | 'fills' | 'accounting';

export interface SymbolFailure {
  /** Canonical pair symbol, or `*` for an account-wide read (balances). */
  readonly symbol: string;
  readonly step: FailedStep;
  readonly errorClass: string;
  /** Redacted and cut to MAX_FAILURE_MESSAGE characters. */
  readonly message: string;
}

/** Enough to name the field or say "HTML body"; never a payload dump. */
export const MAX_FAILURE_MESSAGE = 240;

export function shortMessage(message: string): string {
  const oneLine = message.replace(/\s+/g, ' ').trim();
  return oneLine.length > MAX_FAILURE_MESSAGE ? `${oneLine.slice(0, MAX_FAILURE_MESSAGE - 1)}…` : oneLine;
}

/** `symbol_failed:fills:BTCTRY:MalformedResponseError: GET /api/v1/users/transactions/trade HTTP 200: empty body` */
export function formatSymbolFailure(f: SymbolFailure): string {
  return `symbol_failed:${f.step}:${f.symbol}:${f.errorClass}: ${f.message}`;
}
