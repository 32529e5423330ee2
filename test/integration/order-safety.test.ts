// Order safety against the exchange as it really behaves (issue 12), end to end on the real stack:
// a real Temporal dev server, a real Postgres, the simulator over HTTP with the faults the reference
// documents (btcturk-api.md §6.6, Q10-Q14), and the `btcbot` command as a process. Every assertion
// is on the exchange's ground truth: orders working there, writes it received, rows in Postgres.
import { afterAll, afterEach, beforeAll, describe, expect, inject, test } from 'vitest';
import type { RunningSimulator } from '../../src/simulator/server.js';
import { fillRestingBuys } from '../../src/simulator/scenarios.js';
import { listPositions } from '../../src/store/fills.js';
import { LIVE_STATES } from '../../src/domain/lifecycle.js';
import { listOrders } from '../../src/store/orders.js';
import { getHalt } from '../../src/store/runtime.js';
import { progressQuery } from '../../src/workflows/definitions.js';
import { btcbot } from './cli-harness.js';
import { ARMED_WORKER_ENV as ARMED_ENV, connectTemporal, startLiveStack, uniqueId, type LiveStack } from './harness.js';

const SUBMIT = 'POST /api/v1/order';

let temporal: Awaited<ReturnType<typeof connectTemporal>>;
beforeAll(async () => {
  temporal = await connectTemporal();
});
afterAll(async () => {
  await temporal?.close();
});

interface Fixture extends LiveStack {
  /** The environment `btcbot` needs to reach this fixture's Temporal queue and database, gates armed. */
  cliEnv(): Record<string, string>;
}

const fixtures: Fixture[] = [];
afterEach(async () => {
  await Promise.all(fixtures.splice(0).map((f) => f.close()));
});

async function liveFixture(timeoutMs = 2_000): Promise<Fixture> {
  const live = await startLiveStack(temporal, { queuePrefix: 'order-safety', seed: 12, exchange: { timeoutMs } });
  const f: Fixture = {
    ...live,
    cliEnv: () => ({
      TEMPORAL_ADDRESS: inject('temporalAddress'), BTCBOT_TASK_QUEUE: live.taskQueue, DATABASE_URL: live.db.url, SYMBOLS: 'BTC_TRY,ETH_TRY', ...ARMED_ENV,
    }),
  };
  fixtures.push(f);
  return f;
}

/** Bot orders working on the exchange right now (ground truth, visible to reads or not). */
function liveOnExchange(sim: RunningSimulator, symbol?: string) {
  return sim.engine.groundTruth().orders.filter((o) => (o.status === 'Untouched' || o.status === 'Partial') && (symbol === undefined || o.symbol === symbol));
}

/** Live exchange orders that no working row tracks (by exchange id, or by client id while the row has none yet). */
async function untracked(f: Fixture): Promise<string[]> {
  const working = (await listOrders(f.db.pool)).filter((o) => LIVE_STATES.has(o.state));
  return liveOnExchange(f.simulator)
    .filter((o) => !working.some((r) => r.exchangeOrderId === o.id || (r.exchangeOrderId === null && r.clientOrderId === o.clientId)))
    .map((o) => `${o.clientId}(${o.id})`);
}

async function backdateOrders(f: Fixture, seconds: number): Promise<void> {
  // Time passing for the bot (its windows read these columns), while the exchange keeps the order hidden.
  await f.db.pool.query(
    `UPDATE stage4_orders SET created_at = created_at - make_interval(secs => $1), updated_at = updated_at - make_interval(secs => $1),
       submit_ended_at = submit_ended_at - make_interval(secs => $1), send_deadline_at = send_deadline_at - make_interval(secs => $1),
       last_seen_at = last_seen_at - make_interval(secs => $1), last_not_found_at = last_not_found_at - make_interval(secs => $1)`,
    [seconds],
  );
}

/** The audit's decisions of the cycles so far, oldest first. */
async function auditDecisions(f: Fixture): Promise<string[]> {
  const res = await f.db.pool.query<{ decisions: string[] }>('SELECT decisions FROM cycle_audit ORDER BY started_at, cycle_id');
  return res.rows.flatMap((r) => r.decisions);
}

describe('failure 1: an own order that becomes visible late never turns into an untracked order and a second buy', () => {
  test('a submit whose answer is lost while the order stays invisible: one absence closes nothing, the order comes home, no second buy', async () => {
    const f = await liveFixture();
    // The order is accepted, its answer is lost, and it stays invisible to every read for 2 minutes.
    f.simulator.faults.add({ route: SUBMIT, kind: 'emptyAfterCommit', times: 1 });
    f.simulator.faults.add({ route: SUBMIT, kind: 'orderInvisible', hiddenMs: 120_000, times: 1 });

    const first = await f.cycle({ symbols: ['BTCTRY'] });
    expect(first.result?.outcome).toBe('ok');
    expect((await listOrders(f.db.pool)).map((o) => o.state)).toEqual(['unknown']);
    expect(liveOnExchange(f.simulator, 'BTCTRY')).toHaveLength(1);

    // A minute passes for the bot; the order is still hidden: a lookup says "not found".
    await backdateOrders(f, 60);
    const second = await f.cycle({ symbols: ['BTCTRY'] });
    expect(second.result?.outcome).toBe('ok');
    expect(liveOnExchange(f.simulator, 'BTCTRY'), 'a second buy was placed next to the hidden one').toHaveLength(1);
    expect(await untracked(f)).toEqual([]);

    // The order shows up: it returns to our row, with its exchange id.
    f.simulator.engine.advanceClock(120_000);
    const third = await f.cycle({ symbols: ['BTCTRY'] });
    expect(third.result?.outcome).toBe('ok');
    const [hidden] = liveOnExchange(f.simulator, 'BTCTRY');
    expect(liveOnExchange(f.simulator, 'BTCTRY')).toHaveLength(1);
    expect(await untracked(f)).toEqual([]);
    expect(await listOrders(f.db.pool)).toMatchObject([{ clientOrderId: hidden!.clientId, exchangeOrderId: hidden!.id, state: 'open' }]);
  });

  test('an order hidden longer than the absence window: closed by inference, yet no second buy beside it, and halt --cancel-open says it may still appear (not done)', async () => {
    const f = await liveFixture();
    f.simulator.faults.add({ route: SUBMIT, kind: 'emptyAfterCommit', times: 1 });
    f.simulator.faults.add({ route: SUBMIT, kind: 'orderInvisible', hiddenMs: 3_600_000, times: 1 });
    await f.cycle({ symbols: ['BTCTRY'] });
    expect((await listOrders(f.db.pool)).map((o) => o.state)).toEqual(['unknown']);

    // Past the 180 s window, three "not found" lookups a minute or more apart: closed by inference.
    for (const seconds of [200, 70, 70]) {
      await backdateOrders(f, seconds);
      expect((await f.cycle({ symbols: ['BTCTRY'] })).result?.outcome).toBe('ok');
    }
    expect((await listOrders(f.db.pool)).map((o) => o.state)).toEqual(['unknown_closed']);
    await f.cycle({ symbols: ['BTCTRY'] }); // one more cycle after the inference: still no buy beside it
    expect(liveOnExchange(f.simulator, 'BTCTRY'), 'a second buy was placed next to the hidden one').toHaveLength(1);
    expect(await auditDecisions(f)).toContainEqual(expect.stringMatching(/^canary_skip:BTCTRY:open_buy_exists.*unknown_closed/));

    const halt = await btcbot(['halt', '--cancel-open', '--reason', 'hidden order'], f.cliEnv()).exited;
    expect(halt.code, halt.stdout).not.toBe(0);
    expect(halt.stdout).toMatch(/may still appear\s+BTCTRY s4-\S+\(no exchange id\) unknown_closed/);
    expect(halt.stdout).not.toMatch(/none of ours/);

    // It appears: it comes home, and the next halt --cancel-open cancels it and is done.
    f.simulator.engine.advanceClock(3_600_000);
    const again = await btcbot(['halt', '--cancel-open', '--reason', 'hidden order appeared'], f.cliEnv()).exited;
    expect(again.code, again.stdout).toBe(0);
    expect(liveOnExchange(f.simulator)).toEqual([]);
    expect((await listOrders(f.db.pool)).map((o) => [o.state, o.exchangeOrderId])).toEqual([['canceled', f.simulator.engine.groundTruth().orders[0]!.id]]);
  });

  test('an invisible order that fills at once comes home from its fills (never listed open)', async () => {
    const f = await liveFixture();
    f.simulator.faults.add({ route: SUBMIT, kind: 'emptyAfterCommit', times: 1 });
    f.simulator.faults.add({ route: SUBMIT, kind: 'orderInvisible', hiddenMs: 600_000, times: 1 });
    expect((await f.cycle({ symbols: ['BTCTRY'] })).result?.outcome).toBe('ok');
    expect((await listOrders(f.db.pool)).map((o) => o.state)).toEqual(['unknown']);

    // The market trades through the hidden buy: it fills in full; only its fills are visible.
    fillRestingBuys(f.simulator);
    const [order] = f.simulator.engine.groundTruth().orders;
    expect(order).toMatchObject({ status: 'Closed', visible: false });
    await f.cycle({ symbols: ['BTCTRY'] }); // fills ingested into positions; the row is still unknown: no new buy
    expect(f.simulator.engine.groundTruth().orders).toHaveLength(1);
    await f.cycle({ symbols: ['BTCTRY'] }); // the ingested fills are evidence for reconcile

    const rows = await listOrders(f.db.pool);
    expect(rows.find((o) => o.clientOrderId === order!.clientId)).toMatchObject({ exchangeOrderId: order!.id, state: 'filled', leftQty: expect.anything() });
    // Only once it was known to be filled did the canary buy again.
    expect(liveOnExchange(f.simulator, 'BTCTRY').length).toBeLessThanOrEqual(1);
    expect(await untracked(f)).toEqual([]);
    expect((await listPositions(f.db.pool)).find((p) => p.symbol === 'BTCTRY')?.qty.toString()).toBe(order!.qty);
  });
});

describe('a second order under one of our client ids (BTCTurk does not keep them unique, Q10)', () => {
  test('is tracked as its own row, alerted and cancelled in the same cycle; ours is untouched', async () => {
    const f = await liveFixture();
    expect((await f.cycle({ symbols: ['BTCTRY'] })).result?.counts.submitted).toBe(1);
    const [mine] = liveOnExchange(f.simulator, 'BTCTRY');
    // The exchange ends up with a second order carrying the same client id.
    const dup = f.simulator.engine.submit({
      pairSymbol: 'BTCTRY', orderType: 'buy', orderMethod: 'limit', quantity: mine!.qty, price: mine!.price, newOrderClientId: mine!.clientId,
    });
    const run = await f.cycle({ symbols: ['BTCTRY'] });
    expect(run.result?.notes).toContain(`duplicate_order:${mine!.clientId}:${dup.id}:open`);
    expect(run.result?.counts.duplicate_orders).toBe(1);
    const rows = await listOrders(f.db.pool);
    // Its cancel was sent at once; BTCTurk confirms cancels later, so the row says cancel_requested.
    expect(rows.map((o) => [o.clientOrderId, o.exchangeOrderId, o.state, o.duplicateOf])).toEqual([
      [mine!.clientId, mine!.id, 'open', null],
      [null, dup.id.toString(), 'cancel_requested', mine!.clientId],
    ]);
    expect(liveOnExchange(f.simulator, 'BTCTRY').map((o) => o.id)).toEqual([mine!.id]);
    expect(await untracked(f)).toEqual([]);
  });
});

/** Wall time (ms) at which the persisted halt was stored. */
async function haltStoredAtMs(f: Fixture): Promise<number> {
  const res = await f.db.pool.query<{ at: Date }>(`SELECT updated_at AS at FROM runtime_state WHERE key = 'halt'`);
  return res.rows[0]!.at.getTime();
}

/** Wait until nothing runs on the worker any more: an abandoned attempt could still send later. */
async function workerIdle(f: Fixture): Promise<void> {
  await expect.poll(() => f.worker.getStatus().numInFlightActivities, { timeout: 90_000, interval: 100 }).toBe(0);
}

describe('failure 2: no order write reaches the exchange after a halt, or after its attempt timed out', () => {
  test('Retry-After 45 on the first POST, `btcbot halt` while the second waits on the limiter: the second POST never leaves', async () => {
    const f = await liveFixture();
    f.simulator.faults.add({ route: SUBMIT, kind: 'http429', retryAfterSec: 45, times: 1 });
    const workflowId = uniqueId('cycle-safety-halt45');
    const pending = f.cycle({}, workflowId);
    await expect.poll(() => f.simulator.requests.filter((r) => r.route === SUBMIT && r.status === 429).length, { timeout: 30_000, interval: 50 }).toBe(1);

    const halted = await btcbot(['halt', '--reason', 'retry-after 45 repro'], f.cliEnv()).exited;
    expect(halted.code, halted.stdout + halted.stderr).toBe(0);
    const haltAt = await haltStoredAtMs(f);
    const run = await pending;
    await workerIdle(f);

    const late = f.simulator.requests.filter((r) => r.route === SUBMIT && r.wallMs > haltAt);
    expect(late.map((r) => `${r.route} at +${r.wallMs - haltAt} ms after the halt`)).toEqual([]);
    expect(['ok', 'halted']).toContain(run.result?.outcome);
    expect(f.simulator.engine.groundTruth().orders).toEqual([]);
    // Neither buy was sent: both rows are closed as never sent, nothing is left pending.
    expect((await listOrders(f.db.pool)).map((o) => [o.symbol, o.state, o.lastError?.startsWith('not_sent:')])).toEqual([
      ['BTCTRY', 'rejected', true],
      ['ETHTRY', 'rejected', true],
    ]);
    expect(await getHalt(f.db.pool)).not.toBeNull();
  });

  test('Retry-After 8 (shorter than the attempt), `btcbot halt` during the wait: the waiting submit stops at once and never sends', async () => {
    const f = await liveFixture();
    f.simulator.faults.add({ route: SUBMIT, kind: 'http429', retryAfterSec: 8, times: 1 });
    const workflowId = uniqueId('cycle-safety-halt8');
    const pending = f.cycle({}, workflowId);
    const handle = temporal.client.workflow.getHandle(workflowId);
    await expect.poll(() => handle.query(progressQuery).catch(() => 'starting'), { timeout: 30_000, interval: 50 }).toBe('execute');
    // The ETH buy is recorded and waiting on the limiter when the operator halts.
    await expect.poll(async () => (await listOrders(f.db.pool)).filter((o) => o.symbol === 'ETHTRY' && o.state === 'pending_submit').length, {
      timeout: 30_000, interval: 50,
    }).toBe(1);

    const halted = await btcbot(['halt', '--reason', 'halt during a limiter wait'], f.cliEnv()).exited;
    expect(halted.code, halted.stdout + halted.stderr).toBe(0);
    const haltAt = await haltStoredAtMs(f);
    const run = await pending;
    await workerIdle(f);

    expect(run.result?.outcome).toBe('halted');
    const late = f.simulator.requests.filter((r) => r.route === SUBMIT && r.wallMs > haltAt);
    expect(late.map((r) => `${r.route} at +${r.wallMs - haltAt} ms after the halt`)).toEqual([]);
    expect(f.simulator.engine.groundTruth().orders).toEqual([]);
    // The halt's cancellation ended the limiter wait (or, had it been slower, the final check saw the stored halt).
    expect(await listOrders(f.db.pool, { symbol: 'ETHTRY' as never })).toMatchObject([{ state: 'rejected', lastError: expect.stringMatching(/^not_sent:(canceled|halted)$/) }]);
    expect(run.result?.counts.halted_submits).toBe(1);
  });

  test('a halt while a POST that reached the exchange awaits its answer: the send is not aborted, its ack is recorded (the row is open, not unknown)', async () => {
    const f = await liveFixture(10_000);
    // The exchange creates the order at once and answers 6 s later (inside the 10 s client timeout),
    // long enough for `btcbot halt` to start and signal while the answer is on the way.
    f.simulator.faults.add({ route: SUBMIT, kind: 'delayAfterCommit', latencyMs: 6_000, times: 1 });
    const pending = f.cycle({ symbols: ['BTCTRY'] });
    await expect.poll(() => f.simulator.engine.groundTruth().orders.length, { timeout: 30_000, interval: 20 }).toBe(1);
    const halted = await btcbot(['halt', '--reason', 'halt while an ack is on the way'], f.cliEnv()).exited;
    expect(halted.code, halted.stdout + halted.stderr).toBe(0);
    const run = await pending;
    // The cycle waited for the attempt (WAIT_CANCELLATION_COMPLETED): when it returns, the row holds the ack.
    expect(run.result?.outcome).toBe('halted');
    expect((await listOrders(f.db.pool)).map((o) => [o.state, o.exchangeOrderId])).toEqual([['open', f.simulator.engine.groundTruth().orders[0]!.id]]);
    expect(f.worker.getStatus().numInFlightActivities).toBe(0);
  });

  test('a halt --cancel-open whose sweep finds the in-flight order already filled, before the POST is answered: the late ack is old news, the cycle halts, the row stays filled', async () => {
    const f = await liveFixture(10_000);
    // The order is created at once and fills at once; its answer comes 8 s later (inside the 10 s client
    // timeout). Meanwhile the halt's sweep resolves the pending submit by client id: filled.
    f.simulator.faults.add({ route: SUBMIT, kind: 'delayAfterCommit', latencyMs: 8_000, times: 1 });
    const pending = f.cycle({ symbols: ['BTCTRY'] });
    await expect.poll(() => f.simulator.engine.groundTruth().orders.length, { timeout: 30_000, interval: 20 }).toBe(1);
    const order = f.simulator.engine.groundTruth().orders[0]!;
    f.simulator.engine.forceFill(BigInt(order.id));
    const halted = await btcbot(['halt', '--cancel-open', '--reason', 'halt while a filled order is acked'], f.cliEnv()).exited;
    expect(halted.code, halted.stdout + halted.stderr).toBe(0);
    const run = await pending;
    expect(run.result?.outcome).toBe('halted'); // was: failed at execute, illegal_transition from=filled event=submit_acknowledged
    expect((await listOrders(f.db.pool)).map((o) => [o.state, o.exchangeOrderId])).toEqual([['filled', order.id]]);
  });
});

describe('failure 3: `halt --cancel-open` finishes the job', () => {
  test('an unresolved submit and an order that fills while its cancel is in flight: halt resolves, cancels, waits, and nothing of ours works afterwards', async () => {
    const f = await liveFixture();
    // ETH: the order is accepted, its answer lost, and the immediate resolution cannot run (open-order reads fail).
    f.simulator.faults.add({ route: SUBMIT, kind: 'emptyAfterCommit', skip: 1, times: 1 });
    const readsFail = f.simulator.faults.add({ route: 'GET /api/v1/openOrders', kind: 'http500', skip: 2, times: null });
    const first = await f.cycle();
    expect(first.result?.outcome).toBe('ok');
    f.simulator.faults.remove(readsFail);
    expect((await listOrders(f.db.pool)).map((o) => [o.symbol, o.state])).toEqual([['BTCTRY', 'open'], ['ETHTRY', 'unknown']]);
    expect(liveOnExchange(f.simulator)).toHaveLength(2);

    // BTC: the cancel is acknowledged, the order stays open for 3 s, then fills instead.
    f.simulator.faults.add({ route: 'DELETE /api/v1/order', kind: 'cancelThenFill', latencyMs: 3_000, times: 1 });
    const btc = liveOnExchange(f.simulator, 'BTCTRY')[0]!;

    const halt = await btcbot(['halt', '--cancel-open', '--reason', 'flatten everything'], f.cliEnv()).exited;
    const atExit = liveOnExchange(f.simulator);
    expect(halt.code, halt.stdout + halt.stderr).toBe(0);
    expect(atExit.map((o) => `${o.symbol} ${o.clientId} ${o.status}`), 'orders of ours still working after halt --cancel-open').toEqual([]);

    // It showed its progress while it waited, and what happened.
    expect(halt.stdout).toMatch(/round \d+: \d+ cancel\(s\) requested/);
    expect(halt.stdout).toMatch(/filled\s+1 order\(s\) filled while cancels were in flight: s4-\S+ filled/);
    expect(halt.stdout).toMatch(/open orders\s+none of ours: the exchange lists none/);
    const rows = await listOrders(f.db.pool);
    expect(rows.map((o) => [o.symbol, o.state])).toEqual([['BTCTRY', 'filled'], ['ETHTRY', 'canceled']]);
    // The halt path ingested the fill itself: the position holds the filled buy.
    expect((await listPositions(f.db.pool)).find((p) => p.symbol === 'BTCTRY')?.qty.toString()).toBe(btc.qty);
  });

  test('a leftover dry-run row does not keep a live halt from finishing: it is cancelled (in the database only) and the halt is done', async () => {
    const f = await liveFixture();
    await f.cycle({ symbols: ['BTCTRY'], dryRunRequested: true });
    expect((await listOrders(f.db.pool)).map((o) => [o.mode, o.state])).toEqual([['dry_run', 'open']]);
    expect(liveOnExchange(f.simulator)).toEqual([]);

    const halt = await btcbot(['halt', '--cancel-open', '--reason', 'dry-run leftovers'], f.cliEnv()).exited;
    expect(halt.code, halt.stdout).toBe(0);
    expect(halt.stdout).toMatch(/open orders\s+none of ours/);
    expect((await listOrders(f.db.pool)).map((o) => [o.mode, o.state])).toEqual([['dry_run', 'canceled']]);
    expect(f.simulator.requests.filter((r) => r.route === 'DELETE /api/v1/order')).toEqual([]);
  });
});
