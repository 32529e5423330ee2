// Activity failures that must not be retried: Temporal matches them by class name. And how a
// failure that does not fail the activity is kept: as data, with its cause.
import { shortMessage, type FailedStep, type SymbolFailure } from '../domain/failures.js';
import { redact } from '../redaction.js';

/** A live write was requested but the worker's own gates do not allow it. */
export class GateClosedError extends Error {
  override name = 'GateClosedError';
}

/** A step's error as a symbol failure: class and a short, redacted message (secrets never pass). */
export function symbolFailure(symbol: string, step: FailedStep, err: unknown): SymbolFailure {
  const e = err instanceof Error ? err : new Error(String(err));
  return { symbol, step, errorClass: e.name || 'Error', message: shortMessage(redact(e.message)) };
}
