// The worker's check at the activity boundary: every exchange write, whoever scheduled it (a
// workflow that is not btcbot's can schedule btcbot's activities on its task queue), is held
// against the worker's own configuration first (src/domain/write-guard.ts has the rule and why).
// A refused write is never recorded nor sent; it is logged and returned as `rejected` (a submit)
// or `cancel_failed` (a cancel), so a cycle's other actions go on.
import { parseTradingConfig } from '../domain/config.js';
import { riskLimits } from '../domain/risk.js';
import { plannedActionFromWire } from '../domain/wire.js';
import { refuseCancel, refuseSubmit, type WriteRefusal } from '../domain/write-guard.js';
import type { PlannedAction } from '../domain/lifecycle.js';
import { listPositions } from '../store/fills.js';
import { getOrderByRef } from '../store/orders.js';
import { listPaperPositions } from '../store/paper.js';
import type { ExecuteInput, ExecuteResult } from '../workflows/types.js';
import type { ActivityDeps } from './deps.js';

interface WriteActivities {
  executeAction(input: ExecuteInput): Promise<ExecuteResult>;
}

export function guardWrites<T extends WriteActivities>(activities: T, deps: ActivityDeps): T {
  const execute = activities.executeAction;

  async function refusal(input: ExecuteInput): Promise<{ action: PlannedAction | null; refusal: WriteRefusal | null }> {
    let action: PlannedAction;
    try {
      action = plannedActionFromWire(input.action);
    } catch (err) {
      return { action: null, refusal: { code: 'malformed_action', detail: { error: (err as Error).name } } };
    }
    if (action.kind === 'cancel') {
      // By exchange id first: a duplicate order under one of our client ids is our row without a client id.
      const own = await getOrderByRef(deps.pool, { clientOrderId: action.clientOrderId, exchangeOrderId: action.exchangeOrderId });
      return { action, refusal: refuseCancel(action, own) };
    }
    const config = parseTradingConfig(deps.env ?? {});
    // A dry-run sell is held against the paper position, a live one against the live position.
    const held = input.mode === 'dry_run' ? listPaperPositions : listPositions;
    const position = action.side === 'sell' ? ((await held(deps.pool)).find((p) => p.symbol === action.symbol) ?? null) : null;
    return { action, refusal: refuseSubmit(action, { symbols: config.symbols, limits: riskLimits(config) }, position) };
  }

  return {
    ...activities,
    async executeAction(input: ExecuteInput): Promise<ExecuteResult> {
      const { action, refusal: refused } = await refusal(input);
      if (refused === null) return execute(input);
      const clientOrderId = action?.clientOrderId ?? null;
      deps.logger?.warn(
        { event: 'write_refused', code: refused.code, ...refused.detail, cycle_id: input.cycleId, client_order_id: clientOrderId },
        `worker refused an exchange write: ${refused.code}`,
      );
      const detail = `worker_refused:${refused.code}`;
      return action?.kind === 'cancel' ? { outcome: 'cancel_failed', clientOrderId, detail } : { outcome: 'rejected', clientOrderId, detail };
    },
  };
}
