// Public surface of the exchange boundary.
export * from './errors.js';
export * from './port.js';
export { createBtcturkExchange, createBtcturkRateLimiter, BtcturkExchange, type BtcturkExchangeOptions } from './btcturk/client.js';
export { createDryRunExchange, isSimulatedOrderId, type DryRunExchange } from './dry-run.js';
export { fallbackFillId, normaliseUserTrades } from './trades.js';
export { RateLimiter } from './rate-limits.js';
