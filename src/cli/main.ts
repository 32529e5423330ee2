// The `btcbot` command: parse the arguments, assemble the configuration (the environment, then
// the .env file, then the stack `btcbot up` recorded), run one command, map failures to exit codes.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { buildFreshness, packageVersion, readBuildInfo } from '../build-info.js';
import { applyStackRecord, stopLocalStack } from '../devenv/stack.js';
import { startSimulator } from '../simulator/server.js';
import { migrate } from '../store/migrations.js';
import { showConfig, type ConfigSources, type ValueSource } from './config.js';
import { log, openDatabase, projectRoot } from './context.js';
import { codecServer } from './codec-server.js';
import { cycleShow } from './cycle-show.js';
import { doctor } from './doctor.js';
import { orders, pnlDaily, trades } from './history.js';
import { describeProblems, extractEnvFileOption, loadEnvFile, type LoadedEnvFile } from './env-file.js';
import { EXIT, UsageError } from './errors.js';
import { halt, resume } from './halt.js';
import { settleOperatorAlerts } from './operator-alerts.js';
import { hasControlCharacters } from './printable.js';
import { DEFAULT_SCHEDULE_ID, parseEvery, schedule, validateScheduleId } from './schedule.js';
import { adopt, operatorName, parseAdoptSymbol, positions, positionsMode } from './positions.js';
import { stage4Run } from './stage4-run.js';
import { status } from './status.js';
import { up } from './up.js';
import { runWorker } from './worker.js';

type Options = NonNullable<ParseArgsConfig['options']>;
type Values = Record<string, string | boolean | undefined>;

interface Command {
  /** The arguments after the command name, as the help shows them. */
  args: string;
  summary: string;
  /** The per-command help: what it does, its exit codes. */
  help: string;
  options: Options;
  optionHelp?: Array<[string, string]>;
  /**
   * How a problem in the .env file is handled. `strict`: exit 2 before anything runs. `report`: the
   * well-formed entries apply and the command reports the problem itself (halt must never be
   * stopped by a bad .env; doctor and config exist to show it).
   */
  envFile: 'strict' | 'report';
  /** Uses the stack `btcbot up` recorded (every command that talks to Temporal or Postgres, but up and down). */
  stack: boolean;
  /** Runs until stopped (worker, up, simulator): stops when an npx parent goes away. */
  longRunning?: true;
  /** Takes one positional argument first (its name in the help), given to `run` as `values._`. */
  positional?: string;
  run(values: Values, sources: ConfigSources): Promise<number> | number;
}

const SCHEDULE_ID_HELP: [string, string] = ['--id ID', `the schedule (default ${DEFAULT_SCHEDULE_ID})`];

const HISTORY_OPTIONS: Options = { since: { type: 'string' }, symbol: { type: 'string' }, mode: { type: 'string' }, csv: { type: 'boolean' } };

function historyOptions(v: Values): { since: string | undefined; symbol: string | undefined; mode: string | undefined; csv: boolean } {
  return { since: v.since as string | undefined, symbol: v.symbol as string | undefined, mode: v.mode as string | undefined, csv: (v.csv as boolean | undefined) ?? false };
}

/** trades / orders: the history commands' shared options (--since 2026-12-01 | 2026-12-01T09:30:00Z | 24h | 7d). */
function historyCommand(name: 'trades' | 'orders' | 'pnl', modes: string, summary: string, help: string): Command {
  return {
    args: `[--since S] [--symbol S] [--mode ${modes}] [--csv]`, summary, help,
    options: HISTORY_OPTIONS,
    optionHelp: [
      ['--since S', 'from 2026-12-01, 2026-12-01T09:30:00Z, or 24h / 7d ago'], ['--symbol S', 'one pair, e.g. BTC_TRY'],
      ['--mode M', `${modes} (default all)`], ['--csv', 'RFC 4180 CSV, decimals as text'],
    ],
    envFile: 'strict', stack: true,
    run: (v) => (name === 'trades' ? trades(historyOptions(v)) : orders(historyOptions(v))),
  };
}

function scheduleCommand(sub: 'describe' | 'pause' | 'unpause' | 'delete', summary: string, help: string): Command {
  return {
    args: '[--id ID]', summary, help, options: { id: { type: 'string' } }, optionHelp: [SCHEDULE_ID_HELP], envFile: 'strict', stack: true,
    run: (v) => schedule({ sub, scheduleId: validateScheduleId((v.id as string | undefined) ?? DEFAULT_SCHEDULE_ID) }),
  };
}

const COMMANDS: Record<string, Command> = {
  up: {
    args: '[--once]',
    summary: 'start Temporal, Postgres, the simulator and a worker; run a dry-run cycle',
    help:
      'Start (or reuse) a Temporal dev server and a Postgres cluster under the data directory, a BTCTurk\n' +
      'simulator and a worker, and run one dry-run cycle against the simulator. Temporal and Postgres keep\n' +
      'running afterwards; `up` records where they are, and every later command uses that record unless\n' +
      'TEMPORAL_ADDRESS or DATABASE_URL says otherwise. It refuses a port held by a server it did not start.',
    options: { once: { type: 'boolean' } },
    optionHelp: [['--once', 'exit after the dry-run cycle (otherwise the worker keeps serving until Ctrl-C)']],
    envFile: 'strict', stack: false, longRunning: true,
    run: (v) => up({ once: (v.once as boolean | undefined) ?? false }),
  },
  down: {
    args: '', summary: 'stop the Temporal dev server and Postgres that `up` left running',
    help: 'Stop the Temporal dev server and the local Postgres cluster an earlier `btcbot up` started. Their data stays.',
    options: {}, envFile: 'strict', stack: false,
    run: async () => {
      const stopped = await stopLocalStack(projectRoot);
      log(stopped.length ? `stopped ${stopped.join(', ')}` : 'nothing was running');
      return EXIT.ok;
    },
  },
  worker: {
    args: '', summary: 'run a worker (needs BTCTURK_BASE_URL)',
    help:
      'Run a worker on BTCBOT_TASK_QUEUE. It validates its whole configuration first (exit 2 naming every\n' +
      'bad variable) and checks SYMBOLS against the exchange: a pair the exchange does not list exits 2; while\n' +
      'the exchange cannot be reached it warns and retries. SIGINT/SIGTERM stop it gracefully (exit 0).\n' +
      'BTCBOT_HEALTH_ADDRESS serves GET /health; BTCBOT_METRICS_ADDRESS serves /metrics.',
    options: { 'allow-stale-build': { type: 'boolean' } },
    optionHelp: [['--allow-stale-build', 'run a compiled build older than src/ (refused otherwise: `npm run build`)']],
    envFile: 'strict', stack: true, longRunning: true,
    run: (_v, sources) => runWorker(process.env, { envFiles: envFilesInUse(sources) }),
  },
  'stage4-run': {
    args: '[--dry-run] [--cycle-id ID]', summary: 'run one cycle through Temporal and wait (exit 0 ok, 1 failed, 2 blocked)',
    help:
      'Run one cycle through Temporal and wait for it; a worker must be running. Exit 0 ok, 1 failed,\n' +
      '2 blocked by policy or configuration (gates, a halt, another cycle of the account, an unknown symbol).',
    options: { 'dry-run': { type: 'boolean' }, 'cycle-id': { type: 'string' } },
    optionHelp: [
      ['--dry-run', 'simulate orders (OR-ed with DRY_RUN); a dry run is never blocked by the gates'],
      ['--cycle-id ID', 'the workflow id; the same id twice runs the cycle once'],
    ],
    envFile: 'strict', stack: true,
    run: (v) => {
      const cycleId = v['cycle-id'] as string | undefined;
      if (cycleId !== undefined && !/^[A-Za-z0-9._:-]{1,200}$/.test(cycleId)) {
        throw new UsageError('--cycle-id may contain only letters, digits and . _ : - (at most 200 characters)');
      }
      return stage4Run({ dryRun: (v['dry-run'] as boolean | undefined) ?? false, ...(cycleId ? { cycleId } : {}) });
    },
  },
  simulator: {
    args: '[--port N]', summary: 'serve the BTCTurk simulator on 127.0.0.1',
    help: 'Serve the BTCTurk simulator on 127.0.0.1 until SIGINT/SIGTERM. It prints its URL and its own test key pair.',
    options: { port: { type: 'string' } }, optionHelp: [['--port N', 'the port (default: a free one)']],
    envFile: 'strict', stack: false, longRunning: true,
    run: async (v) => {
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
    },
  },
  migrate: {
    args: '', summary: 'apply database migrations',
    help: 'Apply database migrations to DATABASE_URL (or the local cluster). Every command also migrates on first use.',
    options: {}, envFile: 'strict', stack: true,
    run: async () => {
      const { pool } = await openDatabase();
      const report = await migrate(pool);
      console.log(`schema at version ${report.current}`);
      await pool.end();
      return EXIT.ok;
    },
  },
  config: {
    args: '[--json]', summary: 'print the effective configuration and where each value comes from',
    help:
      'Print every variable btcbot reads: its effective value and its source (environment, env file,\n' +
      '`btcbot up` record, default), secrets masked, and the trading configuration hash workers report.\n' +
      'Exit 0, or 2 when a value is invalid or the env file has a malformed line.',
    options: { json: { type: 'boolean' } }, optionHelp: [['--json', 'one JSON object']],
    envFile: 'report', stack: true,
    run: (v, sources) => showConfig(process.env, sources, { json: (v.json as boolean | undefined) ?? false }),
  },
  halt: {
    args: '[--reason TEXT] [--cancel-open]', summary: 'persist a halt (blocks later cycles), signal running cycles',
    help:
      'Stop trading now: store the halt in Postgres (every later cycle is blocked until `btcbot resume`,\n' +
      'even with Temporal down), then signal every running cycle on the task queue; it prints which database\n' +
      'and Temporal server it used. A malformed .env never stops it: its well-formed lines apply. But it never\n' +
      'acts where a malformed (or unreadable) .env may have pointed it elsewhere: a step whose variables are in\n' +
      'doubt is not done, and says so. Exit 0 done, 1 Temporal unreachable (the halt is still stored) or a\n' +
      'cancel failed, 2 a step not done because of the .env (fix it, or set the variable in the environment).',
    options: { reason: { type: 'string' }, 'cancel-open': { type: 'boolean' } },
    optionHelp: [
      ['--reason TEXT', 'why (1-500 characters; default "operator halt")'],
      ['--cancel-open', "also cancel the bot's own open orders (a worker must be running)"],
    ],
    envFile: 'report', stack: true,
    run: (v, sources) => {
      const reason = ((v.reason as string | undefined) ?? 'operator halt').trim();
      if (reason === '' || reason.length > 500) throw new UsageError('--reason must be 1-500 characters');
      // It is stored, signalled to running cycles and printed by `status`: one plain line of text.
      if (hasControlCharacters(reason)) throw new UsageError('--reason must not contain control characters (newlines, escapes, bidirectional, zero-width or other invisible format characters)');
      return halt({ reason, cancelOpen: (v['cancel-open'] as boolean | undefined) ?? false }, sources);
    },
  },
  resume: {
    args: '', summary: 'lift the persisted halt',
    help: 'Lift the persisted halt (exit 0 also when trading was not halted). Cycles already halted stay halted.',
    options: {}, envFile: 'strict', stack: true,
    run: () => resume(),
  },
  status: {
    args: '[--json] [--cycles N] [--schedule-id ID]', summary: 'halt, recent cycles, positions, PnL, open orders, schedule',
    help: 'Show the halt, the last cycles, positions, PnL, open orders and the schedule. With Temporal unreachable it says so and shows the database state.',
    options: { json: { type: 'boolean' }, cycles: { type: 'string' }, 'schedule-id': { type: 'string' } },
    optionHelp: [['--json', 'one JSON object (decimal strings)'], ['--cycles N', 'how many cycles (1-1000, default 10)'], ['--schedule-id ID', `default ${DEFAULT_SCHEDULE_ID}`]],
    envFile: 'strict', stack: true,
    run: (v) => {
      const cycles = v.cycles === undefined ? 10 : Number(v.cycles);
      if (!Number.isInteger(cycles) || cycles < 1 || cycles > 1000) throw new UsageError('--cycles must be 1-1000');
      return status({
        json: (v.json as boolean | undefined) ?? false,
        cycles,
        scheduleId: v['schedule-id'] === undefined ? DEFAULT_SCHEDULE_ID : validateScheduleId(v['schedule-id'] as string, '--schedule-id'),
      });
    },
  },
  positions: {
    args: '[--mode live|dry_run] [--json]', summary: 'positions with how each began (inferred opening), quarantines, balance drift; or the paper ledger',
    help:
      'Show each position with how it began (an opening inferred from the exchange balance, or zero),\n' +
      'quarantined symbols with the fill that stopped them, and balance drift. `positions adopt SYMBOL`\n' +
      're-bases a symbol on the exchange balance (the way out of a quarantine). With --mode dry_run: the\n' +
      "paper ledger's positions and cash (what dry-run cycles traded on paper).",
    options: { json: { type: 'boolean' }, mode: { type: 'string' } },
    optionHelp: [['--mode M', 'live (the account, default) or dry_run (the paper ledger)'], ['--json', 'one JSON object (decimal strings)']],
    envFile: 'strict', stack: true,
    run: (v) => positions({ json: (v.json as boolean | undefined) ?? false, mode: positionsMode(v.mode as string | undefined) }),
  },
  trades: historyCommand('trades', 'live|dry_run|all', 'fills with fee and tax apart',
    'The fills of a ledger (live: the account; dry_run: the paper ledger), oldest first, with fee and tax\napart (Turkish tax reporting needs both).'),
  orders: historyCommand('orders', 'live|dry_run|external|all', "the bot's orders (and imported external ones)",
    "The bot's orders, live and dry-run, and the imported external ones, oldest first."),
  pnl: {
    ...historyCommand('pnl', 'live|dry_run|all', 'realized PnL per trading day (DAY_BOUNDARY_TZ) and equity',
      'Realized PnL per trading day (days start at DAY_BOUNDARY_TZ) and the last equity of each day.'),
    args: '--daily [--since S] [--symbol S] [--mode live|dry_run|all] [--csv]',
    options: { ...HISTORY_OPTIONS, daily: { type: 'boolean' } },
    run: (v) => {
      if (v.daily !== true) throw new UsageError('pnl needs --daily');
      return pnlDaily(historyOptions(v));
    },
  },
  'codec-server': {
    args: '[--port 8888] [--host 127.0.0.1] [--ui-origin http://127.0.0.1:8233]',
    summary: 'decode encrypted payloads for the Temporal UI (needs BTCBOT_PAYLOAD_KEY)',
    help: 'Serve the payload codec for the Temporal UI: decode only, on loopback, for the UI origin given.',
    options: { port: { type: 'string' }, host: { type: 'string' }, 'ui-origin': { type: 'string' } },
    optionHelp: [['--port N', 'default 8888'], ['--host H', 'default 127.0.0.1 (loopback only)'], ['--ui-origin URL', 'the UI allowed to call it']],
    envFile: 'strict', stack: false, longRunning: true,
    run: (v) => codecServer({ port: v.port as string | undefined, host: v.host as string | undefined, uiOrigin: v['ui-origin'] as string | undefined }),
  },
  doctor: {
    args: '', summary: 'check config, gates, symbols, Postgres, Temporal, worker, exchange',
    help:
      'One line per check, ok/warn/FAIL: configuration (and the env file), gates, Postgres, Temporal, a\n' +
      "worker polling (and whether its trading configuration matches this shell's), the exchange, SYMBOLS\n" +
      'on the exchange, credentials. It writes nothing. Exit 0 all ok, 1 a check failed, 2 a configuration\n' +
      'error (a bad variable, a malformed env file, a symbol the exchange does not list).',
    options: {}, envFile: 'report', stack: true,
    run: (_v, sources) => doctor(process.env, { ...sources, envFiles: envFilesInUse(sources) }),
  },
};

const SCHEDULE: Record<string, Command> = {
  create: {
    args: '[--every 1m] [--id ID] [--dry-run] [--paused]',
    summary: 'run cycles unattended through a Temporal Schedule',
    help:
      'Create a Temporal Schedule that runs one cycle every interval, with the gates and symbols of this\n' +
      'environment (fixed in the schedule). Overlap SKIP, catch-up window 1m. SYMBOLS is checked against\n' +
      'the exchange first when BTCTURK_BASE_URL is set: an unknown pair exits 2 and creates nothing.',
    options: { id: { type: 'string' }, every: { type: 'string' }, 'dry-run': { type: 'boolean' }, paused: { type: 'boolean' } },
    optionHelp: [
      ['--every D', 'the interval: 30s, 1m, 2m30s, 1h, 1d (at least 10s; default 1m)'],
      SCHEDULE_ID_HELP,
      ['--dry-run', 'every run is a dry run'],
      ['--paused', 'create it paused'],
    ],
    envFile: 'strict', stack: true,
    run: (v) =>
      schedule({
        sub: 'create',
        scheduleId: validateScheduleId((v.id as string | undefined) ?? DEFAULT_SCHEDULE_ID),
        everyMs: parseEvery((v.every as string | undefined) ?? '1m'),
        dryRun: (v['dry-run'] as boolean | undefined) ?? false,
        paused: (v.paused as boolean | undefined) ?? false,
      }),
  },
  describe: scheduleCommand('describe', 'show a schedule', 'Show a schedule: spec, state, next runs, recent and running cycles, skipped and missed counts.'),
  pause: scheduleCommand('pause', 'pause it (a running cycle is not stopped)', 'Pause a schedule: no new cycles start. A running cycle is not stopped; `btcbot halt` stops it.'),
  unpause: scheduleCommand('unpause', 'resume it', 'Unpause a schedule: cycles start again at the next interval.'),
  trigger: {
    args: '[--id ID] [--even-if-paused]', summary: 'run one cycle now (never overlapping a running one)',
    help:
      'Run one cycle of the schedule now, unless one of its cycles is still running (overlap SKIP).\n' +
      'A paused schedule is paused for a reason: trigger refuses it (exit 2) unless --even-if-paused.',
    options: { id: { type: 'string' }, 'even-if-paused': { type: 'boolean' } },
    optionHelp: [SCHEDULE_ID_HELP, ['--even-if-paused', 'run the cycle although the schedule is paused (it stays paused)']],
    envFile: 'strict', stack: true,
    run: (v) => schedule({
      sub: 'trigger',
      scheduleId: validateScheduleId((v.id as string | undefined) ?? DEFAULT_SCHEDULE_ID),
      evenIfPaused: (v['even-if-paused'] as boolean | undefined) ?? false,
    }),
  },
  delete: scheduleCommand('delete', 'delete it (running cycles are not stopped: use halt)', 'Delete a schedule. Cycles it already started are not stopped; `btcbot halt` stops them.'),
  list: {
    args: '', summary: "list btcbot's schedules",
    help: 'List the schedules that run btcbot cycles: id, state, interval, next run, mode and symbols.',
    options: {}, envFile: 'strict', stack: true,
    run: () => schedule({ sub: 'list', scheduleId: DEFAULT_SCHEDULE_ID }),
  },
};

const CYCLE_SHOW: Command = {
  args: '<id|latest> [--json]', summary: 'the story of one cycle: gates, per symbol what was planned and why not, actions, alerts, error',
  help: 'Tell one cycle\'s story from its audit row: gates and mode, per symbol what was planned and why not\n(canary skips, risk rejections with the limit that hit, quarantines), each action and its outcome,\nalerts, and the error with its step. `latest` is the newest cycle.',
  options: { json: { type: 'boolean' } }, optionHelp: [['--json', 'one JSON object']],
  envFile: 'strict', stack: true, positional: 'ID',
  run: (v) => {
    const id = v._ as string | undefined;
    if (id === undefined) throw new UsageError('cycle show needs a cycle id or `latest`');
    return cycleShow({ cycleId: id, json: (v.json as boolean | undefined) ?? false });
  },
};

const POSITIONS_ADOPT: Command = {
  args: 'SYMBOL [--cancel]', summary: 'ask the next cycle to re-base SYMBOL on the exchange balance (ends a quarantine)',
  help:
    'Ask the next cycle to re-infer SYMBOL (one of SYMBOLS, quoted in TRY) from the exchange balance:\n' +
    'its position becomes the balance, at the current mark, and a quarantine ends. --cancel withdraws\n' +
    'a request not yet taken. Exit 2 for a pair the bot does not account.',
  options: { cancel: { type: 'boolean' } }, optionHelp: [['--cancel', 'withdraw a pending request']],
  envFile: 'strict', stack: true, positional: 'SYMBOL',
  run: (v) => {
    const cancel = (v.cancel as boolean | undefined) ?? false;
    return adopt({ symbol: parseAdoptSymbol(v._ as string | undefined, process.env, { cancel }), by: operatorName(), cancel });
  },
};

const GLOBAL_HELP: Array<[string, string]> = [
  ['--env-file PATH', 'read PATH instead of ./.env (the real environment wins over the file)'],
  ['-h, --help', 'this help'],
];

function table(rows: Array<[string, string]>, width = 33): string {
  return rows.map(([left, right]) => (left.length < width - 1 ? `  ${left.padEnd(width - 2)}${right}` : `  ${left}\n${' '.repeat(width)}${right}`)).join('\n');
}

const USAGE = `usage: btcbot [--env-file PATH] <command> [options]      (btcbot <command> --help for more)

commands:
${table(['up', 'down', 'worker', 'stage4-run', 'simulator', 'migrate', 'config'].map((n) => [`${n} ${COMMANDS[n]!.args}`.trim(), COMMANDS[n]!.summary]))}

operations:
${table(Object.entries(SCHEDULE).map(([n, c]) => [`schedule ${n} ${c.args}`.trim(), c.summary]))}
${table(['halt', 'resume', 'status', 'positions'].map((n) => [`${n} ${COMMANDS[n]!.args}`.trim(), COMMANDS[n]!.summary]))}
${table([[`positions adopt ${POSITIONS_ADOPT.args}`, POSITIONS_ADOPT.summary]])}
${table(['doctor'].map((n) => [`${n} ${COMMANDS[n]!.args}`.trim(), COMMANDS[n]!.summary]))}
${table([[`cycle show ${CYCLE_SHOW.args}`, CYCLE_SHOW.summary]])}

history:
${table(['trades', 'orders', 'pnl'].map((n) => [`${n} ${COMMANDS[n]!.args}`.trim(), COMMANDS[n]!.summary]))}

${table(['codec-server'].map((n) => [`${n} ${COMMANDS[n]!.args}`.trim(), COMMANDS[n]!.summary]))}

${table([...GLOBAL_HELP, ['--version', 'the version and build']])}
`;

function helpOf(name: string, c: Command): string {
  const options = [...(c.optionHelp ?? []), ...GLOBAL_HELP];
  return `usage: btcbot ${name} ${c.args}`.trimEnd() + `\n\n${c.help}\n\noptions:\n${table(options, 22)}\n`;
}

const compiled = import.meta.url.endsWith('.js');
/** A compiled build older than the sources next to it (`git pull` without `npm run build`). */
const staleBuild = compiled && buildFreshness() === 'stale';
const STALE = 'dist/ was built from other sources than src/ holds now';

function versionText(): string {
  if (!compiled) return `btcbot ${packageVersion()} (running the TypeScript sources through tsx)`;
  const info = readBuildInfo();
  return `btcbot ${packageVersion()} (compiled ${info?.builtAt ?? 'at an unknown time'}, sources ${info?.sourceHash.slice(0, 12) ?? 'unknown'}` +
    `${staleBuild ? ', OLDER than src/: run `npm run build`' : ''})`;
}

function parse(argv: string[], options: Options): Values {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values as Values;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** Which command `argv` names, with its help name and remaining arguments. */
function resolveCommand(argv: string[]): { name: string; command: Command; args: string[] } {
  const [first, ...rest] = argv;
  if (first === 'schedule') {
    const [sub, ...args] = rest;
    const command = sub === undefined ? undefined : SCHEDULE[sub];
    if (!command) {
      throw new UsageError(`schedule needs one of ${Object.keys(SCHEDULE).join(', ')}${sub === undefined ? '' : `, got ${JSON.stringify(sub)}`}`);
    }
    return { name: `schedule ${sub}`, command, args };
  }
  if (first === 'cycle') {
    if (rest[0] !== 'show') throw new UsageError(`cycle needs show${rest[0] === undefined ? '' : `, got ${JSON.stringify(rest[0])}`}`);
    return { name: 'cycle show', command: CYCLE_SHOW, args: rest.slice(1) };
  }
  if (first === 'positions' && rest[0] === 'adopt') return { name: 'positions adopt', command: POSITIONS_ADOPT, args: rest.slice(1) };
  const command = first === undefined ? undefined : COMMANDS[first];
  if (!command) throw new UsageError(`unknown command ${JSON.stringify(first)}`);
  return { name: first!, command, args: rest };
}

/** The command currently running, for the usage text of a UsageError. */
let current: { name: string; command: Command } | null = null;

/** The env file this command read, for the check that no other user can read a secret in it. */
function envFilesInUse(sources: ConfigSources): string[] {
  return sources.envFile.found ? [sources.envFile.path] : [];
}

export async function main(argv: string[]): Promise<number> {
  const original = new Set(Object.keys(process.env));
  const { path: envFilePath, rest } = extractEnvFileOption(argv);
  const [first] = rest;
  if (staleBuild && first !== 'worker') log(`warning: ${STALE}; run \`npm run build\` (or \`npm run btcbot -- ...\` to run the sources)`);
  if (first === undefined || first === 'help' || first === '--help' || first === '-h') {
    const topic = first === 'help' ? rest.slice(1) : [];
    if (topic.length > 0) {
      const { name, command } = resolveCommand(topic);
      console.log(helpOf(name, command));
    } else console.log(USAGE);
    return first === undefined ? EXIT.blocked : EXIT.ok;
  }
  if (first === '--version' || first === '-V' || first === 'version') {
    console.log(versionText());
    return EXIT.ok;
  }
  const { name, command, args } = resolveCommand(rest);
  current = { name, command };
  if (args.includes('--help') || args.includes('-h')) {
    console.log(helpOf(name, command));
    return EXIT.ok;
  }
  const positional = command.positional && args[0] !== undefined && !args[0].startsWith('-') ? args[0] : undefined;
  const values = parse(positional === undefined ? args : args.slice(1), command.options);
  if (positional !== undefined) values._ = positional;
  if (staleBuild && name === 'worker') {
    // A worker serves cycles for hours: yesterday's code must be a decision, not an accident.
    if (!values['allow-stale-build']) {
      console.error(`btcbot: ${STALE}: run \`npm run build\` (or \`btcbot worker --allow-stale-build\` to run it anyway)`);
      return EXIT.blocked;
    }
    log(`--allow-stale-build: running a build older than src/ (${STALE})`);
  }
  if (command.longRunning) stopWhenNpmParentExits();

  const envFile: LoadedEnvFile = loadEnvFile(process.env, { ...(envFilePath ? { path: envFilePath } : {}), strict: command.envFile === 'strict' });
  if (envFile.problems.length > 0) log(`warning: ${describeProblems(envFile)}${envFile.found ? ' (its well-formed lines were applied)' : ''}`);
  const fromFile = new Set(envFile.applied);
  let fromStack = new Set<string>();
  const sourceOf = (n: string): ValueSource =>
    original.has(n) ? 'environment' : fromFile.has(n) ? 'env file' : fromStack.has(n) ? 'btcbot up' : 'default';
  let stackRecordFile: string | null = null;
  if (command.stack) {
    const stack = applyStackRecord(projectRoot, process.env);
    fromStack = new Set(stack.applied);
    stackRecordFile = stack.recordFile;
    for (const notice of stack.notices) log(notice);
  }
  return command.run(values, { envFile, stackRecordFile, sourceOf });
}

/**
 * Under `npx` the parent is npm, or (when npm's script shell is not bash) a shell npm started. npm
 * forwards SIGTERM to that child only; a shell then dies without passing it on. When the parent
 * goes away, stop as if the signal had arrived, instead of running on without anyone to stop us.
 */
function stopWhenNpmParentExits(): void {
  if (process.env.npm_lifecycle_event !== 'npx') return;
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    log('the npx process that started this one exited: stopping as on SIGTERM');
    process.kill(process.pid, 'SIGTERM');
  }, 500);
  timer.unref();
}

main(process.argv.slice(2)).then(
  async (code) => {
    await settleOperatorAlerts(); // halt and resume alerts still on their way
    process.exit(code);
  },
  async (err: unknown) => {
    await settleOperatorAlerts();
    if (err instanceof UsageError) {
      console.error(`btcbot: ${err.message}\n\n${current ? helpOf(current.name, current.command) : USAGE}`);
      process.exit(EXIT.blocked);
    }
    const e = err as Error;
    // Configuration problems are policy-level: exit 2 with a one-line message, no stack.
    if (e.name === 'ConfigError' || e.name === 'ExchangeConfigError' || e.name === 'DevEnvError') {
      console.error(`btcbot: ${e.name}: ${e.message}`);
      process.exit(EXIT.blocked);
    }
    if (e.name === 'TemporalUnreachableError' || e.name === 'PostgresUnreachableError') {
      console.error(`btcbot: ${e.message}`);
      process.exit(EXIT.failed);
    }
    console.error(err);
    process.exit(EXIT.failed);
  },
);
