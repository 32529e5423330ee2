// `btcbot cycle show <id|latest> [--json]`: the story of one cycle from its audit record: gates and
// mode, per symbol what was planned and why not, each action and its outcome (with the order's
// state now), alerts, the error with its step, and the alerts sent about it. The audit's strings
// are read by src/domain/cycle-story.ts; a string it does not know is shown as stored.
import { actionLine, cycleStory, type CycleStory } from '../domain/cycle-story.js';
import { listAlerts, type AlertRow } from '../store/alerts.js';
import { listCycleAudits } from '../store/audit.js';
import { ordersByClientIds, type OrderRow } from '../store/history.js';
import { formatTable, openDatabase } from './context.js';
import { EXIT } from './errors.js';
import { printable, terminalJson } from './printable.js';
import { table } from './table.js';

export interface CycleShowReport {
  story: CycleStory;
  /** Each action's order row as it is now (state, what is left), by client order id. */
  orders: Record<string, Pick<OrderRow, 'state' | 'qty' | 'leftQty' | 'price' | 'mode' | 'exchangeOrderId' | 'updatedAt'>>;
  notifications: Array<Pick<AlertRow, 'kind' | 'channel' | 'status' | 'attempts' | 'lastError' | 'updatedAt'>>;
}

export async function cycleShow({ cycleId, json }: { cycleId: string; json: boolean }): Promise<number> {
  const { pool } = await openDatabase();
  let report: CycleShowReport;
  try {
    const [audit] = await listCycleAudits(pool, cycleId === 'latest' ? { limit: 1 } : { cycleId, limit: 1 });
    if (!audit) {
      console.error(`btcbot: no cycle_audit row for ${JSON.stringify(cycleId)} (\`btcbot status\` lists recent cycles)`);
      return EXIT.blocked;
    }
    const story = cycleStory(audit);
    const [orders, alerts] = await Promise.all([
      ordersByClientIds(pool, story.actions.map((a) => a.clientOrderId)),
      listAlerts(pool, audit.cycleId),
    ]);
    report = {
      story,
      orders: Object.fromEntries([...orders].map(([cid, o]) => [cid, {
        state: o.state, qty: o.qty, leftQty: o.leftQty, price: o.price, mode: o.mode, exchangeOrderId: o.exchangeOrderId, updatedAt: o.updatedAt,
      }])),
      notifications: alerts.map((a) => ({ kind: a.kind, channel: a.channel, status: a.status, attempts: a.attempts, lastError: a.lastError, updatedAt: a.updatedAt })),
    };
  } finally {
    await pool.end();
  }
  console.log(json ? terminalJson(report) : formatCycleShow(report));
  return EXIT.ok;
}

const seconds = (from: string, to: string): string => `${((Date.parse(to) - Date.parse(from)) / 1000).toFixed(1)} s`;

function gatesLine(s: CycleStory): string {
  const g = s.gates;
  const parts = [
    g.killSwitch === null ? null : `KILL_SWITCH=${g.killSwitch}`,
    g.dryRun === null ? null : g.dryRun ? 'dry run' : 'not a dry run',
    g.liveMode === null ? null : g.liveMode ? 'live writes armed' : 'no live writes',
  ].filter((p): p is string => p !== null);
  if (g.block) parts.push(`BLOCKED by the ${g.block.by === 'worker' ? "worker's" : "starter's"} gates: ${g.block.reason}`);
  if (g.notes.length) parts.push(`notes: ${g.notes.join(', ')}`);
  return parts.join('; ') || 'not recorded';
}

export function formatCycleShow(r: CycleShowReport): string {
  const s = r.story;
  const out: string[] = [`cycle ${s.cycleId}`];
  out.push(...formatTable([
    ['outcome', s.outcome],
    ['mode', `${s.mode}${s.trigger ? ` (started by ${s.trigger})` : ''}`],
    ['time', `${s.startedAt} → ${s.finishedAt} (${seconds(s.startedAt, s.finishedAt)})`],
    ['gates', gatesLine(s)],
    ['trading', s.tradingState ?? 'not reached (the cycle ended before planning)'],
    ...(s.halt !== null ? [['halt', s.halt] as [string, string]] : []),
    ...(s.skipped !== null ? [['skipped', s.skipped] as [string, string]] : []),
    ...(s.error ? [['error', `${s.error.errorClass}${s.error.step ? ` at step ${s.error.step}` : ''}: ${s.error.message}`] as [string, string]] : []),
    ['counts', Object.entries(s.counts).map(([k, v]) => `${k}=${v}`).join(' ') || 'none'],
  ]).split('\n')); // one line each: the lines below are made printable one by one

  out.push('', 'symbols (what happened, or why nothing did)');
  out.push(...(s.symbols.length === 0 ? ['  none'] : table([['symbol', 'state', 'why'], ...s.symbols.map((x) => [x.symbol, x.state, x.why])])));
  const more = s.symbols.flatMap((x) => [...x.skips.slice(1).map((k) => `  ${x.symbol}: also ${k}`), ...x.problems.slice(1).map((p) => `  ${x.symbol}: also ${p}`)]);
  out.push(...more);

  out.push('', `actions (${s.actions.length})`);
  if (s.actions.length === 0) out.push('  none');
  else {
    out.push(...table([
      ['client order id', 'symbol', 'action', 'planned as', 'risk', 'outcome', 'order now'],
      ...s.actions.map((a) => {
        const now = r.orders[a.clientOrderId];
        return [
          a.clientOrderId, a.symbol ?? '-', actionLine({ ...a, price: a.price ?? now?.price ?? null, qty: a.qty ?? now?.qty ?? null }),
          a.reason ?? '-', a.risk ?? '-', [a.outcome, a.outcomeDetail].filter(Boolean).join(': ') || '-',
          now ? `${now.state}, left ${now.leftQty}/${now.qty}` : '-',
        ];
      }),
    ]));
  }

  if (s.reconcile.length > 0) out.push('', 'reconcile', ...s.reconcile.map((x) => `  ${x}`));
  out.push('', `alerts (${s.alerts.length})`);
  out.push(...(s.alerts.length === 0 ? ['  none'] : table(s.alerts.map((a) => [a.severity, a.text]))));
  if (r.notifications.length > 0) {
    out.push('', 'notifications sent about this cycle');
    out.push(...table([['kind', 'channel', 'status', 'attempts', 'error'], ...r.notifications.map((n) => [n.kind, n.channel, n.status, String(n.attempts), n.lastError ?? ''])]));
  }
  if (s.unknown.length > 0) {
    out.push('', 'entries this version does not recognise (as stored)', ...s.unknown.map((x) => `  ${x}`));
  }
  // Stored text throughout: never a raw control character (printable() is idempotent).
  return out.map(printable).join('\n');
}
