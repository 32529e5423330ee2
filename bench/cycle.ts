// Cycle latency: dry-run cycles through a real Temporal dev server (started here, headless, on
// loopback), a throwaway Postgres (durable settings) and the simulator over HTTP, for 3 and for 20
// symbols. The cycles are live-like dry runs: the worker HAS API credentials (balances, open orders
// and fills are read from the simulator's account, as a live cycle would), and orders are only
// simulated in the database (DRY_RUN). Beside each latency: the workflow history events per cycle,
// and the floor measured on the same server in the same run — an empty activity round trip (a
// bench-only workflow) and a simulator HTTP round trip (GET server time through undici).
//
// The exchange client's own rate limiter is OFF here: cycles run back to back, and BTCTurk's
// per-minute quotas (orderbook 180/min = 9 cycles/min at 20 symbols) would otherwise be what is
// measured. Production cycles run every minute or so, far below those quotas.
import { bundleWorkflowCode, DefaultLogger, Worker } from '@temporalio/worker';
import { fileURLToPath } from 'node:url';
import { Client as HttpClient } from 'undici';
import { createActivities } from '../src/activities/index.js';
import { runCycle } from '../src/cli/cycles.js';
import { parseTradingConfig } from '../src/domain/config.js';
import { tradingConfigToWire } from '../src/domain/wire.js';
import type { Exchange } from '../src/exchange/port.js';
import type { Pool } from '../src/store/db.js';
import { Decimal } from '../src/domain/decimal.js';
import type { GateSettings } from '../src/domain/gates.js';
import { asClientOrderId, toPairSymbol } from '../src/domain/types.js';
import { createBtcturkExchange } from '../src/exchange/btcturk/client.js';
import { startSimulator, type RunningSimulator } from '../src/simulator/server.js';
import { createCycleWorker } from '../src/worker.js';
import type { CycleResult } from '../src/workflows/types.js';
import type { emptyActivities } from './floor-workflows.js';
import { benchPairs, percentile, report, round1, startBenchStack, symbolLists, type BenchStack } from './support.js';

const SAFE: GateSettings = { killSwitch: true, dryRun: true, liveTrading: false, liveTradingAck: null };
const TARGET_MULTIPLE = 4;
const TARGET_EVENTS_20_NO_ORDERS = 100;

interface Floors {
  emptyWorkflowMs: number;
  activityRttMs: number;
  httpRttMs: number;
}

/** p50 of a start→result of `emptyActivities(n)`, `samples` times. */
async function floorWorkflowP50(stack: BenchStack, taskQueue: string, n: number, samples: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < samples + 3; i++) {
    const t0 = performance.now();
    await stack.client.workflow.execute<typeof emptyActivities>('emptyActivities', {
      workflowId: `floor-${n}-${i}-${Date.now()}`, taskQueue, args: [n],
    });
    if (i >= 3) times.push(performance.now() - t0);
  }
  return percentile(times, 50);
}

/** Measures the floors on demand; started once, measured again right before every variant (load drifts). */
async function startFloorProbe(stack: BenchStack, samples: number) {
  const sim = await startSimulator({ seed: 7 });
  const taskQueue = 'bench-floor';
  const worker = await Worker.create({
    connection: stack.nativeConnection, namespace: 'default', taskQueue,
    workflowBundle: await bundleWorkflowCode({
      workflowsPath: fileURLToPath(new URL('./floor-workflows.ts', import.meta.url)), logger: new DefaultLogger('WARN'),
    }),
    activities: { noop: async () => {} },
  });
  const running = worker.run();
  const http = new HttpClient(sim.url, { keepAliveTimeout: 4_000 });
  return {
    async measure(forVariant: string): Promise<Floors> {
      const wf0 = await floorWorkflowP50(stack, taskQueue, 0, samples);
      const wf1 = await floorWorkflowP50(stack, taskQueue, 1, samples);
      const wf5 = await floorWorkflowP50(stack, taskQueue, 5, samples);
      const activityRttMs = Math.max(0, (wf5 - wf0) / 5);
      const httpTimes: number[] = [];
      for (let i = 0; i < samples + 5; i++) {
        const t0 = performance.now();
        const res = await http.request({ method: 'GET', path: '/api/v2/server/time' });
        await res.body.text();
        if (i >= 5) httpTimes.push(performance.now() - t0);
      }
      const httpRttMs = percentile(httpTimes, 50);
      report({ bench: 'floor_empty_workflow', for_variant: forVariant, samples, p50_ms: round1(wf0), what: 'start → result of a workflow with no activity' });
      report({ bench: 'floor_activity_round_trip', for_variant: forVariant, samples, p50_ms: round1(activityRttMs), one_activity_workflow_p50_ms: round1(wf1), five_activity_workflow_p50_ms: round1(wf5), what: 'marginal cost of one empty activity: (p50 of 5 sequential − p50 of 0) / 5' });
      report({ bench: 'floor_http_round_trip', for_variant: forVariant, samples, p50_ms: round1(httpRttMs), p95_ms: round1(percentile(httpTimes, 95)), what: 'GET /api/v2/server/time on the simulator through undici, keep-alive' });
      return { emptyWorkflowMs: wf0, activityRttMs, httpRttMs };
    },
    async close(): Promise<void> {
      await http.close();
      worker.shutdown();
      await running;
      await sim.close();
    },
  };
}

interface Variant {
  name: string;
  symbols: number;
  bootstrap: boolean;
}

interface CycleSample {
  ms: number;
  events: number;
  activities: number;
  httpRequests: number;
  result: CycleResult;
}

/** A worker, simulator and database for one variant; `cycle()` runs one timed dry-run cycle. */
/**
 * As on a deployment where live cycles have run: each symbol's opening recorded by a live
 * accounting step (in-process, no orders), so the dry-run cycles measured below poll the
 * account's fills as a dry run does there (a dry run leaves openings to live cycles).
 */
async function establishSymbols(pool: Pool, exchange: Exchange, symbols: { env: string; input: string[] }): Promise<void> {
  const acts = createActivities({ pool, exchange, hasCredentials: true });
  const config = tradingConfigToWire(parseTradingConfig({ SYMBOLS: symbols.env, FILLS_SETTLE_SECONDS: '0' }));
  const market = await acts.fetchMarket({ symbols: symbols.input, mode: 'live', config, hasCredentials: true });
  const acct = await acts.syncFillsAndPnl({
    cycleId: 'bench-establish', mode: 'live', accountId: 'default', nowMs: Date.now(), rules: market.rules, quotes: market.quotes,
    tryBalance: market.tryBalance, baseBalances: market.baseBalances, balancesAtMs: market.balancesAtMs, config, fetchFills: true,
  });
  if ((acct.counts['openings_recorded'] ?? 0) !== symbols.input.length) throw new Error(`bench: openings not recorded: ${JSON.stringify(acct.notes)}`);
}

async function variantWorld(stack: BenchStack, v: Variant) {
  const pairs = benchPairs(v.symbols);
  const symbols = symbolLists(pairs);
  const [db, sim] = await Promise.all([stack.database(`btcbot_bench_${v.name.replace(/\W/g, '_')}`), startSimulator({ seed: 7, pairs })]);
  const exchange = createBtcturkExchange({ baseUrl: sim.url, credentials: sim.credentials, rateLimiter: false });
  const taskQueue = `bench-cycle-${v.name}`;
  const worker = await createCycleWorker({
    connection: stack.nativeConnection, namespace: 'default', taskQueue, workflowBundle: stack.workflowBundle,
    // Cycles run back to back: no settle margin, so every symbol trades from its first cycle.
    deps: {
      pool: db.pool, exchange, hasCredentials: true,
      env: { SYMBOLS: symbols.env, STAGE4_BOOTSTRAP_INTENTS: String(v.bootstrap), FILLS_SETTLE_SECONDS: '0' },
    },
  });
  const running = worker.run();
  await establishSymbols(db.pool, exchange, symbols);
  let seq = 0;
  return {
    sim, exchange, symbols,
    async cycle(): Promise<CycleSample> {
      const workflowId = `bench-${v.name}-${++seq}-${Date.now()}`;
      const before = sim.requests.length;
      const t0 = performance.now();
      const run = await runCycle(stack.client, {
        workflowId, taskQueue, input: { gates: SAFE, dryRunRequested: true, symbols: symbols.input, trigger: 'bench' },
      });
      const ms = performance.now() - t0;
      if (run.result?.outcome !== 'ok') throw new Error(`bench cycle ${workflowId} did not succeed: ${JSON.stringify(run)}`);
      const events = (await stack.client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
      const activities = events.filter((e) => e.activityTaskScheduledEventAttributes).length;
      return { ms, events: events.length, activities, httpRequests: sim.requests.length - before, result: run.result };
    },
    async close(): Promise<void> {
      worker.shutdown();
      await running;
      await Promise.allSettled([exchange.close(), sim.close()]);
    },
  };
}

/**
 * Sequential round trips a cycle cannot avoid: every activity it schedules (they run one after the
 * other), plus one HTTP round trip in each activity that must read the exchange — market (rules
 * are cached; quotes, balance and open orders are independent) and fills (independent per symbol).
 */
const UNAVOIDABLE_HTTP_LEVELS = 2;
/** As implemented: market reads quotes, balance and open orders together; fills of every symbol together. */
const implementedHttpLevels = (_symbols: number): number => UNAVOIDABLE_HTTP_LEVELS;

async function benchVariant(stack: BenchStack, floors: Floors, v: Variant, cycles: number, warmup: number): Promise<CycleSample[]> {
  const world = await variantWorld(stack, v);
  try {
    for (let i = 0; i < warmup; i++) await world.cycle();
    const samples: CycleSample[] = [];
    for (let i = 0; i < cycles; i++) samples.push(await world.cycle());
    const ms = samples.map((s) => s.ms);
    const p50 = percentile(ms, 50);
    const activities = percentile(samples.map((s) => s.activities), 50);
    const floorSum = floors.emptyWorkflowMs + activities * floors.activityRttMs + UNAVOIDABLE_HTTP_LEVELS * floors.httpRttMs;
    const events = samples.map((s) => s.events);
    const noOrders = samples.every((s) => (s.result.counts.accepted_actions ?? 0) === 0);
    const figure: Record<string, unknown> = {
      bench: 'cycle_latency', variant: v.name, symbols: v.symbols, mode: 'dry_run', credentials: true, bootstrap_intents: v.bootstrap,
      cycles, warmup, p50_ms: round1(p50), p95_ms: round1(percentile(ms, 95)), max_ms: round1(Math.max(...ms)),
      history_events_p50: percentile(events, 50), history_events_max: Math.max(...events),
      activities_per_cycle_p50: activities, actions_per_cycle_max: Math.max(...samples.map((s) => s.result.counts.accepted_actions ?? 0)),
      http_requests_per_cycle_p50: percentile(samples.map((s) => s.httpRequests), 50),
      floor_sum_ms: round1(floorSum),
      floor_parts: `${round1(floors.emptyWorkflowMs)} workflow + ${activities} × ${round1(floors.activityRttMs)} activity + ${UNAVOIDABLE_HTTP_LEVELS} × ${round1(floors.httpRttMs)} http`,
      p50_floor_multiple: round1(p50 / floorSum),
      as_implemented_http_levels: implementedHttpLevels(v.symbols),
      target_p50_floor_multiple: `< ${TARGET_MULTIPLE}`, met_p50_floor_multiple: p50 / floorSum < TARGET_MULTIPLE,
    };
    if (v.symbols === 20 && !v.bootstrap) {
      Object.assign(figure, { no_orders: noOrders, target_history_events: `< ${TARGET_EVENTS_20_NO_ORDERS} (20 symbols, no orders)`, met_history_events: noOrders && Math.max(...events) < TARGET_EVENTS_20_NO_ORDERS });
    }
    report(figure);
    return samples;
  } finally {
    await world.close();
  }
}

/** History events must not grow with the number of fills a cycle ingests: same cycle, 0 → many fills. */
async function benchHistoryVsFills(stack: BenchStack): Promise<void> {
  const world = await variantWorld(stack, { name: 'fills', symbols: 3, bootstrap: false });
  try {
    await world.cycle(); // first cycle: cursors start
    const rows: Array<{ fills_applied: number; history_events: number }> = [];
    let clientSeq = 0;
    for (const perSymbol of [0, 10, 50]) {
      // Fills on the account from outside the bot: crossing buys of the minimum size, taken at once.
      for (const symbol of world.symbols.input) {
        const mid = new Decimal(world.sim.engine.groundTruth().mids[symbol]!);
        const pair = benchPairs(3).find((p) => `${p.base}${p.quote}` === symbol)!;
        const qty = new Decimal(pair.minExchangeValue).mul(1.5).div(mid).toDecimalPlaces(pair.numeratorScale, Decimal.ROUND_UP);
        for (let i = 0; i < perSymbol; i++) {
          await world.exchange.submitLimitOrder({
            symbol: toPairSymbol(symbol), side: 'buy', price: mid.mul('1.01').toDecimalPlaces(pair.tickSize.split('.')[1]?.length ?? 0), qty,
            clientOrderId: asClientOrderId(`bench-ext-${++clientSeq}`),
          });
          world.sim.engine.setMid(symbol, mid); // refill the book at the same price
        }
      }
      const s = await world.cycle();
      rows.push({ fills_applied: s.result.counts.fills_applied ?? 0, history_events: s.events });
    }
    const constant = rows.every((r) => r.history_events === rows[0]!.history_events);
    const fillsSeen = rows.at(-1)!.fills_applied > 0;
    report({ bench: 'history_events_vs_fills', symbols: 3, cycles: rows, target: 'history events do not grow with fills ingested', met: constant && fillsSeen });
  } finally {
    await world.close();
  }
}

export async function benchCycle({ cycles = 40, warmup = 5, floorSamples = 20 } = {}): Promise<void> {
  const stack = await startBenchStack();
  try {
    const probe = await startFloorProbe(stack, floorSamples);
    try {
      for (const v of [
        { name: '3-symbols', symbols: 3, bootstrap: true },
        { name: '20-symbols', symbols: 20, bootstrap: true },
        { name: '20-symbols-no-orders', symbols: 20, bootstrap: false },
      ]) {
        await benchVariant(stack, await probe.measure(v.name), v, cycles, warmup);
      }
    } finally {
      await probe.close();
    }
    await benchHistoryVsFills(stack);
  } finally {
    await stack.stop();
  }
}
