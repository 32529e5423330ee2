// Alerts sent by the command that does the thing: `btcbot halt` and `btcbot resume`. They go out
// alongside the command's own work (never before it: a halt is stored and signalled whatever the
// notifier does) and the command waits for them, at most one request deadline per channel, before
// it exits. A notifier that is down or misconfigured is reported on stderr, never an error.
import type { Alert } from '../domain/alerts.js';
import { alertPayload, createNotifier, notifierSettingsFromEnv } from '../observability/notifier.js';
import { log } from './context.js';

const pending: Array<Promise<void>> = [];

/** Start sending `alert` on every configured channel; `settleOperatorAlerts` waits for it. */
export function alertOperator(alert: Alert, env: NodeJS.ProcessEnv = process.env): void {
  pending.push(send(alert, env));
}

async function send(alert: Alert, env: NodeJS.ProcessEnv): Promise<void> {
  let notifier: ReturnType<typeof createNotifier>;
  try {
    notifier = createNotifier(notifierSettingsFromEnv(env));
  } catch (err) {
    log(`${alert.kind} alert not sent: ${(err as Error).message}`);
    return;
  }
  try {
    if (notifier.channels.length === 0) return;
    const payload = alertPayload(alert, 'default');
    const results = await Promise.all(notifier.channels.map(async (c) => [c, await notifier.send(c, payload)] as const));
    const failed = results.filter(([, r]) => r.status !== 'sent');
    log(failed.length === 0
      ? `${alert.kind} alert sent (${results.map(([c]) => c).join(', ')})`
      : `${alert.kind} alert NOT delivered on ${failed.map(([c, r]) => `${c} (${r.status === 'sent' ? '' : r.error})`).join(', ')}`);
  } finally {
    await notifier.close();
  }
}

/** Wait for every alert this process started (each request has its own deadline). */
export async function settleOperatorAlerts(): Promise<void> {
  await Promise.allSettled(pending.splice(0));
}
