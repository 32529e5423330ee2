// Pairs the simulator lists by default, with realistic BTCTurk rules (2024–25 scales, ~100 TRY
// minimum total, price bands at ~1/10 and 10× the price), and the exchangeinfo payload built from them.
export interface SimPairConfig {
  readonly id: number;
  readonly base: string;
  readonly quote: string;
  readonly numeratorScale: number;
  readonly denominatorScale: number;
  readonly hasFraction: boolean;
  readonly tickSize: string;
  readonly minExchangeValue: string;
  readonly minimumLimitOrderPrice: string;
  readonly maximumLimitOrderPrice: string;
  readonly status: string;
  /** Starting mid price (decimal string). */
  readonly price: string;
}

export const DEFAULT_PAIRS: readonly SimPairConfig[] = [
  {
    id: 1, base: 'BTC', quote: 'TRY', numeratorScale: 8, denominatorScale: 2, hasFraction: false, tickSize: '1',
    minExchangeValue: '99.91', minimumLimitOrderPrice: '340000', maximumLimitOrderPrice: '34000000', status: 'TRADING', price: '3400000',
  },
  {
    id: 2, base: 'ETH', quote: 'TRY', numeratorScale: 8, denominatorScale: 2, hasFraction: true, tickSize: '0.01',
    minExchangeValue: '99.91', minimumLimitOrderPrice: '12000', maximumLimitOrderPrice: '1200000', status: 'TRADING', price: '120000',
  },
  {
    id: 64, base: 'SOL', quote: 'TRY', numeratorScale: 4, denominatorScale: 2, hasFraction: true, tickSize: '0.01',
    minExchangeValue: '99.91', minimumLimitOrderPrice: '800', maximumLimitOrderPrice: '80000', status: 'TRADING', price: '8000',
  },
  {
    id: 18, base: 'USDT', quote: 'TRY', numeratorScale: 2, denominatorScale: 3, hasFraction: true, tickSize: '0.001',
    minExchangeValue: '100', minimumLimitOrderPrice: '3.45', maximumLimitOrderPrice: '345', status: 'TRADING', price: '34.5',
  },
];

export const pairName = (p: SimPairConfig): string => `${p.base}${p.quote}`;

/** How a pair's exchangeinfo entry is served broken (SimulatorEngine.malformPair). */
export type MalformedPairKind =
  /** `minExchangeValue` is null: no positive minimum notional. */
  | 'no_min_notional'
  /** `name` and `nameNormalized` are not a pair symbol. */
  | 'bad_name'
  /** `numeratorScale` is negative. */
  | 'bad_scale';

export const MALFORMED_PAIR_KINDS: readonly MalformedPairKind[] = ['no_min_notional', 'bad_name', 'bad_scale'];

const CURRENCY_NAMES: Record<string, string> = { TRY: 'Türk Lirası', BTC: 'Bitcoin', ETH: 'Ethereum', SOL: 'Solana', USDT: 'Tether' };
const CURRENCY_PRECISION: Record<string, number> = { TRY: 2, BTC: 8, ETH: 8, SOL: 4, USDT: 2 };

export function currencyName(asset: string): string {
  return CURRENCY_NAMES[asset] ?? asset;
}
export function currencyPrecision(asset: string): number {
  return CURRENCY_PRECISION[asset] ?? 8;
}

export function exchangeInfoPayload(
  pairs: readonly SimPairConfig[],
  serverTime: number,
  malformed: ReadonlyMap<string, MalformedPairKind> = new Map(),
): Record<string, unknown> {
  const assets = [...new Set(pairs.flatMap((p) => [p.base, p.quote]))].sort();
  const listed = new Set(pairs.map(pairName));
  const extras = [...malformed.keys()].filter((name) => !listed.has(name)).map((name, i) => extraPair(name, 900 + i));
  return {
    timeZone: 'UTC',
    serverTime,
    symbols: [...pairs, ...extras].map((p) => breakEntry(symbolEntry(p), malformed.get(pairName(p)))),
    currencies: assets.map((symbol, i) => ({
      id: i + 1,
      symbol,
      minWithdrawal: 0,
      minDeposit: 0,
      precision: currencyPrecision(symbol),
      address: { minLen: symbol === 'TRY' ? null : 26, maxLen: symbol === 'TRY' ? null : 62 },
      currencyType: symbol === 'TRY' ? 'FIAT' : 'CRYPTO',
      tag: { enable: false, name: null, minLen: null, maxLen: null },
      color: '#000000',
      name: currencyName(symbol),
      isAddressRenewable: false,
      getAutoAddressDisabled: false,
      isPartialWithdrawalEnabled: false,
      isNew: false,
    })),
    currencyOperationBlocks: assets.map((currencySymbol) => ({ currencySymbol, withdrawalDisabled: false, depositDisabled: false })),
  };
}

function symbolEntry(p: SimPairConfig): Record<string, unknown> {
  return {
    id: p.id,
    name: pairName(p),
    nameNormalized: `${p.base}_${p.quote}`,
    status: p.status,
    numerator: p.base,
    denominator: p.quote,
    numeratorScale: p.numeratorScale,
    denominatorScale: p.denominatorScale,
    hasFraction: p.hasFraction,
    filters: [
      {
        filterType: 'PRICE_FILTER',
        minPrice: '0.0000000000001',
        maxPrice: '10000000',
        tickSize: p.tickSize,
        minExchangeValue: p.minExchangeValue,
        minAmount: null,
        maxAmount: null,
      },
    ],
    orderMethods: ['MARKET', 'LIMIT', 'STOP_MARKET', 'STOP_LIMIT'],
    displayFormat: p.hasFraction ? '#,##0.00' : '#,###',
    commissionFromNumerator: false,
    order: 1000 + p.id,
    priceRounding: false,
    isNew: false,
    marketPriceWarningThresholdPercentage: 0.25,
    maximumOrderAmount: null,
    maximumLimitOrderPrice: Number(p.maximumLimitOrderPrice),
    minimumLimitOrderPrice: Number(p.minimumLimitOrderPrice),
  };
}

/** An unlisted pair served only as a broken entry: `XYZTRY` reads as base XYZ, quote TRY. */
function extraPair(name: string, id: number): SimPairConfig {
  const quote = ['TRY', 'USDT', 'BTC'].find((q) => name.endsWith(q) && name.length > q.length) ?? 'TRY';
  return {
    id, base: name.slice(0, name.length - quote.length) || name, quote, numeratorScale: 8, denominatorScale: 2, hasFraction: true,
    tickSize: '0.01', minExchangeValue: '99.91', minimumLimitOrderPrice: '1', maximumLimitOrderPrice: '1000000', status: 'TRADING', price: '100',
  };
}

/** The ways a listing has been seen to break a strict parser (defect 21, issue 13). */
function breakEntry(entry: Record<string, unknown>, kind: MalformedPairKind | undefined): Record<string, unknown> {
  switch (kind) {
    case undefined:
      return entry;
    case 'no_min_notional':
      return { ...entry, filters: (entry['filters'] as Array<Record<string, unknown>>).map((f) => ({ ...f, minExchangeValue: null })) };
    case 'bad_name':
      return { ...entry, name: `${String(entry['numerator'])}/${String(entry['denominator'])}?`, nameNormalized: '??' };
    case 'bad_scale':
      return { ...entry, numeratorScale: -1 };
  }
}
