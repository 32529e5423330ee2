// Client-side rate limiting. For every endpoint key a list of rules (limit per period) is enforced
// as a sliding log of send times: a request is released only when fewer than `limit` requests were
// released in the last `period + marginMs`. A sliding log is at least as strict as the exchange's
// fixed windows (anchored on the first request), and the margin absorbs network jitter between our
// send time and the exchange's arrival time. A 429's Retry-After pauses the whole endpoint.
// Clock and sleep are injectable so tests can drive it deterministically.

export interface LimiterRule {
  readonly limit: number;
  readonly periodMs: number;
}

export interface RateLimiterOptions {
  readonly rules: Readonly<Record<string, readonly LimiterRule[]>>;
  /** Extra time added to every period (default 50 ms). */
  readonly marginMs?: number;
  readonly now?: () => number;
  readonly sleep?: Sleep;
}

/** Sleep `ms`; with a signal, reject as soon as it aborts. */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

export const realSleep: Sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });

export interface AcquireOptions {
  /** Abort the wait (activity cancellation). */
  readonly signal?: AbortSignal;
  /** Epoch ms (limiter clock) the request must leave by; a longer wait is refused at once. */
  readonly notAfterMs?: number;
}

/** The limiter did not release the request: it would have had to wait past the caller's deadline, or the caller aborted. */
export class LimiterWaitRefused extends Error {
  override name = 'LimiterWaitRefused';
  constructor(
    readonly reason: 'deadline' | 'aborted',
    readonly key: string,
    readonly waitMs: number,
  ) {
    super(reason === 'deadline' ? `${key}: rate limit wait of ${waitMs} ms exceeds the time left` : `${key}: rate limit wait aborted`);
  }
}

export class RateLimiter {
  private readonly rules: Readonly<Record<string, readonly LimiterRule[]>>;
  private readonly marginMs: number;
  private readonly now: () => number;
  private readonly sleep: Sleep;
  private readonly sent = new Map<string, number[]>();
  private readonly pausedUntil = new Map<string, number>();
  private readonly queues = new Map<string, Promise<void>>();

  constructor(options: RateLimiterOptions) {
    this.rules = options.rules;
    this.marginMs = options.marginMs ?? 50;
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? realSleep;
  }

  /**
   * Wait until a request to `key` may be sent, then record it. Requests to one key are FIFO. With
   * options, the wait ends early (LimiterWaitRefused) on abort or once it cannot end in time; the
   * queue keeps its order (a caller that gave up is skipped when its turn comes).
   */
  acquire(key: string, options: AcquireOptions = {}): Promise<void> {
    const { signal, notAfterMs } = options;
    if (signal?.aborted) return Promise.reject(new LimiterWaitRefused('aborted', key, 0));
    if (notAfterMs !== undefined) {
      const wait = this.delayFor(key);
      if (wait > 0 && this.now() + wait > notAfterMs) return Promise.reject(new LimiterWaitRefused('deadline', key, wait));
    }
    const previous = this.queues.get(key) ?? Promise.resolve();
    const turn = previous.then(() => this.acquireNow(key, options));
    this.queues.set(
      key,
      turn.catch(() => undefined),
    );
    if (signal === undefined && notAfterMs === undefined) return turn;
    return new Promise<void>((resolve, reject) => {
      const giveUp = (reason: 'deadline' | 'aborted'): void => {
        cleanup();
        reject(new LimiterWaitRefused(reason, key, 0));
      };
      const onAbort = (): void => giveUp('aborted');
      const timer = notAfterMs === undefined ? null : setTimeout(() => giveUp('deadline'), Math.max(0, notAfterMs - this.now()));
      const cleanup = (): void => {
        if (timer !== null) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      turn.then(
        () => {
          cleanup();
          resolve();
        },
        (err: unknown) => {
          cleanup();
          reject(err);
        },
      );
    });
  }

  /** Block `key` for `ms` (after a 429 with Retry-After). */
  pause(key: string, ms: number): void {
    const until = this.now() + Math.max(0, ms);
    this.pausedUntil.set(key, Math.max(this.pausedUntil.get(key) ?? 0, until));
  }

  /** How long a request to `key` would wait right now (0 = immediately). */
  delayFor(key: string): number {
    const now = this.now();
    let wait = Math.max(0, (this.pausedUntil.get(key) ?? 0) - now);
    const log = this.sent.get(key) ?? [];
    for (const rule of this.rules[key] ?? []) {
      const window = rule.periodMs + this.marginMs;
      const inWindow = log.filter((t) => t > now - window);
      if (inWindow.length >= rule.limit) {
        // The oldest send that must leave the window before one more fits.
        const blocking = inWindow[inWindow.length - rule.limit];
        if (blocking !== undefined) wait = Math.max(wait, blocking + window - now + 1);
      }
    }
    return wait;
  }

  private async acquireNow(key: string, { signal, notAfterMs }: AcquireOptions = {}): Promise<void> {
    for (;;) {
      if (signal?.aborted) throw new LimiterWaitRefused('aborted', key, 0);
      const wait = this.delayFor(key);
      if (wait <= 0) break;
      if (notAfterMs !== undefined && this.now() + wait > notAfterMs) throw new LimiterWaitRefused('deadline', key, wait);
      try {
        await this.sleep(wait, signal);
      } catch (err) {
        if (signal?.aborted) throw new LimiterWaitRefused('aborted', key, wait);
        throw err;
      }
    }
    const now = this.now();
    const log = this.sent.get(key) ?? [];
    log.push(now);
    const longest = Math.max(0, ...(this.rules[key] ?? []).map((r) => r.periodMs + this.marginMs));
    while (log.length > 0 && (log[0] ?? 0) <= now - longest) log.shift();
    this.sent.set(key, log);
  }
}
