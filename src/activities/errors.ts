// Activity failures that must not be retried: Temporal matches them by class name.

/** A live write was requested but the worker's own gates do not allow it. */
export class GateClosedError extends Error {
  override name = 'GateClosedError';
}

/** Error class names that fail an activity for good (no retry). */
export const NON_RETRYABLE_ACTIVITY_ERRORS = [
  'GateClosedError',
  'ConfigError',
  'AccountingIntegrityError',
  'IllegalTransitionError',
  'CorruptRowError',
  'ConstraintViolationError',
  'DuplicateClientOrderIdError',
  'ExchangeConfigError',
  'AuthenticationError',
] as const;
