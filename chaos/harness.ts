// The chaos run: many live-armed cycles against the simulator while the exchange misbehaves (as the
// reference documents it: lost and garbled answers, orders invisible for a while, POSTs held and
// committed late, long Retry-Afters, cancels that fill), the worker is SIGKILLed mid-activity,
// Postgres and the Temporal dev server restart, and the operator runs `btcbot halt` (with and
// without --cancel-open) while writes wait on the rate limiter; the exchange's ground truth and the
// database are sampled all along; then a clean settle, and the bot's books compared with the
// exchange's ground truth (chaos/invariants.ts).
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
  checkFills, checkGates, checkHalts, checkNoOrphan, checkOrders, checkPositions, checkSamples, EXTERNAL_PREFIX, sampleOrders,
  type DbFillRow, type DbOrderRow, type DbPositionRow, type HaltRecord, type InvariantResult, type SampleLog,
} from './invariants.js';
import { PostgresService, runBtcbot, TemporalService, WorkerSupervisor } from './processes.js';
import { loadOpenings, prepareChaosAccount } from './account.js';

export interface ChaosOptions {
  cycles: number;
  /** Worker SIGKILLs, each at a random point mid-activity. */
  kills: number;
  seed: number;
  symbols: string[];
  pgRestarts: number;
  temporalRestarts: number;
  /** `btcbot halt` runs, alternately with and without --cancel-open, each followed by `btcbot resume`. */
  halts: number;
  /**
   * The worker's ORDER_ABSENCE_WINDOW_SEC (default 60; production default 180). Orders are made
   * invisible for at most a third of it, as the window is chosen to exceed how long they can hide.
   */
  absenceWindowSec?: number;
  /** A POST may reach the exchange this long after the halt was stored: a send already past its final check (default 100 ms). */
  haltAllowanceMs?: number;
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
  halts: { total: number; cancelOpen: number; whileLimiterWait: number; whileInFlight: number; exitCodes: Record<string, number> };
  /** Armed halts that found no submit to catch in their cycle, each with that cycle's decisions (why it placed nothing). */
  haltMisses: string[];
  samples: number;
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

/**
 * The exchange's misbehaviour, one entry per kind of weather: with `chance` per cycle it adds its
 * rules. Kept as a table so further kinds (other suites' faults) are one entry each.
 */
export interface FaultWeather {
  readonly name: string;
  readonly chance: number;
  rules(rng: Random, absenceWindowMs: number): FaultRule[];
}

const AFTER_COMMIT: FaultKind[] = ['dropAfterCommit', 'emptyAfterCommit', 'htmlAfterCommit'];
/** The worker's client timeout (BtcturkExchange default): a POST held longer is given up on. */
const CLIENT_TIMEOUT_MS = 10_000;

/** How long the exchange holds the answer to a POST it committed, for a halt to come while it is on its way (inside the client timeout). */
const HALT_HOLD_MS = 8_000;

/** executeAction's start-to-close (src/workflows/trading-cycle.ts): a submit's send deadline is at most this after its row. */
const SUBMIT_ATTEMPT_MS = 30_000;
/** Between two tries of an armed halt that found nothing to catch: what frees a symbol is time, not cycles. */
const HALT_RETRY_PACE_MS = 1_500;

/** The weather while `btcbot halt` runs: its reads and cancels meet the exchange's misbehaviour too. */
const HALT_WEATHER = (rng: Random): FaultRule[] => [
  { route: 'GET /api/v1/openOrders', kind: 'http500', probability: 0.15, times: null },
  { route: 'GET /api/v1/allOrders', kind: 'http503', probability: 0.15, times: null },
  { route: 'GET /api/v1/order/{id}', kind: 'http500', probability: 0.15, times: null },
  { route: 'DELETE /api/v1/order', kind: rng.pick(AFTER_COMMIT), times: 1 },
  { route: 'DELETE /api/v1/order', kind: 'cancelThenFill', latencyMs: rng.int(500, 3_000), times: 1 },
];

export const FAULT_MIX: readonly FaultWeather[] = [
  { name: 'transient 5xx and 429 anywhere', chance: 0.5, rules: () => [
    { route: '*', kind: 'http500', probability: 0.04, times: null },
    { route: '*', kind: 'http503', probability: 0.02, times: null },
    { route: '*', kind: 'http429', probability: 0.04, retryAfterSec: 1, times: null },
  ] },
  { name: 'submit answer lost after commit', chance: 0.3, rules: (rng) => [{ route: 'POST /api/v1/order', kind: rng.pick(AFTER_COMMIT), times: 1 }] },
  { name: 'cancel answer lost after commit', chance: 0.25, rules: (rng) => [{ route: 'DELETE /api/v1/order', kind: rng.pick(AFTER_COMMIT), times: 1 }] },
  { name: 'submit answer held past the client timeout, order created at the start', chance: 0.02, rules: () => [
    { route: 'POST /api/v1/order', kind: 'delayAfterCommit', latencyMs: CLIENT_TIMEOUT_MS + 1_000, times: 1 },
  ] },
  // Issue 12: the exchange as the reference documents it.
  { name: 'submit held past the client timeout, order created at the end (Q11)', chance: 0.03, rules: (rng) => [
    { route: 'POST /api/v1/order', kind: 'holdThenCommit', latencyMs: CLIENT_TIMEOUT_MS + rng.int(500, 3_000), times: 1 },
  ] },
  { name: 'accepted order invisible to every read for a while (Q13)', chance: 0.12, rules: (rng, windowMs) => [
    { route: 'POST /api/v1/order', kind: 'orderInvisible', hiddenMs: rng.int(1_000, Math.max(1_500, Math.floor(windowMs / 3))), times: 1 },
    ...(rng.chance(0.5) ? [{ route: 'POST /api/v1/order', kind: rng.pick<FaultKind>(['emptyAfterCommit', 'proxy4xxAfterCommit']), httpStatus: 409, times: 1 }] : []),
  ] },
  // Longer than the absence window: the row is closed by inference while the order works; nothing new
  // may be placed on that symbol and side until it shows (the sampled over-planned check).
  { name: 'accepted order invisible for longer than the absence window (Q13)', chance: 0.03, rules: (rng, windowMs) => [
    { route: 'POST /api/v1/order', kind: 'emptyAfterCommit', times: 1 },
    { route: 'POST /api/v1/order', kind: 'orderInvisible', hiddenMs: rng.int(windowMs + 10_000, Math.floor(1.5 * windowMs) + 10_000), times: 1 },
  ] },
  { name: 'proxy 4xx or HTML page to a processed POST', chance: 0.1, rules: (rng) => [
    { route: 'POST /api/v1/order', kind: 'proxy4xxAfterCommit', httpStatus: rng.pick([408, 409, 425, 401, 403, 429]), times: 1 },
  ] },
  { name: 'Retry-After longer than an activity attempt', chance: 0.02, rules: () => [
    { route: 'POST /api/v1/order', kind: 'http429', retryAfterSec: 45, times: 1 },
  ] },
  { name: 'cancel acknowledged, order stays open, then fills (§6.6)', chance: 0.15, rules: (rng) => [
    { route: 'DELETE /api/v1/order', kind: 'cancelThenFill', latencyMs: rng.int(500, 4_000), times: 1 },
  ] },
  { name: 'duplicate trade rows', chance: 0.35, rules: () => [{ route: 'GET /api/v1/users/transactions/trade', kind: 'duplicateTradeRows', probability: 0.7, times: null }] },
  { name: 'trade rows without ids', chance: 0.25, rules: () => [{ route: 'GET /api/v1/users/transactions/trade', kind: 'missingTradeIds', probability: 0.6, times: null }] },
  { name: 'open-order read fails', chance: 0.05, rules: (rng) => [{ route: 'GET /api/v1/openOrders', kind: 'http500', skip: rng.int(0, 1), times: 1 }] },
];

export class Random {
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
  const absenceWindowMs = (options.absenceWindowSec ?? 60) * 1000;
  const recoveryWindowMs = 2 * absenceWindowMs;
  const haltAllowanceMs = options.haltAllowanceMs ?? 100;
  // The longest the bot rightly places nothing on a symbol: a submit left unresolved (a kill, a lost
  // answer) stays unknown until its send deadline plus the absence window, then counts as working
  // for the recovery window. An armed halt waits that long (and a margin) for a buy to catch.
  const haltPatienceMs = SUBMIT_ATTEMPT_MS + absenceWindowMs + recoveryWindowMs + 30_000;

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
  /** What an operator's shell on this deployment holds: the stack's addresses, gates armed. */
  const operatorEnv: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/root',
    TEMPORAL_ADDRESS: temporal.address,
    DATABASE_URL: postgres.url,
    BTCBOT_TASK_QUEUE: taskQueue,
    SYMBOLS: symbols.join(','),
    KILL_SWITCH: 'false',
    DRY_RUN: 'false',
    LIVE_TRADING: 'true',
    LIVE_TRADING_ACK: 'I_UNDERSTAND',
    LOG_LEVEL: 'warn',
  };
  const worker = new WorkerSupervisor(
    {
      ...operatorEnv,
      BTCTURK_BASE_URL: sim.url,
      BTCTURK_API_KEY: sim.credentials.apiKey,
      BTCTURK_API_SECRET: sim.credentials.apiSecret,
      // Limits wide enough that a buy is placed whenever a symbol has none working.
      TRY_CASH_TARGET: '0',
      TRY_CASH_MAX: '100000000',
      MAX_OPEN_ORDERS: '100',
      MAX_POSITION_NOTIONAL_TRY: '100000000',
      MAX_DAILY_LOSS_TRY: '100000000',
      MAX_DRAWDOWN_PCT: '100',
      STAGE4_BOOTSTRAP_BUDGET_TRY: '150',
      ORDER_ABSENCE_WINDOW_SEC: String(absenceWindowMs / 1000),
      // Twice the absence window (production: 2 h), so a symbol blocked by an inferred close frees up within the run.
      ORDER_RECOVERY_WINDOW_SEC: String(recoveryWindowMs / 1000),
    },
    join(dir, 'worker.log'),
    log,
  );
  /** `btcbot halt` / `resume` run as the operator would run them. */
  const cliEnv = operatorEnv;

  const byOutcome: Record<string, number> = {};
  const killsByPoint: Record<string, number> = {};
  const halts: HaltRecord[] = [];
  const resumedAt: number[] = [];
  const samples: SampleLog = { samples: 0, untracked: [], recovering: [], overPlanned: [] };
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

  /** `fillResting`: trade through every resting buy of ours (a halt cycle then has buys to place). */
  async function moveMarket(fillResting = false): Promise<void> {
    for (const symbol of symbols) {
      const pair = sim.engine.pair(symbol)!;
      const truth = sim.engine.groundTruth();
      const open = truth.orders.filter((o) => o.symbol === symbol && (o.status === 'Untouched' || o.status === 'Partial') && !o.clientId.startsWith(EXTERNAL_PREFIX));
      const r = rng.next();
      await distinctMillisecond();
      if ((fillResting || r < 0.35) && open.length > 0) {
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

  /** This cycle's weather: each entry of FAULT_MIX, by its chance, adds its rules. */
  function injectFaults(): void {
    sim.faults.clear();
    for (const entry of FAULT_MIX) {
      if (rng.chance(entry.chance)) for (const rule of entry.rules(rng, absenceWindowMs)) sim.faults.add(rule);
    }
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

  // ---- sampling: at every instant, each live order of ours is a working row; never two per symbol --
  let sampling = true;
  async function sampleOnce(): Promise<void> {
    try {
      const before = sim.engine.groundTruth();
      // `recovering`: closed by inference and still inside its recovery window (RECOVERY_WINDOW_MS).
      const rows = (await pool.query<DbOrderRow & { recovering: boolean }>(
        `SELECT client_order_id, exchange_order_id, symbol, status, mode,
           (status = 'unknown_closed' AND updated_at > now() - make_interval(secs => $1)) AS recovering
         FROM stage4_orders WHERE mode = 'live'`,
        [recoveryWindowMs / 1000],
      )).rows;
      const after = sim.engine.groundTruth();
      const r = sampleOrders(before, rows, after);
      samples.samples += 1;
      for (const u of r.untracked) if (!samples.untracked.includes(u) && samples.untracked.length < 50) samples.untracked.push(u);
      for (const u of r.recovering) if (!samples.recovering.includes(u) && samples.recovering.length < 50) samples.recovering.push(u);
      for (const o of r.overPlanned) if (!samples.overPlanned.includes(o) && samples.overPlanned.length < 50) samples.overPlanned.push(o);
    } catch {
      // Postgres restarting: no sample this time
    }
  }
  const sampler = (async () => {
    while (sampling) {
      await sampleOnce();
      await delay(200);
    }
  })();

  /**
   * A POST answered 429 in this cycle a moment ago (its own row is closed as not sent within
   * milliseconds), and a submit recorded and not sent yet: it waits on the limiter.
   */
  async function writeWaitsOnLimiter(from: number): Promise<boolean> {
    const limited = sim.requests.slice(from).find((r) => r.route === 'POST /api/v1/order' && r.status === 429);
    if (limited === undefined || Date.now() - limited.wallMs < 300) return false;
    const pending = await pool.query(`SELECT 1 FROM stage4_orders WHERE mode = 'live' AND status = 'pending_submit' LIMIT 1`);
    return pending.rowCount === 1;
  }

  /**
   * `btcbot halt` during cycle `i` while a submit waits on the rate limiter (the cycle's first POST
   * is answered 429), then `btcbot resume`. A cycle that never gets there (it had nothing to
   * submit) is let go, and the halt stays armed for the next one, unless `anyway`.
   */
  /** A POST of this cycle reached the exchange and still awaits its answer (a send past its final check). */
  function writeInFlight(from: number): boolean {
    return sim.requests.slice(from).some((r) => r.route === 'POST /api/v1/order' && r.status === null && Date.now() - r.wallMs > 200);
  }
  /** The held POST of this cycle was still unanswered when the halt was stored (it really coincided). */
  function heldAtMs(from: number, atMs: number): boolean {
    const held = sim.requests.slice(from).find((r) => r.route === 'POST /api/v1/order' && r.faults.includes('delayAfterCommit'));
    return held !== undefined && held.wallMs < atMs && atMs < held.wallMs + HALT_HOLD_MS;
  }

  async function haltDuring(
    i: number, cancelOpen: boolean, inFlight: boolean, running: Promise<CycleRun>, from: number, anyway: boolean,
  ): Promise<boolean> {
    let finished = false;
    void running.then(() => (finished = true), () => (finished = true));
    const until = Date.now() + 20_000;
    let waiting = false;
    const ready = async (): Promise<boolean> => (inFlight ? writeInFlight(from) : writeWaitsOnLimiter(from));
    while (!finished && Date.now() < until && !(waiting = await ready())) await delay(20);
    if (!waiting && !anyway) return false;
    if (waiting && !inFlight) await delay(rng.int(50, 1_500));
    waiting = waiting && (await ready());
    // The halt's own reads and cancels meet the exchange's misbehaviour too.
    for (const rule of HALT_WEATHER(rng)) sim.faults.add(rule);
    const out = await runBtcbot(['halt', '--reason', `chaos halt at cycle ${i}`, ...(cancelOpen ? ['--cancel-open'] : [])], cliEnv);
    const stored = await pool.query<{ at: Date }>(`SELECT updated_at AS at FROM runtime_state WHERE key = 'halt'`);
    const liveAfter = sim.engine.groundTruth().orders
      .filter((o) => !o.clientId.startsWith(EXTERNAL_PREFIX) && (o.status === 'Untouched' || o.status === 'Partial'))
      .map((o) => ({ id: o.id, clientId: o.clientId, symbol: o.symbol }));
    const record: HaltRecord = {
      cycle: i, cancelOpen, whileLimiterWait: waiting && !inFlight,
      whileInFlight: waiting && inFlight && heldAtMs(from, stored.rows[0]?.at.getTime() ?? Date.now()),
      storedAtMs: stored.rows[0]?.at.getTime() ?? Date.now(), exitCode: out.code, stdout: out.stdout, liveAfter: cancelOpen ? liveAfter : [],
    };
    halts.push(record);
    log(`cycle ${i}: btcbot halt${cancelOpen ? ' --cancel-open' : ''}${waiting ? (inFlight ? ' while a POST awaited its answer' : ' while a submit waited on the limiter') : ''}: exit ${out.code}`);
    if (out.code !== 0) log(out.stdout.split('\n').slice(-8).join('\n'));
    await running;
    if (record.whileInFlight) {
      // The cycle waited for the attempt: the answered POST's row must hold its outcome now.
      const left = await pool.query<{ client_order_id: string }>(
        `SELECT client_order_id FROM stage4_orders WHERE cycle_id = $1 AND status IN ('pending_submit', 'unknown')`, [`chaos-${options.seed}-${i}`],
      );
      record.leftUnresolved = left.rows.map((r) => r.client_order_id);
    }
    sim.faults.clear();
    const resumed = await runBtcbot(['resume'], cliEnv);
    if (resumed.code !== 0) throw new Error(`btcbot resume failed (${resumed.code}): ${resumed.stderr}`);
    resumedAt.push(Date.now());
    return true;
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
    // Halts are spread over the same span, and armed like kills: one that finds no submit to catch
    // stays armed, its tries paced, for haltPatienceMs (then it halts anyway): armed cycles run in
    // clean weather, so a symbol blocked by an unresolved submit frees up within that time, however
    // fast the cycles run. A kill waits while one is armed, and those cycles are not charged to it.
    const haltAt = [...spread(rng, options.halts, 1, Math.max(2, Math.floor(options.cycles * 0.85)))].sort((a, b) => a - b);
    let haltsDone = 0;
    let haltArmedAtMs: number | null = null;
    let haltWaitCycles = 0;
    const haltMisses: string[] = [];
    const killWeights = options.killPoints ? KILL_WEIGHTS.filter(([p]) => options.killPoints!.includes(p)) : KILL_WEIGHTS;

    // A kill still owed at the end (its request kind never came up) gets a few extra cycles.
    const maxCycles = options.cycles + Math.max(10, Math.ceil(options.cycles / 2));
    let i = 0;
    // A halt waits for a cycle with a submit to catch, bounded by haltPatienceMs, not by cycles.
    for (; i < options.cycles || (killsDone < options.kills && i - haltWaitCycles < maxCycles) || haltsDone < options.halts; i++) {
      const halting = haltsDone < options.halts && haltAt[haltsDone]! <= i;
      await moveMarket(halting);
      await account.weather();
      if (halting) sim.faults.clear();
      else injectFaults();

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
      const killArmed = !halting && killsDone < options.kills && killAt[killsDone]! <= i;
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
      const from = sim.requests.length;
      // Every third halt (the 2nd, 5th, ...) comes while a POST that reached the exchange awaits its answer (held HALT_HOLD_MS,
      // inside the client timeout); the others while a submit waits on the limiter after a 429.
      const inFlight = haltsDone % 3 === 1;
      if (halting) {
        sim.faults.add(inFlight
          ? { route: 'POST /api/v1/order', kind: 'delayAfterCommit', latencyMs: HALT_HOLD_MS, times: 1 }
          : { route: 'POST /api/v1/order', kind: 'http429', retryAfterSec: rng.int(4, 10), times: 1 });
      }
      const running = cycle(`chaos-${options.seed}-${i}`, { gates: ARMED, dryRunRequested: false, symbols, trigger: 'chaos' });
      let paceNext = false;
      if (halting) {
        haltArmedAtMs ??= cycleStart;
        if (await haltDuring(i, haltsDone % 2 === 0, inFlight, running, from, cycleStart - haltArmedAtMs >= haltPatienceMs)) {
          haltsDone += 1;
          haltArmedAtMs = null;
        } else {
          haltWaitCycles += 1;
          paceNext = true;
          await running;
          const audit = await pool.query<{ decisions: string[]; alerts: string[] }>(
            'SELECT decisions, alerts FROM cycle_audit WHERE cycle_id = $1', [`chaos-${options.seed}-${i}`],
          );
          const why = audit.rows[0] ? [...audit.rows[0].decisions, ...audit.rows[0].alerts].join(' ') : 'no audit row';
          haltMisses.push(`cycle ${i} (${inFlight ? 'in flight' : 'limiter'}): ${why}`);
        }
      }
      const run = await running;
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
      if (paceNext) await delay(HALT_RETRY_PACE_MS);
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
      // An order of ours still hidden (longer than the absence window) has not come home yet either.
      const hidden = sim.engine.groundTruth().orders.filter((o) => !o.visible && (o.status === 'Untouched' || o.status === 'Partial')).length;
      const quiet = run.result?.outcome === 'ok' && Number(unresolved.rows[0]!.n) === 0 && hidden === 0 && (run.result.counts['fills_applied'] ?? 0) === 0;
      quietStreak = quiet ? quietStreak + 1 : 0;
      if (quietStreak >= 2) break;
      if (Date.now() > settleDeadline) {
        log(`settle: gave up after ${settleCycles} cycles with ${unresolved.rows[0]!.n} unresolved orders`);
        break;
      }
      // Unresolved submits are only closed after the absence window (ORDER_ABSENCE_WINDOW_SEC).
      if (!quiet) await delay(2_000);
    }
    sampling = false;
    await sampler;

    // ---- compare with the exchange's truth ------------------------------------------------------
    const truth = sim.engine.groundTruth();
    const orders = (await pool.query<DbOrderRow>('SELECT client_order_id, exchange_order_id, symbol, status, mode, duplicate_of FROM stage4_orders')).rows;
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
      ...checkSamples(samples),
      ...checkNoOrphan(truth, orders, new Set(fills.map((f) => f.exchange_order_id)), new Map(openings.flatMap((o) => (o.window_start_ms === null ? [] : [[o.symbol, Number(o.window_start_ms)] as const])))),
      ...checkHalts(halts, sim.requests.filter((e) => e.route === 'POST /api/v1/order'), resumedAt, haltAllowanceMs),
      {
        name: `halts: at least ${options.halts} \`btcbot halt\` runs, with and without --cancel-open`,
        pass: halts.length >= options.halts && (options.halts < 2 || (halts.some((h) => h.cancelOpen) && halts.some((h) => !h.cancelOpen))),
        detail: `halts=${halts.length} cancel_open=${halts.filter((h) => h.cancelOpen).length} while_limiter_wait=${halts.filter((h) => h.whileLimiterWait).length}`,
        examples: [],
      },
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
      halts: {
        total: halts.length,
        cancelOpen: halts.filter((h) => h.cancelOpen).length,
        whileLimiterWait: halts.filter((h) => h.whileLimiterWait).length,
        whileInFlight: halts.filter((h) => h.whileInFlight === true).length,
        exitCodes: halts.reduce<Record<string, number>>((m, h) => ({ ...m, [String(h.exitCode)]: (m[String(h.exitCode)] ?? 0) + 1 }), {}),
      },
      haltMisses,
      samples: samples.samples,
      kills: { total: worker.kills, byPoint: killsByPoint },
      worker: { starts: worker.starts, unexpectedExits: worker.unexpectedExits },
      restarts: { postgres: postgres.restarts, temporal: temporal.restarts },
      activity,
      invariants,
      pass: invariants.every((r) => r.pass),
    };
  } finally {
    sampling = false;
    await sampler;
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
  lines.push(`  halts       ${r.halts.total} (${r.halts.cancelOpen} with --cancel-open, ${r.halts.whileLimiterWait} while a submit waited on the limiter, ${r.halts.whileInFlight} while a POST awaited its answer); exit codes ${kv(r.halts.exitCodes)}`);
  if (r.haltMisses.length > 0) {
    lines.push(`  halt misses ${r.haltMisses.length} armed halts found no submit to catch; the last ones:`);
    for (const m of r.haltMisses.slice(-3)) lines.push(`              ${m}`);
  }
  lines.push(`  sampled     ${r.samples} instants (exchange truth vs working rows)`);
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
