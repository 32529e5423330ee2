// Typed domain errors. Temporal maps an error's class name to a non-retryable type, so each class
// names one failure kind and carries a reason code plus key=value detail, never prose only.

export type Detail = Readonly<Record<string, string>>;

/** `reason k1=v1 k2=v2`: reasons as data, rendered once for logs and audit rows. */
export function formatReason(reason: string, detail: Detail = {}): string {
  const parts = Object.entries(detail).map(([k, v]) => `${k}=${v}`);
  return parts.length === 0 ? reason : `${reason} ${parts.join(' ')}`;
}

/** Accounting would become wrong (oversell, malformed fill): nothing is applied; never retried. */
export class AccountingIntegrityError extends Error {
  override name = 'AccountingIntegrityError';
  constructor(
    readonly reason: 'oversell_detected' | 'invalid_fill' | 'unsupported_quote' | 'fee_exceeds_qty' | 'unreadable_trade',
    readonly detail: Detail,
  ) {
    super(formatReason(reason, detail));
  }
}

/** A bad configuration value. The message names the variable; a secret's value is never echoed. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`${variable}: ${problem}`);
  }
}

/** An order state change the transition table does not allow. */
export class IllegalTransitionError extends Error {
  override name = 'IllegalTransitionError';
  constructor(
    readonly from: string,
    readonly event: string,
  ) {
    super(formatReason('illegal_transition', { from, event }));
  }
}

/** A client order id could not be derived within the exchange's limits. */
export class ClientOrderIdError extends Error {
  override name = 'ClientOrderIdError';
}
