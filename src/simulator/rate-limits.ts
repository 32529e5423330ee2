// The exchange's side of rate limiting (reference §7): per-endpoint fixed windows anchored on the
// first request, a block after the limit is exceeded, 429 with Retry-After and the current body.
// This is the simulator's own copy of the published table: it plays the venue, so it does not reuse
// the client's constants (a mistake there must not hide itself).
export interface SimLimit {
  readonly limit: number;
  readonly periodMs: number;
  readonly blockMs: number;
}

export const SIM_RATE_LIMITS: Readonly<Record<string, readonly SimLimit[]>> = {
  'GET /api/v1/users/balances': [{ limit: 120, periodMs: 60_000, blockMs: 60_000 }],
  'POST /api/v1/order': [
    { limit: 300, periodMs: 60_000, blockMs: 60_000 },
    { limit: 10, periodMs: 1_000, blockMs: 1_000 },
  ],
  'DELETE /api/v1/order': [
    { limit: 300, periodMs: 60_000, blockMs: 60_000 },
    { limit: 10, periodMs: 1_000, blockMs: 1_000 },
  ],
  'GET /api/v1/order/{id}': [
    { limit: 900, periodMs: 60_000, blockMs: 60_000 },
    { limit: 30, periodMs: 1_000, blockMs: 1_000 },
  ],
  'GET /api/v1/openOrders': [{ limit: 300, periodMs: 60_000, blockMs: 60_000 }],
  'GET /api/v1/allOrders': [{ limit: 300, periodMs: 60_000, blockMs: 60_000 }],
  'GET /api/v1/users/transactions/trade': [{ limit: 120, periodMs: 60_000, blockMs: 60_000 }],
  'GET /api/v2/ticker': [{ limit: 600, periodMs: 60_000, blockMs: 60_000 }],
  'GET /api/v2/orderbook': [{ limit: 180, periodMs: 60_000, blockMs: 60_000 }],
  // Unpublished for /api/v2/trades; the v1 twin is listed at 90/min (reference §7).
  'GET /api/v2/trades': [{ limit: 90, periodMs: 60_000, blockMs: 60_000 }],
};

interface WindowState {
  startMs: number;
  count: number;
  blockedUntil: number;
}

export interface RateVerdict {
  readonly retryAfterSec: number;
  readonly limit: number;
  readonly periodMs: number;
}

export class SimRateLimiter {
  private readonly windows = new Map<string, WindowState>();

  /** Count a request; null when allowed, else the 429 details. */
  hit(route: string, nowMs: number): RateVerdict | null {
    const rules = SIM_RATE_LIMITS[route] ?? [];
    let verdict: RateVerdict | null = null;
    rules.forEach((rule, i) => {
      const key = `${route}#${i}`;
      let w = this.windows.get(key);
      if (w === undefined || (nowMs >= w.startMs + rule.periodMs && nowMs >= w.blockedUntil)) {
        w = { startMs: nowMs, count: 0, blockedUntil: 0 };
        this.windows.set(key, w);
      }
      if (w.blockedUntil > nowMs) {
        verdict ??= { retryAfterSec: Math.max(1, Math.ceil((w.blockedUntil - nowMs) / 1000)), limit: rule.limit, periodMs: rule.periodMs };
        return;
      }
      w.count++;
      if (w.count > rule.limit) {
        w.blockedUntil = nowMs + rule.blockMs;
        verdict ??= { retryAfterSec: Math.max(1, Math.ceil(rule.blockMs / 1000)), limit: rule.limit, periodMs: rule.periodMs };
      }
    });
    return verdict;
  }

  reset(): void {
    this.windows.clear();
  }
}
