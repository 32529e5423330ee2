// `btcbot schedule create|list|describe|pause|unpause|trigger|delete`: unattended cycles through a
// Temporal Schedule. Each run is one `tradingCycle` execution with the workflow id
// `cycle-<scheduleId>-<nominal time>` (the server appends the time). Policies are fixed for trading:
// overlap SKIP (never two cycles at once, manual triggers included), a 1-minute catch-up window (an
// outage never fires a burst of stale cycles) and no pause on failure (the next slot retries).
import {
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  type Client,
  type ScheduleDescription,
  type ScheduleHandle,
} from '@temporalio/client';
import { TRADING_CYCLE_WORKFLOW } from '../workflows/definitions.js';
import type { CycleInput } from '../workflows/types.js';
import { WORKFLOW_ID_PREFIX } from '../shared.js';
import { connectClient, describeGates, formatTable, loadControlSettings, log } from './context.js';
import { loadCycleSettings } from './cycle-settings.js';
import { EXIT, UsageError } from './errors.js';
import { checkSymbolsBeforeStart } from './symbols.js';

export const DEFAULT_SCHEDULE_ID = 'btcbot-cycles';
const MIN_EVERY_MS = 10_000;
const UNITS = [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1_000]] as const;
/** Upper bound on one cycle; with overlap SKIP a stuck cycle blocks later slots at most this long. */
const CYCLE_TIMEOUT = '10m';
const CATCHUP_WINDOW = '1m';

/** `30s`, `1m`, `2m30s`, `1h`, `1d`, `1d12h` → milliseconds: units d, h, m, s in that order; at least 10 s. */
export function parseEvery(raw: string): number {
  const m = /^(?:(\d{1,6})d)?(?:(\d{1,6})h)?(?:(\d{1,6})m)?(?:(\d{1,6})s)?$/.exec(raw.trim());
  if (!m || raw.trim() === '') {
    throw new UsageError(`--every must be a duration in d, h, m and s (e.g. 30s, 1m, 2m30s, 1h, 1d), got ${JSON.stringify(raw)}`);
  }
  const ms = UNITS.reduce((sum, [, size], i) => sum + Number(m[i + 1] ?? 0) * size, 0);
  if (ms < MIN_EVERY_MS) throw new UsageError(`--every must be at least 10s, got ${raw}`);
  return ms;
}

export function validateScheduleId(id: string, option = '--id'): string {
  if (!/^[A-Za-z0-9._-]{1,100}$/.test(id)) {
    throw new UsageError(`${option} may contain only letters, digits and . _ - (at most 100 characters)`);
  }
  return id;
}

/** 90000 → `1m30s`; 3600000 → `1h`; 86400000 → `1d` (the inverse of parseEvery). */
export function formatInterval(ms: number): string {
  let rest = Math.round(ms / 1000) * 1000;
  const parts: string[] = [];
  for (const [unit, size] of UNITS) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  return parts.join('') || '0s';
}

export type ScheduleSubcommand = 'create' | 'list' | 'describe' | 'pause' | 'unpause' | 'trigger' | 'delete';

export interface ScheduleCommand {
  sub: ScheduleSubcommand;
  scheduleId: string;
  everyMs?: number;
  dryRun?: boolean;
  paused?: boolean;
  /** trigger: run a cycle although the schedule is paused. */
  evenIfPaused?: boolean;
}

export async function schedule(cmd: ScheduleCommand): Promise<number> {
  const infra = loadControlSettings();
  // Read the trading settings before connecting: a bad gate variable is a config error (exit 2),
  // and a symbol the exchange does not list is one too: nothing is created.
  const cycleSettings = cmd.sub === 'create' ? loadCycleSettings() : null;
  if (cycleSettings) await checkSymbolsBeforeStart(cycleSettings.symbols, process.env, log);
  const temporal = await connectClient(infra);
  try {
    const { client } = temporal;
    const handle = client.schedule.getHandle(cmd.scheduleId);
    switch (cmd.sub) {
      case 'create': {
        const input: CycleInput = {
          gates: cycleSettings!.gates,
          dryRunRequested: cmd.dryRun ?? false,
          symbols: cycleSettings!.symbols,
          trigger: 'schedule',
        };
        await create(client, { ...cmd, everyMs: cmd.everyMs!, taskQueue: infra.taskQueue, input });
        console.log(`schedule ${cmd.scheduleId} created${cmd.paused ? ' (paused)' : ''}`);
        console.log(formatTable([
          ['every', formatInterval(cmd.everyMs!)],
          ['cycles', `${TRADING_CYCLE_WORKFLOW} on task queue ${infra.taskQueue}, workflow ids ${actionWorkflowId(cmd.scheduleId)}-<nominal time>`],
          ['mode', describeGates(input.gates, input.dryRunRequested)],
          ['symbols', input.symbols.join(', ')],
          ['policies', `overlap SKIP, catch-up window ${CATCHUP_WINDOW}, cycle timeout ${CYCLE_TIMEOUT}`],
        ]));
        console.log('  The gates and symbols above are fixed in the schedule; to change them, delete it and create it again.');
        console.log('  Workers re-check their own gates before every exchange write.');
        return EXIT.ok;
      }
      case 'list':
        return await listSchedules(client);
      case 'describe':
        console.log(formatDescription(await handle.describe()));
        return EXIT.ok;
      case 'pause':
        await handle.pause('paused by btcbot schedule pause');
        console.log(`schedule ${cmd.scheduleId} paused: no new cycles start until \`btcbot schedule unpause --id ${cmd.scheduleId}\``);
        console.log('  A cycle already running is not stopped; `btcbot halt` stops it.');
        return EXIT.ok;
      case 'unpause':
        await handle.unpause('unpaused by btcbot schedule unpause');
        console.log(`schedule ${cmd.scheduleId} unpaused: cycles start at the next interval`);
        return EXIT.ok;
      case 'trigger': {
        // Temporal runs a triggered action even on a paused schedule. Paused means someone stopped
        // the cycles on purpose: running one anyway takes a second decision (--even-if-paused).
        const { state } = await handle.describe();
        if (state.paused && !cmd.evenIfPaused) {
          console.error(
            `btcbot: schedule ${cmd.scheduleId} is paused${state.note ? ` (${state.note})` : ''}: no cycle started. ` +
              `\`btcbot schedule unpause --id ${cmd.scheduleId}\` resumes it; \`schedule trigger --even-if-paused\` runs one cycle and leaves it paused.`,
          );
          return EXIT.blocked;
        }
        // The SDK's default for trigger is ALLOW_ALL: pass SKIP so a manual trigger never overlaps a cycle.
        await handle.trigger(ScheduleOverlapPolicy.SKIP);
        console.log(`schedule ${cmd.scheduleId} triggered: one cycle starts now, unless a cycle of this schedule is still running (overlap SKIP)`);
        if (state.paused) console.log('  The schedule is paused and stays paused: no further cycles start from it.');
        console.log(`  see it with \`btcbot schedule describe --id ${cmd.scheduleId}\``);
        return EXIT.ok;
      }
      case 'delete': {
        const running = (await handle.describe()).info.runningActions.map((a) => a.workflow.workflowId);
        await handle.delete();
        console.log(`schedule ${cmd.scheduleId} deleted: no new cycles will start from it`);
        console.log(
          running.length > 0
            ? `  ${running.length} cycle(s) it started are still running and were NOT stopped: ${running.join(', ')}`
            : '  Cycles it already started are not stopped by a delete.',
        );
        console.log('  To stop running cycles and block new ones: `btcbot halt`.');
        return EXIT.ok;
      }
    }
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) {
      console.error(`btcbot: schedule ${cmd.scheduleId} not found (create it with \`btcbot schedule create --id ${cmd.scheduleId}\`)`);
      return EXIT.blocked;
    }
    if (err instanceof ScheduleAlreadyRunning) {
      console.error(
        `btcbot: schedule ${cmd.scheduleId} already exists; see it with \`btcbot schedule describe --id ${cmd.scheduleId}\`, ` +
          'or delete it first to create it with new settings',
      );
      return EXIT.blocked;
    }
    throw err;
  } finally {
    await temporal.close();
  }
}

const actionWorkflowId = (scheduleId: string): string => `${WORKFLOW_ID_PREFIX}${scheduleId}`;

/** The schedules that start tradingCycle, one line each (their spec, state and what they trade). */
async function listSchedules(client: Client): Promise<number> {
  const rows: Array<[string, string]> = [];
  for await (const summary of client.schedule.list()) {
    if (summary.action?.workflowType !== TRADING_CYCLE_WORKFLOW) continue;
    try {
      const d = await client.schedule.getHandle(summary.scheduleId).describe();
      const input = d.action.args?.[0] as Partial<CycleInput> | undefined;
      const what = [
        input?.gates ? `mode ${describeGates(input.gates, input.dryRunRequested ?? false).split(':')[0]}` : null,
        input?.symbols ? `symbols ${input.symbols.join(',')}` : null,
        `task queue ${d.action.taskQueue}`,
      ].filter(Boolean).join('; ');
      rows.push([summary.scheduleId, `${scheduleStateLine(d)}; ${what}`]);
    } catch (err) {
      if (!(err instanceof ScheduleNotFoundError)) throw err; // deleted between the listing and the describe
    }
  }
  if (rows.length === 0) {
    console.log('no btcbot schedules (create one with `btcbot schedule create`)');
    return EXIT.ok;
  }
  console.log(`${rows.length} btcbot schedule(s)\n${formatTable(rows.sort(([a], [b]) => a.localeCompare(b)))}`);
  return EXIT.ok;
}

async function create(
  client: Client,
  o: { scheduleId: string; everyMs: number; paused?: boolean; taskQueue: string; input: CycleInput },
): Promise<ScheduleHandle> {
  return client.schedule.create({
    scheduleId: o.scheduleId,
    spec: { intervals: [{ every: o.everyMs }] },
    action: {
      type: 'startWorkflow',
      workflowType: TRADING_CYCLE_WORKFLOW,
      args: [o.input],
      taskQueue: o.taskQueue,
      workflowId: actionWorkflowId(o.scheduleId),
      workflowExecutionTimeout: CYCLE_TIMEOUT,
      staticSummary: `btcbot scheduled cycle (${o.input.symbols.join(', ')})`,
    },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: CATCHUP_WINDOW, pauseOnFailure: false },
    state: {
      paused: o.paused ?? false,
      note: o.paused ? 'created paused by btcbot schedule create' : 'created by btcbot schedule create',
    },
  });
}

function describeSpec(d: ScheduleDescription): string {
  const intervals = d.spec.intervals ?? [];
  const parts = intervals.map((i) => `every ${formatInterval(i.every)}${i.offset ? ` (offset ${formatInterval(i.offset)})` : ''}`);
  if ((d.spec.calendars ?? []).length > 0) parts.push(`${d.spec.calendars!.length} calendar spec(s)`);
  return parts.join(', ') || 'no times (runs only when triggered)';
}

/** One-line state of a schedule for `btcbot status`. */
export function scheduleStateLine(d: ScheduleDescription): string {
  const next = d.info.nextActionTimes[0];
  const state = d.state.paused ? `paused${d.state.note ? ` (${d.state.note})` : ''}` : 'active';
  return `${state}, ${describeSpec(d)}${!d.state.paused && next ? `, next run ${next.toISOString()}` : ''}`;
}

export function formatDescription(d: ScheduleDescription): string {
  const input = d.action.args?.[0] as Partial<CycleInput> | undefined;
  const recent = d.info.recentActions.map((a) => `${a.takenAt.toISOString()}  ${a.action.workflow.workflowId}`);
  const running = d.info.runningActions.map((a) => a.workflow.workflowId);
  const rows: Array<[string, string]> = [
    ['state', d.state.paused ? 'paused' : 'active'],
    ...(d.state.note ? [['note', d.state.note] as [string, string]] : []),
    ['spec', describeSpec(d)],
    ['cycles', `${d.action.workflowType} on task queue ${d.action.taskQueue}, workflow ids ${d.action.workflowId}-<nominal time>`],
  ];
  if (input?.gates) rows.push(['mode', describeGates(input.gates, input.dryRunRequested ?? false)]);
  if (input?.symbols) rows.push(['symbols', input.symbols.join(', ')]);
  rows.push(
    ['policies', `overlap ${d.policies.overlap}, catch-up window ${formatInterval(d.policies.catchupWindow)}, pause on failure ${d.policies.pauseOnFailure ? 'yes' : 'no'}`],
    ['next runs', d.state.paused ? '(paused)' : d.info.nextActionTimes.slice(0, 3).map((t) => t.toISOString()).join(', ') || 'none'],
    ['actions taken', String(d.info.numActionsTaken)],
    ['skipped for overlap', String(d.info.numActionsSkippedOverlap)],
    ['missed catch-up window', String(d.info.numActionsMissedCatchupWindow)],
    ['running', running.join(', ') || 'none'],
    ['recent actions', recent.length === 0 ? 'none' : recent[recent.length - 1]!],
  );
  // Older recent actions on their own lines, newest first.
  for (const line of recent.slice(0, -1).reverse()) rows.push(['', line]);
  return `schedule ${d.scheduleId}\n${formatTable(rows)}`;
}
