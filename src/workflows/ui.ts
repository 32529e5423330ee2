// What a cycle shows in the Temporal UI: each executeAction bar names its action (the activity's
// `summary`), and the cycle's "current details" name the step it is in, then its result. Pure and
// workflow-safe. Both are user metadata: with BTCBOT_PAYLOAD_KEY set they are encrypted like every
// payload, and the UI shows them through `btcbot codec-server`.
import * as wf from '@temporalio/workflow';
import type { PlannedActionWire } from '../domain/wire.js';
import type { CycleResult } from './types.js';

/** `buy BTCTRY 0.00002939 @ 3400000 (new_intent)`, `cancel sell ETHTRY @ 120000 (stale)`. */
export function executeSummary(a: PlannedActionWire): string {
  return a.kind === 'submit'
    ? `${a.side} ${a.symbol} ${a.qty} @ ${a.price} (${a.reason})`
    : `cancel ${a.side} ${a.symbol} ${a.qty} @ ${a.price} (${a.reason})`;
}

const STEPS: Readonly<Record<string, string>> = {
  prepareCycle: 'prepare: worker config, gates, halt, account lease',
  fetchMarket: 'market: rules, marks, balances, open orders',
  reconcileOrders: 'reconcile: our orders against the exchange',
  syncFillsAndPnl: 'accounting: fills, positions, PnL snapshot',
  recordAudit: 'audit: writing the cycle_audit row',
};

/** Each call of these activities first sets the cycle's current details to the step it starts. */
export function showingSteps<A extends object>(activities: A): A {
  return new Proxy(activities, {
    get(target, name, receiver) {
      const fn: unknown = Reflect.get(target, name, receiver);
      if (typeof fn !== 'function' || typeof name !== 'string') return fn;
      return (...args: unknown[]) => {
        wf.setCurrentDetails(`**running** · ${STEPS[name] ?? name}`);
        return (fn as (...a: unknown[]) => unknown)(...args);
      };
    },
  });
}

/** The result as the cycle's page shows it: outcome first, then what happened. */
export function resultDetails(r: CycleResult): string {
  const counts = Object.entries(r.counts).filter(([, v]) => v !== 0).map(([k, v]) => `${k}=${v}`).join(' ');
  return [
    `**${r.outcome}**${r.blockReason ? ` (${r.blockReason})` : ''} · ${r.mode}`,
    ...(r.message ? [r.message] : []),
    ...(counts ? [counts] : []),
    ...(r.notes.length ? [`notes: ${r.notes.join(', ')}`] : []),
    'the cycle_audit row and `btcbot cycle show <id>` tell the whole story',
  ].join('\n\n');
}
