// Shared setup for contract tests: a simulator on loopback and a client wired to it with fast
// retry delays (the behaviour under test is the same; only the waiting is shorter).
import { createBtcturkExchange, type BtcturkExchangeOptions } from '../../src/exchange/btcturk/client.js';
import type { Exchange } from '../../src/exchange/port.js';
import { startSimulator, type RunningSimulator, type SimulatorOptions } from '../../src/simulator/server.js';

export interface Harness {
  readonly sim: RunningSimulator;
  readonly exchange: Exchange;
  close(): Promise<void>;
}

export async function startHarness(
  simOptions: Partial<SimulatorOptions> = {},
  clientOptions: Partial<BtcturkExchangeOptions> = {},
): Promise<Harness> {
  const sim = await startSimulator(simOptions);
  const exchange = createBtcturkExchange({
    baseUrl: sim.url,
    credentials: sim.credentials,
    timeoutMs: 2_000,
    retry: { maxAttempts: 4, baseDelayMs: 5, maxDelayMs: 20, maxRetryAfterMs: 2_000 },
    ...clientOptions,
  });
  return {
    sim,
    exchange,
    close: async () => {
      await exchange.close();
      await sim.close();
    },
  };
}

export function countRoute(sim: RunningSimulator, route: string): number {
  return sim.requests.filter((r) => r.route === route).length;
}
