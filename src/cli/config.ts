// `btcbot config [--json]`: the effective configuration, every variable with its value and where
// the value came from (the environment, the .env file, the stack `btcbot up` recorded, or the
// default). Secrets are masked. Exit 0, or 2 when a value is invalid (each bad one is named).
import {
  describeTradingConfig,
  parseTradingConfig,
  tradingConfigHash,
  tradingConfigProblems,
  TRADING_CONFIG_VARIABLES,
  type TradingConfigVariable,
} from '../domain/config.js';
import { DEFAULT_TELEGRAM_API_URL } from '../observability/notifier.js';
import { redactUrl } from '../redaction.js';
import { SECRET_VARIABLES } from '../secrets.js';
import { maskKey } from './doctor.js';
import { describeProblems, type LoadedEnvFile } from './env-file.js';
import { EXIT } from './errors.js';
import { loadWorkerSettings, WorkerConfigError } from './worker.js';

export type ValueSource = 'environment' | 'env file' | 'btcbot up' | 'default';

/** What every command knows about where its configuration came from (built by main). */
export interface ConfigSources {
  envFile: LoadedEnvFile;
  /** The stack record consulted, when the command uses it. */
  stackRecordFile: string | null;
  sourceOf(name: string): ValueSource;
}

type Mask = 'secret' | 'key' | 'url';

interface VariableInfo {
  name: string;
  /** The default as a person reads it. */
  default: string;
  mask?: Mask;
}

const GATES: readonly TradingConfigVariable[] = ['KILL_SWITCH', 'DRY_RUN', 'LIVE_TRADING', 'LIVE_TRADING_ACK'];

/** Everything but the trading variables (those come from src/domain/config.ts with their defaults). */
export const PROCESS_VARIABLES: readonly VariableInfo[] = [
  { name: 'TEMPORAL_ADDRESS', default: '127.0.0.1:7233' },
  { name: 'TEMPORAL_NAMESPACE', default: 'default' },
  { name: 'BTCBOT_TASK_QUEUE', default: 'btcbot-cycles' },
  { name: 'DATABASE_URL', default: '(the local cluster in the data directory)', mask: 'url' },
  { name: 'BTCTURK_BASE_URL', default: '(none: required by `btcbot worker`)', mask: 'url' },
  { name: 'BTCTURK_API_KEY', default: '(none)', mask: 'key' },
  { name: 'BTCTURK_API_SECRET', default: '(none)', mask: 'secret' },
  { name: 'BTCBOT_PAYLOAD_KEY', default: '(none: payloads unencrypted)', mask: 'secret' },
  { name: 'BTCBOT_PAYLOAD_KEY_ID', default: 'k1' },
  // A webhook URL often carries its token in the path: shown as set, never in part.
  { name: 'BTCBOT_ALERT_WEBHOOK_URL', default: '(none: no webhook alerts)', mask: 'secret' },
  { name: 'BTCBOT_TELEGRAM_BOT_TOKEN', default: '(none: no Telegram alerts)', mask: 'secret' },
  { name: 'BTCBOT_TELEGRAM_CHAT_ID', default: '(none)' },
  { name: 'BTCBOT_TELEGRAM_API_URL', default: DEFAULT_TELEGRAM_API_URL },
  { name: 'BTCBOT_CODEC_TOKEN', default: '(none: the codec server stays on loopback)', mask: 'secret' },
  { name: 'LOG_LEVEL', default: 'info (worker), warn (up)' },
  { name: 'BTCBOT_SDK_LOG_LEVEL', default: 'warn' },
  { name: 'BTCBOT_METRICS_ADDRESS', default: 'off' },
  { name: 'BTCBOT_HEALTH_ADDRESS', default: 'off' },
  { name: 'BTCBOT_DATA_DIR', default: '.data in the project' },
  { name: 'BTCBOT_TEMPORAL_PORT', default: '7233' },
  { name: 'BTCBOT_UI_PORT', default: '8233' },
  { name: 'TEMPORAL_CLI_PATH', default: '(search PATH, then .tools/)' },
  { name: 'PG_BIN', default: '(search PATH, then /usr/lib/postgresql)' },
];

/** A variable btcbot does not list, named like a secret: masked all the same. */
const SECRET_NAME = /(SECRET|PASSWORD|PASSWD|TOKEN|API_KEY|PAYLOAD_KEY|PRIVATE_KEY)$/;

function shown(value: string, mask: Mask | undefined): string {
  switch (mask) {
    case 'secret':
      return '*** (set)';
    case 'key':
      return maskKey(value);
    case 'url':
      return redactUrl(value);
    default:
      return value;
  }
}

export interface ConfigRow {
  name: string;
  value: string;
  source: ValueSource;
}

function parsedOrNull(env: NodeJS.ProcessEnv): ReturnType<typeof parseTradingConfig> | null {
  try {
    return parseTradingConfig(env);
  } catch {
    return null;
  }
}

export function configReport(env: NodeJS.ProcessEnv, sources: ConfigSources) {
  const defaults = describeTradingConfig(parseTradingConfig({}));
  const parsed = parsedOrNull(env);
  // Valid trading values are shown as they take effect (`eth_try` → `ETHTRY`); invalid ones as given.
  const effective: Partial<Record<string, string>> = parsed ? describeTradingConfig(parsed) : {};
  const set = (name: string): string | undefined => (env[name]?.trim() === '' ? undefined : env[name]);
  const row = (name: string, dflt: string, mask?: Mask): ConfigRow => {
    const value = set(name);
    return value === undefined
      ? { name, value: dflt, source: 'default' }
      : { name, value: effective[name] ?? shown(value, mask ?? (SECRET_NAME.test(name) ? 'secret' : undefined)), source: sources.sourceOf(name) };
  };
  const trading = TRADING_CONFIG_VARIABLES.filter((n) => !GATES.includes(n));
  const groups: Array<[string, ConfigRow[]]> = [
    ['gates', GATES.map((n) => row(n, defaults[n] || '(none)'))],
    ['trading', trading.map((n) => row(n, defaults[n]))],
    ['process', PROCESS_VARIABLES.map((v) => row(v.name, v.default, v.mask))],
  ];

  const problems = tradingConfigProblems(env);
  try {
    loadWorkerSettings(env, { requireExchange: false });
  } catch (err) {
    if (!(err instanceof WorkerConfigError)) throw err;
    // The trading variables are listed one by one above; add the rest (infrastructure, logging, keys).
    problems.push(...err.problems.filter((p) => !TRADING_CONFIG_VARIABLES.some((v) => p.startsWith(`${v}:`))));
  }
  const hash = parsed ? tradingConfigHash(parsed) : null;
  const known = new Set<string>([...TRADING_CONFIG_VARIABLES, ...PROCESS_VARIABLES.map((v) => v.name), ...SECRET_VARIABLES.map((v) => `${v}_FILE`)]);
  const notRead = sources.envFile.applied.concat(sources.envFile.shadowed).filter((n) => !known.has(n)).sort();
  return { groups, problems, hash, notRead, envFileProblems: sources.envFile.problems.length > 0 ? describeProblems(sources.envFile) : null };
}

export function showConfig(env: NodeJS.ProcessEnv, sources: ConfigSources, { json }: { json: boolean }): number {
  const report = configReport(env, sources);
  const invalid = report.problems.length > 0 || report.envFileProblems !== null;
  if (json) {
    console.log(JSON.stringify({
      envFile: { path: sources.envFile.path, found: sources.envFile.found, applied: sources.envFile.applied.length, problems: sources.envFile.problems },
      stackRecord: sources.stackRecordFile,
      variables: report.groups.flatMap(([, rows]) => rows),
      tradingConfigHash: report.hash,
      problems: report.problems,
      notReadByBtcbot: report.notRead,
    }, null, 2));
    return invalid ? EXIT.blocked : EXIT.ok;
  }
  const file = sources.envFile;
  console.log(
    `configuration (precedence: environment, then ${file.found ? file.path : `${file.path} (not present)`}, then \`btcbot up\`'s record, then defaults)`,
  );
  const rows = report.groups.flatMap(([, r]) => r);
  const w = Math.max(...rows.map((r) => r.name.length));
  const v = Math.min(48, Math.max(...rows.map((r) => r.value.length)));
  for (const [title, group] of report.groups) {
    console.log(`\n${title}`);
    for (const r of group) console.log(`  ${r.name.padEnd(w)}  ${r.value.padEnd(v)}  ${r.source}`);
  }
  console.log(`\ntrading configuration hash  ${report.hash ?? '(none: invalid values)'}  (workers report theirs; \`btcbot doctor\` compares)`);
  if (sources.stackRecordFile) console.log(`stack record                ${sources.stackRecordFile}`);
  if (report.notRead.length > 0) console.log(`in the env file, not read by btcbot: ${report.notRead.join(', ')}`);
  if (report.envFileProblems) console.log(`env file problems: ${report.envFileProblems}`);
  for (const p of report.problems) console.log(`invalid: ${p}`);
  return invalid ? EXIT.blocked : EXIT.ok;
}
