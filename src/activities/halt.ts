// The halt path's read side (`btcbot halt --cancel-open`): one sweep per round of the
// cancelOwnOpenOrders workflow. Each sweep brings the database in line with the exchange — the same
// reconcile a cycle runs, so pending and unknown submits are resolved by client id, duplicates are
// recorded, and orders that left the book get their final state from a lookup — then ingests the
// fills of our orders itself (a halted cycle stops before its fills step, and an order can fill
// while its cancel is in flight), and plans the cancels. The cancels go through executeAction, the
// only code that writes to the exchange.
import { FILLS_WINDOW_MAX_MS, fillsPollSinceMs, fillsWindows, settledThroughMs } from '../domain/accounting.js';
import { splitPair } from '../domain/symbols.js';
import { parseTradingConfig, type TradingConfig } from '../domain/config.js';
import type { TradingMode } from '../domain/gates.js';
import { isOwnClientOrderId } from '../domain/ids.js';
import { isRecovering, LIVE_STATES, mayBeWorking, planHaltCancels, UNRESOLVED_STATES, type TrackedOrder } from '../domain/lifecycle.js';
import type { SymbolOpenOrders } from '../domain/reconcile.js';
import { plannedActionToWire, type PlannedActionWire } from '../domain/wire.js';
import type { FillReport, OrderStatusReport, PairSymbol, UnreadableTradeReport } from '../domain/types.js';
import { UnreadableTradeRowsError } from '../exchange/errors.js';
import { beat } from '../progress.js';
import { symbolAccountStates } from '../store/account.js';
import { getCursorMs, ingestFills } from '../store/fills.js';
import { listOrders, listOrdersByExchangeIds } from '../store/orders.js';
import type { ActivityDeps } from './deps.js';
import { absencePolicy, reconcileAgainst } from './reconcile.js';

export interface HaltSweepInput {
  /** `live` only when the starter's gates allow live writes; the worker's are checked per cancel. */
  mode: TradingMode;
  /** The cancelOwnOpenOrders workflow id, for the fills' cycle id. */
  haltId: string;
}

export interface HaltSweepResult {
  /** Cancels for every working order of ours (re-sent while the exchange still lists one). */
  cancels: PlannedActionWire[];
  /** Orders of ours working on the exchange or in the database: `SYMBOL id state`. */
  stillWorking: string[];
  /** Submits whose outcome is still unknown. */
  unresolved: string[];
  /**
   * Orders of ours closed only by inference (never seen over the absence window) and still inside
   * their recovery window: not found, but such an order may still appear and work (Q13).
   */
  mayStillAppear: string[];
  /** Orders of ours the exchange lists right now. */
  listedOurs: number;
  /** Symbols whose open orders could not be read this round. */
  readsFailed: string[];
  /** Orders that this sweep found filled (in part or in full). */
  filled: string[];
  fillsApplied: number;
  notes: string[];
}

const describeOrder = (o: TrackedOrder): string => `${o.symbol} ${o.clientOrderId ?? `duplicate-of-${o.duplicateOf ?? '?'}`}(${o.exchangeOrderId ?? 'no exchange id'}) ${o.state}`;

export function haltActivities(deps: ActivityDeps) {
  const wall = deps.now ?? Date.now;

  async function openOrdersOf(symbols: readonly PairSymbol[]): Promise<Map<PairSymbol, SymbolOpenOrders>> {
    const snapshots = await Promise.all(
      symbols.map(async (s): Promise<[PairSymbol, SymbolOpenOrders]> => {
        try {
          return [s, { status: 'ok', orders: await deps.exchange.getOpenOrders(s) }];
        } catch (err) {
          return [s, { status: 'failed', error: (err as Error).name }];
        }
      }),
    );
    return new Map(snapshots);
  }

  /**
   * Our orders' fills since the cursor (minus the lookback), through the one ingestion path, as a
   * cycle would ingest them. Left to the next cycle, with its cursor where it is (nothing is lost):
   * a symbol whose holdings are not established yet (its opening is a cycle's job) or that is
   * quarantined; a span longer than one fills window (a backlog is the cycle's, window by window);
   * fills with a fee in a third asset (converting it needs the cycle's marks).
   */
  async function ingest(symbol: PairSymbol, haltId: string, config: TradingConfig): Promise<{ applied: number; note: string | null }> {
    try {
      const state = (await symbolAccountStates(deps.pool, [symbol])).get(symbol);
      if (!state?.established || state.quarantine !== null) {
        return { applied: 0, note: `halt_fills_deferred:${symbol}:${state?.quarantine ? 'quarantined' : 'opening_not_established'}` };
      }
      // Up to now, not the sweep's start: the fill that ended an order found filled just now must be in.
      const nowMs = wall();
      const since = fillsPollSinceMs(await getCursorMs(deps.pool, symbol), config.fillsPollLookbackMinutes, nowMs);
      const [window] = fillsWindows(since, nowMs, FILLS_WINDOW_MAX_MS, 1).windows;
      if (window === undefined || window.endMs < nowMs) return { applied: 0, note: `halt_fills_deferred:${symbol}:backlog` };
      let fills: readonly FillReport[];
      let unreadable: readonly UnreadableTradeReport[] = [];
      try {
        fills = await deps.exchange.getFills(symbol, { startMs: since, endMs: nowMs });
      } catch (err) {
        if (!(err instanceof UnreadableTradeRowsError)) throw err;
        ({ readable: fills, unreadable } = err);
      }
      const assets = splitPair(symbol);
      if (fills.some((f) => f.feeAsset.toUpperCase() !== 'TRY' && f.feeAsset.toUpperCase() !== assets?.base)) {
        return { applied: 0, note: `halt_fills_deferred:${symbol}:fee_in_third_asset` };
      }
      const r = await ingestFills(deps.pool, {
        symbol, fills, unreadable, marks: new Map(), cycleId: haltId, settledThroughMs: settledThroughMs(nowMs, config.fillsSettleSeconds * 1000),
      });
      return { applied: r.applied, note: r.notes.length > 0 ? r.notes.join(',') : null };
    } catch (err) {
      // The fills stay on the exchange; the next cycle after `resume` ingests them.
      return { applied: 0, note: `halt_fills_failed:${symbol}:${(err as Error).name}` };
    }
  }

  return {
    async haltSweep(input: HaltSweepInput): Promise<HaltSweepResult> {
      const nowMs = wall();
      const config = parseTradingConfig(deps.env ?? {});
      const { recoveryWindowMs } = absencePolicy(deps);
      // Real rows that may be on the book: working, or closed by inference and still recovering.
      const working = (await listOrders(deps.pool, { modes: ['live'], states: [...LIVE_STATES, 'unknown_closed'] }))
        .filter((o) => mayBeWorking(o, nowMs, recoveryWindowMs));
      const notes: string[] = [];
      const filled: string[] = [];
      let fillsApplied = 0;
      let listedOurs = 0;
      const readsFailed: string[] = [];

      // Paper mode (no credentials) has no exchange to read: only simulated rows exist.
      if (deps.hasCredentials === true) {
        const symbols = [...new Set([...config.symbols, ...working.map((o) => o.symbol)])];
        beat('halt_read_open_orders', { symbols: symbols.length });
        const openOrders = await openOrdersOf(symbols);
        for (const [s, snap] of openOrders) if (snap.status === 'failed') readsFailed.push(s);
        beat('halt_reconcile');
        const rec = await reconcileAgainst(deps, openOrders, nowMs);
        notes.push(...rec.notes, ...rec.alerts);
        const fillSymbols = new Set<PairSymbol>(working.map((o) => o.symbol));
        for (const d of rec.decisions) {
          if (d.kind === 'set_state' && (d.to === 'filled' || d.to === 'partial')) filled.push(`${d.clientOrderId ?? d.exchangeOrderId} ${d.to}`);
        }
        for (const symbol of fillSymbols) {
          beat('halt_ingest_fills', { symbol });
          const r = await ingest(symbol, input.haltId, config);
          fillsApplied += r.applied;
          if (r.note !== null) notes.push(r.note);
        }
        listedOurs = await countListedOurs([...openOrders.values()].flatMap((s) => (s.status === 'ok' ? s.orders : [])));
      }

      const after = await listOrders(deps.pool, { modes: ['live', 'dry_run'], states: [...LIVE_STATES, 'unknown_closed'] });
      const ours = after.filter((o) => LIVE_STATES.has(o.state));
      // A live halt cancels real rows and simulated ones (those only in the database: nothing is sent
      // for them). A dry-run halt (gates closed) cancels simulated rows only; real ones are reported, not touched.
      const cancellable = input.mode === 'live' ? ours : ours.filter((o) => o.mode === 'dry_run');
      return {
        cancels: planHaltCancels(cancellable.filter((o) => !UNRESOLVED_STATES.has(o.state))).map(plannedActionToWire),
        stillWorking: ours.filter((o) => !UNRESOLVED_STATES.has(o.state)).map(describeOrder),
        unresolved: ours.filter((o) => UNRESOLVED_STATES.has(o.state)).map(describeOrder),
        mayStillAppear: after.filter((o) => o.mode === 'live' && isRecovering(o, nowMs, recoveryWindowMs)).map(describeOrder),
        listedOurs,
        readsFailed,
        filled,
        fillsApplied,
        notes,
      };
    },
  };

  /** Listed orders that are ours: a row of ours holds them, or they carry our client id format. */
  async function countListedOurs(listed: readonly OrderStatusReport[]): Promise<number> {
    if (listed.length === 0) return 0;
    const rows = await listOrdersByExchangeIds(deps.pool, listed.map((r) => r.exchangeOrderId));
    const ourIds = new Set(rows.filter((o) => o.mode !== 'external').map((o) => o.exchangeOrderId));
    return listed.filter((r) => ourIds.has(r.exchangeOrderId) || isOwnClientOrderId(r.clientOrderId)).length;
  }
}
