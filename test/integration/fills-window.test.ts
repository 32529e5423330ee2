// The market and fills steps on a real Postgres and the simulator over HTTP, called directly as a
// cycle calls them, with the simulator's clock moved by hand (no Temporal needed to move time):
// balances compared with fills by time, a fill that cannot be applied never lost, a backlog longer
// than the lookback fetched in consecutive windows within one budget.
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { createActivities } from '../../src/activities/index.js';
import { FILLS_WINDOW_MAX_MS, FILLS_WINDOW_OVERLAP_MS, FILLS_WINDOWS_PER_CYCLE_TOTAL } from '../../src/domain/accounting.js';
import { parseTradingConfig, type Env } from '../../src/domain/config.js';
import { Decimal, toDecimalString } from '../../src/domain/decimal.js';
import { toPairSymbol } from '../../src/domain/types.js';
import { tradingConfigToWire } from '../../src/domain/wire.js';
import { createBtcturkExchange } from '../../src/exchange/btcturk/client.js';
import { AuthenticationError } from '../../src/exchange/errors.js';
import type { Exchange } from '../../src/exchange/port.js';
import { startSimulator, type RunningSimulator } from '../../src/simulator/server.js';
import { listAdjustments, listQuarantines, loadDriftStates, quarantineSymbol, requestAdoption, saveDriftState } from '../../src/store/account.js';
import { countFills, getCursorMs, listPositions } from '../../src/store/fills.js';
import type { AccountingInput, AccountingResult } from '../../src/workflows/types.js';
import { createTestDatabase } from './harness.js';

const MIN = 60_000;
const BTCTRY = toPairSymbol('BTCTRY');
/** No settle margin: for tests whose subject is not fill lag. */
const NO_SETTLE = { FILLS_SETTLE_SECONDS: '0' };
const OFF = { ...NO_SETTLE, INFER_OPENING_POSITIONS: 'false' };

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let sim: RunningSimulator;
let exchange: Exchange;
beforeEach(async () => {
  [db, sim] = await Promise.all([createTestDatabase(), startSimulator({ balances: { TRY: '100000', BTC: '0.01' } })]);
  exchange = connect();
});
afterEach(async () => {
  await exchange?.close();
  await sim?.close();
  await db?.drop();
});

/** A client on the simulator's clock (moved by hand below), as a worker's is on the exchange's. */
const connect = (): Exchange => createBtcturkExchange({ baseUrl: sim.url, credentials: sim.credentials, now: () => sim.engine.now() });
const advance = (ms: number): number => sim.engine.advanceClock(ms);

interface CycleOptions {
  env?: Env;
  /** Runs after the cycle started and before the market step reads the balance. */
  beforeRead?: () => Promise<unknown>;
  /** A client other than the default (e.g. one whose balances answer lacks a row). */
  via?: Exchange;
  /** Overrides of the accounting input (a retry passes the first attempt's). */
  input?: Partial<AccountingInput>;
}

/** One cycle's market and accounting steps for BTCTRY, as the workflow runs them; returns the accounting result and its input. */
async function cycle(cycleId: string, o: CycleOptions = {}): Promise<AccountingResult & { input: AccountingInput }> {
  const acts = createActivities({ pool: db.pool, exchange: o.via ?? exchange, hasCredentials: true, now: () => sim.engine.now() });
  const config = tradingConfigToWire(parseTradingConfig({ SYMBOLS: 'BTC_TRY', ...o.env }));
  const nowMs = sim.engine.now(); // the workflow's start
  await o.beforeRead?.();
  const market = await acts.fetchMarket({ symbols: ['BTCTRY'], mode: 'live', config, hasCredentials: true });
  const input: AccountingInput = {
    cycleId, mode: 'live', accountId: 'default', nowMs, rules: market.rules, quotes: market.quotes, tryBalance: market.tryBalance,
    baseBalances: market.baseBalances, balancesAtMs: market.balancesAtMs, config, fetchFills: true, ...o.input,
  };
  return { ...(await acts.syncFillsAndPnl(input)), input };
}

/** A trade by someone else on the account, 200 ms after the cycle started: before the balance read, after the cycle's start. */
const inTheGap = (side: 'buy' | 'sell', qty: string) => async () => {
  advance(200);
  return sim.control.manualTrade({ symbol: 'BTCTRY', side, qty, price: '3400000' });
};

const btcPosition = async (): Promise<string> => toDecimalString((await listPositions(db.pool)).find((p) => p.symbol === BTCTRY)?.qty ?? new Decimal(0));
const btcBalance = (): string => {
  const b = sim.engine.balance('BTC');
  return toDecimalString(b.free.add(b.locked));
};

describe('a trade between the cycle start and the balance read', () => {
  test('a manual buy there is counted once: not in the opening and again as a fill', async () => {
    await cycle('c1', { env: NO_SETTLE, beforeRead: inTheGap('buy', '0.005') });
    advance(MIN);
    await cycle('c2', { env: NO_SETTLE });
    expect({ position: await btcPosition(), balance: btcBalance() }).toEqual({ position: '0.015', balance: '0.015' });
  });

  test('a manual sell there of everything held is no oversell: no quarantine, the position is the balance', async () => {
    const c1 = await cycle('c1', { env: NO_SETTLE, beforeRead: inTheGap('sell', '0.01') });
    advance(MIN);
    const c2 = await cycle('c2', { env: NO_SETTLE });
    expect({ quarantined: c2.quarantinedSymbols, failures: c2.failures, position: await btcPosition() }).toEqual({ quarantined: [], failures: [], position: '0' });
    expect(c1.notes).toContainEqual(expect.stringMatching(/^opening_inferred:BTCTRY qty=0\.01 balance=0 fills_net=-0\.01 /));
  });

  test('an adoption with a manual buy there re-bases on the balance once: the position is the balance, not balance + buy', async () => {
    await cycle('c1', { env: NO_SETTLE });
    await requestAdoption(db.pool, BTCTRY, 'test');
    advance(MIN);
    const c2 = await cycle('c2', { env: NO_SETTLE, beforeRead: inTheGap('buy', '0.005') });
    expect(c2.counts.positions_adopted).toBe(1);
    advance(MIN);
    await cycle('c3', { env: NO_SETTLE });
    expect({ position: await btcPosition(), balance: btcBalance() }).toEqual({ position: '0.015', balance: '0.015' });
  });
});

describe('a trade the trade list shows late (reference Q14)', () => {
  test('with the default settle margin (10 s), a sell whose row shows 1.5 s after the balance moved does not quarantine the symbol', async () => {
    await sim.control.configure({ fillVisibilityDelayMs: 1_500 });
    await sim.control.manualTrade({ symbol: 'BTCTRY', side: 'sell', qty: '0.01', price: '3400000' });
    // The balance already shows the sale; the trade list does not yet.
    const c1 = await cycle('c1');
    expect(c1.notes).toContain('opening_deferred:BTCTRY:balance_settling');
    expect(c1.failedSymbols).toEqual(['BTCTRY']);
    advance(61_000); // one cycle later, past the 10 s margin: the read of c1 is settled
    const c2 = await cycle('c2');
    expect(c2.notes).toContainEqual(expect.stringMatching(/^opening_inferred:BTCTRY qty=0\.01 balance=0 fills_net=-0\.01 /));
    expect({ quarantined: c2.quarantinedSymbols, quarantines: await listQuarantines(db.pool), position: await btcPosition() })
      .toEqual({ quarantined: [], quarantines: [], position: '0' });
  });

  test('a fill that shows only once the lookback has passed it (but not lookback + margin) is still applied: the cursor stays the margin behind the poll', async () => {
    const env = { FILLS_POLL_LOOKBACK_MINUTES: '1' };
    advance(MIN);
    await cycle('c1', { env });
    advance(61_000);
    await cycle('c2', { env }); // established on c1's read
    await sim.control.configure({ fillVisibilityDelayMs: 100_000 });
    const { fillId } = await sim.control.manualTrade({ symbol: 'BTCTRY', side: 'buy', qty: '0.001', price: '3400000' });
    advance(65_000);
    await cycle('c3', { env }); // the buy is not visible yet; this poll is 65 s past it, more than the 60 s lookback
    advance(36_000); // visible now, 101 s after it happened
    await cycle('c4', { env });
    expect(await db.pool.query('SELECT 1 FROM stage4_fills WHERE fill_id = $1', [fillId])).toMatchObject({ rowCount: 1 });
    expect(await btcPosition()).toBe('0.011');
  });
});

describe('a balances answer that lacks rows', () => {
  /** The default client, but its balances answer leaves out `assets` (or every row). */
  const lacking = (assets: string[] | 'all'): Exchange => {
    const inner = connect();
    return Object.assign(Object.create(Object.getPrototypeOf(inner)) as Exchange, inner, {
      getBalances: async () => (assets === 'all' ? [] : (await inner.getBalances()).filter((b) => !assets.includes(b.asset))),
    });
  };

  test('without the BTC row, a pending adoption waits instead of re-basing the position on zero', async () => {
    await cycle('c1', { env: NO_SETTLE });
    expect(await btcPosition()).toBe('0.01');
    await requestAdoption(db.pool, BTCTRY, 'test');
    advance(MIN);
    const via = lacking(['BTC']);
    const c2 = await cycle('c2', { env: NO_SETTLE, via });
    await via.close();
    expect(c2.input.baseBalances).toEqual([]); // unknown, not zero
    expect(c2.notes).toContain('adoption_waiting:BTCTRY:no_balance');
    expect({ position: await btcPosition(), balance: btcBalance(), adopted: c2.counts.positions_adopted }).toEqual({ position: '0.01', balance: '0.01', adopted: 0 });
  });

  test('an empty answer (data: []) is a failed balance read: no PnL snapshot, no opening, the cause named', async () => {
    await cycle('c0', { env: NO_SETTLE });
    advance(MIN);
    const via = lacking('all');
    const r = await cycle('c1', { env: NO_SETTLE, via });
    await via.close();
    expect({ tryBalance: r.input.tryBalance, pnl: r.pnl }).toEqual({ tryBalance: null, pnl: null });
    expect(r.notes).toContain('pnl_snapshot_skipped:balance_unavailable');
    expect(await db.pool.query('SELECT 1 FROM pnl_snapshots WHERE cycle_id = $1', ['c1'])).toMatchObject({ rowCount: 0 });
  });
});

describe('balance drift on a shared account', () => {
  test('another program trading inside every cycle raises no drift; a real withdrawal does, after three settled reads', async () => {
    await cycle('c0');
    const drift: string[][] = [];
    for (let i = 1; i <= 8; i++) {
      advance(61_000);
      if (i === 5) sim.engine.setBalance('BTC', sim.engine.balance('BTC').free.sub('0.001').toFixed(), '0'); // leaves without a trade
      const r = await cycle(`c${i}`, { beforeRead: inTheGap('buy', '0.0001') });
      drift.push(r.notes.filter((n) => n.startsWith('balance_drift:')).map((n) => n.split(' ')[0]!));
    }
    // The withdrawal is in c5's read; reads are checked one cycle later (settle margin): c6, c7, c8.
    expect(drift).toEqual([[], [], [], [], [], [], [], ['balance_drift:BTC']]);
  });

  test('a retried accounting step (same cycle) checks its balance read once: the streak grows by one', async () => {
    await cycle('c0', { env: NO_SETTLE });
    advance(MIN);
    sim.engine.setBalance('BTC', '0.009', '0'); // a real withdrawal of 0.001
    const first = await cycle('c1', { env: NO_SETTLE });
    const retry = await createActivities({ pool: db.pool, exchange, hasCredentials: true, now: () => sim.engine.now() }).syncFillsAndPnl(first.input);
    expect((await loadDriftStates(db.pool)).get('BTC')?.streak).toBe(1);
    expect(retry.counts.balance_drift_assets).toBe(0);
  });

  test('a drift raised live blocks no dry-run buys (a dry run trades the paper ledger) and stays raised for live; the dry run neither clears nor re-reports it', async () => {
    await cycle('c0', { env: NO_SETTLE });
    sim.engine.setBalance('BTC', '0.009', '0'); // the drift is real: live keeps it raised
    await saveDriftState(db.pool, {
      asset: 'BTC', streak: 3, diffQty: new Decimal('-0.001'), balanceQty: new Decimal('0.009'), positionsQty: new Decimal('0.01'), checkedAtMs: 1, raised: true,
    }, 'c0');
    advance(MIN);
    const dry = await cycle('c1', { env: NO_SETTLE, input: { mode: 'dry_run' } });
    const live = await cycle('c2', { env: NO_SETTLE, input: { mode: 'live' } });
    expect(dry.notes.filter((n) => n.startsWith('balance_drift'))).toEqual([]);
    expect(live.notes).toContainEqual(expect.stringMatching(/^balance_drift:BTC /));
    expect({ dry: dry.reduceOnly, live: live.reduceOnly }).toEqual({ dry: [], live: [{ symbol: 'BTCTRY', reason: 'balance_drift', asset: 'BTC' }] });
  });
});

describe('a retried accounting step', () => {
  test('reports the opening its first attempt committed (the answer was lost), once', async () => {
    const first = await cycle('c1', { env: NO_SETTLE });
    const retry = await createActivities({ pool: db.pool, exchange, hasCredentials: true, now: () => sim.engine.now() }).syncFillsAndPnl(first.input);
    expect({ first: first.counts.openings_recorded, retry: retry.counts.openings_recorded }).toEqual({ first: 1, retry: 1 });
    expect(retry.notes.filter((n) => n.startsWith('opening_'))).toEqual([expect.stringMatching(/^opening_inferred:BTCTRY qty=0\.01 /)]);
    expect(await listAdjustments(db.pool, BTCTRY)).toHaveLength(1);
  });
});

describe('a new symbol whose first window oversells', () => {
  test('the manual sell is never lost: a later cycle still applies it or reports it by id', async () => {
    const { fillId } = await sim.control.manualTrade({ symbol: 'BTCTRY', side: 'sell', qty: '0.005', price: '3400000', atMs: sim.engine.now() - 10 * MIN });
    const first = await cycle('c1', { env: OFF });
    advance(25 * MIN); // the sell is now older than "now − lookback"
    const later = await cycle('c2', { env: OFF });
    const seen = { first: first.notes, applied: await countFills(db.pool), laterNotes: later.notes };
    expect(seen.applied === 1 || later.notes.some((n) => n.includes(fillId)), JSON.stringify(seen)).toBe(true);
  });

  test('inference off: the sell quarantines the symbol, is held before the cursor and reported by id every cycle; adoption applies it', async () => {
    const t0 = sim.engine.now();
    const { fillId } = await sim.control.manualTrade({ symbol: 'BTCTRY', side: 'sell', qty: '0.005', price: '3400000', atMs: t0 - 10 * MIN });

    const first = await cycle('c1', { env: OFF });
    const t1 = first.input.nowMs;
    expect(first.quarantinedSymbols).toEqual(['BTCTRY']);
    expect(first.failures).toEqual([expect.objectContaining({ symbol: 'BTCTRY', step: 'accounting', errorClass: 'AccountingIntegrityError' })]);
    expect(first.failures[0]!.message).toContain(`fill_id=${fillId}`);
    // The window start was stored when first chosen, and the cursor stays before the sell.
    const cursor = await getCursorMs(db.pool, BTCTRY);
    expect(cursor).toBe(t1);

    for (const [i, at] of [25 * MIN, 65 * MIN].entries()) {
      advance(at);
      const later = await cycle(`c${i + 2}`, { env: OFF });
      expect(later.quarantinedSymbols).toEqual(['BTCTRY']);
      expect(later.notes.find((n) => n.startsWith('quarantined:BTCTRY'))).toContain(`fill_id=${fillId}`);
      expect(await getCursorMs(db.pool, BTCTRY)).toBe(cursor);
    }
    expect(await countFills(db.pool)).toBe(0);

    await requestAdoption(db.pool, BTCTRY, 'test');
    advance(5 * MIN);
    const adopted = await cycle('c4', { env: OFF });
    expect(adopted.quarantinedSymbols).toEqual([]);
    expect(adopted.notes).toContain('quarantine_lifted:BTCTRY');
    expect(await countFills(db.pool)).toBe(1);
    expect(await listQuarantines(db.pool)).toEqual([]);
    expect(await btcPosition()).toBe('0.005'); // the balance
    expect((await listAdjustments(db.pool, BTCTRY)).map((a) => [a.kind, toDecimalString(a.qtyDelta), a.coveredFillId])).toEqual([
      ['zero', '0', null],
      ['adopted', '0.005', fillId], // covers the sell
      ['adopted', '0.005', null], // re-bases on the balance
    ]);
  });

  test('inference on: the opening is inferred from the balance at first sight and the sell applies on it', async () => {
    await sim.control.manualTrade({ symbol: 'BTCTRY', side: 'sell', qty: '0.005', price: '3400000', atMs: sim.engine.now() - 10 * MIN });
    const r = await cycle('c1', { env: NO_SETTLE });
    expect(r.failures).toEqual([]);
    expect(r.counts).toMatchObject({ fills_applied: 1, openings_recorded: 1 });
    expect(r.notes.find((n) => n.startsWith('opening_inferred:BTCTRY'))).toMatch(/qty=0\.01 balance=0\.005 fills_net=-0\.005 mark=\d+/);
    expect(await btcPosition()).toBe('0.005');
  });
});

describe('a trade row the client cannot read', () => {
  test('quarantines the symbol at that row, named by trade id; the fills before it apply; adoption takes it from the balance', async () => {
    await cycle('c0', { env: NO_SETTLE });
    advance(MIN);
    const before = await sim.control.manualTrade({ symbol: 'BTCTRY', side: 'buy', qty: '0.002', price: '3400000' });
    advance(1_000);
    const bad = await sim.control.manualTrade({ symbol: 'BTCTRY', side: 'sell', qty: '0.001', price: '3400000', wireOrderType: 'stop' });
    advance(1_000);
    const after = await sim.control.manualTrade({ symbol: 'BTCTRY', side: 'buy', qty: '0.003', price: '3400000' });
    advance(MIN);

    const r = await cycle('c1', { env: NO_SETTLE });
    expect(r.quarantinedSymbols).toEqual(['BTCTRY']);
    expect(r.failures[0]).toMatchObject({ step: 'accounting', message: `unreadable_trade symbol=BTCTRY fill_id=${bad.fillId} cause=data[1].orderType is not buy or sell` });
    expect(r.notes).toContainEqual(expect.stringMatching(new RegExp(`^quarantined:BTCTRY:unreadable_trade fill_id=${bad.fillId} held=1 `)));
    const applied = (await db.pool.query<{ fill_id: string }>('SELECT fill_id FROM stage4_fills')).rows.map((x) => x.fill_id);
    expect(applied).toEqual([before.fillId]);
    // The buy behind the row is held, and still exposure.
    expect(r.heldBuys).toEqual([{ symbol: 'BTCTRY', qty: '0.003', costTry: '10200' }]);

    await requestAdoption(db.pool, BTCTRY, 'test');
    advance(MIN);
    const adopted = await cycle('c2', { env: NO_SETTLE });
    expect(adopted.notes).toContain('quarantine_lifted:BTCTRY');
    advance(MIN);
    const next = await cycle('c3', { env: NO_SETTLE });
    expect({ quarantined: next.quarantinedSymbols, position: await btcPosition(), balance: btcBalance() }).toEqual({ quarantined: [], position: '0.014', balance: '0.014' });
    expect(await db.pool.query('SELECT 1 FROM stage4_fills WHERE fill_id = $1', [after.fillId])).toMatchObject({ rowCount: 1 });
  });
});

describe('symbols and assets no longer configured', () => {
  test('their quarantines and drift are lifted with a note, never left standing forever', async () => {
    await quarantineSymbol(db.pool, { symbol: toPairSymbol('DOGETRY'), reason: 'oversell_detected', fillId: '1', detail: 'x', cycleId: 'old' });
    await saveDriftState(db.pool, { asset: 'DOGE', streak: 3, diffQty: new Decimal(1), balanceQty: new Decimal(1), positionsQty: new Decimal(0), checkedAtMs: 1, raised: true }, 'old');
    const r = await cycle('c1', { env: NO_SETTLE });
    expect(r.notes).toEqual(expect.arrayContaining(['quarantine_lifted:DOGETRY:not_configured', 'balance_drift_dropped:DOGE:not_configured']));
    expect([await listQuarantines(db.pool), (await loadDriftStates(db.pool)).has('DOGE')]).toEqual([[], false]);
  });
});

describe('a rejected API key on the fills fetch', () => {
  test('fails the step (every symbol\'s problem, as in the market step), not each symbol quietly', async () => {
    const market = await cycle('c0', { env: NO_SETTLE });
    // The exchange now refuses the key (rotated, revoked): the simulator answers 401.
    const refused = createBtcturkExchange({
      baseUrl: sim.url, credentials: { apiKey: sim.credentials.apiKey, apiSecret: Buffer.from('not the secret at all').toString('base64') },
      now: () => sim.engine.now(),
    });
    try {
      const acts = createActivities({ pool: db.pool, exchange: refused, hasCredentials: true, now: () => sim.engine.now() });
      await expect(acts.syncFillsAndPnl({ ...market.input, cycleId: 'c1' })).rejects.toBeInstanceOf(AuthenticationError);
    } finally {
      await refused.close();
    }
  });
});

describe('after an outage longer than the lookback', () => {
  test('the history since the cursor is fetched in overlapping windows, oldest first, and every fill is applied', async () => {
    await cycle('c1', { env: NO_SETTLE });
    const t0 = sim.engine.now();
    advance(30 * 3_600_000);
    // Trades spread over the 30 hours the bot did not run.
    for (const h of [1, 7, 13, 19, 25, 29]) await sim.control.manualTrade({ symbol: 'BTCTRY', side: 'buy', qty: '0.0001', price: '3400000', atMs: t0 + h * 3_600_000 });
    sim.requests.length = 0;

    const r = await cycle('c2', { env: NO_SETTLE });
    expect(r.counts.fills_applied).toBe(6);
    const windows = sim.requests
      .filter((q) => q.route === 'GET /api/v1/users/transactions/trade')
      .map((q) => new URLSearchParams(q.query))
      .map((p) => [Number(p.get('startDate')), Number(p.get('endDate'))] as const);
    expect(windows.length).toBe(6);
    // Each window starts before the previous one ended: a fill at a window's last millisecond is in the next one too.
    for (let i = 1; i < windows.length; i++) expect(windows[i]![0]).toBeLessThanOrEqual(windows[i - 1]![1]);
    for (let i = 1; i < windows.length; i++) expect(windows[i]![0]).toBe(windows[i - 1]![1] + 1 - FILLS_WINDOW_OVERLAP_MS);
    for (const [a, b] of windows) expect(b - a + 1).toBeLessThanOrEqual(FILLS_WINDOW_MAX_MS);
    expect(await btcPosition()).toBe(btcBalance());
  });

  test('many symbols share one window budget per cycle; each is ingested as soon as its own fetch is done', async () => {
    const symbols = ['BTCTRY', 'ETHTRY', 'SOLTRY'];
    const env = { ...NO_SETTLE, SYMBOLS: symbols.join(',') };
    const config = tradingConfigToWire(parseTradingConfig(env));
    // ETHTRY's fetch waits until BTCTRY's fills are in the database: it can finish only if BTCTRY was ingested first.
    let btcIngested = false;
    let watching = false;
    let waited = false;
    const slowEth = Object.assign(Object.create(Object.getPrototypeOf(exchange)) as Exchange, exchange, {
      getFills: async (symbol: ReturnType<typeof toPairSymbol>, w: Parameters<Exchange['getFills']>[1]) => {
        if (watching && symbol === 'ETHTRY' && !waited) {
          waited = true;
          const deadline = Date.now() + 10_000;
          while (!btcIngested && Date.now() < deadline) {
            btcIngested = (await countFills(db.pool, BTCTRY)) > 0;
            if (!btcIngested) await new Promise((res) => setTimeout(res, 20));
          }
        }
        return exchange.getFills(symbol, w);
      },
    });
    const acts = createActivities({ pool: db.pool, exchange: slowEth, hasCredentials: true, now: () => sim.engine.now() });
    const run = async (cycleId: string) => {
      const nowMs = sim.engine.now();
      const market = await acts.fetchMarket({ symbols, mode: 'live', config, hasCredentials: true });
      return acts.syncFillsAndPnl({
        cycleId, mode: 'live', accountId: 'default', nowMs, rules: market.rules, quotes: market.quotes, tryBalance: market.tryBalance,
        baseBalances: market.baseBalances, balancesAtMs: market.balancesAtMs, config, fetchFills: true,
      });
    };
    await run('c0');
    const t0 = sim.engine.now();
    advance(6 * 24 * 3_600_000); // six days: 24 windows of 6 h per symbol, 72 in all
    await sim.control.manualTrade({ symbol: 'BTCTRY', side: 'buy', qty: '0.0001', price: '3400000', atMs: t0 + 3_600_000 });
    sim.requests.length = 0;
    watching = true;
    const first = await run('c1');
    const asked = sim.requests.filter((q) => q.route === 'GET /api/v1/users/transactions/trade').length;
    expect({ asked, windows: first.counts.fills_windows, btcIngested }).toEqual({ asked: FILLS_WINDOWS_PER_CYCLE_TOTAL, windows: FILLS_WINDOWS_PER_CYCLE_TOTAL, btcIngested: true });
    expect(first.notes.filter((n) => n.startsWith('fills_catching_up:')).length).toBe(3);
    // Caught up over the next cycles, nothing skipped.
    const second = await run('c2');
    expect(second.notes.filter((n) => n.startsWith('fills_catching_up:'))).toEqual([]);
    expect(await btcPosition()).toBe(btcBalance());
  });
});

describe('a first sight whose opening waited', () => {
  test('waits without a balance, keeps its window start; after a backlog longer than a cycle fetches, starts over at now − lookback', async () => {
    const waiting = await cycle('c1', { input: { tryBalance: null, baseBalances: [], balancesAtMs: null } });
    expect(waiting.notes).toContain('opening_deferred:BTCTRY:no_balance');
    expect(waiting.failedSymbols).toEqual(['BTCTRY']);
    expect(waiting.pnl).toBeNull();
    expect(await getCursorMs(db.pool, BTCTRY)).toBe(waiting.input.nowMs);

    // Six days later (more than the 5 days one cycle fetches), with a balance: nothing was applied
    // from the old window, so it starts over and the opening covers the past.
    advance(6 * 24 * 3_600_000);
    const r = await cycle('c2', { env: NO_SETTLE });
    expect(r.notes).toContainEqual(expect.stringMatching(/^fills_window_restarted:BTCTRY:from=/));
    expect(r.notes).toContainEqual(expect.stringMatching(/^opening_inferred:BTCTRY qty=0\.01 balance=0\.01 /));
    expect(r.failedSymbols).toEqual([]);
    expect((await listAdjustments(db.pool, BTCTRY))[0]!.windowStartMs).toBe(r.input.nowMs - 30 * MIN);
  });

  test('with an adoption pending and no mark, a new symbol waits for its opening instead of ingesting without one', async () => {
    // A sell of holdings from before the bot: without an opening it would oversell.
    await sim.control.manualTrade({ symbol: 'BTCTRY', side: 'sell', qty: '0.005', price: '3400000', atMs: sim.engine.now() - 10 * MIN });
    await requestAdoption(db.pool, BTCTRY, 'test');
    const r = await cycle('c1', { env: NO_SETTLE, input: { quotes: [] } });
    expect({ sitsOut: r.failedSymbols, quarantined: r.quarantinedSymbols, fills: await countFills(db.pool) }).toEqual({ sitsOut: ['BTCTRY'], quarantined: [], fills: 0 });
    expect(r.notes).toContain('opening_deferred:BTCTRY:no_mark');
    const next = await cycle('c2', { env: NO_SETTLE });
    expect({ quarantined: next.quarantinedSymbols, position: await btcPosition() }).toEqual({ quarantined: [], position: '0.005' });
  });
});
