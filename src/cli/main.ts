// The `btcbot` command.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { stopLocalStack } from '../devenv/stack.js';
import { startSimulator } from '../simulator/server.js';
import { migrate } from '../store/migrations.js';
import { log, openDatabase, projectRoot } from './context.js';
import { codecServer } from './codec-server.js';
import { cycleShow } from './cycle-show.js';
import { doctor } from './doctor.js';
import { orders, pnlDaily, trades } from './history.js';
import { EXIT, UsageError } from './errors.js';
import { halt, resume } from './halt.js';
import { settleOperatorAlerts } from './operator-alerts.js';
import { hasControlCharacters } from './printable.js';
import { DEFAULT_SCHEDULE_ID, parseEvery, schedule, validateScheduleId, type ScheduleSubcommand } from './schedule.js';
import { stage4Run } from './stage4-run.js';
import { status } from './status.js';
import { up } from './up.js';
import { runWorker } from './worker.js';

const USAGE = `usage: btcbot <command> [options]

commands:
  up [--once]                      start Temporal, Postgres, the simulator and a worker; run a dry-run cycle
  down                             stop the Temporal dev server and Postgres that \`up\` left running
  worker                           run a worker (needs BTCTURK_BASE_URL)
  stage4-run [--dry-run] [--cycle-id ID]
                                   run one cycle through Temporal and wait (exit 0 ok, 1 failed, 2 blocked)
  simulator [--port N]             serve the BTCTurk simulator on 127.0.0.1
  migrate                          apply database migrations

operations:
  schedule create [--every 1m] [--id ID] [--dry-run] [--paused]
                                   run cycles unattended through a Temporal Schedule (every >= 10s;
                                   overlap SKIP, catch-up window 1m; gates and symbols from this env)
  schedule describe|pause|unpause|trigger|delete [--id ID]
                                   inspect or control it (default id ${DEFAULT_SCHEDULE_ID}); trigger never overlaps
                                   a running cycle; delete does not stop running cycles (use halt)
  halt [--reason TEXT] [--cancel-open]
                                   persist a halt (blocks later cycles), signal running cycles;
                                   --cancel-open also cancels the bot's own open orders
  resume                           lift the persisted halt
  status [--json] [--cycles N] [--schedule-id ID]
                                   halt, recent cycles, positions, PnL, open orders, schedule
  doctor                           check config, gates, Postgres, Temporal, worker, exchange
                                   (exit 0 all ok, 1 a check failed, 2 configuration error)
  cycle show <id|latest> [--json]  the story of one cycle: gates, per symbol what was planned and why
                                   not, each action and its outcome, alerts, the error and its step

history (--since 2026-12-01 | 2026-12-01T09:30:00Z | 24h | 7d; --symbol BTC_TRY; --csv for RFC 4180 CSV):
  trades [--since S] [--symbol S] [--mode live|dry_run|all] [--csv]
                                   fills with fee and tax apart
  orders [--since S] [--symbol S] [--mode live|dry_run|external|all] [--csv]
                                   the bot's orders (and imported external ones)
  pnl --daily [--since S] [--mode live|dry_run|all] [--csv]
                                   realized PnL per trading day (DAY_BOUNDARY_TZ) and equity

  codec-server [--port 8888] [--host 127.0.0.1] [--ui-origin http://127.0.0.1:8233]
                                   decode encrypted payloads for the Temporal UI (needs BTCBOT_PAYLOAD_KEY)
`;

const SCHEDULE_SUBCOMMANDS: readonly ScheduleSubcommand[] = ['create', 'describe', 'pause', 'unpause', 'trigger', 'delete'];

function parse<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'up':
      return up({ once: parse(rest, { once: { type: 'boolean' } }).once ?? false });
    case 'down': {
      parse(rest, {});
      const stopped = await stopLocalStack(projectRoot);
      log(stopped.length ? `stopped ${stopped.join(', ')}` : 'nothing was running');
      return EXIT.ok;
    }
    case 'worker':
      parse(rest, {});
      return runWorker();
    case 'stage4-run': {
      const v = parse(rest, { 'dry-run': { type: 'boolean' }, 'cycle-id': { type: 'string' } });
      const cycleId = v['cycle-id'];
      if (cycleId !== undefined && !/^[A-Za-z0-9._:-]{1,200}$/.test(cycleId)) {
        throw new UsageError('--cycle-id may contain only letters, digits and . _ : - (at most 200 characters)');
      }
      return stage4Run({ dryRun: v['dry-run'] ?? false, ...(cycleId ? { cycleId } : {}) });
    }
    case 'simulator': {
      const v = parse(rest, { port: { type: 'string' } });
      const port = v.port === undefined ? 0 : Number(v.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError('--port must be 0-65535');
      const sim = await startSimulator({ port });
      console.log(`BTCTurk simulator listening on ${sim.url} (Ctrl-C to stop)`);
      // The simulator's own test key pair: not a real credential, safe to show.
      console.log(`  BTCTURK_BASE_URL=${sim.url} BTCTURK_API_KEY=${sim.credentials.apiKey} BTCTURK_API_SECRET=${sim.credentials.apiSecret}`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await sim.close();
      return EXIT.ok;
    }
    case 'migrate': {
      parse(rest, {});
      const { pool } = await openDatabase();
      const report = await migrate(pool);
      console.log(`schema at version ${report.current}`);
      await pool.end();
      return EXIT.ok;
    }
    case 'schedule': {
      const [sub, ...opts] = rest;
      if (!SCHEDULE_SUBCOMMANDS.includes(sub as ScheduleSubcommand)) {
        throw new UsageError(`schedule needs one of ${SCHEDULE_SUBCOMMANDS.join(', ')}${sub === undefined ? '' : `, got ${JSON.stringify(sub)}`}`);
      }
      const idOption = { id: { type: 'string' } } as const;
      if (sub === 'create') {
        const v = parse(opts, { ...idOption, every: { type: 'string' }, 'dry-run': { type: 'boolean' }, paused: { type: 'boolean' } });
        return schedule({
          sub,
          scheduleId: validateScheduleId(v.id ?? DEFAULT_SCHEDULE_ID),
          everyMs: parseEvery(v.every ?? '1m'),
          dryRun: v['dry-run'] ?? false,
          paused: v.paused ?? false,
        });
      }
      const v = parse(opts, idOption);
      return schedule({ sub: sub as ScheduleSubcommand, scheduleId: validateScheduleId(v.id ?? DEFAULT_SCHEDULE_ID) });
    }
    case 'halt': {
      const v = parse(rest, { reason: { type: 'string' }, 'cancel-open': { type: 'boolean' } });
      const reason = (v.reason ?? 'operator halt').trim();
      if (reason === '' || reason.length > 500) throw new UsageError('--reason must be 1-500 characters');
      // It is stored, signalled to running cycles and printed by `status`: one plain line of text.
      if (hasControlCharacters(reason)) throw new UsageError('--reason must not contain control characters (newlines, escapes, bidirectional, zero-width or other invisible format characters)');
      return halt({ reason, cancelOpen: v['cancel-open'] ?? false });
    }
    case 'resume':
      parse(rest, {});
      return resume();
    case 'status': {
      const v = parse(rest, { json: { type: 'boolean' }, cycles: { type: 'string' }, 'schedule-id': { type: 'string' } });
      const cycles = v.cycles === undefined ? 10 : Number(v.cycles);
      if (!Number.isInteger(cycles) || cycles < 1 || cycles > 1000) throw new UsageError('--cycles must be 1-1000');
      return status({
        json: v.json ?? false,
        cycles,
        scheduleId: v['schedule-id'] === undefined ? DEFAULT_SCHEDULE_ID : validateScheduleId(v['schedule-id'], '--schedule-id'),
      });
    }
    case 'doctor':
      parse(rest, {});
      return doctor();
    case 'cycle': {
      const [sub, id, ...opts] = rest;
      if (sub !== 'show' || id === undefined || id.startsWith('-')) throw new UsageError('usage: btcbot cycle show <cycle id|latest> [--json]');
      return cycleShow({ cycleId: id, json: parse(opts, { json: { type: 'boolean' } }).json ?? false });
    }
    case 'trades':
    case 'orders':
    case 'pnl': {
      const v = parse(rest, { since: { type: 'string' }, symbol: { type: 'string' }, mode: { type: 'string' }, csv: { type: 'boolean' }, daily: { type: 'boolean' } });
      if ((command === 'pnl') !== (v.daily === true)) throw new UsageError(command === 'pnl' ? 'pnl needs --daily' : `--daily is an option of pnl, not ${command}`);
      const opts = { since: v.since, symbol: v.symbol, mode: v.mode, csv: v.csv ?? false };
      return command === 'trades' ? trades(opts) : command === 'orders' ? orders(opts) : pnlDaily(opts);
    }
    case 'codec-server': {
      const v = parse(rest, { port: { type: 'string' }, host: { type: 'string' }, 'ui-origin': { type: 'string' } });
      return codecServer({ port: v.port, host: v.host, uiOrigin: v['ui-origin'] });
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return command === undefined ? EXIT.blocked : EXIT.ok;
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  }
}

main(process.argv.slice(2)).then(
  async (code) => {
    await settleOperatorAlerts(); // halt and resume alerts still on their way
    process.exit(code);
  },
  async (err: unknown) => {
    await settleOperatorAlerts();
    if (err instanceof UsageError) {
      console.error(`btcbot: ${err.message}\n\n${USAGE}`);
      process.exit(EXIT.blocked);
    }
    const e = err as Error;
    // Configuration problems are policy-level: exit 2 with a one-line message, no stack.
    if (e.name === 'ConfigError' || e.name === 'ExchangeConfigError' || e.name === 'DevEnvError') {
      console.error(`btcbot: ${e.name}: ${e.message}`);
      process.exit(EXIT.blocked);
    }
    if (e.name === 'TemporalUnreachableError') {
      console.error(`btcbot: ${e.message}`);
      process.exit(EXIT.failed);
    }
    console.error(err);
    process.exit(EXIT.failed);
  },
);
