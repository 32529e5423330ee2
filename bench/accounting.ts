// The pure accounting kernel: 1,000,000 fills through applyFills, no I/O.
import { applyFills } from '../src/domain/accounting.js';
import { report } from './support.js';
import { syntheticFills } from './ingest.js';

export function benchAccounting(n = 1_000_000): void {
  const fills = syntheticFills(n);
  const t0 = performance.now();
  const r = applyFills([], fills, { marks: new Map() });
  const seconds = (performance.now() - t0) / 1000;
  if (r.applied.length !== n) throw new Error('not every fill was applied');
  report({ bench: 'accounting_kernel', fills: n, seconds: +seconds.toFixed(3), fills_per_sec: Math.round(n / seconds) });
}
