// Plain-JSON forms of the records that cross Temporal payloads and Postgres: decimals as strings
// (never exponent notation), ids as strings, timestamps as epoch ms. `fromWire` validates as it
// parses, so a corrupted row fails loudly with DecimalParseError / InvalidSymbolError.
import type { Position } from './accounting.js';
import type { TradingConfig } from './config.js';
import { parseDecimal, toDecimalString, type Decimal, type DecimalString } from './decimal.js';
import type { CancelAction, OrderMode, OrderState, PlannedAction, SubmitAction, TrackedOrder } from './lifecycle.js';
import type { PnlSnapshot } from './pnl.js';
import {
  asClientOrderId,
  asExchangeOrderId,
  asFillId,
  toPairSymbol,
  type BalanceReport,
  type ExchangeOrderStatus,
  type ExchangeRules,
  type FillReport,
  type MarketQuote,
  type OrderStatusReport,
  type PairSymbol,
  type Side,
} from './types.js';

const str = toDecimalString;
const dec = (v: string, what: string): Decimal => parseDecimal(v, what);
const optStr = (d: Decimal | null): DecimalString | null => (d === null ? null : str(d));
const optDec = (v: string | null, what: string): Decimal | null => (v === null ? null : dec(v, what));

export interface PositionWire {
  symbol: string;
  qty: DecimalString;
  costBasisTry: DecimalString;
  realizedPnlTry: DecimalString;
  lastFillTsMs: number | null;
}

export function positionToWire(p: Position): PositionWire {
  return { symbol: p.symbol, qty: str(p.qty), costBasisTry: str(p.costBasisTry), realizedPnlTry: str(p.realizedPnlTry), lastFillTsMs: p.lastFillTsMs };
}

export function positionFromWire(w: PositionWire): Position {
  return {
    symbol: toPairSymbol(w.symbol),
    qty: dec(w.qty, 'position.qty'),
    costBasisTry: dec(w.costBasisTry, 'position.costBasisTry'),
    realizedPnlTry: dec(w.realizedPnlTry, 'position.realizedPnlTry'),
    lastFillTsMs: w.lastFillTsMs,
  };
}

export interface FillWire {
  fillId: string;
  exchangeOrderId: string | null;
  clientOrderId: string | null;
  symbol: string;
  side: Side;
  price: DecimalString;
  qty: DecimalString;
  fee: DecimalString;
  tax: DecimalString;
  feeAsset: string;
  tsMs: number;
}

export function fillToWire(f: FillReport): FillWire {
  return {
    fillId: f.fillId,
    exchangeOrderId: f.exchangeOrderId,
    clientOrderId: f.clientOrderId,
    symbol: f.symbol,
    side: f.side,
    price: str(f.price),
    qty: str(f.qty),
    fee: str(f.fee),
    tax: str(f.tax),
    feeAsset: f.feeAsset,
    tsMs: f.tsMs,
  };
}

export function fillFromWire(w: FillWire): FillReport {
  return {
    fillId: asFillId(w.fillId),
    exchangeOrderId: w.exchangeOrderId === null ? null : asExchangeOrderId(w.exchangeOrderId),
    clientOrderId: w.clientOrderId === null ? null : asClientOrderId(w.clientOrderId),
    symbol: toPairSymbol(w.symbol),
    side: w.side,
    price: dec(w.price, 'fill.price'),
    qty: dec(w.qty, 'fill.qty'),
    fee: dec(w.fee, 'fill.fee'),
    tax: dec(w.tax, 'fill.tax'),
    feeAsset: w.feeAsset,
    tsMs: w.tsMs,
  };
}

export interface PnlSnapshotWire {
  tsMs: number;
  tryCashTry: DecimalString;
  positionsValueTry: DecimalString;
  totalEquityTry: DecimalString;
  unrealizedTry: DecimalString;
  realizedTotalTry: DecimalString;
  realizedTodayTry: DecimalString;
  baselineRealizedTry: DecimalString;
  dayStartMs: number;
  highWaterMarkTry: DecimalString;
  drawdownPct: DecimalString;
  unmarkedSymbols: string[];
}

export function pnlSnapshotToWire(s: PnlSnapshot): PnlSnapshotWire {
  return {
    tsMs: s.tsMs,
    tryCashTry: str(s.tryCashTry),
    positionsValueTry: str(s.positionsValueTry),
    totalEquityTry: str(s.totalEquityTry),
    unrealizedTry: str(s.unrealizedTry),
    realizedTotalTry: str(s.realizedTotalTry),
    realizedTodayTry: str(s.realizedTodayTry),
    baselineRealizedTry: str(s.baselineRealizedTry),
    dayStartMs: s.dayStartMs,
    highWaterMarkTry: str(s.highWaterMarkTry),
    drawdownPct: str(s.drawdownPct),
    unmarkedSymbols: [...s.unmarkedSymbols],
  };
}

export function pnlSnapshotFromWire(w: PnlSnapshotWire): PnlSnapshot {
  return {
    tsMs: w.tsMs,
    tryCashTry: dec(w.tryCashTry, 'pnl.tryCashTry'),
    positionsValueTry: dec(w.positionsValueTry, 'pnl.positionsValueTry'),
    totalEquityTry: dec(w.totalEquityTry, 'pnl.totalEquityTry'),
    unrealizedTry: dec(w.unrealizedTry, 'pnl.unrealizedTry'),
    realizedTotalTry: dec(w.realizedTotalTry, 'pnl.realizedTotalTry'),
    realizedTodayTry: dec(w.realizedTodayTry, 'pnl.realizedTodayTry'),
    baselineRealizedTry: dec(w.baselineRealizedTry, 'pnl.baselineRealizedTry'),
    dayStartMs: w.dayStartMs,
    highWaterMarkTry: dec(w.highWaterMarkTry, 'pnl.highWaterMarkTry'),
    drawdownPct: dec(w.drawdownPct, 'pnl.drawdownPct'),
    unmarkedSymbols: w.unmarkedSymbols.map(toPairSymbol),
  };
}

/** The two numbers the loss limits read, as the accounting step reports them. */
export function riskPnlFromWire(w: { realizedTodayTry: DecimalString; drawdownPct: DecimalString }): { realizedTodayTry: Decimal; drawdownPct: Decimal } {
  return { realizedTodayTry: dec(w.realizedTodayTry, 'pnl.realizedTodayTry'), drawdownPct: dec(w.drawdownPct, 'pnl.drawdownPct') };
}

/** A quarantine's held buys, as the plan counts them toward exposure. */
export function heldBuyFromWire(w: { symbol: string; qty: DecimalString; costTry: DecimalString }): { symbol: PairSymbol; qty: Decimal; costTry: Decimal } {
  return { symbol: toPairSymbol(w.symbol), qty: dec(w.qty, 'heldBuys.qty'), costTry: dec(w.costTry, 'heldBuys.costTry') };
}

export type PlannedActionWire =
  | {
      kind: 'submit';
      clientOrderId: string;
      symbol: string;
      side: Side;
      price: DecimalString;
      qty: DecimalString;
      reason: SubmitAction['reason'];
      afterCancelOf: string[];
    }
  | {
      kind: 'cancel';
      clientOrderId: string | null;
      exchangeOrderId: string;
      symbol: string;
      side: Side;
      price: DecimalString;
      qty: DecimalString;
      reason: CancelAction['reason'];
      detail: Record<string, string>;
    };

export function plannedActionToWire(a: PlannedAction): PlannedActionWire {
  if (a.kind === 'submit') {
    return { kind: 'submit', clientOrderId: a.clientOrderId, symbol: a.symbol, side: a.side, price: str(a.price), qty: str(a.qty), reason: a.reason, afterCancelOf: [...a.afterCancelOf] };
  }
  return { kind: 'cancel', clientOrderId: a.clientOrderId, exchangeOrderId: a.exchangeOrderId, symbol: a.symbol, side: a.side, price: str(a.price), qty: str(a.qty), reason: a.reason, detail: { ...a.detail } };
}

export function plannedActionFromWire(w: PlannedActionWire): PlannedAction {
  if (w.kind === 'submit') {
    return {
      kind: 'submit',
      clientOrderId: asClientOrderId(w.clientOrderId),
      symbol: toPairSymbol(w.symbol),
      side: w.side,
      price: dec(w.price, 'action.price'),
      qty: dec(w.qty, 'action.qty'),
      reason: w.reason,
      afterCancelOf: w.afterCancelOf.map(asClientOrderId),
    };
  }
  return {
    kind: 'cancel',
    clientOrderId: w.clientOrderId === null ? null : asClientOrderId(w.clientOrderId),
    exchangeOrderId: asExchangeOrderId(w.exchangeOrderId),
    symbol: toPairSymbol(w.symbol),
    side: w.side,
    price: dec(w.price, 'action.price'),
    qty: dec(w.qty, 'action.qty'),
    reason: w.reason,
    detail: { ...w.detail },
  };
}

export interface TrackedOrderWire {
  clientOrderId: string | null;
  exchangeOrderId: string | null;
  symbol: string;
  side: Side;
  price: DecimalString;
  qty: DecimalString;
  leftQty: DecimalString;
  state: OrderState;
  mode: OrderMode;
  createdAtMs: number;
  updatedAtMs: number;
  lastError: string | null;
  /** Absent in payloads recorded before duplicates were tracked. */
  duplicateOf?: string | null;
}

export function trackedOrderToWire(o: TrackedOrder): TrackedOrderWire {
  return { ...o, price: str(o.price), qty: str(o.qty), leftQty: str(o.leftQty) };
}

export function trackedOrderFromWire(w: TrackedOrderWire): TrackedOrder {
  return {
    ...w,
    clientOrderId: w.clientOrderId === null ? null : asClientOrderId(w.clientOrderId),
    exchangeOrderId: w.exchangeOrderId === null ? null : asExchangeOrderId(w.exchangeOrderId),
    duplicateOf: w.duplicateOf == null ? null : asClientOrderId(w.duplicateOf),
    symbol: toPairSymbol(w.symbol),
    price: dec(w.price, 'order.price'),
    qty: dec(w.qty, 'order.qty'),
    leftQty: dec(w.leftQty, 'order.leftQty'),
  };
}

export interface OrderStatusReportWire {
  exchangeOrderId: string;
  clientOrderId: string | null;
  symbol: string;
  side: Side;
  price: DecimalString;
  qty: DecimalString;
  leftQty: DecimalString;
  status: ExchangeOrderStatus;
  createdAtMs: number;
  updatedAtMs: number;
}

export function orderReportToWire(r: OrderStatusReport): OrderStatusReportWire {
  return { ...r, price: str(r.price), qty: str(r.qty), leftQty: str(r.leftQty) };
}

export function orderReportFromWire(w: OrderStatusReportWire): OrderStatusReport {
  return {
    ...w,
    exchangeOrderId: asExchangeOrderId(w.exchangeOrderId),
    clientOrderId: w.clientOrderId === null ? null : asClientOrderId(w.clientOrderId),
    symbol: toPairSymbol(w.symbol),
    price: dec(w.price, 'report.price'),
    qty: dec(w.qty, 'report.qty'),
    leftQty: dec(w.leftQty, 'report.leftQty'),
  };
}

export interface ExchangeRulesWire {
  symbol: string;
  base: string;
  quote: string;
  tradable: boolean;
  tickSize: DecimalString;
  stepSize: DecimalString;
  minNotional: DecimalString;
  pricePrecision: number;
  qtyPrecision: number;
  minPrice: DecimalString | null;
  maxPrice: DecimalString | null;
}

export function rulesToWire(r: ExchangeRules): ExchangeRulesWire {
  return { ...r, tickSize: str(r.tickSize), stepSize: str(r.stepSize), minNotional: str(r.minNotional), minPrice: optStr(r.minPrice), maxPrice: optStr(r.maxPrice) };
}

export function rulesFromWire(w: ExchangeRulesWire): ExchangeRules {
  return {
    ...w,
    symbol: toPairSymbol(w.symbol),
    tickSize: dec(w.tickSize, 'rules.tickSize'),
    stepSize: dec(w.stepSize, 'rules.stepSize'),
    minNotional: dec(w.minNotional, 'rules.minNotional'),
    minPrice: optDec(w.minPrice, 'rules.minPrice'),
    maxPrice: optDec(w.maxPrice, 'rules.maxPrice'),
  };
}

export interface MarketQuoteWire {
  symbol: string;
  bid: DecimalString | null;
  ask: DecimalString | null;
  tsMs: number;
}

export function quoteToWire(q: MarketQuote): MarketQuoteWire {
  return { symbol: q.symbol, bid: optStr(q.bid), ask: optStr(q.ask), tsMs: q.tsMs };
}

export function quoteFromWire(w: MarketQuoteWire): MarketQuote {
  return { symbol: toPairSymbol(w.symbol), bid: optDec(w.bid, 'quote.bid'), ask: optDec(w.ask, 'quote.ask'), tsMs: w.tsMs };
}

export interface BalanceWire {
  asset: string;
  free: DecimalString;
  locked: DecimalString;
}

export function balanceToWire(b: BalanceReport): BalanceWire {
  return { asset: b.asset, free: str(b.free), locked: str(b.locked) };
}

export function balanceFromWire(w: BalanceWire): BalanceReport {
  return { asset: w.asset, free: dec(w.free, 'balance.free'), locked: dec(w.locked, 'balance.locked') };
}

type DecimalKeys<T> = { [K in keyof T]: T[K] extends Decimal ? K : never }[keyof T];

/** TradingConfig with every Decimal as a string: the workflow input form (never holds secrets). */
export type TradingConfigWire = {
  -readonly [K in Exclude<keyof TradingConfig, 'symbols'>]: K extends DecimalKeys<TradingConfig> ? DecimalString : TradingConfig[K];
} & { symbols: string[] };

const CONFIG_DECIMALS = [
  'maxPositionNotionalTry', 'maxDailyLossTry', 'maxDrawdownPct', 'feeBpsMaker', 'feeBpsTaker', 'slippageBpsBuffer',
  'minProfitBps', 'tryCashTarget', 'tryCashMax', 'staleDriftBps', 'bootstrapBudgetTry', 'dryRunTryBalance',
] as const satisfies readonly DecimalKeys<TradingConfig>[];

export function tradingConfigToWire(c: TradingConfig): TradingConfigWire {
  const out: Record<string, unknown> = { ...c, symbols: [...c.symbols] };
  for (const k of CONFIG_DECIMALS) out[k] = str(c[k]);
  return out as TradingConfigWire;
}

export function tradingConfigFromWire(w: TradingConfigWire): TradingConfig {
  const out: Record<string, unknown> = { ...w, symbols: w.symbols.map(toPairSymbol) };
  for (const k of CONFIG_DECIMALS) out[k] = dec(w[k], k);
  return out as unknown as TradingConfig;
}
