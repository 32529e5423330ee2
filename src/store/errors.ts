// Typed store errors. Whatever raised them, the transaction they happened in wrote nothing.
export class StoreError extends Error {
  override name = 'StoreError';
}

/** An order with this client order id already exists; the database itself refused the row. */
export class DuplicateClientOrderIdError extends StoreError {
  override name = 'DuplicateClientOrderIdError';
  constructor(readonly clientOrderId: string) {
    super(`client order id already recorded: ${clientOrderId}`);
  }
}

/** A row violates a table constraint (bad value, bad state). */
export class ConstraintViolationError extends StoreError {
  override name = 'ConstraintViolationError';
  constructor(
    readonly constraint: string,
    message: string,
  ) {
    super(`${constraint}: ${message}`);
  }
}

/** A stored row cannot be read back into domain values (corrupt or hand-edited data). */
export class CorruptRowError extends StoreError {
  override name = 'CorruptRowError';
}

interface PgError {
  code?: string;
  constraint?: string;
  message?: string;
}

/** Map Postgres constraint failures to typed errors; anything else is returned unchanged. */
export function translatePgError(err: unknown, context: { clientOrderId?: string } = {}): unknown {
  const e = err as PgError;
  if (e?.code === '23505' && e.constraint === 'stage4_orders_client_order_id_key') {
    return new DuplicateClientOrderIdError(context.clientOrderId ?? '?');
  }
  if (e?.code === '23505' || e?.code === '23514' || e?.code === '23502' || e?.code === '22P02') {
    return new ConstraintViolationError(e.constraint ?? e.code, e.message ?? 'constraint violated');
  }
  return err;
}
