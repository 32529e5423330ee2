// Builders for domain tests: readable worked numbers, canonical ids.
import { Decimal } from '../../../src/domain/decimal.js';
import {
  asClientOrderId,
  asExchangeOrderId,
  asFillId,
  toPairSymbol,
  type ExchangeRules,
  type FillReport,
  type OrderStatusReport,
  type PairSymbol,
  type Side,
} from '../../../src/domain/types.js';

export const D = (v: string | number): Decimal => new Decimal(v);
export const BTCTRY = toPairSymbol('BTC_TRY');
export const ETHTRY = toPairSymbol('ETH_TRY');
export const SOLTRY = toPairSymbol('SOL_TRY');

export function rules(overrides: Partial<Omit<ExchangeRules, 'symbol'>> & { symbol?: PairSymbol } = {}): ExchangeRules {
  return {
    symbol: BTCTRY,
    base: 'BTC',
    quote: 'TRY',
    tradable: true,
    tickSize: D('0.1'),
    stepSize: D('0.0001'),
    minNotional: D('10'),
    pricePrecision: 2,
    qtyPrecision: 8,
    minPrice: null,
    maxPrice: null,
    ...overrides,
  };
}

export function fill(
  p: {
    id: string;
    side: Side;
    price: string;
    qty: string;
    fee?: string;
    tax?: string;
    feeAsset?: string;
    ts?: number;
    symbol?: PairSymbol;
    orderId?: string;
    clientOrderId?: string | null;
  },
): FillReport {
  return {
    fillId: asFillId(p.id),
    exchangeOrderId: asExchangeOrderId(p.orderId ?? `o-${p.id}`),
    clientOrderId: p.clientOrderId === undefined || p.clientOrderId === null ? null : asClientOrderId(p.clientOrderId),
    symbol: p.symbol ?? BTCTRY,
    side: p.side,
    price: D(p.price),
    qty: D(p.qty),
    fee: D(p.fee ?? '0'),
    tax: D(p.tax ?? '0'),
    feeAsset: p.feeAsset ?? 'TRY',
    tsMs: p.ts ?? 1_000,
  };
}

export function report(
  p: {
    id: string;
    clientOrderId?: string | null;
    symbol?: PairSymbol;
    side?: Side;
    price?: string;
    qty?: string;
    leftQty?: string;
    status?: OrderStatusReport['status'];
  },
): OrderStatusReport {
  return {
    exchangeOrderId: asExchangeOrderId(p.id),
    clientOrderId: p.clientOrderId === undefined || p.clientOrderId === null ? null : asClientOrderId(p.clientOrderId),
    symbol: p.symbol ?? BTCTRY,
    side: p.side ?? 'buy',
    price: D(p.price ?? '100'),
    qty: D(p.qty ?? '1'),
    leftQty: D(p.leftQty ?? p.qty ?? '1'),
    status: p.status ?? 'open',
    createdAtMs: 0,
    updatedAtMs: 0,
  };
}

import type { OrderIntent, TrackedOrder } from '../../../src/domain/lifecycle.js';

export function tracked(p: Partial<TrackedOrder> & { cid?: string | null; xid?: string | null; price?: Decimal; qty?: Decimal }): TrackedOrder {
  const { cid, xid, ...rest } = p;
  const qty = p.qty ?? D(1);
  return {
    clientOrderId: cid === undefined ? asClientOrderId('cid-1') : cid === null ? null : asClientOrderId(cid),
    exchangeOrderId: xid === undefined ? asExchangeOrderId('ex-1') : xid === null ? null : asExchangeOrderId(xid),
    symbol: BTCTRY,
    side: 'buy',
    price: D(100),
    qty,
    leftQty: qty,
    state: 'open',
    mode: 'live',
    createdAtMs: 0,
    updatedAtMs: 0,
    lastError: null,
    duplicateOf: null,
    ...rest,
  };
}

export function intent(p: { cid: string; symbol?: PairSymbol; side?: Side; price: string; qty: string }): OrderIntent {
  return { clientOrderId: asClientOrderId(p.cid), symbol: p.symbol ?? BTCTRY, side: p.side ?? 'buy', price: D(p.price), qty: D(p.qty) };
}
