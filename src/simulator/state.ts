// The simulator's exchange state and trading rules: balances with locks, the bot's orders, scripted
// market books, fills with fees and VAT, async cancel, and the ground truth tests compare against.
// No I/O here: the HTTP layer (server.ts) parses requests and serialises answers.
import { Decimal } from '../domain/decimal.js';
import type { Side } from '../domain/types.js';
import { SimClock, type ClockMode } from './clock.js';
import { DEFAULT_PAIRS, MALFORMED_PAIR_KINDS, pairName, type MalformedPairKind, type SimPairConfig } from './pairs.js';
import { Prng } from './prng.js';
import { SimRejection } from './wire.js';

export type SimOrderStatus = 'Untouched' | 'Partial' | 'Closed' | 'Canceled';

export interface SimOrder {
  readonly id: bigint;
  readonly clientId: string;
  readonly symbol: string;
  readonly side: Side;
  readonly method: 'limit' | 'market';
  readonly price: Decimal;
  /** Base quantity (limit, market sell) or quote amount (market buy). */
  readonly qty: Decimal;
  left: Decimal;
  status: SimOrderStatus;
  readonly createdMs: number;
  updatedMs: number;
  readonly lockAsset: string;
  lockRemaining: Decimal;
  /** When an async cancel completes (cancelLatencyMs > 0). */
  cancelAtMs: number | null;
  /** Until then (simulator clock) the order is missing from openOrders, allOrders and order lookups. */
  hiddenUntilMs: number;
  /** A cancel was acknowledged, but the order fills in full at this time instead (fault `cancelThenFill`). */
  fillAtMs: number | null;
}

export interface SimFill {
  readonly id: bigint;
  readonly orderId: bigint;
  readonly clientId: string;
  readonly symbol: string;
  readonly base: string;
  readonly quote: string;
  readonly side: Side;
  readonly price: Decimal;
  readonly qty: Decimal;
  /** Positive amounts here; negated on the wire. */
  readonly fee: Decimal;
  readonly tax: Decimal;
  readonly tsMs: number;
  readonly liquidity: 'maker' | 'taker';
}

/** One print on the public trades tape (`GET /api/v2/trades`): the market's and ours alike. */
export interface PublicPrint {
  readonly tid: bigint;
  readonly symbol: string;
  readonly price: Decimal;
  readonly qty: Decimal;
  /** The taker's side. */
  readonly side: Side;
  readonly tsMs: number;
}

export interface SimBalance {
  free: Decimal;
  locked: Decimal;
}

export interface BookLevel {
  price: Decimal;
  qty: Decimal;
}

interface MarketBook {
  bids: BookLevel[];
  asks: BookLevel[];
}

export type PricePath =
  | { readonly kind: 'static' }
  /** Scripted mids, consumed one per tick; the last one stays. */
  | { readonly kind: 'script'; readonly prices: readonly string[] }
  /** Seeded random walk: each tick moves the mid by up to ±stepBps basis points. */
  | { readonly kind: 'walk'; readonly stepBps: number };

export interface EngineConfig {
  makerFee: Decimal;
  takerFee: Decimal;
  vat: Decimal;
  /** 0 = synchronous cancel; > 0 = DELETE answers at once, the order stays open this long. */
  cancelLatencyMs: number;
  /** Fills appear in transactions/trade only this long after they happen. */
  fillVisibilityDelayMs: number;
  /** Closed/canceled orders linger in openOrders this long. */
  openOrdersLagMs: number;
  /** Reject prices that are not a multiple of tickSize. */
  strictTick: boolean;
  /** Spread (bps) of books generated from a mid price. */
  spreadBps: number;
  /** Milliseconds of clock advance per price-path tick (0 = ticks only on /__sim/tick). */
  priceStepMs: number;
  /**
   * Share (0..1, seeded) of trade rows served in the form of BTCTurk's 2018 documented example:
   * no `orderId`, no `orderClientId`, no `preciseAmount`, JSON numbers. Such a row keeps its trade id.
   */
  tradeRowsWithoutOrderId: number;
}

export interface EngineOptions {
  readonly seed: number;
  readonly clock: ClockMode;
  readonly startTimeMs: number;
  readonly pairs: readonly SimPairConfig[];
  /** Initial free balances, asset → decimal string. */
  readonly balances: Readonly<Record<string, string>>;
  readonly config: Partial<Omit<EngineConfig, 'makerFee' | 'takerFee' | 'vat'> & { makerFee: string; takerFee: string; vat: string }>;
  readonly pricePaths: Readonly<Record<string, PricePath>>;
}

export const DEFAULT_BALANCES: Readonly<Record<string, string>> = { TRY: '100000', BTC: '0.1', ETH: '2', SOL: '20', USDT: '2000' };

/** A trade on the account that the bot did not place (web UI, another program, the owner). */
export interface ManualTrade {
  readonly symbol: string;
  readonly side: Side;
  /** Base quantity (decimal string). */
  readonly qty: string;
  /** Execution price (decimal string); default the current mid. */
  readonly price?: string;
  /** When it happened (default now); may be in the past, e.g. history from before the bot started. */
  readonly atMs?: number;
  /** The order's client id; the web UI's is `advanced` (reference Q10). */
  readonly clientId?: string;
  /** Serve its trade row with this `orderType` instead of the side (e.g. `stop`: a row a client cannot read). */
  readonly wireOrderType?: string;
}

const FIRST_ORDER_ID = 31500000000n;
const FIRST_TRADE_ID = 1190000000000000001n;
/** Public trade ids (`tid`) live in their own id space (reference §5.5). */
const FIRST_PUBLIC_TRADE_ID = 638681219990000001n;
const REQUEST_DECIMAL = /^\d{0,12}(\.\d{1,16})?$/;
const ZERO = new Decimal(0);

export class SimulatorEngine {
  readonly clock: SimClock;
  readonly pairs: Map<string, SimPairConfig>;
  config: EngineConfig;
  private prng: Prng;
  private readonly balances = new Map<string, SimBalance>();
  private readonly orders = new Map<bigint, SimOrder>();
  private readonly fills: SimFill[] = [];
  private readonly wireOrderTypes = new Map<bigint, string>();
  private readonly tape: PublicPrint[] = [];
  private readonly books = new Map<string, MarketBook>();
  private readonly mids = new Map<string, Decimal>();
  private readonly paths = new Map<string, { path: PricePath; cursor: number }>();
  private nextOrderId = FIRST_ORDER_ID;
  private nextTradeId = FIRST_TRADE_ID;
  private nextPublicTradeId = FIRST_PUBLIC_TRADE_ID;
  private lastTickMs: number;
  /** Exchangeinfo entries served broken, by pair name (listed pairs, or extra unlisted names). */
  private readonly malformed = new Map<string, MalformedPairKind>();
  /** Seeded apart from the engine's PRNG, so serving old-style rows never moves prices or ids. */
  private rowPrng: Prng;

  constructor(private readonly options: EngineOptions) {
    this.clock = new SimClock(options.clock, options.startTimeMs);
    this.pairs = new Map(options.pairs.map((p) => [pairName(p), p]));
    this.prng = new Prng(options.seed);
    this.rowPrng = new Prng(options.seed ^ 0x2018);
    this.config = buildConfig(options.config);
    this.lastTickMs = this.clock.now();
    this.reset();
  }

  now(): number {
    return this.clock.now();
  }

  get seed(): number {
    return this.options.seed;
  }

  random(): number {
    return this.prng.next();
  }

  /** Back to the initial state (same seed unless given): balances, books, no orders or fills. */
  reset(seed = this.options.seed): void {
    this.prng = new Prng(seed);
    this.rowPrng = new Prng(seed ^ 0x2018);
    this.malformed.clear();
    this.balances.clear();
    this.orders.clear();
    this.fills.length = 0;
    this.tape.length = 0;
    this.nextOrderId = FIRST_ORDER_ID;
    this.nextTradeId = FIRST_TRADE_ID;
    this.nextPublicTradeId = FIRST_PUBLIC_TRADE_ID;
    for (const [asset, amount] of Object.entries(this.options.balances)) this.setBalance(asset, amount);
    for (const pair of this.pairs.values()) this.setMid(pairName(pair), new Decimal(pair.price), false);
    this.paths.clear();
    for (const [symbol, path] of Object.entries(this.options.pricePaths)) this.setPricePath(symbol, path);
    this.lastTickMs = this.clock.now();
  }

  // ------------------------------------------------------------------------------------------
  // Time

  /** Apply everything due at the current clock: async cancels, price-path ticks. */
  settle(): void {
    const now = this.clock.now();
    if (this.config.priceStepMs > 0) {
      while (this.lastTickMs + this.config.priceStepMs <= now) {
        this.lastTickMs += this.config.priceStepMs;
        this.tick();
      }
    } else {
      this.lastTickMs = now;
    }
    for (const order of this.orders.values()) {
      if (order.fillAtMs !== null && order.fillAtMs <= now && isOpen(order)) {
        order.fillAtMs = null;
        this.applyFill(order, order.left, order.price, 'maker');
      }
      if (order.cancelAtMs !== null && order.cancelAtMs <= now && isOpen(order)) this.finishCancel(order, order.cancelAtMs);
    }
  }

  advanceClock(ms: number): number {
    this.clock.advance(ms);
    this.settle();
    return this.clock.now();
  }

  // ------------------------------------------------------------------------------------------
  // Market

  pair(symbol: string): SimPairConfig | undefined {
    return this.pairs.get(normaliseSymbol(symbol));
  }

  setPricePath(symbol: string, path: PricePath): void {
    this.requirePair(symbol);
    this.paths.set(normaliseSymbol(symbol), { path, cursor: 0 });
  }

  /** One step of every pair's price path; resting orders the market moves through are filled. */
  tick(): void {
    for (const [symbol, state] of this.paths) {
      const mid = this.mids.get(symbol);
      if (mid === undefined) continue;
      const { path } = state;
      if (path.kind === 'script') {
        const next = path.prices[Math.min(state.cursor, path.prices.length - 1)];
        state.cursor++;
        if (next !== undefined) this.setMid(symbol, new Decimal(next));
      } else if (path.kind === 'walk') {
        const move = (this.prng.next() * 2 - 1) * path.stepBps;
        this.setMid(symbol, mid.mul(new Decimal(1).plus(new Decimal(move.toFixed(6)).div(10_000))));
      }
    }
  }

  /**
   * Set the mid price: a fresh book of 5 levels a side at `spreadBps`, then match resting orders.
   * A move is a trade: the market prints one level's quantity where it moved to (a fall sells into
   * the new best bid, a rise buys the new best ask).
   */
  setMid(symbol: string, mid: Decimal, match = true): void {
    const previous = this.mids.get(normaliseSymbol(symbol));
    const pair = this.requirePair(symbol);
    const tick = pairTick(pair);
    const half = mid.mul(this.config.spreadBps).div(20_000);
    const bestBid = floorTo(mid.minus(half), tick);
    const bestAsk = Decimal.max(ceilTo(mid.plus(half), tick), bestBid.plus(tick));
    // Enough depth for a few bot orders: ~50 minimum totals per level.
    const qty = floorTo(new Decimal(pair.minExchangeValue).mul(50).div(mid), stepOf(pair));
    const levelQty = qty.gt(0) ? qty : stepOf(pair);
    const bids: BookLevel[] = [];
    const asks: BookLevel[] = [];
    for (let i = 0; i < 5; i++) {
      const b = bestBid.minus(tick.mul(i));
      if (b.gt(0)) bids.push({ price: b, qty: levelQty });
      asks.push({ price: bestAsk.plus(tick.mul(i)), qty: levelQty });
    }
    this.mids.set(normaliseSymbol(symbol), mid);
    this.books.set(normaliseSymbol(symbol), { bids, asks });
    if (match && previous !== undefined && !previous.eq(mid)) {
      const fell = mid.lt(previous);
      this.printTrade(symbol, fell ? bestBid : bestAsk, levelQty, fell ? 'sell' : 'buy');
    }
    if (match) this.matchResting(normaliseSymbol(symbol));
  }

  /** Print a market trade on the public tape (others trading; the bot's orders are not touched). */
  printTrade(symbol: string, price: Decimal, qty: Decimal, side: Side): PublicPrint {
    this.requirePair(symbol);
    if (!price.gt(0) || !qty.gt(0)) throw new Error('a public trade needs a positive price and quantity');
    const print: PublicPrint = { tid: this.nextPublicTradeId++, symbol: normaliseSymbol(symbol), price, qty, side, tsMs: this.clock.now() };
    this.tape.push(print);
    return print;
  }

  /** The newest `last` public trades of `symbol`, newest first. */
  publicTrades(symbol: string, last: number): PublicPrint[] {
    const key = normaliseSymbol(symbol);
    return this.tape.filter((t) => t.symbol === key).slice(-last).reverse();
  }

  /** Set explicit market levels (the bot's own orders are not part of these). */
  setBook(symbol: string, bids: ReadonlyArray<readonly [string, string]>, asks: ReadonlyArray<readonly [string, string]>): void {
    const key = normaliseSymbol(symbol);
    this.requirePair(key);
    const toLevels = (levels: ReadonlyArray<readonly [string, string]>): BookLevel[] =>
      levels.map(([p, q]) => ({ price: new Decimal(p), qty: new Decimal(q) })).filter((l) => l.qty.gt(0));
    const book = {
      bids: toLevels(bids).sort((a, b) => b.price.comparedTo(a.price)),
      asks: toLevels(asks).sort((a, b) => a.price.comparedTo(b.price)),
    };
    this.books.set(key, book);
    const bb = book.bids[0]?.price;
    const ba = book.asks[0]?.price;
    if (bb !== undefined && ba !== undefined) this.mids.set(key, bb.plus(ba).div(2));
    this.matchResting(key);
  }

  /** Market levels merged with the bot's resting orders, best first. */
  bookView(symbol: string): { bids: BookLevel[]; asks: BookLevel[] } {
    const key = normaliseSymbol(symbol);
    const book = this.books.get(key) ?? { bids: [], asks: [] };
    const merge = (levels: BookLevel[], side: Side): BookLevel[] => {
      const byPrice = new Map<string, BookLevel>();
      for (const l of levels) byPrice.set(l.price.toFixed(), { price: l.price, qty: l.qty });
      for (const o of this.orders.values()) {
        if (o.symbol !== key || o.side !== side || !isOpen(o) || o.method !== 'limit') continue;
        const k = o.price.toFixed();
        const existing = byPrice.get(k);
        byPrice.set(k, { price: o.price, qty: (existing?.qty ?? ZERO).plus(o.left) });
      }
      return [...byPrice.values()].sort((a, b) => (side === 'buy' ? b.price.comparedTo(a.price) : a.price.comparedTo(b.price)));
    };
    return { bids: merge(book.bids, 'buy'), asks: merge(book.asks, 'sell') };
  }

  mid(symbol: string): Decimal | undefined {
    return this.mids.get(normaliseSymbol(symbol));
  }

  // ------------------------------------------------------------------------------------------
  // Balances

  setBalance(asset: string, free: string, locked = '0'): void {
    this.balances.set(asset.toUpperCase(), { free: new Decimal(free), locked: new Decimal(locked) });
  }

  balance(asset: string): SimBalance {
    const key = asset.toUpperCase();
    let b = this.balances.get(key);
    if (b === undefined) {
      b = { free: ZERO, locked: ZERO };
      this.balances.set(key, b);
    }
    return b;
  }

  balanceRows(): Array<{ asset: string; free: Decimal; locked: Decimal }> {
    const assets = new Set<string>([...this.balances.keys()]);
    for (const p of this.pairs.values()) {
      assets.add(p.base);
      assets.add(p.quote);
    }
    return [...assets].sort().map((asset) => ({ asset, ...this.balance(asset) }));
  }

  // ------------------------------------------------------------------------------------------
  // Orders

  /** Submit validation in the order of reference §10.5 (first failure wins), then accept and match. */
  submit(body: {
    pairSymbol: unknown;
    orderType: unknown;
    orderMethod: unknown;
    quantity: unknown;
    price: unknown;
    stopPrice?: unknown;
    newOrderClientId?: unknown;
  }, options: { hiddenMs?: number } = {}): SimOrder {
    const pair = typeof body.pairSymbol === 'string' ? this.pair(body.pairSymbol) : undefined;
    if (pair === undefined || pair.status !== 'TRADING') throw new SimRejection('FAILED_ORDER_PARAMETER');
    const side = typeof body.orderType === 'string' ? body.orderType.toLowerCase() : '';
    if (side !== 'buy' && side !== 'sell') throw new SimRejection('ORDER_TYPE_NOT_SUPPORTED');
    const method = typeof body.orderMethod === 'string' ? body.orderMethod.toLowerCase() : '';
    if (method !== 'limit' && method !== 'market') throw new SimRejection('ORDER_METHOD_NOT_SUPPORTED');
    const qty = requestDecimal(body.quantity);
    const price = method === 'limit' ? requestDecimal(body.price) : null;
    if (qty === null || qty.lte(0) || (method === 'limit' && (price === null || price.lte(0)))) {
      throw new SimRejection('FAILED_ORDER_PARAMETER');
    }
    const clientId = body.newOrderClientId === undefined || body.newOrderClientId === null ? null : body.newOrderClientId;
    if (clientId !== null && (typeof clientId !== 'string' || clientId.length > 50)) throw new SimRejection('FAILED_ORDER_PARAMETER');

    const marketBuy = method === 'market' && side === 'buy';
    if (qty.decimalPlaces() > (marketBuy ? pair.denominatorScale : pair.numeratorScale)) {
      throw new SimRejection('FAILED_INVALID_QUANTITY_SCALE');
    }
    const symbol = pairName(pair);
    const fee1 = new Decimal(1).plus(this.config.takerFee.mul(new Decimal(1).plus(this.config.vat)));
    let lockAsset: string;
    let lock: Decimal;
    let orderPrice: Decimal;
    if (price !== null) {
      if (price.decimalPlaces() > pair.denominatorScale || (!pair.hasFraction && !price.isInteger())) {
        throw new SimRejection('FAILED_INVALID_PRICE_SCALE');
      }
      if (this.config.strictTick && !price.mod(new Decimal(pair.tickSize)).isZero()) throw new SimRejection('FAILED_INVALID_PRICE_SCALE');
      if (price.lt(pair.minimumLimitOrderPrice)) throw new SimRejection('PRICE_MUST_BE_LESS_THAN_MINPRICE');
      if (price.gt(pair.maximumLimitOrderPrice)) throw new SimRejection('PRICE_MUST_BE_LESS_THAN_MAXPRICE');
      if (price.mul(qty).lt(pair.minExchangeValue)) throw new SimRejection('FAILED_MIN_TOTAL_AMOUNT');
      lockAsset = side === 'buy' ? pair.quote : pair.base;
      lock = side === 'buy' ? price.mul(qty).mul(fee1) : qty;
      orderPrice = price;
    } else {
      const book = this.books.get(symbol);
      const best = side === 'buy' ? book?.asks[0]?.price : book?.bids[0]?.price;
      if (best === undefined) throw new SimRejection('FAILED_MARKET_ORDER');
      const total = marketBuy ? qty : best.mul(qty);
      if (total.lt(pair.minExchangeValue)) throw new SimRejection('FAILED_MIN_TOTAL_AMOUNT');
      lockAsset = side === 'buy' ? pair.quote : pair.base;
      lock = marketBuy ? qty.mul(fee1) : qty;
      orderPrice = best;
    }
    const funds = this.balance(lockAsset);
    if (funds.free.lt(lock)) throw new SimRejection('FAILED_ORDER_WITH_OPEN_ORDERS');

    const now = this.clock.now();
    const order: SimOrder = {
      id: this.nextOrderId++,
      clientId: clientId ?? this.prng.uuid(),
      symbol,
      side,
      method,
      price: orderPrice,
      qty,
      left: qty,
      status: 'Untouched',
      createdMs: now,
      updatedMs: now,
      lockAsset,
      lockRemaining: lock,
      cancelAtMs: null,
      hiddenUntilMs: options.hiddenMs !== undefined && options.hiddenMs > 0 ? now + options.hiddenMs : 0,
      fillAtMs: null,
    };
    funds.free = funds.free.minus(lock);
    funds.locked = funds.locked.plus(lock);
    this.orders.set(order.id, order);
    if (method === 'limit') this.matchTaker(order);
    else this.matchMarket(order);
    return order;
  }

  /**
   * Cancel semantics of reference §10.8 (async when cancelLatencyMs > 0). `thenFillAfterMs`: the
   * cancel is acknowledged, but the order matches in that time and fills instead (§6.6: orders can
   * be matched while a cancel is in flight).
   */
  cancel(id: bigint | null, options: { thenFillAfterMs?: number } = {}): void {
    const order = id === null ? undefined : this.orders.get(id);
    if (order === undefined) throw new SimRejection('NO_ORDER_MATCHES_YOUR_REQUEST');
    if (order.status === 'Canceled') return;
    if (order.status === 'Closed' || order.method === 'market') throw new SimRejection('ORDER_COULD_NOT_BE_CANCELED');
    const now = this.clock.now();
    if (order.fillAtMs !== null) return; // already bound to fill; a second cancel is acknowledged the same way
    if (options.thenFillAfterMs !== undefined) {
      order.fillAtMs = now + Math.max(0, options.thenFillAfterMs);
      order.cancelAtMs = null;
      return;
    }
    if (this.config.cancelLatencyMs > 0) {
      if (order.cancelAtMs === null) order.cancelAtMs = now + this.config.cancelLatencyMs;
      return;
    }
    this.finishCancel(order, now);
  }

  /** Fill a resting order as maker (control hook): all that is left unless `qty` says less. */
  forceFill(id: bigint, qty?: string, price?: string): SimFill {
    const order = this.orders.get(id);
    if (order === undefined || !isOpen(order)) throw new Error(`order ${id} is not open`);
    const q = qty === undefined ? order.left : Decimal.min(new Decimal(qty), order.left);
    if (q.lte(0)) throw new Error('fill quantity must be positive');
    return this.applyFill(order, q, price === undefined ? order.price : new Decimal(price), 'maker');
  }

  order(id: bigint): SimOrder | undefined {
    return this.orders.get(id);
  }

  allOrderList(): SimOrder[] {
    return [...this.orders.values()];
  }

  /** False while an accepted order is still invisible to every read (fault `orderInvisible`). */
  isVisible(order: SimOrder): boolean {
    return order.hiddenUntilMs <= this.clock.now();
  }

  isListedOpen(order: SimOrder): boolean {
    if (!this.isVisible(order)) return false;
    if (isOpen(order)) return true;
    return this.config.openOrdersLagMs > 0 && order.updatedMs + this.config.openOrdersLagMs > this.clock.now();
  }

  /** Fills visible through REST now (fillVisibilityDelayMs), oldest first. */
  visibleFills(): SimFill[] {
    const now = this.clock.now();
    return this.fills.filter((f) => f.tsMs + this.config.fillVisibilityDelayMs <= now);
  }

  /** Every accepted order and every fill, as plain data (decimal strings, ids as strings). */
  groundTruth(): GroundTruth {
    this.settle(); // what is due by now has happened (async cancels, cancels that turned into fills)
    return {
      clockMs: this.clock.now(),
      orders: this.allOrderList().map((o) => ({
        id: o.id.toString(),
        clientId: o.clientId,
        symbol: o.symbol,
        side: o.side,
        method: o.method,
        price: o.price.toFixed(),
        qty: o.qty.toFixed(),
        leftQty: o.left.toFixed(),
        status: o.status,
        createdMs: o.createdMs,
        updatedMs: o.updatedMs,
        cancelPending: (o.cancelAtMs !== null || o.fillAtMs !== null) && isOpen(o),
        visible: this.isVisible(o),
      })),
      fills: this.fills.map((f) => ({
        id: f.id.toString(),
        orderId: f.orderId.toString(),
        clientId: f.clientId,
        symbol: f.symbol,
        side: f.side,
        price: f.price.toFixed(),
        qty: f.qty.toFixed(),
        fee: f.fee.toFixed(),
        tax: f.tax.toFixed(),
        feeAsset: f.quote,
        tsMs: f.tsMs,
        liquidity: f.liquidity,
      })),
      balances: Object.fromEntries(this.balanceRows().map((b) => [b.asset, { free: b.free.toFixed(), locked: b.locked.toFixed() }])),
      mids: Object.fromEntries([...this.mids].map(([s, m]) => [s, m.toFixed()])),
    };
  }

  // ------------------------------------------------------------------------------------------
  // The account as others use it: foreign trades, broken listings, old-style trade rows

  /**
   * A trade someone else made on this account: an order that filled at once in full (taker fees
   * and VAT as for the bot), balances moved, one fill row. Refused like a real order when the free
   * balance does not cover it.
   */
  manualTrade(t: ManualTrade): SimFill {
    const pair = this.requirePair(t.symbol);
    const symbol = pairName(pair);
    if (t.side !== 'buy' && t.side !== 'sell') throw new Error('manual trade side must be buy or sell');
    const qty = new Decimal(t.qty);
    const price = t.price === undefined ? (this.mids.get(symbol) ?? new Decimal(pair.price)) : new Decimal(t.price);
    if (qty.lte(0) || price.lte(0)) throw new Error('manual trade quantity and price must be positive');
    const atMs = t.atMs ?? this.clock.now();
    const fee1 = new Decimal(1).plus(this.config.takerFee.mul(new Decimal(1).plus(this.config.vat)));
    const lockAsset = t.side === 'buy' ? pair.quote : pair.base;
    const lock = t.side === 'buy' ? price.mul(qty).mul(fee1) : qty;
    const funds = this.balance(lockAsset);
    if (funds.free.lt(lock)) throw new SimRejection('FAILED_ORDER_WITH_OPEN_ORDERS');
    funds.free = funds.free.minus(lock);
    funds.locked = funds.locked.plus(lock);
    const order: SimOrder = {
      id: this.nextOrderId++,
      clientId: t.clientId ?? 'advanced',
      symbol,
      side: t.side,
      method: 'limit',
      price,
      qty,
      left: qty,
      status: 'Untouched',
      createdMs: atMs,
      updatedMs: atMs,
      lockAsset,
      lockRemaining: lock,
      cancelAtMs: null,
      hiddenUntilMs: 0,
      fillAtMs: null,
    };
    this.orders.set(order.id, order);
    const fill = this.applyFill(order, qty, price, 'taker', atMs);
    if (t.wireOrderType !== undefined) this.wireOrderTypes.set(fill.id, String(t.wireOrderType));
    return fill;
  }

  /** The `orderType` a fill's trade row is served with when it is not its side (see ManualTrade). */
  wireOrderType(fillId: bigint): string | undefined {
    return this.wireOrderTypes.get(fillId);
  }

  /** Serve `name`'s exchangeinfo entry broken in this way; an unlisted name is added as an extra entry. */
  malformPair(name: string, kind: MalformedPairKind): void {
    if (!MALFORMED_PAIR_KINDS.includes(kind)) throw new Error(`malformed pair kind must be one of ${MALFORMED_PAIR_KINDS.join(', ')}`);
    this.malformed.set(normaliseSymbol(name), kind);
  }

  malformedPairs(): ReadonlyMap<string, MalformedPairKind> {
    return this.malformed;
  }

  /** Whether this trade row goes out in the 2018 documented form (seeded draw per row). */
  drawOldStyleTradeRow(): boolean {
    const p = this.config.tradeRowsWithoutOrderId;
    return p > 0 && (p >= 1 || this.rowPrng.next() < p);
  }

  // ------------------------------------------------------------------------------------------
  // Matching

  private matchTaker(order: SimOrder): void {
    const book = this.books.get(order.symbol);
    if (book === undefined) return;
    const levels = order.side === 'buy' ? book.asks : book.bids;
    while (order.left.gt(0)) {
      const level = levels[0];
      if (level === undefined) break;
      const crosses = order.side === 'buy' ? level.price.lte(order.price) : level.price.gte(order.price);
      if (!crosses) break;
      const q = Decimal.min(order.left, level.qty);
      level.qty = level.qty.minus(q);
      if (level.qty.lte(0)) levels.shift();
      this.applyFill(order, q, level.price, 'taker');
    }
  }

  private matchMarket(order: SimOrder): void {
    const pair = this.requirePair(order.symbol);
    const book = this.books.get(order.symbol) ?? { bids: [], asks: [] };
    const levels = order.side === 'buy' ? book.asks : book.bids;
    const step = stepOf(pair);
    while (order.left.gt(0)) {
      const level = levels[0];
      if (level === undefined) break;
      // Market buys spend a quote amount; convert what is left into base at this level.
      const wantBase = order.side === 'buy' ? floorTo(order.left.div(level.price), step) : order.left;
      const q = Decimal.min(wantBase, level.qty);
      if (q.lte(0)) break;
      level.qty = level.qty.minus(q);
      if (level.qty.lte(0)) levels.shift();
      this.applyFill(order, q, level.price, 'taker');
    }
    if (isOpen(order)) this.finishCancel(order, this.clock.now());
  }

  /** After the market moved: resting orders it moved through fill in full at their own price (maker). */
  private matchResting(symbol: string): void {
    const book = this.books.get(symbol);
    if (book === undefined) return;
    const bestBid = book.bids[0]?.price;
    const bestAsk = book.asks[0]?.price;
    const resting = [...this.orders.values()]
      .filter((o) => o.symbol === symbol && isOpen(o) && o.method === 'limit')
      .sort((a, b) => (a.id < b.id ? -1 : 1));
    for (const o of resting) {
      const through = o.side === 'buy' ? bestAsk !== undefined && bestAsk.lte(o.price) : bestBid !== undefined && bestBid.gte(o.price);
      if (through) this.applyFill(o, o.left, o.price, 'maker');
    }
  }

  private applyFill(order: SimOrder, qty: Decimal, price: Decimal, liquidity: 'maker' | 'taker', now = this.clock.now()): SimFill {
    const pair = this.requirePair(order.symbol);
    const notional = price.mul(qty);
    const rate = liquidity === 'maker' ? this.config.makerFee : this.config.takerFee;
    const fee = notional.mul(rate).toDecimalPlaces(8, Decimal.ROUND_HALF_UP);
    const tax = fee.mul(this.config.vat).toDecimalPlaces(8, Decimal.ROUND_HALF_UP);
    const quote = this.balance(pair.quote);
    const base = this.balance(pair.base);
    // For market buys `left` is a quote amount; everything else counts base units.
    const consumed = order.method === 'market' && order.side === 'buy' ? notional.plus(fee).plus(tax) : qty;
    const finishing = consumed.gte(order.left);
    if (order.side === 'buy') {
      const share = finishing ? order.lockRemaining : order.lockRemaining.mul(consumed).div(order.left);
      const cost = notional.plus(fee).plus(tax);
      quote.locked = quote.locked.minus(share);
      quote.free = quote.free.plus(share).minus(cost);
      base.free = base.free.plus(qty);
      order.lockRemaining = order.lockRemaining.minus(share);
    } else {
      base.locked = base.locked.minus(qty);
      quote.free = quote.free.plus(notional).minus(fee).minus(tax);
      order.lockRemaining = order.lockRemaining.minus(qty);
    }
    order.left = finishing ? ZERO : order.left.minus(consumed);
    order.updatedMs = now;
    if (order.left.isZero()) {
      order.status = 'Closed';
      this.releaseLock(order);
    } else {
      order.status = 'Partial';
    }
    const fill: SimFill = {
      id: this.nextTradeId++,
      orderId: order.id,
      clientId: order.clientId,
      symbol: order.symbol,
      base: pair.base,
      quote: pair.quote,
      side: order.side,
      price,
      qty,
      fee,
      tax,
      tsMs: now,
      liquidity,
    };
    this.fills.push(fill);
    // Our fill is a public trade too; the taker is the other side when we rested.
    const taker: Side = liquidity === 'taker' ? order.side : order.side === 'buy' ? 'sell' : 'buy';
    this.tape.push({ tid: this.nextPublicTradeId++, symbol: order.symbol, price, qty, side: taker, tsMs: now });
    return fill;
  }

  private finishCancel(order: SimOrder, atMs: number): void {
    order.status = 'Canceled';
    order.updatedMs = Math.max(order.updatedMs, atMs);
    order.cancelAtMs = null;
    this.releaseLock(order);
  }

  private releaseLock(order: SimOrder): void {
    if (order.lockRemaining.isZero()) return;
    const b = this.balance(order.lockAsset);
    b.locked = b.locked.minus(order.lockRemaining);
    b.free = b.free.plus(order.lockRemaining);
    order.lockRemaining = ZERO;
  }

  private requirePair(symbol: string): SimPairConfig {
    const pair = this.pair(symbol);
    if (pair === undefined) throw new Error(`unknown pair ${symbol}`);
    return pair;
  }
}

export interface GroundTruth {
  readonly clockMs: number;
  readonly orders: ReadonlyArray<{
    id: string;
    clientId: string;
    symbol: string;
    side: Side;
    method: 'limit' | 'market';
    price: string;
    qty: string;
    leftQty: string;
    status: SimOrderStatus;
    createdMs: number;
    updatedMs: number;
    cancelPending: boolean;
    /** False while the order is hidden from every read (fault `orderInvisible`). */
    visible: boolean;
  }>;
  readonly fills: ReadonlyArray<{
    id: string;
    orderId: string;
    clientId: string;
    symbol: string;
    side: Side;
    price: string;
    qty: string;
    fee: string;
    tax: string;
    feeAsset: string;
    tsMs: number;
    liquidity: 'maker' | 'taker';
  }>;
  readonly balances: Readonly<Record<string, { free: string; locked: string }>>;
  readonly mids: Readonly<Record<string, string>>;
}

export function isOpen(o: SimOrder): boolean {
  return o.status === 'Untouched' || o.status === 'Partial';
}

export function normaliseSymbol(s: string): string {
  return s.trim().toUpperCase().replace(/_/g, '');
}

function requestDecimal(v: unknown): Decimal | null {
  const text = typeof v === 'string' ? v : typeof v === 'number' ? String(v) : v !== null && typeof v === 'object' && 'isLosslessNumber' in v ? String(v) : null;
  if (text === null || text === '' || !REQUEST_DECIMAL.test(text)) return null;
  return new Decimal(text.startsWith('.') ? `0${text}` : text);
}

function pairTick(p: SimPairConfig): Decimal {
  const scaleTick = new Decimal(1).div(new Decimal(10).pow(p.denominatorScale));
  const t = Decimal.max(new Decimal(p.tickSize), scaleTick);
  return p.hasFraction ? t : Decimal.max(t, new Decimal(1));
}

function stepOf(p: SimPairConfig): Decimal {
  return new Decimal(1).div(new Decimal(10).pow(p.numeratorScale));
}

function floorTo(v: Decimal, step: Decimal): Decimal {
  return v.div(step).floor().mul(step);
}
function ceilTo(v: Decimal, step: Decimal): Decimal {
  return v.div(step).ceil().mul(step);
}

function buildConfig(c: EngineOptions['config']): EngineConfig {
  return {
    makerFee: new Decimal(c.makerFee ?? '0.0005'),
    takerFee: new Decimal(c.takerFee ?? '0.0009'),
    vat: new Decimal(c.vat ?? '0.20'),
    cancelLatencyMs: c.cancelLatencyMs ?? 0,
    fillVisibilityDelayMs: c.fillVisibilityDelayMs ?? 0,
    openOrdersLagMs: c.openOrdersLagMs ?? 0,
    strictTick: c.strictTick ?? false,
    spreadBps: c.spreadBps ?? 10,
    priceStepMs: c.priceStepMs ?? 0,
    tradeRowsWithoutOrderId: c.tradeRowsWithoutOrderId ?? 0,
  };
}

export { DEFAULT_PAIRS };
