// btcbot's own counters, exported through the Temporal runtime's Prometheus endpoint. They are
// derived from the cycle's audit record in one place, so metrics and the audit trail cannot disagree.
import type { MetricMeter } from '@temporalio/common';
import type { CycleAuditRecord } from '../store/audit.js';

/** counter name → (description, audit count keys summed into it). */
const FROM_COUNTS: ReadonlyArray<[string, string, readonly string[]]> = [
  ['btcbot_orders_submitted', 'Orders sent to the exchange (or found there after an ambiguous submit)', ['submitted']],
  ['btcbot_orders_simulated', 'Dry-run orders recorded', ['simulated']],
  ['btcbot_orders_cancelled', 'Cancels sent or applied', ['canceled']],
  ['btcbot_orders_rejected', 'Submits rejected by the exchange or not sent', ['rejected']],
  ['btcbot_orders_unknown', 'Submits whose outcome is not known yet', ['unknown_submits']],
  ['btcbot_risk_rejections', 'Planned actions rejected by risk limits', ['rejected_by_risk']],
  ['btcbot_fills_ingested', 'Fills applied to positions', ['fills_applied']],
];

export function recordCycleMetrics(meter: MetricMeter, r: CycleAuditRecord): void {
  const tags = { mode: r.mode };
  meter.createCounter('btcbot_cycles', 'cycles', 'Trading cycles by outcome and mode').add(1, { ...tags, outcome: r.outcome });
  for (const [name, description, keys] of FROM_COUNTS) {
    const n = keys.reduce((sum, k) => sum + (r.counts[k] ?? 0), 0);
    if (n > 0) meter.createCounter(name, '1', description).add(n, tags);
  }
  const integrity = r.alerts.filter((a) => a.startsWith('integrity:') || a.startsWith('fee_conversion_missing:') || a.startsWith('balance_drift:')).length;
  if (integrity > 0) meter.createCounter('btcbot_integrity_alerts', '1', 'Accounting integrity alerts').add(integrity, tags);
  if (r.outcome === 'halted') meter.createCounter('btcbot_halts', '1', 'Cycles stopped or refused by a halt').add(1, tags);
}
