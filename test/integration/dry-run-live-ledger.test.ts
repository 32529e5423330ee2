// What a dry run does to the live ledger (from the adversarial review of issue 15): it ingests the
// account's new real fills and nothing else. Same pattern as fills-window.test.ts (real Postgres,
// the simulator over HTTP, the simulator's clock moved by hand).
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { createActivities } from '../../src/activities/index.js';
import { parseTradingConfig, type Env } from '../../src/domain/config.js';
import { toPairSymbol } from '../../src/domain/types.js';
import { tradingConfigToWire } from '../../src/domain/wire.js';
import { createBtcturkExchange } from '../../src/exchange/btcturk/client.js';
import type { Exchange } from '../../src/exchange/port.js';
import { startSimulator, type RunningSimulator } from '../../src/simulator/server.js';
import { cycleAlerts } from '../../src/domain/alerts.js';
import type { AuditView } from '../../src/domain/cycle-story.js';
import { listQuarantines } from '../../src/store/account.js';
import { listPositions } from '../../src/store/fills.js';
import type { AccountingInput, AccountingResult } from '../../src/workflows/types.js';
import { createTestDatabase } from './harness.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const BTCTRY = toPairSymbol('BTCTRY');
const NO_SETTLE = { FILLS_SETTLE_SECONDS: '0' };
const OFF = { ...NO_SETTLE, INFER_OPENING_POSITIONS: 'false' };

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let sim: RunningSimulator;
let exchange: Exchange;
beforeEach(async () => {
  [db, sim] = await Promise.all([createTestDatabase(), startSimulator({ balances: { TRY: '100000', BTC: '0.01' } })]);
  exchange = createBtcturkExchange({ baseUrl: sim.url, credentials: sim.credentials, now: () => sim.engine.now() });
});
afterEach(async () => {
  await exchange?.close();
  await sim?.close();
  await db?.drop();
});
const advance = (ms: number): number => sim.engine.advanceClock(ms);

/** One cycle's market and accounting steps for BTCTRY in `mode` (a dry run goes through the paper path, as the worker's does). */
async function cycle(cycleId: string, mode: 'live' | 'dry_run', env: Env = NO_SETTLE): Promise<AccountingResult> {
  const acts = createActivities({ pool: db.pool, exchange, hasCredentials: true, now: () => sim.engine.now() });
  const config = tradingConfigToWire(parseTradingConfig({ SYMBOLS: 'BTC_TRY', ...env }));
  const nowMs = sim.engine.now();
  // The market step in live mode: the dry-run one differs only in the paper TRY balance (it needs an activity context).
  const market = await acts.fetchMarket({ symbols: ['BTCTRY'], mode: 'live', config, hasCredentials: true });
  const input: AccountingInput = {
    cycleId, mode, accountId: 'default', nowMs, rules: market.rules, quotes: market.quotes, tryBalance: market.tryBalance,
    baseBalances: market.baseBalances, balancesAtMs: market.balancesAtMs, config, fetchFills: true,
  };
  return acts.syncFillsAndPnl(input);
}

async function liveRows(): Promise<Record<string, string[]>> {
  const q = async (sql: string) => (await db.pool.query<{ r: string }>(sql)).rows.map((x) => x.r);
  return {
    stage4_fills: await q('SELECT row_to_json(t)::text AS r FROM stage4_fills t ORDER BY fill_id'),
    stage4_positions: await q('SELECT row_to_json(t)::text AS r FROM stage4_positions t ORDER BY symbol'),
    cursors: await q('SELECT row_to_json(t)::text AS r FROM cursors t ORDER BY key'),
    symbol_quarantines: await q('SELECT row_to_json(t)::text AS r FROM symbol_quarantines t ORDER BY symbol'),
  };
}

describe('an idle account in a dry-run-only stretch', () => {
  test('polls no more fills windows per cycle than a live cycle does', async () => {
    await cycle('c0', 'live'); // the opening: the symbol is established, the cursor set
    const windows = { live: [] as number[], dry: [] as number[] };
    // Two identical accounts would be needed for a side-by-side run; the live figure is the same
    // cycle spacing on the same cursor, measured after the dry stretch is over.
    for (let i = 1; i <= 4; i++) {
      advance(6 * HOUR);
      windows.dry.push((await cycle(`d${i}`, 'dry_run')).counts.fills_windows!);
    }
    for (let i = 1; i <= 4; i++) {
      advance(6 * HOUR);
      windows.live.push((await cycle(`l${i}`, 'live')).counts.fills_windows!);
    }
    // The live figures: the first live cycle works off the dry stretch's whole span, then 2 (6 h + lookback) each.
    expect(windows).toEqual({ live: [windows.live[0], 2, 2, 2], dry: [2, 2, 2, 2] });
  });
});

describe('a quarantined symbol in a dry run', () => {
  test("leaves the live rows (the quarantine's row, cursor, position) as they were when the account did not trade", async () => {
    await sim.control.manualTrade({ symbol: 'BTCTRY', side: 'sell', qty: '0.005', price: '3400000', atMs: sim.engine.now() - 10 * MIN });
    const live = await cycle('c1', 'live', OFF);
    expect(live.quarantinedSymbols).toEqual(['BTCTRY']);
    const before = await liveRows();
    advance(MIN);
    await cycle('d1', 'dry_run', OFF);
    advance(MIN);
    await cycle('d2', 'dry_run', OFF);
    expect(await liveRows()).toEqual(before);
  });

  test('is never lifted by a dry run, even when the late fill that resolves it has come: the next live cycle lifts it', async () => {
    const t0 = sim.engine.now();
    await sim.control.manualTrade({ symbol: 'BTCTRY', side: 'sell', qty: '0.005', price: '3400000', atMs: t0 - 10 * MIN });
    expect((await cycle('c1', 'live', OFF)).quarantinedSymbols).toEqual(['BTCTRY']);
    // A buy before the sell shows up late in the trade list (reference Q14).
    await sim.control.manualTrade({ symbol: 'BTCTRY', side: 'buy', qty: '0.005', price: '3300000', atMs: t0 - 20 * MIN });
    advance(MIN);
    const dry = await cycle('d1', 'dry_run', OFF);
    expect({ notes: dry.notes.filter((n) => n.startsWith('quarantine_lifted')), quarantines: (await listQuarantines(db.pool)).map((q) => q.symbol) })
      .toEqual({ notes: [], quarantines: [BTCTRY] });
    // The dry run's story is the paper side's: the live quarantine neither blocks it nor is re-reported (and re-alerted) by it.
    expect({ quarantined: dry.quarantinedSymbols, notes: dry.notes.filter((n) => /^(quarantined|integrity):/.test(n)), failures: dry.failures })
      .toEqual({ quarantined: [], notes: [], failures: [] });
    advance(MIN);
    expect((await cycle('c2', 'live', OFF)).notes).toContain('quarantine_lifted:BTCTRY');
    expect(await listQuarantines(db.pool)).toEqual([]);
  });
});

describe('a dry run that meets a real fill it cannot apply', () => {
  test('quarantines the symbol as a live cycle would, and its own cycle raises the integrity alert', async () => {
    expect((await cycle('c0', 'live', OFF)).quarantinedSymbols).toEqual([]); // a zero opening: established
    advance(MIN);
    // Someone sells on the account by hand: more than the bot's (zero) position.
    await sim.control.manualTrade({ symbol: 'BTCTRY', side: 'sell', qty: '0.005', price: '3400000', atMs: sim.engine.now() - 10_000 });
    advance(MIN);
    const dry = await cycle('d1', 'dry_run', OFF);
    expect((await listQuarantines(db.pool)).map((q) => q.symbol)).toEqual([BTCTRY]);
    const audit: AuditView = {
      cycleId: 'd1', mode: 'dry_run', outcome: 'ok', alerts: dry.notes, decisions: [], counts: dry.counts, envelope: {},
      errorClass: null, errorMessage: null, startedAt: new Date().toISOString(), finishedAt: new Date().toISOString(),
    };
    expect(cycleAlerts(audit, null).map((a) => a.kind)).toContain('integrity');
    // The paper side is not held by it: the dry-run plan gets no quarantined symbol.
    expect(dry.quarantinedSymbols).toEqual([]);
  });
});

describe('a deployment that runs dry before any live cycle', () => {
  test("records each opening at first sight and ingests the account's real fills, as a live cycle would", async () => {
    const first = await cycle('d1', 'dry_run');
    expect(first.counts).toMatchObject({ openings_recorded: 1 });
    advance(MIN);
    const { fillId } = await sim.control.manualTrade({ symbol: 'BTCTRY', side: 'buy', qty: '0.001', price: '3400000', atMs: sim.engine.now() - 1_000 });
    advance(MIN);
    expect((await cycle('d2', 'dry_run')).counts).toMatchObject({ fills_applied: 1 });
    const [pos] = await listPositions(db.pool);
    expect([pos!.symbol, pos!.qty.toFixed()]).toEqual([BTCTRY, '0.011']); // the inferred 0.01 and the hand buy
    expect((await db.pool.query<{ fill_id: string }>('SELECT fill_id FROM stage4_fills')).rows.map((r) => r.fill_id)).toEqual([fillId]);
  });
});

