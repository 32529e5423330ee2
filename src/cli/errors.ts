/** Bad command-line usage: printed with the usage text, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Process exit codes of `btcbot`. */
export const EXIT = { ok: 0, failed: 1, blocked: 2 } as const;
