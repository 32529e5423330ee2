// Workflow entry point for the worker's bundle: every workflow and message definition.
export { tradingCycle } from './trading-cycle.js';
