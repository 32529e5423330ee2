// Paper trading on the real stack: dry-run orders fill when the simulator's public market trades
// through them, into the paper ledger, and the live ledger is left exactly as it was.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runCycle } from '../../src/cli/cycles.js';
import type { GateSettings } from '../../src/domain/gates.js';
import { listOrders } from '../../src/store/orders.js';
import type { CycleInput } from '../../src/workflows/types.js';
import { startCycleStack, uniqueId, type CycleStack } from './harness.js';

const SAFE_DEFAULTS: GateSettings = { killSwitch: true, dryRun: true, liveTrading: false, liveTradingAck: null };

let stack: CycleStack;
beforeAll(async () => {
  stack = await startCycleStack('paper', { env: { SYMBOLS: 'BTC_TRY,ETH_TRY' } });
});
afterAll(async () => {
  await stack?.close();
});

const dryCycle = (overrides: Partial<CycleInput> = {}) =>
  runCycle(stack.temporal.client, {
    workflowId: uniqueId('cycle-paper'), taskQueue: stack.taskQueue,
    input: { gates: SAFE_DEFAULTS, dryRunRequested: true, symbols: ['BTCTRY', 'ETHTRY'], trigger: 'test', ...overrides },
  });

describe('paper trading', () => {
  test('a dry-run order the market trades through is filled, not left open for the TTL to cancel', async () => {
    expect((await dryCycle()).result?.outcome).toBe('ok');
    const placed = await listOrders(stack.db.pool, { modes: ['dry_run'] });
    expect(placed.map((o) => o.state)).toEqual(['open', 'open']);
    // The market falls 2 % below each paper buy: it trades through them.
    for (const o of placed) stack.simulator.engine.setMid(o.symbol, o.price.mul('0.98').toDecimalPlaces(0));

    expect((await dryCycle()).result?.outcome).toBe('ok');
    const after = await listOrders(stack.db.pool, { modes: ['dry_run'] });
    expect(after.filter((o) => placed.some((p) => p.clientOrderId === o.clientOrderId)).map((o) => o.state)).toEqual(['filled', 'filled']);
  });
});
