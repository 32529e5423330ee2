// Workflow entry point for the worker's bundle.
export { tradingCycle } from './trading-cycle.js';
export { cancelOwnOpenOrders } from './cancel-own-orders.js';
export { deliverCycleAlerts } from './cycle-alerts.js';
