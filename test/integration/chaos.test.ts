// The chaos suite, small: live-armed cycles against the simulator with exchange faults, worker
// SIGKILLs mid-activity, a Postgres restart and a Temporal dev server restart, then every promise
// checked against the simulator's ground truth. `npm run chaos` runs the same harness at scale.
// It starts its own Temporal (persisted to a file, so it can restart) and Postgres: the shared ones
// from the global setup must not be restarted under other test files.
import { describe, expect, test } from 'vitest';
import { formatReport, runChaos, type ChaosReport } from '../../chaos/harness.js';

describe('chaos (small)', () => {
  test(
    'under faults, kills, restarts and halts: no untracked, duplicate or orphan order, no write after a halt, no lost or double-applied fill, positions equal the exchange truth',
    async () => {
      const report: ChaosReport = await runChaos({
        // A new symbol trades only once its first balance read is settled (FILLS_SETTLE_SECONDS, 10 s
        // by default): the first ~8 cycles place nothing, so 20 cycles keep ≥ 10 orders on the exchange.
        cycles: 20,
        kills: 3,
        seed: 8,
        symbols: ['BTCTRY', 'ETHTRY'],
        pgRestarts: 1,
        temporalRestarts: 1,
        halts: 2,
        // A short absence window keeps the settle short; orders hide for at most a third of it.
        absenceWindowSec: 15,
        // Only submits are held for a kill here: executeAction's 30 s timeout is the shortest way
        // for Temporal to hand a killed worker's task to the restarted one.
        killPoints: ['submit_committed', 'fills_read'],
        log: () => {},
      });
      const failed = report.invariants.filter((i) => !i.pass);
      expect(failed, formatReport(report)).toEqual([]);
      // Each promise was checked, on a run that really was disturbed.
      const checked = report.invariants.map((i) => i.name.split(':')[0]);
      for (const kind of ['orders', 'fills', 'positions', 'gates', 'kills', 'halts']) expect(checked).toContain(kind);
      expect(report.halts.total).toBeGreaterThanOrEqual(2);
      expect(report.samples).toBeGreaterThan(0);
      expect(report.kills.total).toBeGreaterThanOrEqual(3);
      expect(report.restarts).toEqual({ postgres: 1, temporal: 1 });
      const injected = Object.entries(report.faults).filter(([k]) => k !== 'kill_hook').reduce((n, [, v]) => n + v, 0);
      expect(injected).toBeGreaterThanOrEqual(5);
      // The account holds coins from before the bot (inferred openings): the canary buys less often than from zero.
      expect(report.activity['exchange_orders']).toBeGreaterThanOrEqual(5);
      expect(report.activity['exchange_fills']).toBeGreaterThanOrEqual(5);
    },
    300_000,
  );
});
