// Fault injection per route: count-based (skip the first N matching requests, then fire `times`
// times) or seeded-probabilistic. Faults that fire "after commit" let the request change exchange
// state and then break the answer, which is how real submits become ambiguous (reference Q11).
import { Prng } from './prng.js';

export type FaultKind =
  /** Wait `latencyMs`, then answer normally. */
  | 'latency'
  /** 500 INTERNAL_ERROR before processing. */
  | 'http500'
  /** 503 (maintenance / stale book) before processing. */
  | 'http503'
  /** 429 with Retry-After (`retryAfterSec`, default 1) before processing. */
  | 'http429'
  /** 200 with an empty body, before processing. */
  | 'emptyBody'
  /** 502 Cloudflare HTML page, before processing. */
  | 'htmlBody'
  /** Process the request (e.g. accept the order), then close the socket without an answer. */
  | 'dropAfterCommit'
  /** Process, then answer 200 with an empty body. */
  | 'emptyAfterCommit'
  /** Process, then answer 502 with an HTML page. */
  | 'htmlAfterCommit'
  /** Process, then hold the answer for `latencyMs` (beyond the client's timeout): the order exists from the start. */
  | 'delayAfterCommit'
  /** Hold the request for `latencyMs`, then process and answer: the order is created at the end of the hold,
   *  typically after the client gave up (reference Q11: POSTs that hung for over a minute, order placed). */
  | 'holdThenCommit'
  /** Process, then answer with a proxy's 4xx (`httpStatus`, default 409) and an HTML page, no BTCTurk envelope. */
  | 'proxy4xxAfterCommit'
  /** Accept the order normally, but keep it out of openOrders, allOrders and GET /order/{id} for `hiddenMs`
   *  (reference Q13: nothing guarantees an accepted order is visible at once). It rests, matches and fills. */
  | 'orderInvisible'
  /** DELETE answered 200 SUCCESS (cancels are asynchronous, §6.6), but the order stays open for `latencyMs`
   *  and then fills in full as maker instead of being canceled. */
  | 'cancelThenFill'
  /** Trade lists carry every row twice. */
  | 'duplicateTradeRows'
  /** Trade rows come without `id`. */
  | 'missingTradeIds';

export interface FaultRule {
  /** Endpoint key (`POST /api/v1/order`, `GET /api/v1/order/{id}`, …) or `*` for every API route. */
  readonly route: string;
  readonly kind: FaultKind;
  /** How many times it fires (default 1; null = every matching request). */
  readonly times?: number | null;
  /** Matching requests let through before it starts firing (default 0). */
  readonly skip?: number;
  /** Fire with this seeded probability instead of always (0..1). */
  readonly probability?: number;
  readonly latencyMs?: number;
  readonly retryAfterSec?: number;
  /** `orderInvisible`: how long (simulator clock) the accepted order stays invisible. */
  readonly hiddenMs?: number;
  /** `proxy4xxAfterCommit`: the status the proxy answers with (408, 409, 425, …). */
  readonly httpStatus?: number;
}

interface ActiveRule {
  readonly id: number;
  readonly rule: FaultRule;
  skipLeft: number;
  timesLeft: number | null;
  fired: number;
}

export class FaultInjector {
  private rules: ActiveRule[] = [];
  private nextId = 1;
  private prng: Prng;

  constructor(seed: number) {
    this.prng = new Prng(seed ^ 0x5eedfa17);
  }

  add(rule: FaultRule): number {
    const id = this.nextId++;
    this.rules.push({ id, rule, skipLeft: rule.skip ?? 0, timesLeft: rule.times === undefined ? 1 : rule.times, fired: 0 });
    return id;
  }

  remove(id: number): void {
    this.rules = this.rules.filter((r) => r.id !== id);
  }

  clear(seed?: number): void {
    this.rules = [];
    if (seed !== undefined) this.prng = new Prng(seed ^ 0x5eedfa17);
  }

  list(): Array<FaultRule & { id: number; fired: number; remaining: number | null }> {
    return this.rules.map((r) => ({ ...r.rule, id: r.id, fired: r.fired, remaining: r.timesLeft }));
  }

  /** The faults that fire for this request, in the order they were added. */
  draw(route: string): FaultRule[] {
    const fired: FaultRule[] = [];
    for (const r of this.rules) {
      if (r.rule.route !== '*' && r.rule.route.toLowerCase() !== route.toLowerCase()) continue;
      if (r.timesLeft !== null && r.timesLeft <= 0) continue;
      if (r.skipLeft > 0) {
        r.skipLeft--;
        continue;
      }
      if (r.rule.probability !== undefined && this.prng.next() >= r.rule.probability) continue;
      if (r.timesLeft !== null) r.timesLeft--;
      r.fired++;
      fired.push(r.rule);
    }
    return fired;
  }
}

export const PRE_PROCESSING_FAULTS: ReadonlySet<FaultKind> = new Set(['http500', 'http503', 'http429', 'emptyBody', 'htmlBody']);
export const AFTER_COMMIT_FAULTS: ReadonlySet<FaultKind> = new Set([
  'dropAfterCommit', 'emptyAfterCommit', 'htmlAfterCommit', 'delayAfterCommit', 'proxy4xxAfterCommit',
]);

export const CLOUDFLARE_HTML =
  '<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>cloudflare</center></body></html>\n';

/** What a proxy in front of the exchange sends for a 4xx it makes up itself: no BTCTurk envelope. */
export function proxyErrorHtml(status: number): string {
  return `<!DOCTYPE html>\n<html><head><title>${status}</title></head><body><center><h1>${status}</h1></center><hr><center>proxy</center></body></html>\n`;
}
