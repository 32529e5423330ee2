// The promises a chaos run checks, as pure functions of the simulator's ground truth and what the
// bot wrote to Postgres. Positions are recomputed here, independently of src/domain/accounting.ts,
// from the exchange's own fills.
import { ACCOUNTING_SCALE } from '../src/domain/accounting.js';
import { Decimal, toDecimalString } from '../src/domain/decimal.js';
import { fallbackFillId } from '../src/exchange/trades.js';
import type { GroundTruth } from '../src/simulator/state.js';

/** Client order ids the chaos runner uses for orders it places itself ("someone else" on the account). */
export const EXTERNAL_PREFIX = 'chaos-ext-';

export interface DbOrderRow {
  client_order_id: string | null;
  exchange_order_id: string | null;
  symbol: string;
  status: string;
  mode: string;
  duplicate_of?: string | null;
}

export interface DbFillRow {
  fill_id: string;
  exchange_order_id: string;
  symbol: string;
  side: string;
  price: string;
  qty: string;
  fee: string;
  tax: string;
  ts_ms: string;
}

export interface DbPositionRow {
  symbol: string;
  qty: string;
  cost_basis_try: string;
  realized_pnl_try: string;
}

export interface InvariantResult {
  name: string;
  pass: boolean;
  /** Numbers that back the verdict, `key=value`. */
  detail: string;
  /** Up to a few offending items, for a failing run. */
  examples: string[];
}

const canon = (v: string): string => toDecimalString(new Decimal(v));

function result(name: string, pass: boolean, numbers: Record<string, number | string>, examples: string[] = []): InvariantResult {
  return {
    name,
    pass,
    detail: Object.entries(numbers).map(([k, v]) => `${k}=${v}`).join(' '),
    examples: examples.slice(0, 5),
  };
}

/**
 * Orders: no duplicate (a client order id on the exchange at most once), every order the bot sent is
 * known to it under the same exchange id, no ghost (a row that claims an exchange id the exchange
 * does not have), nothing left unresolved, and the states agree with the exchange.
 */
export function checkOrders(truth: GroundTruth, rows: readonly DbOrderRow[]): InvariantResult[] {
  const ours = truth.orders.filter((o) => !o.clientId.startsWith(EXTERNAL_PREFIX));
  const byClientId = new Map<string, number>();
  for (const o of truth.orders) byClientId.set(o.clientId, (byClientId.get(o.clientId) ?? 0) + 1);
  const duplicates = [...byClientId].filter(([, n]) => n > 1);

  const rowByClientId = new Map(rows.filter((r) => r.client_order_id !== null).map((r) => [r.client_order_id!, r]));
  const untracked: string[] = [];
  const wrongId: string[] = [];
  for (const o of ours) {
    const row = rowByClientId.get(o.clientId);
    if (!row || row.mode !== 'live') untracked.push(`${o.clientId}(${o.id})`);
    else if (row.exchange_order_id !== o.id) wrongId.push(`${o.clientId}: db ${row.exchange_order_id} exchange ${o.id}`);
  }
  const truthIds = new Set(truth.orders.map((o) => o.id));
  const ghosts = rows.filter((r) => r.exchange_order_id !== null && !truthIds.has(r.exchange_order_id));
  const liveRows = rows.filter((r) => r.mode === 'live');
  // A live row without an exchange id must be one the exchange never accepted.
  const truthClientIds = new Set(truth.orders.map((o) => o.clientId));
  const idlessButPlaced = liveRows.filter((r) => r.exchange_order_id === null && r.client_order_id !== null && truthClientIds.has(r.client_order_id));
  const unresolved = liveRows.filter((r) => r.status === 'pending_submit' || r.status === 'unknown');

  const expected: Record<string, readonly string[]> = {
    Untouched: ['open'],
    Partial: ['partial'],
    Closed: ['filled'],
    Canceled: ['canceled'],
  };
  const stateMismatch: string[] = [];
  for (const o of ours) {
    const row = rowByClientId.get(o.clientId);
    if (!row) continue;
    if (!expected[o.status]!.includes(row.status)) stateMismatch.push(`${o.clientId}: exchange ${o.status} db ${row.status}`);
  }
  // Orders the exchange never accepted end closed in the database, never as working orders.
  const neverPlaced = liveRows.filter((r) => r.client_order_id !== null && !truthClientIds.has(r.client_order_id));
  const neverPlacedWorking = neverPlaced.filter((r) => !['rejected', 'unknown_closed', 'canceled'].includes(r.status));

  return [
    result('orders: no duplicate order on the exchange', duplicates.length === 0, {
      exchange_orders: truth.orders.length, bot_orders: ours.length, duplicate_client_ids: duplicates.length,
    }, duplicates.map(([id, n]) => `${id} x${n}`)),
    result('orders: every exchange order is known to the bot with the same exchange id', untracked.length === 0 && wrongId.length === 0 && idlessButPlaced.length === 0, {
      bot_orders: ours.length, untracked: untracked.length, wrong_exchange_id: wrongId.length, placed_but_no_id: idlessButPlaced.length,
    }, [...untracked, ...wrongId, ...idlessButPlaced.map((r) => `${r.client_order_id}: no exchange id`)]),
    result('orders: no ghost (every db exchange id exists on the exchange)', ghosts.length === 0, {
      db_rows: rows.length, db_rows_with_exchange_id: rows.filter((r) => r.exchange_order_id !== null).length, ghosts: ghosts.length,
    }, ghosts.map((r) => `${r.client_order_id ?? '-'}: ${r.exchange_order_id}`)),
    result('orders: nothing unresolved after settling, never-placed orders closed', unresolved.length === 0 && neverPlacedWorking.length === 0, {
      pending_submit: unresolved.filter((r) => r.status === 'pending_submit').length,
      unknown: unresolved.filter((r) => r.status === 'unknown').length,
      never_placed: neverPlaced.length,
      never_placed_still_working: neverPlacedWorking.length,
    }, [...unresolved, ...neverPlacedWorking].map((r) => `${r.client_order_id}: ${r.status}`)),
    result('orders: db states agree with the exchange', stateMismatch.length === 0, {
      compared: ours.length, mismatches: stateMismatch.length,
    }, stateMismatch),
  ];
}

/**
 * Fills: the ledger holds every exchange fill exactly once (by trade id, or by the fallback id the
 * client derives from its natural key when a trade row came without an id), with the exchange's
 * numbers, and nothing else.
 */
export function checkFills(truth: GroundTruth, rows: readonly DbFillRow[]): InvariantResult[] {
  const byId = new Map(truth.fills.map((f) => [f.id, f]));
  const byDerived = new Map(
    truth.fills.map((f) => [fallbackFillId(f.orderId, f.tsMs, new Decimal(f.price), new Decimal(f.qty)) as string, f]),
  );
  const applied = new Map<string, number>();
  const ghosts: string[] = [];
  const fieldMismatch: string[] = [];
  let byNaturalKey = 0;
  for (const r of rows) {
    let f = byId.get(r.fill_id);
    if (!f) {
      f = byDerived.get(r.fill_id);
      if (f) byNaturalKey += 1;
    }
    if (!f) {
      ghosts.push(`${r.fill_id} (order ${r.exchange_order_id})`);
      continue;
    }
    applied.set(f.id, (applied.get(f.id) ?? 0) + 1);
    const same =
      r.exchange_order_id === f.orderId && r.symbol === f.symbol && r.side === f.side && canon(r.price) === canon(f.price) &&
      canon(r.qty) === canon(f.qty) && canon(r.fee) === canon(f.fee) && canon(r.tax) === canon(f.tax) && Number(r.ts_ms) === f.tsMs;
    if (!same) fieldMismatch.push(`${f.id}: db ${r.price}x${r.qty} fee ${r.fee} tax ${r.tax} / exchange ${f.price}x${f.qty} fee ${f.fee} tax ${f.tax}`);
  }
  const lost = truth.fills.filter((f) => !applied.has(f.id));
  const doubled = [...applied].filter(([, n]) => n > 1);
  return [
    result('fills: none lost', lost.length === 0, { exchange_fills: truth.fills.length, db_fills: rows.length, lost: lost.length },
      lost.map((f) => `${f.id} (order ${f.orderId} ${f.symbol} ${f.side} ${f.qty}@${f.price})`)),
    result('fills: none applied twice', doubled.length === 0, { double_applied: doubled.length, matched_by_natural_key: byNaturalKey },
      doubled.map(([id, n]) => `${id} x${n}`)),
    result('fills: no ghost fill, every field equal to the exchange', ghosts.length === 0 && fieldMismatch.length === 0, {
      ghosts: ghosts.length, field_mismatches: fieldMismatch.length,
    }, [...ghosts, ...fieldMismatch]),
  ];
}

interface Book {
  qty: Decimal;
  cost: Decimal;
  realized: Decimal;
}

/**
 * Weighted-average cost over the exchange's fills, chronological (trade ids break ties). Fee and
 * tax are TRY: a buy adds them to cost, a sell takes them off realized PnL. A partial sell removes
 * cost pro rata, rounded half-even to ACCOUNTING_SCALE places (the ledger's documented precision);
 * a sell that flattens the position removes all of it.
 */
export function truthPositions(truth: GroundTruth): Map<string, Book> {
  const fills = [...truth.fills].sort((a, b) => a.tsMs - b.tsMs || (BigInt(a.id) < BigInt(b.id) ? -1 : 1));
  const books = new Map<string, Book>();
  for (const f of fills) {
    const b = books.get(f.symbol) ?? { qty: new Decimal(0), cost: new Decimal(0), realized: new Decimal(0) };
    const qty = new Decimal(f.qty);
    const gross = new Decimal(f.price).mul(qty);
    const fees = new Decimal(f.fee).add(f.tax);
    if (f.side === 'buy') {
      books.set(f.symbol, { qty: b.qty.add(qty), cost: b.cost.add(gross).add(fees), realized: b.realized });
    } else {
      const flat = qty.eq(b.qty);
      const removed = flat ? b.cost : b.cost.mul(qty).div(b.qty).toDecimalPlaces(ACCOUNTING_SCALE, Decimal.ROUND_HALF_EVEN);
      books.set(f.symbol, { qty: b.qty.sub(qty), cost: flat ? new Decimal(0) : b.cost.sub(removed), realized: b.realized.add(gross).sub(removed).sub(fees) });
    }
  }
  return books;
}

export function checkPositions(truth: GroundTruth, rows: readonly DbPositionRow[]): InvariantResult[] {
  const expected = truthPositions(truth);
  const db = new Map(rows.map((r) => [r.symbol, r]));
  const mismatches: string[] = [];
  const symbols = [...new Set([...expected.keys(), ...db.keys()])].sort();
  const summary: string[] = [];
  for (const s of symbols) {
    const e = expected.get(s) ?? { qty: new Decimal(0), cost: new Decimal(0), realized: new Decimal(0) };
    const r = db.get(s);
    const got = r
      ? { qty: canon(r.qty), cost: canon(r.cost_basis_try), realized: canon(r.realized_pnl_try) }
      : { qty: '0', cost: '0', realized: '0' };
    const want = { qty: toDecimalString(e.qty), cost: toDecimalString(e.cost), realized: toDecimalString(e.realized) };
    summary.push(`${s}: qty ${want.qty} cost ${want.cost} realized ${want.realized}`);
    for (const k of ['qty', 'cost', 'realized'] as const) {
      if (got[k] !== want[k]) mismatches.push(`${s}.${k}: db ${got[k]} truth ${want[k]}`);
    }
  }
  return [
    result('positions: qty, cost basis and realized PnL equal the truth to the last decimal', mismatches.length === 0, {
      symbols: symbols.length, mismatches: mismatches.length,
    }, mismatches.length > 0 ? mismatches : summary),
  ];
}

/** Gates: a cycle started with a closed gate is blocked and sends no write to the exchange. */
export function checkGates(blocked: { cycles: number; notBlocked: number; writes: number }): InvariantResult[] {
  return [
    result('gates: closed-gate cycles blocked, zero exchange writes', blocked.notBlocked === 0 && blocked.writes === 0 && blocked.cycles > 0, {
      closed_gate_cycles: blocked.cycles, not_blocked: blocked.notBlocked, exchange_writes: blocked.writes,
    }),
  ];
}

// ---------------------------------------------------------------------------------------------
// Sampled while the run goes on, and around halts (issue 12)

const WORKING = new Set(['pending_submit', 'unknown', 'open', 'partial', 'cancel_requested']);
const isLive = (o: GroundTruth['orders'][number]): boolean => o.status === 'Untouched' || o.status === 'Partial';
const ours = (o: GroundTruth['orders'][number]): boolean => !o.clientId.startsWith(EXTERNAL_PREFIX);

/**
 * One instant: the exchange's truth, the database's working rows, the truth again. An order of ours
 * live in both truths was live throughout (orders do not reopen), so it must be a working row at the
 * database read: by exchange id, or by client id while the row has none yet. An order hidden longer
 * than the absence window (Q13) has a row closed by inference; while that row is in its recovery
 * window (`recovering`: it blocks its symbol and side, is looked up every cycle, and a halt reports
 * it) the order is counted apart as `recovering`, not as untracked. `planned`: the most live bot
 * orders a symbol may have at once (the canary plans one buy per symbol; a replace submits only
 * once the cancel is confirmed) — hidden ones included, so a second buy beside a hidden one fails.
 */
export function sampleOrders(
  before: GroundTruth,
  rows: readonly (Pick<DbOrderRow, 'client_order_id' | 'exchange_order_id' | 'status'> & { recovering?: boolean })[],
  after: GroundTruth,
  planned = 1,
): { untracked: string[]; recovering: string[]; overPlanned: string[] } {
  const working = rows.filter((r) => WORKING.has(r.status));
  const byId = new Set(working.map((r) => r.exchange_order_id).filter((x): x is string => x !== null));
  const idless = new Set(working.filter((r) => r.exchange_order_id === null).map((r) => r.client_order_id));
  const recoveringRows = rows.filter((r) => r.status === 'unknown_closed' && r.recovering === true);
  const stillLive = new Set(after.orders.filter(isLive).map((o) => o.id));
  const describe = (o: GroundTruth['orders'][number]): string => `${o.symbol} ${o.clientId}(${o.id}) ${o.status}${o.visible ? '' : ' hidden'}`;
  const notWorking = before.orders
    .filter((o) => ours(o) && isLive(o) && stillLive.has(o.id))
    .filter((o) => !byId.has(o.id) && !idless.has(o.clientId));
  const isRecovering = (o: GroundTruth['orders'][number]): boolean =>
    recoveringRows.some((r) => r.exchange_order_id === o.id || (r.exchange_order_id === null && r.client_order_id === o.clientId));
  const untracked = notWorking.filter((o) => !isRecovering(o)).map(describe);
  const recovering = notWorking.filter(isRecovering).map(describe);
  const perSymbol = new Map<string, string[]>();
  for (const o of after.orders.filter((x) => ours(x) && isLive(x))) perSymbol.set(o.symbol, [...(perSymbol.get(o.symbol) ?? []), `${o.clientId}(${o.id})`]);
  const overPlanned = [...perSymbol].filter(([, list]) => list.length > planned).map(([symbol, list]) => `${symbol}: ${list.join(', ')}`);
  return { untracked, recovering, overPlanned };
}

export interface SampleLog {
  samples: number;
  untracked: string[];
  /** Live orders of ours whose row is closed by inference and still in its recovery window (counted, not failed). */
  recovering: string[];
  overPlanned: string[];
}

export function checkSamples(log: SampleLog): InvariantResult[] {
  return [
    result('orders: no untracked order at any sampled instant (every live order of ours is a working row)', log.samples > 0 && log.untracked.length === 0, {
      samples: log.samples, untracked: log.untracked.length, hidden_past_window_recovering: log.recovering.length,
    }, log.untracked),
    result('orders: never more live bot orders per symbol than planned (no duplicate)', log.samples > 0 && log.overPlanned.length === 0, {
      samples: log.samples, over_planned: log.overPlanned.length,
    }, log.overPlanned),
  ];
}

/** What one `btcbot halt` did, and what the exchange saw around it. */
export interface HaltRecord {
  cycle: number;
  cancelOpen: boolean;
  /** A submit was waiting on the rate limiter when the halt was issued. */
  whileLimiterWait: boolean;
  /** A POST had reached the exchange and awaited its answer when the halt was issued (a send past its final check). */
  whileInFlight?: boolean;
  /** For an in-flight halt: rows of that cycle left pending_submit or unknown when the cycle returned (its ack lost). */
  leftUnresolved?: string[];
  /** Wall time at which the halt row was stored (Postgres clock, same machine). */
  storedAtMs: number;
  exitCode: number | null;
  stdout: string;
  /** Orders of ours live on the exchange right after `halt --cancel-open` returned. */
  liveAfter: Array<{ id: string; clientId: string; symbol: string }>;
}

/**
 * Halts: no POST /api/v1/order reached the exchange after a halt was stored, beyond a send already
 * past its final check (`allowanceMs`) — and at least one halt really coincided with a submit
 * waiting on the limiter, else the check proved nothing; a halt while a POST awaited its answer
 * leaves no row of that cycle unresolved (the ack is recorded, not thrown away); and when
 * `halt --cancel-open` said it was done, nothing of ours was left working — when it said it was
 * not, it named every order of ours still working.
 */
export function checkHalts(
  halts: readonly HaltRecord[],
  submits: ReadonlyArray<{ wallMs: number }>,
  resumedAtMs: readonly number[],
  allowanceMs: number,
): InvariantResult[] {
  const late: string[] = [];
  let maxLagMs = 0;
  halts.forEach((h, i) => {
    const until = resumedAtMs[i] ?? Infinity;
    for (const r of submits) {
      if (r.wallMs <= h.storedAtMs || r.wallMs >= until) continue;
      const lag = r.wallMs - h.storedAtMs;
      maxLagMs = Math.max(maxLagMs, lag);
      if (lag > allowanceMs) late.push(`halt at cycle ${h.cycle}: a POST arrived ${lag} ms after the halt was stored`);
    }
  });
  const cancelOpen = halts.filter((h) => h.cancelOpen);
  const leftWorking: string[] = [];
  for (const h of cancelOpen) {
    if (h.exitCode === 0) {
      for (const o of h.liveAfter) leftWorking.push(`halt at cycle ${h.cycle} exited 0 but ${o.symbol} ${o.clientId}(${o.id}) works`);
    } else {
      for (const o of h.liveAfter) {
        if (!h.stdout.includes(o.clientId) && !h.stdout.includes(o.id)) leftWorking.push(`halt at cycle ${h.cycle} exited ${h.exitCode} without naming ${o.clientId}(${o.id})`);
      }
    }
  }
  const waited = halts.filter((h) => h.whileLimiterWait).length;
  const inFlight = halts.filter((h) => h.whileInFlight === true);
  const lost = inFlight.flatMap((h) => (h.leftUnresolved ?? []).map((cid) => `halt at cycle ${h.cycle}: ${cid} left unresolved although its POST was answered`));
  return [
    result(`halts: no order write received after the halt was stored (allowance ${allowanceMs} ms)`, waited > 0 && late.length === 0, {
      halts: halts.length, while_limiter_wait: halts.filter((h) => h.whileLimiterWait).length, late_writes: late.length, max_post_lag_ms: maxLagMs,
    }, late),
    result('halts: after halt --cancel-open, no open order of ours (or each one named)', cancelOpen.length > 0 && leftWorking.length === 0, {
      cancel_open_halts: cancelOpen.length, done: cancelOpen.filter((h) => h.exitCode === 0).length, left_working: leftWorking.length,
    }, leftWorking),
    result('halts: a send past its final check finishes and is recorded (no ack thrown away)', inFlight.length > 0 && lost.length === 0, {
      in_flight_halts: inFlight.length, left_unresolved: lost.length,
    }, lost),
  ];
}

/**
 * No orphan: every order the exchange ever created is known to the database with its exchange id
 * (an order row, or, for someone else's order that never rested, its fills). Someone else's order
 * that was done before a symbol's first fills window is out of the bot's sight by design: its
 * trades are part of the inferred opening (`sightFromMs`: each symbol's first window start).
 */
export function checkNoOrphan(
  truth: GroundTruth,
  rows: readonly DbOrderRow[],
  fillOrderIds: ReadonlySet<string>,
  sightFromMs: ReadonlyMap<string, number> = new Map(),
): InvariantResult[] {
  const rowIds = new Set(rows.map((r) => r.exchange_order_id).filter((x): x is string => x !== null));
  const orphansOfOurs = truth.orders.filter((o) => ours(o) && !rowIds.has(o.id));
  const beforeSight = (o: GroundTruth['orders'][number]) => o.updatedMs < (sightFromMs.get(o.symbol) ?? -Infinity);
  const orphansExternal = truth.orders.filter((o) => !ours(o) && !rowIds.has(o.id) && !fillOrderIds.has(o.id) && !beforeSight(o));
  const duplicates = rows.filter((r) => (r.duplicate_of ?? null) !== null).length;
  return [
    result('orders: no orphan (every exchange order is known to the database by its exchange id)', orphansOfOurs.length === 0 && orphansExternal.length === 0, {
      exchange_orders: truth.orders.length, orphans_of_ours: orphansOfOurs.length, orphans_external: orphansExternal.length, duplicate_rows: duplicates,
      external_before_first_window: truth.orders.filter((o) => !ours(o) && !rowIds.has(o.id) && beforeSight(o)).length,
    }, [...orphansOfOurs, ...orphansExternal].map((o) => `${o.symbol} ${o.clientId}(${o.id}) ${o.status}`)),
  ];
}
