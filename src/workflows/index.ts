// Workflow entry point for the worker's bundle: every workflow and message definition.
export { tradingCycle, progressQuery } from './trading-cycle.js';
