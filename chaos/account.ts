// Chaos ingredients of issue 13, the account as others use it: holdings from before the bot (and
// trades from before its first window), manual trades during the run, a malformed pair in exchange
// info, trade rows without orderId. And what must hold at the end: every opening equals what the
// account held at its first window, positions equal the exchange's balances, nothing is left
// quarantined or drifting.
//
// The ground truth is the simulator's. Fills from before a symbol's first window are part of its
// opening (the bot is told about them only through the balance), so the fill and position checks
// of chaos/invariants.ts get the truth as the bot should see it: those fills replaced by one
// opening fill at the mark the bot recorded.
import { Decimal, toDecimalString } from '../src/domain/decimal.js';
import { Prng } from '../src/simulator/prng.js';
import type { RunningSimulator } from '../src/simulator/server.js';
import type { GroundTruth } from '../src/simulator/state.js';
import type { Pool } from '../src/store/db.js';
import { EXTERNAL_PREFIX, type InvariantResult } from './invariants.js';

/** Client ids of the manual trades: "someone else" on the account, as the order checks know it. */
const MANUAL_PREFIX = `${EXTERNAL_PREFIX}manual-`;

export interface OpeningRow {
  symbol: string;
  kind: string;
  qty: string;
  mark: string | null;
  window_start_ms: string | null;
}

export interface ChaosAccount {
  /** Per cycle: maybe a manual trade per symbol, and this cycle's share of 2018-style trade rows. */
  weather(): Promise<void>;
  /** Settling: old-style rows off, so every fill is seen once more with its order id. */
  settle(): void;
  /** The exchange's fills the bot is to have applied: all but those from before a symbol's first window. */
  accountedFills(truth: GroundTruth, openings: readonly OpeningRow[]): GroundTruth;
  /** The same, plus each inferred opening as one buy at the mark the bot valued it at (for position checks). */
  withOpenings(truth: GroundTruth, openings: readonly OpeningRow[]): GroundTruth;
  invariants(truth: GroundTruth, pool: Pool, openings: readonly OpeningRow[]): Promise<InvariantResult[]>;
  activity(): Record<string, number>;
}

const HOUR = 3_600_000;

/**
 * Before the first cycle: the account already holds coins (the simulator's balances), traded some
 * two hours ago (before any first window: folded into the opening) and some minutes ago (inside the
 * first window: applied as fills); exchange info lists one broken pair the bot does not trade.
 */
export async function prepareChaosAccount(sim: RunningSimulator, symbols: readonly string[], seed: number): Promise<ChaosAccount> {
  const prng = new Prng(seed ^ 0xacc0);
  const rng = { next: () => prng.next(), chance: (p: number) => prng.next() < p };
  const initial = sim.engine.groundTruth().balances;
  const counters = { manual_trades: 0, history_trades: 0, old_style_row_cycles: 0 };
  let seq = 0;
  const now = sim.engine.now();
  const trade = (symbol: string, side: 'buy' | 'sell', share: number, atMs?: number): boolean => {
    const pair = sim.engine.pair(symbol)!;
    const mid = sim.engine.mid(symbol)!;
    const held = new Decimal(sim.engine.balance(pair.base).free);
    // Sells take a share of what the account holds (pre-bot coins included); buys a few minimum totals.
    const qty = (side === 'sell' ? held.mul(share) : new Decimal(pair.minExchangeValue).mul(2 + 6 * share).div(mid)).toDecimalPlaces(
      pair.numeratorScale,
      Decimal.ROUND_DOWN,
    );
    if (qty.lte(0) || qty.mul(mid).lt(pair.minExchangeValue)) return false;
    sim.engine.manualTrade({ symbol, side, qty: qty.toFixed(), clientId: `${MANUAL_PREFIX}${++seq}`, ...(atMs !== undefined ? { atMs } : {}) });
    return true;
  };
  for (const symbol of symbols) {
    for (const [at, side] of [[now - 2 * HOUR, 'buy'], [now - 2 * HOUR + 60_000, 'sell'], [now - 10 * 60_000, 'sell'], [now - 5 * 60_000, 'buy']] as const) {
      if (trade(symbol, side, 0.2, at)) counters.history_trades += 1;
    }
  }
  // A listing the parser must skip: it fails nothing the bot trades.
  sim.engine.malformPair('XYZTRY', 'bad_name');

  let lastTs = Math.max(0, ...sim.engine.groundTruth().fills.map((f) => f.tsMs));
  const accountedFills = (truth: GroundTruth, openings: readonly OpeningRow[]): GroundTruth => ({
    ...truth,
    fills: truth.fills.filter((f) => {
      const o = openings.find((x) => x.symbol === f.symbol);
      return o?.window_start_ms == null || f.tsMs >= Number(o.window_start_ms);
    }),
  });
  return {
    async weather() {
      for (const symbol of symbols) {
        if (!rng.chance(0.15)) continue;
        // Distinct milliseconds keep "chronological" unambiguous against the bot's own fills.
        while (sim.engine.now() <= lastTs) await new Promise((r) => setTimeout(r, 1));
        if (trade(symbol, rng.chance(0.5) ? 'sell' : 'buy', 0.05 + 0.25 * rng.next())) counters.manual_trades += 1;
        lastTs = sim.engine.now();
      }
      const share = rng.chance(0.3) ? 0.5 : 0;
      if (share > 0) counters.old_style_row_cycles += 1;
      sim.engine.config = { ...sim.engine.config, tradeRowsWithoutOrderId: share };
    },
    settle() {
      sim.engine.config = { ...sim.engine.config, tradeRowsWithoutOrderId: 0 };
    },
    accountedFills,
    withOpenings(truth, openings) {
      const opening = openings
        .filter((o) => o.kind === 'inferred' && new Decimal(o.qty).gt(0))
        .map((o) => ({
          id: '0', orderId: '0', clientId: 'opening', symbol: o.symbol, side: 'buy' as const, price: o.mark!, qty: o.qty, fee: '0', tax: '0',
          feeAsset: 'TRY', tsMs: Number(o.window_start_ms) - 1, liquidity: 'maker' as const,
        }));
      return { ...truth, fills: [...opening, ...accountedFills(truth, openings).fills] };
    },
    async invariants(truth, pool, openings) {
      const results: InvariantResult[] = [];
      // What the account held at each symbol's first window: its starting balance plus the trades before.
      const wrongOpenings: string[] = [];
      for (const symbol of symbols) {
        const pair = sim.engine.pair(symbol)!;
        const o = openings.find((x) => x.symbol === symbol);
        if (!o || o.window_start_ms === null) {
          wrongOpenings.push(`${symbol}: no opening recorded`);
          continue;
        }
        const before = truth.fills.filter((f) => f.symbol === symbol && f.tsMs < Number(o.window_start_ms));
        const held = before.reduce((s, f) => (f.side === 'buy' ? s.add(f.qty) : s.sub(f.qty)), new Decimal(initial[pair.base]?.free ?? '0'));
        if (o.kind !== 'inferred' || toDecimalString(new Decimal(o.qty)) !== toDecimalString(held)) {
          wrongOpenings.push(`${symbol}: ${o.kind} ${o.qty}, held ${toDecimalString(held)} at ${new Date(Number(o.window_start_ms)).toISOString()}`);
        }
      }
      results.push({
        name: 'account: each opening is inferred and equals what the account held at its first window',
        pass: wrongOpenings.length === 0,
        detail: `symbols=${symbols.length} history_trades=${counters.history_trades} wrong=${wrongOpenings.length}`,
        examples: wrongOpenings.length ? wrongOpenings : openings.map((x) => `${x.symbol}: ${x.kind} ${x.qty} @ ${x.mark ?? '-'}`),
      });

      const positions = new Map((await pool.query<{ symbol: string; qty: string }>('SELECT symbol, qty::text FROM stage4_positions')).rows.map((r) => [r.symbol, r.qty]));
      const unequal: string[] = [];
      for (const symbol of symbols) {
        const base = sim.engine.pair(symbol)!.base;
        const b = truth.balances[base] ?? { free: '0', locked: '0' };
        const balance = toDecimalString(new Decimal(b.free).add(b.locked));
        const qty = toDecimalString(new Decimal(positions.get(symbol) ?? '0'));
        if (qty !== balance) unequal.push(`${symbol}: position ${qty}, ${base} balance ${balance}`);
      }
      results.push({
        name: 'account: positions equal the exchange balances of their base assets',
        pass: unequal.length === 0,
        detail: `symbols=${symbols.length} manual_trades=${counters.manual_trades} unequal=${unequal.length}`,
        examples: unequal,
      });

      const stuck = await pool.query<{ what: string }>(
        `SELECT 'quarantined ' || symbol || ': ' || detail AS what FROM symbol_quarantines
         UNION ALL SELECT 'balance drift ' || asset || ': ' || diff_qty::text FROM balance_drift WHERE raised`,
      );
      const skipped = await pool.query<{ n: string }>("SELECT count(*) AS n FROM cycle_audit WHERE alerts::text LIKE '%pair_skipped:?%'");
      results.push({
        name: 'account: nothing quarantined or drifting after settling; the malformed pair skipped, never fatal',
        pass: stuck.rows.length === 0 && Number(skipped.rows[0]!.n) > 0,
        detail: `left=${stuck.rows.length} cycles_reporting_the_skipped_pair=${skipped.rows[0]!.n} old_style_row_cycles=${counters.old_style_row_cycles}`,
        examples: stuck.rows.map((r) => r.what),
      });
      return results;
    },
    activity: () => ({ ...counters }),
  };
}

/** The openings and adoptions the bot recorded, for the checks above. */
export async function loadOpenings(pool: Pool): Promise<OpeningRow[]> {
  return (
    await pool.query<OpeningRow>(
      `SELECT DISTINCT ON (symbol) symbol, kind, qty_delta::text AS qty, mark_try::text AS mark, window_start_ms::text AS window_start_ms
       FROM position_adjustments ORDER BY symbol, id`,
    )
  ).rows;
}
