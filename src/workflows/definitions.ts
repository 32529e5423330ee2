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
  /** How long to wait for the exchange to list none of our orders (default 90 s; absent in older runs). */
  waitSeconds?: number;
}

/** Where `halt --cancel-open` is, for the CLI to show while it waits. */
export interface CancelOwnOrdersProgress {
  round: number;
  /** Cancels sent (live) or applied (dry-run rows) so far. */
  requested: number;
  failed: number;
  /** Orders of ours still working on the exchange or in the database: `SYMBOL id state`. */
  stillWorking: string[];
  /** Submits whose outcome is still unknown: not found yet, they may still appear. */
  unresolved: string[];
  /** Orders closed only by inference, still in their recovery window: not found, but they may still appear. */
  mayStillAppear?: string[];
  /** Symbols whose open orders could not be read in the last round. */
  readsFailed?: string[];
  /** Orders that filled (in part or in full) while their cancel was in flight. */
  filled: string[];
  fillsApplied: number;
}

/** Progress of a running `cancelOwnOpenOrders`. */
export const cancelProgressQuery = wf.defineQuery<CancelOwnOrdersProgress>('cancelProgress');

export interface CancelOwnOrdersResult extends CancelOwnOrdersProgress {
  /** True when gates allowed no exchange writes: only dry-run rows were cancelled. */
  simulatedOnly: boolean;
  /**
   * True when the exchange lists none of our orders (every symbol read), none of ours is working or
   * unresolved, and none closed only by inference may still appear.
   */
  done: boolean;
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
