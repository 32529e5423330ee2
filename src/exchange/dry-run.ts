// Dry-run implementation of the Exchange port: every read goes to the real venue (so plans see real
// rules, marks, balances and orders), every write is simulated here and never reaches the network.
// Simulated orders get exchange id `sim-<clientOrderId>` (deterministic, no counter to repeat:
// original defect 26) and can be looked up again with getOrder.
import { asExchangeOrderId, type ClientOrderId, type ExchangeOrderId, type OrderStatusReport, type PairSymbol } from '../domain/types.js';
import type { CancelAck, Exchange, SubmitAck, SubmitLimitOrderRequest } from './port.js';

export const DRY_RUN_ID_PREFIX = 'sim-';

export interface DryRunExchange extends Exchange {
  readonly mode: 'dry_run';
  /** Orders "placed" in this process, oldest first. */
  simulatedOrders(): OrderStatusReport[];
}

export function createDryRunExchange(inner: Exchange, options: { now?: () => number } = {}): DryRunExchange {
  const now = options.now ?? Date.now;
  const placed = new Map<string, OrderStatusReport>();

  const submitLimitOrder = async (req: SubmitLimitOrderRequest): Promise<SubmitAck> => {
    const exchangeOrderId = asExchangeOrderId(`${DRY_RUN_ID_PREFIX}${req.clientOrderId}`);
    const ts = now();
    if (!placed.has(exchangeOrderId)) {
      placed.set(exchangeOrderId, {
        exchangeOrderId,
        clientOrderId: req.clientOrderId,
        symbol: req.symbol,
        side: req.side,
        price: req.price,
        qty: req.qty,
        leftQty: req.qty,
        status: 'open',
        createdAtMs: ts,
        updatedAtMs: ts,
      });
    }
    return { exchangeOrderId, clientOrderId: req.clientOrderId, symbol: req.symbol, side: req.side, price: req.price, qty: req.qty, submittedAtMs: ts, simulated: true };
  };

  const cancelOrder = async (exchangeOrderId: ExchangeOrderId): Promise<CancelAck> => {
    const order = placed.get(exchangeOrderId);
    if (order !== undefined && (order.status === 'open' || order.status === 'partial')) {
      placed.set(exchangeOrderId, { ...order, status: 'canceled', updatedAtMs: now() });
    }
    return { exchangeOrderId, accepted: true, simulated: true };
  };

  const simulatedMatches = (symbol: PairSymbol, clientOrderId: ClientOrderId): OrderStatusReport[] =>
    [...placed.values()].filter((o) => o.symbol === symbol && o.clientOrderId === clientOrderId);

  return {
    mode: 'dry_run',
    getServerTime: () => inner.getServerTime(),
    getExchangeRules: () => inner.getExchangeRules(),
    getOrderBook: (symbol, limit) => inner.getOrderBook(symbol, limit),
    getQuote: (symbol) => inner.getQuote(symbol),
    getTickerQuotes: () => inner.getTickerQuotes(),
    getPublicTrades: (symbol, last) => inner.getPublicTrades(symbol, last),
    getBalances: () => inner.getBalances(),
    getOpenOrders: (symbol) => inner.getOpenOrders(symbol),
    getAllOrders: (symbol, query) => inner.getAllOrders(symbol, query),
    getOrder: async (id) => placed.get(id) ?? inner.getOrder(id),
    getFills: (symbol, window) => inner.getFills(symbol, window),
    submitLimitOrder,
    cancelOrder,
    findOrdersByClientId: async (symbol, clientOrderId, sinceMs) => [
      ...simulatedMatches(symbol, clientOrderId),
      ...(await inner.findOrdersByClientId(symbol, clientOrderId, sinceMs)),
    ],
    findOrderByClientId: async (symbol, clientOrderId, sinceMs) =>
      simulatedMatches(symbol, clientOrderId)[0] ?? (await inner.findOrderByClientId(symbol, clientOrderId, sinceMs)),
    simulatedOrders: () => [...placed.values()],
    close: () => inner.close(),
  };
}

export function isSimulatedOrderId(id: string): boolean {
  return id.startsWith(DRY_RUN_ID_PREFIX);
}
