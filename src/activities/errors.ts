// Activity failures that must not be retried: Temporal matches them by class name.

/** A live write was requested but the worker's own gates do not allow it. */
export class GateClosedError extends Error {
  override name = 'GateClosedError';
}
