// tradingCycle on the real stack: Temporal CLI dev server, Postgres, the simulator over HTTP.
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runCycle } from '../../src/cli/cycles.js';
import type { GateSettings } from '../../src/domain/gates.js';
import type { RunningSimulator } from '../../src/simulator/server.js';
import { listCycleAudits } from '../../src/store/audit.js';
import { listOrders } from '../../src/store/orders.js';
import type { Pool } from '../../src/store/db.js';
import type { CycleInput } from '../../src/workflows/types.js';
import { startCycleStack, uniqueId, type CycleStack } from './harness.js';

const SAFE_DEFAULTS: GateSettings = { killSwitch: true, dryRun: true, liveTrading: false, liveTradingAck: null };

let stack: CycleStack;
let temporal: CycleStack['temporal'];
let db: CycleStack['db'];
let simulator: RunningSimulator;
let taskQueue: string;

beforeAll(async () => {
  // DOGE_TRY is configured on the worker but not listed by the simulator.
  stack = await startCycleStack('cycle-test', { env: { SYMBOLS: 'BTC_TRY,ETH_TRY,SOL_TRY,DOGE_TRY' } });
  ({ temporal, db, simulator, taskQueue } = stack);
});

afterAll(async () => {
  await stack?.close();
});

function input(overrides: Partial<CycleInput> = {}): CycleInput {
  return { gates: SAFE_DEFAULTS, dryRunRequested: true, symbols: ['BTCTRY', 'ETHTRY'], trigger: 'test', ...overrides };
}

async function auditRows(pool: Pool, cycleId: string) {
  return listCycleAudits(pool, { cycleId });
}

/** Visibility is eventually consistent: poll the list query until it returns `n` executions. */
async function waitForListCount(client: Client, query: string, n: number): Promise<number> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    let count = 0;
    for await (const _ of client.workflow.list({ query })) count += 1;
    if (count === n || Date.now() > deadline) return count;
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('tradingCycle', () => {
  test('a dry-run cycle plans canary buys and records them as simulated orders, with one ok audit row', async () => {
    const workflowId = uniqueId('cycle-dry');
    const run = await runCycle(temporal.client, { workflowId, taskQueue, input: input() });

    expect(run.deduped).toBe(false);
    expect(run.result).toMatchObject({
      cycleId: workflowId,
      mode: 'dry_run',
      outcome: 'ok',
      counts: { pairs_listed: 4, symbols_unavailable: 0, intents: 2, accepted_by_risk: 2, simulated: 2, executed: 2 },
      notes: ['kill_switch_active'],
      auditRecorded: true,
    });
    // Simulated rows only: `sim-<client id>`, and nothing was sent to the exchange.
    const rows = await listOrders(db.pool, { modes: ['dry_run'] });
    expect(rows.map((o) => [o.symbol, o.side, o.state, o.exchangeOrderId === `sim-${o.clientOrderId}`])).toEqual(
      expect.arrayContaining([['BTCTRY', 'buy', 'open', true], ['ETHTRY', 'buy', 'open', true]]),
    );
    expect(simulator.engine.groundTruth().orders).toHaveLength(0);
    const audits = await auditRows(db.pool, workflowId);
    expect(audits).toHaveLength(1);
    expect(audits[0]).toMatchObject({
      workflowId,
      mode: 'dry_run',
      outcome: 'ok',
      counts: { pairs_listed: 4, simulated: 2 },
      alerts: ['kill_switch_active'],
      errorClass: null,
    });
    expect(audits[0]!.envelope).toMatchObject({ command: 'stage4-run', dry_run: true, live_mode: false, symbols: ['BTCTRY', 'ETHTRY'] });
  });

  test('each cycle carries mode, outcome and symbols as search attributes the UI can filter on', async () => {
    const workflowId = uniqueId('cycle-sa');
    await runCycle(temporal.client, { workflowId, taskQueue, input: input({ symbols: ['SOLTRY'] }) });
    const query = `WorkflowId = "${workflowId}" AND BtcbotMode = "dry_run" AND BtcbotOutcome = "ok" AND BtcbotSymbols = "SOLTRY"`;
    expect(await waitForListCount(temporal.client, query, 1)).toBe(1);
  });

  test('starting the same cycle id twice runs it once and writes no second audit row', async () => {
    const workflowId = uniqueId('cycle-dup');
    const first = await runCycle(temporal.client, { workflowId, taskQueue, input: input() });
    const second = await runCycle(temporal.client, { workflowId, taskQueue, input: input() });

    expect(first.deduped).toBe(false);
    expect(second.deduped).toBe(true);
    expect(second.result).toEqual(first.result);
    expect(await auditRows(db.pool, workflowId)).toHaveLength(1);
    expect(await waitForListCount(temporal.client, `WorkflowId = "${workflowId}"`, 1)).toBe(1);
  });

  test('concurrent starts of one cycle id produce a single execution', async () => {
    const workflowId = uniqueId('cycle-race');
    const runs = await Promise.all(
      [0, 1, 2].map(() => runCycle(temporal.client, { workflowId, taskQueue, input: input() })),
    );
    expect(runs.filter((r) => !r.deduped)).toHaveLength(1);
    expect(new Set(runs.map((r) => JSON.stringify(r.result))).size).toBe(1);
    expect(await auditRows(db.pool, workflowId)).toHaveLength(1);
  });

  test('a live run under the kill switch is blocked before any exchange activity, with a policy-block audit row', async () => {
    const workflowId = uniqueId('cycle-blocked');
    const gates: GateSettings = { killSwitch: true, dryRun: false, liveTrading: true, liveTradingAck: 'I_UNDERSTAND' };
    const run = await runCycle(temporal.client, { workflowId, taskQueue, input: input({ gates, dryRunRequested: false }) });

    expect(run.result).toMatchObject({
      outcome: 'blocked',
      blockReason: 'kill_switch',
      message: 'KILL_SWITCH=true blocks side effects',
      counts: { blocked_by_policy: 1 },
    });
    const rows = await auditRows(db.pool, workflowId);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ outcome: 'blocked', decisions: ['policy_block:kill_switch'] });

    const history = await temporal.client.workflow.getHandle(workflowId).fetchHistory();
    const scheduled = (history.events ?? [])
      .map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name)
      .filter((name): name is string => Boolean(name));
    expect(scheduled).toEqual(['recordAudit']);
  });

  test('a live run that is not armed is blocked with live_not_armed', async () => {
    const workflowId = uniqueId('cycle-unarmed');
    const gates: GateSettings = { killSwitch: false, dryRun: false, liveTrading: true, liveTradingAck: 'i_understand' };
    const run = await runCycle(temporal.client, { workflowId, taskQueue, input: input({ gates, dryRunRequested: false }) });
    expect(run.result).toMatchObject({ outcome: 'blocked', blockReason: 'live_not_armed' });
    expect((await auditRows(db.pool, workflowId))[0]?.decisions).toEqual(['policy_block:live_not_armed']);
  });

  test('with DRY_RUN=true a run without --dry-run is still a dry run (the flag and the variable are OR-ed)', async () => {
    const workflowId = uniqueId('cycle-dry-env');
    const run = await runCycle(temporal.client, { workflowId, taskQueue, input: input({ dryRunRequested: false }) });
    expect(run.result).toMatchObject({ outcome: 'ok', mode: 'dry_run' });
  });

  test('a symbol the worker trades but the exchange does not list (delisted) blocks the cycle, naming it; nothing is placed', async () => {
    const workflowId = uniqueId('cycle-unknown-symbol');
    const run = await runCycle(temporal.client, { workflowId, taskQueue, input: input({ symbols: ['BTCTRY', 'DOGETRY'] }) });
    expect(run.result).toMatchObject({ outcome: 'blocked', counts: { blocked_by_policy: 1 } });
    const [audit] = await listCycleAudits(db.pool, { cycleId: workflowId });
    expect(audit).toMatchObject({ outcome: 'blocked', decisions: expect.arrayContaining(['policy_block:symbol_not_listed:DOGETRY']) });
    expect(run.result?.counts).not.toHaveProperty('intents'); // blocked before any plan: nothing placed, not even simulated
  });
});
