// What one ingest of a symbol's fills does, pure: the opening at first sight, the fills applied in
// time order up to the first one that cannot be applied, the operator's adoption. The store runs it
// inside the symbol's ingest transaction and writes what it returns; nothing here does I/O.
//
// The cursor never passes an unapplied fill: a fill that fails (an oversell) and a trade row that
// cannot be read hold themselves and everything after them. What comes before them is applied, so
// a quarantine never hides older fills, and the held buys are reported so that the exposure limit
// still counts them.
import { applyFillsUntilFailure, type AppliedFill, type Position } from './accounting.js';
import { Decimal, ZERO } from './decimal.js';
import { AccountingIntegrityError } from './errors.js';
import {
  adoptionAdjustments, applyAdjustment, baseMove, inferOpening, zeroOpening, type BalanceSnapshot, type PositionAdjustment,
} from './holdings.js';
import type { FillId, FillReport, PairSymbol, UnreadableTradeReport } from './types.js';

export type OpeningRequest =
  | {
      readonly kind: 'inferred'; readonly balance: BalanceSnapshot; readonly othersQty: Decimal; readonly markTry: Decimal;
      /** Where the first window starts: the opening is what was held then. */
      readonly windowStartMs: number;
    }
  | { readonly kind: 'zero'; readonly windowStartMs: number };

export interface AdoptionRequest {
  /** A settled balance read taken after the operator asked. */
  readonly balance: BalanceSnapshot;
  readonly othersQty: Decimal;
  readonly markTry: Decimal;
  /** Net base quantity of the symbol's fills already in the ledger with ts after the read. */
  readonly ledgerNetAfterQty: Decimal;
}

export interface IngestPlanInput {
  readonly symbol: PairSymbol;
  readonly base: string;
  readonly position: Position;
  /** Fetched fills not yet in the ledger, first of each id. */
  readonly fresh: readonly FillReport[];
  /** Trade rows of the poll that could not be read and no adoption resolved yet. */
  readonly unreadable: readonly UnreadableTradeReport[];
  readonly opening: OpeningRequest | null;
  readonly adoption: AdoptionRequest | null;
  readonly marks: ReadonlyMap<PairSymbol, Decimal>;
  readonly atMs: number;
}

/** What waits behind a fill that cannot be applied. */
export interface HeldBatch {
  /** Why: the first failure in time (e.g. `oversell_detected`, `unreadable_trade`), naming the fill. */
  readonly error: AccountingIntegrityError;
  readonly fillId: FillId;
  /** The earliest time held: the cursor stays before it. */
  readonly fromTsMs: number;
  /** The readable fills held (the failing one included), in time order. */
  readonly fills: readonly FillReport[];
  /** Base quantity those buy, and what it cost: it counts toward the exposure limit while held. */
  readonly buyQty: Decimal;
  readonly buyCostTry: Decimal;
}

export interface IngestPlan {
  readonly position: Position;
  readonly applied: readonly AppliedFill[];
  /** The opening, adoption covers and re-base, in the order they apply. */
  readonly adjustments: readonly PositionAdjustment[];
  readonly held: HeldBatch | null;
  /** The adoption was carried out (the request can go). False when none was asked or it had to wait. */
  readonly adopted: boolean;
  /** Why an asked adoption waits: the fill that still cannot be applied. */
  readonly adoptionBlockedBy: FillId | null;
  readonly notes: readonly string[];
  readonly reduceOnly: boolean;
}

export function planIngest(input: IngestPlanInput): IngestPlan {
  if (input.adoption !== null) {
    // Adopting covers every oversell at the mark and takes unreadable rows from the balance; if a
    // fill still cannot be applied (say a fee larger than the fill), the adoption waits.
    const adopting = attempt(input, input.adoption);
    if (adopting.held === null) return adopting;
    return { ...attempt(input, null), adoptionBlockedBy: adopting.held.fillId };
  }
  return attempt(input, null);
}

function attempt(input: IngestPlanInput, adoption: AdoptionRequest | null): IngestPlan {
  const blocking = adoption === null ? [...input.unreadable] : [];
  const rowFromTs = blocking.reduce((m, u) => Math.min(m, u.tsMs ?? -Infinity), Infinity);
  const candidates = input.fresh.filter((f) => f.tsMs < rowFromTs);
  const behindRow = input.fresh.filter((f) => f.tsMs >= rowFromTs);

  const opening = openingFor(input, candidates);
  const before = opening === null ? input.position : applyAdjustment(input.position, opening);
  const result = applyFillsUntilFailure([before], candidates, {
    marks: input.marks,
    ...(adoption !== null ? { coverShortfallAtMarkTry: adoption.markTry } : {}),
  });
  let position = result.positions.find((p) => p.symbol === input.symbol) ?? before;
  const adjustments: PositionAdjustment[] = opening === null ? [] : [opening];

  const heldFills = [...(result.held?.fills ?? []), ...behindRow];
  let held: HeldBatch | null = null;
  if (result.held !== null) {
    const [first] = result.held.fills;
    held = {
      error: result.held.error, fillId: first!.fillId, fromTsMs: first!.tsMs, fills: heldFills, ...heldBuys(heldFills),
    };
  } else if (blocking.length > 0) {
    const row = [...blocking].sort((a, b) => (a.tsMs ?? -Infinity) - (b.tsMs ?? -Infinity))[0]!;
    held = {
      error: new AccountingIntegrityError('unreadable_trade', { symbol: input.symbol, fill_id: row.tradeId, cause: row.reason }),
      fillId: row.tradeId, fromTsMs: rowFromTs, fills: heldFills, ...heldBuys(heldFills),
    };
  }

  let adopted = false;
  if (adoption !== null && held === null) {
    const appliedAfter = result.applied.filter((a) => a.fill.tsMs > adoption.balance.atMs).reduce((s, a) => s.add(baseMove(a.fill, input.base)), ZERO);
    const done = adoptionAdjustments(position, result.covered, input.unreadable.map((u) => u.tradeId), {
      base: input.base, balance: adoption.balance, othersQty: adoption.othersQty, markTry: adoption.markTry,
      netAfterQty: adoption.ledgerNetAfterQty.add(appliedAfter), atMs: input.atMs,
    });
    position = done.position;
    adjustments.push(...done.adjustments);
    adopted = true;
  }
  return {
    position, applied: result.applied, adjustments, held, adopted, adoptionBlockedBy: null, notes: result.notes,
    reduceOnly: result.reduceOnlySymbols.includes(input.symbol),
  };
}

function openingFor(input: IngestPlanInput, windowFills: readonly FillReport[]): PositionAdjustment | null {
  const o = input.opening;
  if (o === null) return null;
  const at = { windowStartMs: o.windowStartMs, atMs: input.atMs };
  return o.kind === 'inferred'
    ? inferOpening({ symbol: input.symbol, base: input.base, balance: o.balance, othersQty: o.othersQty, windowFills, markTry: o.markTry, ...at })
    : zeroOpening(input.symbol, { windowFills, base: input.base, ...at });
}

function heldBuys(fills: readonly FillReport[]): { buyQty: Decimal; buyCostTry: Decimal } {
  const buys = fills.filter((f) => f.side === 'buy');
  return { buyQty: buys.reduce((s, f) => s.add(f.qty), ZERO), buyCostTry: buys.reduce((s, f) => s.add(f.qty.mul(f.price)), ZERO) };
}
