// Message and workflow names shared by workflows and clients (the CLI). Definitions only: safe to
// import from client code and from the workflow sandbox.
import * as wf from '@temporalio/workflow';

export interface HaltRequest {
  reason: string;
  /** Who asked: an operator name or `cli`. */
  by: string;
}

/** Stop all further submits in a running cycle at once; the cycle records the halt. */
export const haltSignal = wf.defineSignal<[HaltRequest]>('halt');

/** The step a running cycle is in (gate, prepare, market, reconcile, accounting, plan, execute, audit, done). */
export const progressQuery = wf.defineQuery<string>('progress');

/** Workflow type names, for clients that start workflows by name. */
export const TRADING_CYCLE_WORKFLOW = 'tradingCycle';
/** Cancels the bot's own open orders (used by `btcbot halt --cancel-open`). */
export const CANCEL_OWN_ORDERS_WORKFLOW = 'cancelOwnOpenOrders';

export interface CancelOwnOrdersInput {
  reason: string;
  /** Gate settings of the starter; live cancels also need the worker's own gates. */
  gates: import('../domain/gates.js').GateSettings;
}

export interface CancelOwnOrdersResult {
  /** Cancels sent (live) or applied (dry-run rows). */
  requested: number;
  /** Orders whose cancel failed; they stay tracked and are retried by later cycles. */
  failed: number;
  /** True when gates allowed no exchange writes: only dry-run rows were cancelled. */
  simulatedOnly: boolean;
}

/** Delivers a cycle's queued alerts (started by the cycle as an abandoned child). */
export const DELIVER_ALERTS_WORKFLOW = 'deliverCycleAlerts';

export interface DeliverAlertsInput {
  /** The cycle id the alerts were queued under. */
  sourceId: string;
}

export interface DeliverAlertsResult {
  sent: number;
  /** Refused by the receiver, or of unknown fate (a timeout after sending): not sent again. */
  notSent: number;
}
