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
  readonly sleep?: (ms: number) => Promise<void>;
}

export const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class RateLimiter {
  private readonly rules: Readonly<Record<string, readonly LimiterRule[]>>;
  private readonly marginMs: number;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly sent = new Map<string, number[]>();
  private readonly pausedUntil = new Map<string, number>();
  private readonly queues = new Map<string, Promise<void>>();

  constructor(options: RateLimiterOptions) {
    this.rules = options.rules;
    this.marginMs = options.marginMs ?? 50;
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? realSleep;
  }

  /** Wait until a request to `key` may be sent, then record it. Requests to one key are FIFO. */
  acquire(key: string): Promise<void> {
    const previous = this.queues.get(key) ?? Promise.resolve();
    const next = previous.then(() => this.acquireNow(key));
    this.queues.set(
      key,
      next.catch(() => undefined),
    );
    return next;
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

  private async acquireNow(key: string): Promise<void> {
    for (;;) {
      const wait = this.delayFor(key);
      if (wait <= 0) break;
      await this.sleep(wait);
    }
    const now = this.now();
    const log = this.sent.get(key) ?? [];
    log.push(now);
    const longest = Math.max(0, ...(this.rules[key] ?? []).map((r) => r.periodMs + this.marginMs));
    while (log.length > 0 && (log[0] ?? 0) <= now - longest) log.shift();
    this.sent.set(key, log);
  }
}
