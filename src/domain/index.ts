// The pure domain core in one import for workflows and activities: `import * as domain from '../domain/index.js'`.
export * from './accounting.js';
export * from './config.js';
export * from './decimal.js';
export * from './errors.js';
export * from './gates.js';
export * from './hash.js';
export * from './ids.js';
export * from './lifecycle.js';
export * from './market.js';
export * from './pnl.js';
export * from './reconcile.js';
export * from './risk.js';
export * from './rules.js';
export * from './strategy.js';
export * from './symbols.js';
export * from './types.js';
export * from './wire.js';
