// Market moves that tests, recordings and demos need again and again.
import { Decimal } from '../domain/decimal.js';
import type { RunningSimulator } from './server.js';

/**
 * Move each symbol's price 2 % below its lowest resting buy, so the simulator fills our resting
 * buys as maker. Returns how many symbols moved.
 */
export function fillRestingBuys(sim: RunningSimulator): number {
  const open = sim.engine.groundTruth().orders.filter((o) => o.status === 'Untouched' || o.status === 'Partial');
  const symbols = new Set(open.map((o) => o.symbol));
  for (const symbol of symbols) {
    const lowest = open.filter((o) => o.symbol === symbol).reduce((m, o) => Decimal.min(m, new Decimal(o.price)), new Decimal(Infinity));
    sim.engine.setMid(symbol, lowest.mul('0.98').toDecimalPlaces(0));
  }
  return symbols.size;
}
