// Bookkeeping of one cycle for its result and its audit row: counters, decisions, alerts.
// Pure and deterministic (runs in the workflow).
import { formatSymbolFailure, type SymbolFailure } from '../domain/failures.js';
import type { ExecuteResult } from './types.js';

export class CycleReport {
  readonly counts: Record<string, number> = {};
  readonly decisions: string[] = [];
  readonly alerts: string[] = [];
  readonly failures: SymbolFailure[] = [];

  /** Symbols that failed a step: kept with their causes, and each one an alert. */
  failed(failures: readonly SymbolFailure[] = []): void {
    this.failures.push(...failures);
    this.alerts.push(...failures.map(formatSymbolFailure));
  }

  add(counts: Record<string, number>): void {
    for (const [k, v] of Object.entries(counts)) this.counts[k] = (this.counts[k] ?? 0) + v;
  }

  count(key: string, by = 1): void {
    this.counts[key] = (this.counts[key] ?? 0) + by;
  }

  /** Tally one executed action; `executed` = submitted + simulated + canceled, as in the original. */
  execution(r: ExecuteResult): void {
    const key: Record<ExecuteResult['outcome'], string> = {
      submitted: 'submitted',
      simulated: 'simulated',
      rejected: 'rejected',
      unknown: 'unknown_submits',
      deduped: 'deduped',
      deferred: 'deferred',
      halted: 'halted_submits',
      cancel_requested: 'canceled',
      canceled: 'canceled',
      already_closed: 'cancel_already_closed',
      cancel_failed: 'cancel_failed',
    };
    this.count(key[r.outcome]);
    if (r.outcome === 'submitted' || r.outcome === 'simulated' || r.outcome === 'cancel_requested' || r.outcome === 'canceled') {
      this.count('executed');
    }
    this.decisions.push(`exec:${r.clientOrderId ?? 'missing'}:${r.outcome}${r.detail ? `:${r.detail}` : ''}`);
  }
}
