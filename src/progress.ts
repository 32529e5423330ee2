// Heartbeats come from the work. An activity reports each step it reaches (`beat`), and a bounded
// wait inside it (a rate-limit sleep, an HTTP request with its own timeout) keeps reporting while it
// lasts, saying what it waits for and for how long (`waiting`). Nothing beats on a blind timer: an
// activity stuck outside a known wait stops heartbeating and Temporal times it out. Heartbeats are
// also the only way an activity learns it was cancelled (Temporal TS SDK), so waits keep them
// flowing. The worker's activity interceptor installs the sink; outside an activity these are no-ops,
// so the exchange client stays free of Temporal.
import { AsyncLocalStorage } from 'node:async_hooks';

export type ProgressDetail = Readonly<Record<string, string | number | boolean>>;

export interface ProgressSink {
  beat(details: ProgressDetail & { step: string }): void;
}

const sinks = new AsyncLocalStorage<ProgressSink>();

/** Run `fn` with `sink` receiving the progress of everything it awaits. */
export function withProgress<T>(sink: ProgressSink, fn: () => Promise<T>): Promise<T> {
  return sinks.run(sink, fn);
}

/** Report that the work reached `step`. */
export function beat(step: string, detail: ProgressDetail = {}): void {
  sinks.getStore()?.beat({ ...detail, step });
}

/** How often a wait in progress reports itself; Temporal throttles what it sends (src/worker.ts). */
export const WAIT_BEAT_MS = 1_000;

/** Await a bounded wait, reporting it at once and every WAIT_BEAT_MS while it lasts. */
export async function waiting<T>(step: string, detail: ProgressDetail, work: Promise<T>): Promise<T> {
  const sink = sinks.getStore();
  if (sink === undefined) return work;
  const started = Date.now();
  const report = (): void => sink.beat({ ...detail, step, waited_ms: Date.now() - started });
  report();
  const timer = setInterval(report, WAIT_BEAT_MS);
  try {
    return await work;
  } finally {
    clearInterval(timer);
  }
}
