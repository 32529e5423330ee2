// `npm run chaos`: the chaos suite (issues 8 and 12). Many live-armed cycles against the simulator
// with injected exchange faults, worker SIGKILLs mid-activity, Postgres and Temporal restarts, and
// `btcbot halt` runs while writes wait on the rate limiter; the exchange and the database are
// sampled all along, then the bot's orders, fills and positions are compared with the simulator's
// ground truth. Prints a report and exits 1 if any invariant fails.
//
//   npm run chaos -- [--cycles 200] [--kills 20] [--seed 1] [--symbols BTCTRY,ETHTRY]
//                    [--pg-restarts 4] [--temporal-restarts 2] [--halts 6] [--absence-window-sec 60] [--keep]
import { parseArgs } from 'node:util';
import { toPairSymbol } from '../src/domain/types.js';
import { formatReport, runChaos } from './harness.js';

function positiveInt(name: string, raw: string | undefined, dflt: number, min = 0): number {
  if (raw === undefined) return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got ${JSON.stringify(raw)}`);
  return n;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      cycles: { type: 'string' },
      kills: { type: 'string' },
      seed: { type: 'string' },
      symbols: { type: 'string' },
      'pg-restarts': { type: 'string' },
      'temporal-restarts': { type: 'string' },
      halts: { type: 'string' },
      'absence-window-sec': { type: 'string' },
      keep: { type: 'boolean' },
    },
    strict: true,
    allowPositionals: false,
  });
  const report = await runChaos({
    cycles: positiveInt('cycles', values.cycles, 200, 1),
    kills: positiveInt('kills', values.kills, 20),
    seed: positiveInt('seed', values.seed, 1),
    symbols: (values.symbols ?? 'BTCTRY,ETHTRY').split(',').map((s) => toPairSymbol(s.trim()) as string),
    pgRestarts: positiveInt('pg-restarts', values['pg-restarts'], 4),
    temporalRestarts: positiveInt('temporal-restarts', values['temporal-restarts'], 2),
    halts: positiveInt('halts', values.halts, 6),
    absenceWindowSec: positiveInt('absence-window-sec', values['absence-window-sec'], 60, 5),
    keepDir: values.keep ?? false,
  });
  console.log(formatReport(report));
  return report.pass ? 0 : 1;
}

// Ctrl-C: exit through process.exit so the harness's exit hook stops what it started.
process.once('SIGINT', () => process.exit(130));
process.once('SIGTERM', () => process.exit(143));

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
