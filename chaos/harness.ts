// The chaos run: many live-armed cycles against the simulator while the exchange misbehaves, the
// worker is SIGKILLed mid-activity, Postgres and the Temporal dev server restart; then a clean
// settle, and the bot's books compared with the exchange's ground truth (chaos/invariants.ts).
//
// Everything runs on loopback: the simulator in this process (so its ground truth is at hand and it
// outlives every kill), Temporal and Postgres as child services, the worker as `btcbot worker`.
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { runCycle, type CycleRun } from '../src/cli/cycles.js';
import { Decimal } from '../src/domain/decimal.js';
import type { GateSettings } from '../src/domain/gates.js';
import { DEFAULT_BALANCES, startSimulator, type RunningSimulator } from '../src/simulator/server.js';
import type { FaultKind, FaultRule } from '../src/simulator/faults.js';
import { Prng } from '../src/simulator/prng.js';
import { createPool, type Pool } from '../src/store/db.js';
import { migrate } from '../src/store/migrations.js';
import type { CycleInput } from '../src/workflows/types.js';
import {
  checkFills, checkGates, checkOrders, checkPositions, EXTERNAL_PREFIX,
  type DbFillRow, type DbOrderRow, type DbPositionRow, type InvariantResult,
} from './invariants.js';
import { PostgresService, TemporalService, WorkerSupervisor } from './processes.js';
import { loadOpenings, prepareChaosAccount } from './account.js';

export interface ChaosOptions {
  cycles: number;
  /** Worker SIGKILLs, each at a random point mid-activity. */
  kills: number;
  seed: number;
  symbols: string[];
  pgRestarts: number;
  temporalRestarts: number;
  /** Extra cycles started with a closed gate, interleaved (default max(2, cycles / 25)). */
  closedGateCycles?: number;
  /** Give up settling after this long (default 180 s). */
  settleTimeoutMs?: number;
  /** Where kills may land (default: every point, weighted toward submits). */
  killPoints?: KillPoint[];
  /** Keep the temporary directory (logs, databases) for inspection. */
  keepDir?: boolean;
  log?: (line: string) => void;
}

export type KillPoint = 'submit_committed' | 'cancel_committed' | 'fills_read' | 'after_fills_read' | 'market_read';

export interface ChaosReport {
  options: Omit<ChaosOptions, 'log'>;
  dir: string;
  durationMs: number;
  cycles: { chaos: number; settle: number; byOutcome: Record<string, number> };
  faults: Record<string, number>;
  kills: { total: number; byPoint: Record<string, number> };
  worker: { starts: number; unexpectedExits: number };
  restarts: { postgres: number; temporal: number };
  activity: Record<string, number>;
  invariants: InvariantResult[];
  pass: boolean;
}

const ARMED: GateSettings = { killSwitch: false, dryRun: false, liveTrading: true, liveTradingAck: 'I_UNDERSTAND' };
const CLOSED_GATES: GateSettings[] = [
  { ...ARMED, killSwitch: true },
  { ...ARMED, liveTrading: false },
  { ...ARMED, liveTradingAck: null },
];
const KILL_WEIGHTS: Array<[KillPoint, number]> = [
  ['submit_committed', 0.45],
  ['cancel_committed', 0.1],
  ['fills_read', 0.15],
  ['after_fills_read', 0.2],
  ['market_read', 0.1],
];
const ORDER_WRITES = new Set(['POST /api/v1/order', 'DELETE /api/v1/order']);
/** Fault kinds used only to hold a request so the worker can be killed during it. */
const HOOK_TAG = 'kill_hook';

class Random {
  private readonly prng: Prng;
  constructor(seed: number) {
    this.prng = new Prng(seed ^ 0xc4a05);
  }
  next(): number {
    return this.prng.next();
  }
  chance(p: number): boolean {
    return this.prng.next() < p;
  }
  int(min: number, max: number): number {
    return min + Math.floor(this.prng.next() * (max - min + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.prng.next() * items.length)]!;
  }
  weighted<T>(items: ReadonlyArray<[T, number]>): T {
    const total = items.reduce((s, [, w]) => s + w, 0);
    let r = this.prng.next() * total;
    for (const [item, w] of items) {
      r -= w;
      if (r < 0) return item;
    }
    return items[items.length - 1]![0];
  }
}

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** `count` distinct indices in [from, to), spread out: one per equal slice, at a random place in it. */
function spread(rng: Random, count: number, from: number, to: number): Set<number> {
  const out = new Set<number>();
  const width = (to - from) / Math.max(1, count);
  for (let k = 0; k < count; k++) out.add(Math.min(to - 1, from + Math.floor(k * width + rng.next() * width)));
  return out;
}

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const log = options.log ?? ((line: string) => console.error(`[chaos] ${line}`));
  const started = Date.now();
  const rng = new Random(options.seed);
  const dir = mkdtempSync(join(tmpdir(), 'btcbot-chaos-'));
  chmodSync(dir, 0o711); // as root, the Postgres cluster runs as the postgres user: it passes through
  mkdirSync(join(dir, 'temporal'));
  const taskQueue = `chaos-${options.seed}`;
  const symbols = options.symbols;

  log(`starting Temporal (persistent db), Postgres and the simulator in ${dir}`);
  const [temporal, postgres, sim] = await Promise.all([
    TemporalService.start(join(dir, 'temporal'), log),
    PostgresService.start(join(dir, 'postgres')),
    startSimulator({ seed: options.seed, balances: { ...DEFAULT_BALANCES, TRY: '100000000' } }),
  ]);
  const pool = createPool(postgres.url, 4);
  await migrate(pool);

  const connection = await Connection.connect({ address: temporal.address });
  const client = new Client({ connection, namespace: 'default' });
  const worker = new WorkerSupervisor(
    {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/root',
      TEMPORAL_ADDRESS: temporal.address,
      DATABASE_URL: postgres.url,
      BTCTURK_BASE_URL: sim.url,
      BTCTURK_API_KEY: sim.credentials.apiKey,
      BTCTURK_API_SECRET: sim.credentials.apiSecret,
      BTCBOT_TASK_QUEUE: taskQueue,
      SYMBOLS: symbols.join(','),
      KILL_SWITCH: 'false',
      DRY_RUN: 'false',
      LIVE_TRADING: 'true',
      LIVE_TRADING_ACK: 'I_UNDERSTAND',
      // Limits wide enough that a buy is placed whenever a symbol has none working.
      TRY_CASH_TARGET: '0',
      TRY_CASH_MAX: '100000000',
      MAX_OPEN_ORDERS: '100',
      MAX_POSITION_NOTIONAL_TRY: '100000000',
      MAX_DAILY_LOSS_TRY: '100000000',
      MAX_DRAWDOWN_PCT: '100',
      STAGE4_BOOTSTRAP_BUDGET_TRY: '150',
      LOG_LEVEL: 'warn',
    },
    join(dir, 'worker.log'),
    log,
  );

  const byOutcome: Record<string, number> = {};
  const killsByPoint: Record<string, number> = {};
  const activity: Record<string, number> = {
    fill_moves: 0, forced_partial_fills: 0, external_sells: 0, submitted: 0, canceled: 0, unknown_submits: 0, fills_applied: 0,
  };
  const gate = { cycles: 0, notBlocked: 0, writes: 0 };
  let reconnecting: Promise<void> | null = null;
  const count = (key: string): void => void (byOutcome[key] = (byOutcome[key] ?? 0) + 1);
  const bump = (key: string, n = 1): void => void (activity[key] = (activity[key] ?? 0) + n);

  /** Run a cycle to its end through Temporal restarts: the workflow id dedupes the re-start. */
  async function cycle(workflowId: string, input: CycleInput): Promise<CycleRun> {
    const deadline = Date.now() + 12 * 60_000;
    for (;;) {
      try {
        await reconnecting;
        return await runCycle(client, { workflowId, taskQueue, input });
      } catch (err) {
        if (Date.now() > deadline) throw err;
        log(`cycle ${workflowId}: ${(err as Error).message.split('\n')[0]}; waiting for Temporal`);
        await (reconnecting ?? delay(500));
      }
    }
  }

  // The client keeps its connection across a Temporal restart: gRPC reconnects by itself, and a
  // call that fails meanwhile is retried by cycle(). (Closing it would break calls still retrying.)
  async function restartTemporal(): Promise<void> {
    let done!: () => void;
    reconnecting = new Promise<void>((r) => (done = r));
    try {
      await temporal.restart();
    } finally {
      done();
      reconnecting = null;
    }
  }

  // ---- the exchange's side: prices, fills, someone else trading on the account ----------------

  const reference = new Map(symbols.map((s) => [s, new Decimal(sim.engine.mid(s)!.toFixed())]));
  let extSeq = 0;

  /** A fill at the same millisecond as another would make "chronological" ambiguous; step past it. */
  async function distinctMillisecond(): Promise<void> {
    const last = Math.max(0, ...sim.engine.groundTruth().fills.map((f) => f.tsMs));
    while (sim.engine.now() <= last) await delay(1);
  }

  async function moveMarket(): Promise<void> {
    for (const symbol of symbols) {
      const pair = sim.engine.pair(symbol)!;
      const truth = sim.engine.groundTruth();
      const open = truth.orders.filter((o) => o.symbol === symbol && (o.status === 'Untouched' || o.status === 'Partial') && !o.clientId.startsWith(EXTERNAL_PREFIX));
      const r = rng.next();
      await distinctMillisecond();
      if (r < 0.35 && open.length > 0) {
        // The market trades down through our resting buys: they fill in full, as maker.
        const lowest = open.reduce((m, o) => Decimal.min(m, new Decimal(o.price)), new Decimal(Infinity));
        sim.engine.setMid(symbol, lowest.mul('0.997').toDecimalPlaces(pair.denominatorScale));
        bump('fill_moves');
      } else if (r < 0.45 && open.length > 0) {
        const o = rng.pick(open);
        const part = new Decimal(o.leftQty).div(2).toDecimalPlaces(pair.numeratorScale, Decimal.ROUND_DOWN);
        if (part.gt(0)) {
          sim.engine.forceFill(BigInt(o.id), part.toFixed());
          bump('forced_partial_fills');
        }
      } else {
        // Drift around the reference price: far enough now and then to make a resting buy stale.
        const move = new Decimal((rng.next() * 2 - 1) * 0.004).toDecimalPlaces(6);
        sim.engine.setMid(symbol, reference.get(symbol)!.mul(move.add(1)).toDecimalPlaces(pair.denominatorScale));
      }
      if (rng.chance(0.1)) await externalSell(symbol);
    }
  }

  /** Someone sells part of the position on the same account: the bot must book it (realized PnL). */
  async function externalSell(symbol: string): Promise<void> {
    const pair = sim.engine.pair(symbol)!;
    const truth = sim.engine.groundTruth();
    const held = truth.fills
      .filter((f) => f.symbol === symbol)
      .reduce((s, f) => (f.side === 'buy' ? s.add(f.qty) : s.sub(f.qty)), new Decimal(0));
    const qty = held.mul('0.4').toDecimalPlaces(pair.numeratorScale, Decimal.ROUND_DOWN);
    const bid = sim.engine.bookView(symbol).bids[0]?.price;
    if (bid === undefined || qty.lte(0)) return;
    const price = bid.mul('0.995').toDecimalPlaces(pair.hasFraction ? pair.denominatorScale : 0, Decimal.ROUND_DOWN);
    if (price.mul(qty).lt(pair.minExchangeValue)) return;
    await distinctMillisecond();
    sim.engine.submit({
      pairSymbol: symbol, orderType: 'sell', orderMethod: 'limit', quantity: qty.toFixed(), price: price.toFixed(),
      newOrderClientId: `${EXTERNAL_PREFIX}${++extSeq}`,
    });
    bump('external_sells');
  }

  /** This cycle's weather: seeded, per-cycle fault rules. */
  function injectFaults(): void {
    sim.faults.clear();
    const add = (rule: FaultRule): void => void sim.faults.add(rule);
    if (rng.chance(0.5)) {
      add({ route: '*', kind: 'http500', probability: 0.04, times: null });
      add({ route: '*', kind: 'http503', probability: 0.02, times: null });
      add({ route: '*', kind: 'http429', probability: 0.04, retryAfterSec: 1, times: null });
    }
    const afterCommit: FaultKind[] = ['dropAfterCommit', 'emptyAfterCommit', 'htmlAfterCommit'];
    if (rng.chance(0.3)) add({ route: 'POST /api/v1/order', kind: rng.pick(afterCommit), times: 1 });
    if (rng.chance(0.25)) add({ route: 'DELETE /api/v1/order', kind: rng.pick(afterCommit), times: 1 });
    if (rng.chance(0.02)) add({ route: 'POST /api/v1/order', kind: 'delayAfterCommit', latencyMs: 11_000, times: 1 });
    if (rng.chance(0.35)) add({ route: 'GET /api/v1/users/transactions/trade', kind: 'duplicateTradeRows', probability: 0.7, times: null });
    if (rng.chance(0.25)) add({ route: 'GET /api/v1/users/transactions/trade', kind: 'missingTradeIds', probability: 0.6, times: null });
    if (rng.chance(0.05)) add({ route: 'GET /api/v1/openOrders', kind: 'http500', skip: rng.int(0, 1), times: 1 });
  }

  /**
   * Arm a kill: hold one request of the chosen kind (a fault rule) and SIGKILL the worker while it
   * is in flight — after the exchange committed it, for writes. Resolves with whether it fired.
   */
  function armKill(point: KillPoint, stop: { done: boolean }): Promise<boolean> {
    const hook: Record<KillPoint, { route: string; rule: FaultRule | null; afterAnswer: boolean }> = {
      submit_committed: { route: 'POST /api/v1/order', rule: { route: 'POST /api/v1/order', kind: 'delayAfterCommit', latencyMs: 5_000, times: 1 }, afterAnswer: false },
      cancel_committed: { route: 'DELETE /api/v1/order', rule: { route: 'DELETE /api/v1/order', kind: 'delayAfterCommit', latencyMs: 5_000, times: 1 }, afterAnswer: false },
      fills_read: { route: 'GET /api/v1/users/transactions/trade', rule: { route: 'GET /api/v1/users/transactions/trade', kind: 'latency', latencyMs: 5_000, times: 1 }, afterAnswer: false },
      after_fills_read: { route: 'GET /api/v1/users/transactions/trade', rule: null, afterAnswer: true },
      market_read: { route: 'GET /api/v1/users/balances', rule: { route: 'GET /api/v1/users/balances', kind: 'latency', latencyMs: 5_000, times: 1 }, afterAnswer: false },
    };
    const h = hook[point];
    const ruleId = h.rule ? sim.faults.add(h.rule) : null;
    const from = sim.requests.length;
    const jitter = rng.int(0, 40);
    return (async () => {
      let seen = from;
      while (!stop.done) {
        for (; seen < sim.requests.length; seen++) {
          const e = sim.requests[seen]!;
          if (e.route !== h.route) continue;
          if (h.rule && !e.faults.includes(h.rule.kind)) continue;
          if (h.afterAnswer) {
            while (e.status === null && !stop.done) await delay(1);
            await delay(jitter); // somewhere in the ingest transaction, the snapshot, or the next step
          }
          e.faults.push(HOOK_TAG);
          await worker.killAndRestart();
          return true;
        }
        await delay(5);
      }
      if (ruleId !== null) sim.faults.remove(ruleId);
      return false;
    })();
  }

  try {
    // Issue 13: holdings and trades from before the bot, manual trades, a malformed pair, old-style rows.
    const account = await prepareChaosAccount(sim, symbols, options.seed);
    await worker.start();
    log(`worker ready (pid ${worker.pid}); ${options.cycles} cycles, ${options.kills} kills, ${options.pgRestarts} Postgres and ${options.temporalRestarts} Temporal restarts`);

    const pgAt = spread(rng, options.pgRestarts, 1, Math.max(2, options.cycles - 1));
    const temporalAt = spread(rng, options.temporalRestarts, 1, Math.max(2, options.cycles - 1));
    const closedAt = spread(rng, options.closedGateCycles ?? Math.max(2, Math.floor(options.cycles / 25)), 0, options.cycles);
    // Kills are spread over the first 85 % of cycles; one that does not fire (no such request in
    // that cycle) stays armed for the next cycle.
    const killAt = [...spread(rng, options.kills, 0, Math.max(1, Math.floor(options.cycles * 0.85)))].sort((a, b) => a - b);
    let killsDone = 0;
    const killWeights = options.killPoints ? KILL_WEIGHTS.filter(([p]) => options.killPoints!.includes(p)) : KILL_WEIGHTS;

    // A kill still owed at the end (its request kind never came up) gets a few extra cycles.
    const maxCycles = options.cycles + Math.max(10, Math.ceil(options.cycles / 2));
    let i = 0;
    for (; i < options.cycles || (killsDone < options.kills && i < maxCycles); i++) {
      await moveMarket();
      await account.weather();
      injectFaults();

      if (closedAt.has(i)) {
        const before = sim.requests.length;
        const run = await cycle(`chaos-${options.seed}-${i}-closed-gate`, {
          gates: rng.pick(CLOSED_GATES), dryRunRequested: false, symbols, trigger: 'chaos',
        });
        gate.cycles += 1;
        if (run.result?.outcome !== 'blocked') gate.notBlocked += 1;
        gate.writes += sim.requests.slice(before).filter((e) => ORDER_WRITES.has(e.route)).length;
      }

      const stop = { done: false };
      const killArmed = killsDone < options.kills && killAt[killsDone]! <= i;
      const point = killArmed ? rng.weighted(killWeights) : null;
      const killing = point ? armKill(point, stop) : Promise.resolve(false);
      const disruptions: Array<Promise<void>> = [];
      if (pgAt.has(i)) {
        disruptions.push(delay(rng.int(50, 1500)).then(async () => {
          log(`cycle ${i}: restarting Postgres`);
          await postgres.restart();
        }));
      }
      if (temporalAt.has(i)) {
        disruptions.push(delay(rng.int(50, 1500)).then(async () => {
          log(`cycle ${i}: restarting the Temporal dev server`);
          await restartTemporal();
        }));
      }

      const cycleStart = Date.now();
      const run = await cycle(`chaos-${options.seed}-${i}`, { gates: ARMED, dryRunRequested: false, symbols, trigger: 'chaos' });
      const took = Date.now() - cycleStart;
      stop.done = true;
      if (await killing) {
        killsDone += 1;
        killsByPoint[point!] = (killsByPoint[point!] ?? 0) + 1;
        log(`cycle ${i}: worker SIGKILLed at ${point} and restarted (${killsDone}/${options.kills})`);
      }
      await Promise.all(disruptions);
      await worker.settled();

      const outcome = run.result?.outcome ?? 'failed';
      count(outcome);
      for (const k of ['submitted', 'canceled', 'unknown_submits', 'fills_applied']) bump(k, run.result?.counts[k] ?? 0);
      if (took > 20_000) log(`cycle ${i}: took ${(took / 1000).toFixed(1)} s`);
      if (outcome !== 'ok') log(`cycle ${i}: ${outcome}${run.failure ? `: ${run.failure}` : run.result?.message ? `: ${run.result.message}` : ''}`);
      if ((i + 1) % 20 === 0) log(`${i + 1}/${options.cycles} cycles, ${killsDone} kills, ${JSON.stringify(byOutcome)}`);
    }

    // ---- settle: no faults, no price moves; clean cycles until nothing is left unresolved ------
    sim.faults.clear();
    account.settle();
    const settleDeadline = Date.now() + (options.settleTimeoutMs ?? 180_000);
    let settleCycles = 0;
    let quietStreak = 0;
    for (;;) {
      const run = await cycle(`chaos-${options.seed}-settle-${settleCycles++}`, { gates: ARMED, dryRunRequested: false, symbols, trigger: 'chaos' });
      const unresolved = await pool.query<{ n: string }>(
        `SELECT count(*) AS n FROM stage4_orders WHERE mode = 'live' AND status IN ('pending_submit', 'unknown', 'cancel_requested')`,
      );
      const quiet = run.result?.outcome === 'ok' && Number(unresolved.rows[0]!.n) === 0 && (run.result.counts['fills_applied'] ?? 0) === 0;
      quietStreak = quiet ? quietStreak + 1 : 0;
      if (quietStreak >= 2) break;
      if (Date.now() > settleDeadline) {
        log(`settle: gave up after ${settleCycles} cycles with ${unresolved.rows[0]!.n} unresolved orders`);
        break;
      }
      // Unresolved submits are only closed once older than the product's visibility grace (30 s).
      if (!quiet) await delay(2_000);
    }

    // ---- compare with the exchange's truth ------------------------------------------------------
    const truth = sim.engine.groundTruth();
    const orders = (await pool.query<DbOrderRow>('SELECT client_order_id, exchange_order_id, symbol, status, mode FROM stage4_orders')).rows;
    const fills = (await pool.query<DbFillRow>(
      'SELECT fill_id, exchange_order_id, symbol, side, price::text, qty::text, fee::text, tax::text, ts_ms::text FROM stage4_fills',
    )).rows;
    const positions = (await pool.query<DbPositionRow>(
      'SELECT symbol, qty::text, cost_basis_try::text, realized_pnl_try::text FROM stage4_positions',
    )).rows;
    const audits = (await pool.query<{ cycle_id: string; decisions: string[] }>('SELECT cycle_id, decisions FROM cycle_audit')).rows;
    const decisions = audits.flatMap((a) => a.decisions);
    for (const d of decisions) {
      const resolved = /:resolved_by_client_id:([A-Za-z]+)/.exec(d);
      if (resolved) bump(resolved[1]!.startsWith('retry') ? 'submits_resolved_after_retry' : 'submits_resolved_after_ambiguous_answer');
      if (d.startsWith('reconcile:')) bump('reconcile_state_changes');
    }
    const startedCycles = i + settleCycles + gate.cycles;
    const openings = await loadOpenings(pool);
    const invariants = [
      ...checkOrders(truth, orders),
      ...checkFills(account.accountedFills(truth, openings), fills),
      ...checkPositions(account.withOpenings(truth, openings), positions),
      ...(await account.invariants(truth, pool, openings)),
      ...checkGates(gate),
      {
        name: 'audit: exactly one cycle_audit row per cycle started',
        pass: audits.length === startedCycles && new Set(audits.map((a) => a.cycle_id)).size === audits.length,
        detail: `cycles_started=${startedCycles} audit_rows=${audits.length}`,
        examples: [],
      },
      {
        name: `kills: at least ${options.kills} worker SIGKILLs mid-activity`,
        pass: worker.kills >= options.kills,
        detail: `kills=${worker.kills}`,
        examples: [],
      },
    ];

    const faults: Record<string, number> = {};
    for (const e of sim.requests) {
      // A kill hook's own holding fault is not part of the exchange's misbehaviour: count it as the hook.
      const kinds = [...e.faults];
      if (kinds.includes(HOOK_TAG)) {
        const held = kinds.findIndex((k) => k === 'latency' || k === 'delayAfterCommit');
        if (held >= 0) kinds.splice(held, 1);
      }
      for (const f of kinds) faults[f] = (faults[f] ?? 0) + 1;
    }
    activity.exchange_orders = truth.orders.filter((o) => !o.clientId.startsWith(EXTERNAL_PREFIX)).length;
    activity.exchange_fills = truth.fills.length;
    activity.api_requests = sim.requests.length;
    Object.assign(activity, account.activity());

    return {
      options: { ...options, log: undefined } as Omit<ChaosOptions, 'log'>,
      dir,
      durationMs: Date.now() - started,
      cycles: { chaos: i, settle: settleCycles, byOutcome },
      faults,
      kills: { total: worker.kills, byPoint: killsByPoint },
      worker: { starts: worker.starts, unexpectedExits: worker.unexpectedExits },
      restarts: { postgres: postgres.restarts, temporal: temporal.restarts },
      activity,
      invariants,
      pass: invariants.every((r) => r.pass),
    };
  } finally {
    await worker.stop().catch(() => {});
    await connection.close().catch(() => {});
    await pool.end().catch(() => {});
    await Promise.allSettled([sim.close(), temporal.stop(), postgres.stop()]);
    if (!options.keepDir) rmSync(dir, { recursive: true, force: true });
  }
}

export function formatReport(r: ChaosReport): string {
  const lines: string[] = [];
  const kv = (o: Record<string, number>): string => Object.entries(o).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${v}`).join(' ') || '-';
  lines.push(`btcbot chaos report (seed ${r.options.seed}, symbols ${r.options.symbols.join(',')})`);
  lines.push(`  duration    ${(r.durationMs / 1000).toFixed(1)} s`);
  lines.push(`  cycles      ${r.cycles.chaos} chaos + ${r.cycles.settle} settle; outcomes ${kv(r.cycles.byOutcome)}`);
  lines.push(`  faults      ${kv(r.faults)}`);
  lines.push(`  kills       ${r.kills.total} worker SIGKILLs: ${kv(r.kills.byPoint)}`);
  lines.push(`  worker      starts=${r.worker.starts} unexpected_exits=${r.worker.unexpectedExits}`);
  lines.push(`  restarts    postgres=${r.restarts.postgres} temporal=${r.restarts.temporal}`);
  lines.push(`  activity    ${kv(r.activity)}`);
  lines.push('  invariants');
  for (const inv of r.invariants) {
    lines.push(`    ${inv.pass ? 'PASS' : 'FAIL'}  ${inv.name}  (${inv.detail})`);
    for (const e of inv.examples) lines.push(`            ${e}`);
  }
  lines.push(`  result      ${r.pass ? 'PASS' : 'FAIL'}`);
  if (r.options.keepDir) lines.push(`  logs        ${r.dir}`);
  return lines.join('\n');
}
