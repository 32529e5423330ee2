// Typed client for the simulator's control plane (/__sim/*), for tests and tools that run the
// simulator out of process. In-process code can use RunningSimulator.engine directly instead.
import { request } from 'undici';
import type { FaultRule } from './faults.js';
import type { RequestLogEntry } from './server.js';
import type { MalformedPairKind } from './pairs.js';
import type { GroundTruth, ManualTrade, PricePath } from './state.js';

export interface SimConfigPatch {
  readonly rateLimits?: boolean;
  readonly authErrorMode?: 'json' | 'legacy' | 'empty';
  readonly legacyCasing?: boolean;
  readonly lenientDeleteBody?: boolean;
  readonly makerFee?: string;
  readonly takerFee?: string;
  readonly vat?: string;
  readonly cancelLatencyMs?: number;
  readonly fillVisibilityDelayMs?: number;
  readonly openOrdersLagMs?: number;
  readonly strictTick?: boolean;
  readonly spreadBps?: number;
  readonly priceStepMs?: number;
  readonly tradeRowsWithoutOrderId?: number;
}

export class SimulatorControl {
  constructor(readonly baseUrl: string) {
    const host = new URL(baseUrl).hostname;
    if (host !== '127.0.0.1' && host !== 'localhost' && host !== '[::1]') {
      throw new Error(`simulator control is loopback-only, got ${host}`);
    }
  }

  private async call<T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
    const res = await request(new URL(path, this.baseUrl), {
      method,
      // The simulator takes control writes only as JSON (a browser's cross-origin form cannot be).
      headers: method === 'GET' ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? null : JSON.stringify(body),
    });
    const text = await res.body.text();
    const parsed = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
    if (res.statusCode !== 200) throw new Error(`simulator control ${method} ${path}: ${res.statusCode} ${String(parsed['error'] ?? text)}`);
    return parsed as T;
  }

  reset(seed?: number): Promise<unknown> {
    return this.call('POST', '/__sim/reset', seed === undefined ? {} : { seed });
  }
  state(): Promise<GroundTruth> {
    return this.call('GET', '/__sim/state');
  }
  setBalances(balances: Record<string, string | { free: string; locked?: string }>): Promise<unknown> {
    return this.call('POST', '/__sim/balances', { balances });
  }
  setPrice(symbol: string, price: string): Promise<unknown> {
    return this.call('POST', '/__sim/price', { symbol, price });
  }
  /** Print a market trade on the public tape (`side` is the taker's). */
  async printTrade(symbol: string, price: string, qty: string, side: 'buy' | 'sell' = 'sell'): Promise<string> {
    return (await this.call<{ tid: string }>('POST', '/__sim/trades', { symbol, price, qty, side })).tid;
  }
  setBook(symbol: string, bids: Array<[string, string]>, asks: Array<[string, string]>): Promise<unknown> {
    return this.call('POST', '/__sim/book', { symbol, bids, asks });
  }
  setPricePath(symbol: string, path: PricePath): Promise<unknown> {
    return this.call('POST', '/__sim/price-path', { symbol, path });
  }
  tick(steps = 1): Promise<unknown> {
    return this.call('POST', '/__sim/tick', { steps });
  }
  async advanceClock(ms: number): Promise<number> {
    return (await this.call<{ clockMs: number }>('POST', '/__sim/clock/advance', { ms })).clockMs;
  }
  async setClock(ms: number): Promise<number> {
    return (await this.call<{ clockMs: number }>('POST', '/__sim/clock/set', { ms })).clockMs;
  }
  async fill(orderId: string, qty?: string, price?: string): Promise<string> {
    return (await this.call<{ fillId: string }>('POST', '/__sim/fill', { orderId, qty, price })).fillId;
  }
  /** A trade someone else makes on the account (see SimulatorEngine.manualTrade). */
  async manualTrade(trade: ManualTrade): Promise<{ fillId: string; orderId: string }> {
    return this.call('POST', '/__sim/manual-trade', trade);
  }
  /** Serve `name`'s exchangeinfo entry broken (an unlisted name becomes an extra broken entry). */
  malformPair(name: string, kind: MalformedPairKind): Promise<unknown> {
    return this.call('POST', '/__sim/malformed-pair', { name, kind });
  }
  async addFault(rule: FaultRule): Promise<number> {
    return (await this.call<{ id: number }>('POST', '/__sim/faults', rule)).id;
  }
  clearFaults(): Promise<unknown> {
    return this.call('DELETE', '/__sim/faults');
  }
  configure(patch: SimConfigPatch): Promise<unknown> {
    return this.call('POST', '/__sim/config', patch);
  }
  async requests(): Promise<RequestLogEntry[]> {
    return (await this.call<{ requests: RequestLogEntry[] }>('GET', '/__sim/requests')).requests;
  }
  clearRequests(): Promise<unknown> {
    return this.call('DELETE', '/__sim/requests');
  }
  async counters(): Promise<Record<string, number>> {
    return (await this.call<{ counters: Record<string, number> }>('GET', '/__sim/counters')).counters;
  }
}
