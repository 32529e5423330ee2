// `btcbot positions [--json]` and `btcbot positions adopt SYMBOL`: the account's side of the books,
// from Postgres. Each position with how it began (an opening inferred from the balance, or zero),
// adoptions, quarantined symbols with the fill that could not be applied, balance drift per asset.
// Adopt records a request (or withdraws one: --cancel); the next cycle that has a settled balance
// read and a mark for SYMBOL carries it out (the worker holds the exchange credentials, the CLI
// never does). Only a symbol the bot accounts can be adopted: one of SYMBOLS, quoted in TRY.
import { userInfo } from 'node:os';
import { toDecimalString, ZERO, type Decimal } from '../domain/decimal.js';
import { parseSymbols } from '../domain/config.js';
import { splitPair } from '../domain/symbols.js';
import { toPairSymbol, InvalidSymbolError, type PairSymbol } from '../domain/types.js';
import { cancelAdoption, listAdjustments, listAdoptionRequests, listQuarantines, listRaisedDrift, requestAdoption } from '../store/account.js';
import type { Pool } from '../store/db.js';
import { readPositions } from '../store/fills.js';
import { getPaperAccount, listPaperPositions, paperCashTry } from '../store/paper.js';
import { listOrders } from '../store/orders.js';
import { LIVE_STATES } from '../domain/lifecycle.js';
import { paperTryBalance } from '../domain/risk.js';
import { table } from './table.js';
import { openDatabase } from './context.js';
import { EXIT, UsageError } from './errors.js';

const dec = (d: Decimal): string => toDecimalString(d);
const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export interface AccountView {
  positions: Array<{
    symbol: string;
    qty: string;
    costBasisTry: string;
    avgCostTry: string | null;
    realizedPnlTry: string;
    lastFillAt: string | null;
    /** How the position began; null for a symbol not accounted yet. */
    opening: null | { kind: string; qty: string; markTry: string | null; asOf: string | null; driftQty: string };
    /** Net quantity adopted on request, and how many adjustments that took. */
    adopted: null | { qty: string; adjustments: number };
  }>;
  quarantines: Array<{ symbol: string; reason: string; fillId: string | null; detail: string; heldFills: number; heldBuyQty: string; cycles: number; since: string }>;
  adoptionsPending: Array<{ symbol: string; requestedBy: string; requestedAt: string }>;
  balanceDrift: Array<{ asset: string; balanceQty: string; positionsQty: string; diffQty: string; cycles: number; since: string }>;
  /** Position rows that cannot be read (CorruptRowError text): shown, never a reason to show nothing. */
  unreadableRows: string[];
}

export async function readAccount(pool: Pool): Promise<AccountView> {
  const [{ positions, unreadable }, adjustments, quarantines, adoptions, drift] = await Promise.all([
    readPositions(pool), listAdjustments(pool), listQuarantines(pool), listAdoptionRequests(pool), listRaisedDrift(pool),
  ]);
  const symbols = [...new Set([...positions.map((p) => p.symbol), ...adjustments.map((a) => a.symbol)])].sort();
  return {
    positions: symbols.map((symbol) => {
      const p = positions.find((x) => x.symbol === symbol);
      const own = adjustments.filter((a) => a.symbol === symbol);
      const opening = own.find((a) => a.kind !== 'adopted');
      const adopted = own.filter((a) => a.kind === 'adopted');
      return {
        symbol,
        qty: p ? dec(p.qty) : '0',
        costBasisTry: p ? dec(p.costBasisTry) : '0',
        avgCostTry: p && !p.qty.isZero() ? dec(p.costBasisTry.div(p.qty).toDecimalPlaces(8)) : null,
        realizedPnlTry: p ? dec(p.realizedPnlTry) : '0',
        lastFillAt: p ? iso(p.lastFillTsMs) : null,
        opening: opening
          ? { kind: opening.kind, qty: dec(opening.qtyDelta), markTry: opening.markTry && dec(opening.markTry), asOf: iso(opening.windowStartMs), driftQty: dec(opening.driftQty) }
          : null,
        adopted: adopted.length === 0 ? null : { qty: dec(adopted.reduce((s, a) => s.add(a.qtyDelta), ZERO)), adjustments: adopted.length },
      };
    }),
    quarantines: quarantines.map((q) => ({
      symbol: q.symbol, reason: q.reason, fillId: q.fillId, detail: q.detail, heldFills: q.heldFills, heldBuyQty: dec(q.heldBuyQty), cycles: q.cycles,
      since: q.sinceAt,
    })),
    adoptionsPending: adoptions.map((a) => ({ symbol: a.symbol, requestedBy: a.requestedBy, requestedAt: a.requestedAt })),
    balanceDrift: drift.map((d) => ({
      asset: d.asset, balanceQty: dec(d.balanceQty), positionsQty: dec(d.positionsQty), diffQty: dec(d.diffQty), cycles: d.streak, since: d.raisedAt,
    })),
    unreadableRows: unreadable,
  };
}

/** How a position began, in a few words: `inferred 0.01 @ 3400000 as of …`. */
export function describeOpening(p: AccountView['positions'][number]): string {
  const o = p.opening;
  const began = o === null ? '-' : o.kind === 'inferred'
    ? `inferred ${o.qty}${o.markTry ? ` @ ${o.markTry}` : ''}${o.asOf ? ` as of ${o.asOf}` : ''}${o.driftQty !== '0' ? ` (drift ${o.driftQty})` : ''}`
    : o.kind === 'zero' ? 'zero (inference off)' : o.kind === 'legacy' ? 'from fills only (before openings)' : o.kind;
  return p.adopted ? `${began}; adopted ${p.adopted.qty} in ${p.adopted.adjustments}` : began;
}

/** The account lines `status` and `positions` print. */
export function formatAccount(a: AccountView): string[] {
  const out: string[] = [];
  if (a.positions.length === 0) out.push('  none');
  else {
    out.push(...table([
      ['symbol', 'qty', 'cost basis TRY', 'avg cost TRY', 'realized TRY', 'opening'],
      ...a.positions.map((p) => [p.symbol, p.qty, p.costBasisTry, p.avgCostTry ?? '-', p.realizedPnlTry, describeOpening(p)]),
    ]));
  }
  for (const r of a.unreadableRows) out.push(`  UNREADABLE ${r}`);
  for (const q of a.quarantines) {
    out.push(
      `  QUARANTINED ${q.symbol} since ${q.since} (${q.cycles} cycles): ${q.detail}; ${q.heldFills} fills held behind it; ` +
        `no new orders until it applies or \`btcbot positions adopt ${q.symbol}\``,
    );
  }
  for (const d of a.balanceDrift) {
    out.push(`  BALANCE DRIFT ${d.asset} since ${d.since}: balance ${d.balanceQty}, positions ${d.positionsQty} (diff ${d.diffQty}); its symbols buy nothing until resolved`);
  }
  for (const r of a.adoptionsPending) out.push(`  adoption pending: ${r.symbol}, asked by ${r.requestedBy} at ${r.requestedAt}`);
  return out;
}

/** The ledger `positions --mode` shows: the account's (live) or the paper ledger (dry_run). */
export function positionsMode(raw: string | undefined): 'live' | 'dry_run' {
  if (raw === undefined || raw === 'live') return 'live';
  if (raw === 'dry_run') return 'dry_run';
  throw new UsageError(`--mode ${JSON.stringify(raw)}: give live or dry_run`);
}

export interface PaperView {
  /** Null until a dry-run cycle started the paper ledger. */
  cash: null | { startTry: string; source: string; startedAt: string; cashTry: string; heldByBuysTry: string };
  positions: Array<{ symbol: string; qty: string; costBasisTry: string; avgCostTry: string | null; realizedPnlTry: string; lastFillAt: string | null }>;
}

export async function readPaperAccount(pool: Pool): Promise<PaperView> {
  const [account, held, working] = await Promise.all([
    getPaperAccount(pool), listPaperPositions(pool), listOrders(pool, { modes: ['dry_run'], states: [...LIVE_STATES] }),
  ]);
  const cash = account === null ? null : await paperCashTry(pool, account);
  return {
    cash: account === null || cash === null ? null : {
      startTry: dec(account.startTry), source: account.source, startedAt: new Date(account.startedAtMs).toISOString(),
      cashTry: dec(cash), heldByBuysTry: dec(paperTryBalance(cash, working).locked),
    },
    positions: held.map((p) => ({
      symbol: p.symbol, qty: dec(p.qty), costBasisTry: dec(p.costBasisTry),
      avgCostTry: p.qty.isZero() ? null : dec(p.costBasisTry.div(p.qty).toDecimalPlaces(8)),
      realizedPnlTry: dec(p.realizedPnlTry), lastFillAt: iso(p.lastFillTsMs),
    })),
  };
}

export function formatPaper(v: PaperView): string[] {
  if (v.cash === null) return ['  none: no dry-run cycle has started the paper ledger yet'];
  const held = v.cash.heldByBuysTry === '0' ? '' : `, of which ${v.cash.heldByBuysTry} TRY held by working paper buys (price × quantity left)`;
  const out = [`  cash ${v.cash.cashTry} TRY${held} (started with ${v.cash.startTry} TRY, ${v.cash.source === 'snapshot' ? 'a snapshot of the real TRY balance' : 'DRY_RUN_TRY_BALANCE'}, at ${v.cash.startedAt})`];
  if (v.positions.length === 0) out.push('  no paper positions');
  else {
    out.push(...table([
      ['symbol', 'qty', 'cost basis TRY', 'avg cost TRY', 'realized TRY', 'last fill'],
      ...v.positions.map((p) => [p.symbol, p.qty, p.costBasisTry, p.avgCostTry ?? '-', p.realizedPnlTry, p.lastFillAt ?? '-']),
    ]));
  }
  return out;
}

export async function positions({ json, mode = 'live' }: { json: boolean; mode?: 'live' | 'dry_run' }): Promise<number> {
  const { pool } = await openDatabase();
  try {
    if (mode === 'dry_run') {
      const paper = await readPaperAccount(pool);
      console.log(json ? JSON.stringify({ mode, ...paper }, null, 2) : ['paper positions (dry_run ledger)', ...formatPaper(paper)].join('\n'));
      return EXIT.ok;
    }
    const view = await readAccount(pool);
    console.log(json ? JSON.stringify(view, null, 2) : ['positions', ...formatAccount(view)].join('\n'));
    return EXIT.ok;
  } finally {
    await pool.end();
  }
}

/**
 * The SYMBOL of `positions adopt`: a pair the bot accounts, i.e. one of SYMBOLS (as this command's
 * environment has them, normally the worker's .env) quoted in TRY. Anything else would stay pending
 * forever, or be carried out by surprise once configured. Withdrawing (`--cancel`) takes any pair.
 */
export function parseAdoptSymbol(raw: string | undefined, env: NodeJS.ProcessEnv, { cancel }: { cancel: boolean }): PairSymbol {
  if (raw === undefined) throw new UsageError('positions adopt needs a SYMBOL, e.g. `btcbot positions adopt BTCTRY`');
  let symbol: PairSymbol;
  try {
    symbol = toPairSymbol(raw);
  } catch (err) {
    if (err instanceof InvalidSymbolError) throw new UsageError(err.message);
    throw err;
  }
  if (cancel) return symbol;
  if (splitPair(symbol) === null) throw new UsageError(`${symbol} is not quoted in TRY: the bot accounts only TRY pairs, so it cannot adopt it`);
  const configured = parseSymbols(env['SYMBOLS']);
  if (!configured.includes(symbol)) {
    throw new UsageError(`${symbol} is not among SYMBOLS (${configured.join(', ')}): the bot does not account it, so it cannot adopt it`);
  }
  return symbol;
}

/** Who asks, for the record: the OS user running the command. */
export function operatorName(): string {
  try {
    return userInfo().username || 'operator';
  } catch {
    return 'operator';
  }
}

export async function adopt({ symbol, by, cancel }: { symbol: PairSymbol; by: string; cancel: boolean }): Promise<number> {
  const { pool } = await openDatabase();
  try {
    if (cancel) {
      const withdrawn = await cancelAdoption(pool, symbol);
      console.log(withdrawn ? `adoption request for ${symbol} withdrawn` : `no adoption was pending for ${symbol}`);
      return EXIT.ok;
    }
    const { created, requestedAt } = await requestAdoption(pool, symbol, by);
    console.log(
      `${created ? 'adoption requested' : 'adoption already pending'} for ${symbol} (${requestedAt}): the first cycle with a mark and a ` +
        `balance read since now that the fills have settled past (FILLS_SETTLE_SECONDS) re-bases ${symbol} on that balance, applying any ` +
        `fill held by a quarantine on the holdings it adopts; withdraw with \`btcbot positions adopt ${symbol} --cancel\``,
    );
    return EXIT.ok;
  } finally {
    await pool.end();
  }
}
