// `btcbot status [--json] [--cycles N] [--schedule-id ID]`: what the bot is doing, from its system
// of record (Postgres) plus the schedule's state from Temporal. Temporal being unreachable never
// hides the database state: it is reported as one line (or `temporal.reachable: false`).
import { ScheduleNotFoundError, type ScheduleDescription } from '@temporalio/client';
import { Decimal, toDecimalString } from '../domain/decimal.js';
import type { TradingMode } from '../domain/gates.js';
import { LIVE_STATES } from '../domain/lifecycle.js';
import { listCycleAudits } from '../store/audit.js';
import { listOrders } from '../store/orders.js';
import { latestSnapshot } from '../store/pnl.js';
import { getHalt, type HaltState } from '../store/runtime.js';
import { connectClient, loadControlSettings, openDatabase } from './context.js';
import { EXIT } from './errors.js';
import { printable, terminalJson } from './printable.js';
import { formatAccount, readAccount, type AccountView } from './positions.js';
import { scheduleStateLine } from './schedule.js';
import { formatEquity, formatLastOk, formatUndeliveredAlerts, formatWhyNotTrading, readOperatorView, type OperatorView } from './status-operator.js';
import { integrityAlerts } from '../domain/cycle-story.js';
import { table } from './table.js';

/** A percentage for reading: 4 decimals (the stored value, in --json, keeps every digit). */
const pct = (raw: string): string => new Decimal(raw).toDecimalPlaces(4).toFixed();

/** The account every store row belongs to until multi-account support exists. */
const ACCOUNT_ID = 'default';
const MODES: readonly TradingMode[] = ['live', 'dry_run'];

const dec = (d: Decimal): string => toDecimalString(d);

export interface StatusReport {
  halt: HaltState | null;
  temporal: { address: string; namespace: string; reachable: boolean; error?: string };
  /** null when Temporal is unreachable (unknown). */
  schedule: null | { id: string; exists: false } | {
    id: string;
    exists: true;
    paused: boolean;
    note: string | null;
    summary: string;
    nextRunTimes: string[];
    running: string[];
    recentActions: Array<{ takenAt: string; workflowId: string }>;
    skippedOverlap: number;
    missedCatchupWindow: number;
  };
  cycles: Array<{
    cycleId: string;
    outcome: string;
    mode: string;
    startedAt: string;
    finishedAt: string;
    counts: Record<string, number>;
    alerts: string[];
    /** The alerts that may mean wrong books (integrity, fee conversion, reconcile anomalies, quarantines, drift). */
    integrity: string[];
    error: string | null;
  }>;
  /** Decimal strings; avgCostTry is null when nothing is held; `opening` says how each began. */
  positions: AccountView['positions'];
  /** Symbols whose fills cannot be applied (no new orders), with the fill; until applied or adopted. */
  quarantines: AccountView['quarantines'];
  /** Base assets whose balance differs from the bot's positions (their symbols buy nothing). */
  balanceDrift: AccountView['balanceDrift'];
  adoptionsPending: AccountView['adoptionsPending'];
  /** Position rows that cannot be read: named, and the rest shown. */
  unreadableRows: AccountView['unreadableRows'];
  pnl: Record<TradingMode, null | {
    at: string;
    cycleId: string | null;
    totalEquityTry: string;
    realizedTodayTry: string;
    realizedTotalTry: string;
    drawdownPct: string;
    highWaterMarkTry: string;
  }>;
  /** The bot's own orders in a live state (pending_submit and unknown included). */
  openOrders: Array<{
    symbol: string;
    side: string;
    price: string;
    qty: string;
    leftQty: string;
    state: string;
    mode: string;
    clientOrderId: string | null;
    exchangeOrderId: string | null;
    createdAt: string;
    lastError: string | null;
  }>;
  /** Last good cycle, the bot's equity share, why each symbol is (not) trading. */
  operator: OperatorView;
}

export async function status({ json, cycles, scheduleId }: { json: boolean; cycles: number; scheduleId: string }): Promise<number> {
  const infra = loadControlSettings();
  const [db, temporal] = await Promise.all([readDatabase(cycles), readTemporal(infra, scheduleId)]);
  const report: StatusReport = {
    halt: db.halt, temporal: temporal.temporal, schedule: temporal.schedule,
    cycles: db.cycles, positions: db.positions, quarantines: db.quarantines, balanceDrift: db.balanceDrift, adoptionsPending: db.adoptionsPending, unreadableRows: db.unreadableRows,
    pnl: db.pnl, openOrders: db.openOrders, operator: db.operator,
  };
  console.log(json ? terminalJson(report) : formatStatus(report, cycles));
  return EXIT.ok;
}

async function readDatabase(cycles: number): Promise<Omit<StatusReport, 'temporal' | 'schedule'>> {
  const { pool } = await openDatabase();
  try {
    const [operator, halt, audits, account, orders, ...snapshots] = await Promise.all([
      readOperatorView(pool, process.env, Date.now(), ACCOUNT_ID),
      getHalt(pool),
      listCycleAudits(pool, { limit: cycles }),
      readAccount(pool),
      listOrders(pool, { states: [...LIVE_STATES], modes: ['live', 'dry_run'] }),
      ...MODES.map((mode) => latestSnapshot(pool, ACCOUNT_ID, mode)),
    ]);
    const pnl = Object.fromEntries(
      MODES.map((mode, i) => {
        const s = snapshots[i];
        return [mode, s ? {
          at: new Date(s.tsMs).toISOString(),
          cycleId: s.cycleId,
          totalEquityTry: dec(s.totalEquityTry),
          realizedTodayTry: dec(s.realizedTodayTry),
          realizedTotalTry: dec(s.realizedTotalTry),
          drawdownPct: dec(s.drawdownPct),
          highWaterMarkTry: dec(s.highWaterMarkTry),
        } : null];
      }),
    ) as StatusReport['pnl'];
    return {
      halt,
      operator,
      cycles: audits.map((a) => ({
        cycleId: a.cycleId,
        outcome: a.outcome,
        mode: a.mode,
        startedAt: a.startedAt,
        finishedAt: a.finishedAt,
        counts: a.counts,
        alerts: a.alerts,
        integrity: integrityAlerts(a),
        error: a.errorMessage === null ? null : `${a.errorClass ?? 'Error'}: ${a.errorMessage}`,
      })),
      ...account,
      pnl,
      openOrders: orders.map((o) => ({
        symbol: o.symbol,
        side: o.side,
        price: dec(o.price),
        qty: dec(o.qty),
        leftQty: dec(o.leftQty),
        state: o.state,
        mode: o.mode,
        clientOrderId: o.clientOrderId,
        exchangeOrderId: o.exchangeOrderId,
        createdAt: new Date(o.createdAtMs).toISOString(),
        lastError: o.lastError,
      })),
    };
  } finally {
    await pool.end();
  }
}

async function readTemporal(
  infra: ReturnType<typeof loadControlSettings>,
  scheduleId: string,
): Promise<Pick<StatusReport, 'temporal' | 'schedule'>> {
  const where = { address: infra.temporalAddress, namespace: infra.temporalNamespace };
  let temporal: Awaited<ReturnType<typeof connectClient>>;
  try {
    temporal = await connectClient(infra, { connectTimeout: '3s' });
  } catch (err) {
    return { temporal: { ...where, reachable: false, error: (err as Error).message }, schedule: null };
  }
  try {
    let d: ScheduleDescription;
    try {
      d = await temporal.client.schedule.getHandle(scheduleId).describe();
    } catch (err) {
      if (err instanceof ScheduleNotFoundError) return { temporal: { ...where, reachable: true }, schedule: { id: scheduleId, exists: false } };
      return { temporal: { ...where, reachable: false, error: (err as Error).message }, schedule: null };
    }
    return {
      temporal: { ...where, reachable: true },
      schedule: {
        id: scheduleId,
        exists: true,
        paused: d.state.paused,
        note: d.state.note ?? null,
        summary: scheduleStateLine(d),
        nextRunTimes: d.info.nextActionTimes.map((t) => t.toISOString()),
        running: d.info.runningActions.map((a) => a.workflow.workflowId),
        recentActions: d.info.recentActions.map((a) => ({ takenAt: a.takenAt.toISOString(), workflowId: a.action.workflow.workflowId })),
        skippedOverlap: d.info.numActionsSkippedOverlap,
        missedCatchupWindow: d.info.numActionsMissedCatchupWindow,
      },
    };
  } finally {
    await temporal.close();
  }
}

export function formatStatus(r: StatusReport, cycles: number): string {
  const out: string[] = [];
  out.push(r.halt ? `halt: HALTED since ${r.halt.haltedAt} by ${r.halt.by}: ${r.halt.reason} (\`btcbot resume\` lifts it)` : 'halt: not halted');
  out.push(
    r.temporal.reachable
      ? `temporal: reachable at ${r.temporal.address} (namespace ${r.temporal.namespace})`
      : `temporal: unreachable at ${r.temporal.address} (${r.temporal.error ?? 'unknown error'})`,
  );
  const s = r.schedule;
  out.push(
    s === null
      ? 'schedule: unknown (temporal unreachable)'
      : !s.exists
        ? `schedule ${s.id}: not found`
        : `schedule ${s.id}: ${s.summary}${s.running.length ? `; running ${s.running.join(', ')}` : ''}`,
  );

  out.push(formatLastOk(r.operator));
  const undelivered = formatUndeliveredAlerts(r.operator);
  if (undelivered !== null) out.push(undelivered);

  out.push('', `cycles (last ${cycles})`);
  if (r.cycles.length === 0) out.push('  none');
  else {
    out.push(...table([['finished', 'outcome', 'mode', 'cycle', 'what happened (non-zero counts; `btcbot cycle show <cycle>` tells the story)'], ...r.cycles.map((c) => [
      c.finishedAt, c.outcome, c.mode, c.cycleId,
      // Non-zero counts only: what happened, not every counter the cycle keeps (all are in --json).
      [Object.entries(c.counts).filter(([, v]) => v !== 0).map(([k, v]) => `${k}=${v}`).join(' '), c.error ?? ''].filter(Boolean).join('  '),
    ])]));
  }

  out.push('', 'trading per symbol');
  out.push(...formatWhyNotTrading(r.operator, Date.now()));

  out.push('', 'positions');
  out.push(...formatAccount(r));

  out.push('', 'pnl (latest snapshot per mode)');
  for (const mode of MODES) {
    const p = r.pnl[mode];
    out.push(
      p
        ? `  ${mode.padEnd(7)}  equity ${p.totalEquityTry} TRY  realized today ${p.realizedTodayTry}  total ${p.realizedTotalTry}` +
            `  drawdown ${pct(p.drawdownPct)}%  high-water mark ${p.highWaterMarkTry}  (at ${p.at}${p.cycleId ? `, ${p.cycleId}` : ''})`
        : `  ${mode.padEnd(7)}  no snapshot yet`,
    );
    const share = formatEquity(r.operator, mode);
    if (share) out.push(`  ${''.padEnd(7)}  ${share}`);
  }
  out.push(`  bot equity = ${r.operator.botEquityDefinition}`);

  out.push('', `open orders (${r.openOrders.length})`);
  if (r.openOrders.length === 0) out.push('  none');
  else {
    out.push(...table([
      ['symbol', 'side', 'left qty', 'qty', 'price', 'state', 'mode', 'client order id', 'exchange order id', 'last error'],
      ...r.openOrders.map((o) => [
        o.symbol, o.side, o.leftQty, o.qty, o.price, o.state, o.mode, o.clientOrderId ?? '-', o.exchangeOrderId ?? '-', o.lastError ?? '',
      ]),
    ]));
  }
  // Halt reasons, error messages and notes are stored text: never raw control characters.
  return out.map(printable).join('\n');
}
