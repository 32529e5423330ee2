// The local development stack behind `btcbot up`: a Temporal dev server and a Postgres cluster
// that outlive the command (so the UI, `temporal workflow list` and psql keep working after a
// `--once` run), kept under .data/ and reused on the next run. `btcbot down` stops them.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { temporalConnection, type TemporalConnectOptions } from '../temporal-connection.js';
import { ensurePostgres, stopLocalPostgres } from './postgres.js';
import { DevEnvError, isPortOpen, isProcessAlive, makePrivateDir, refuseSharedDir } from './process.js';
import {
  ensureSearchAttributes,
  ensureTemporalCli,
  namespaceReady,
  startTemporalDevServer,
  stopProcess,
  type TemporalCli,
} from './temporal.js';

export interface LocalStack {
  temporalAddress: string;
  /** How to connect: the operator's TLS/API key for their TEMPORAL_ADDRESS, plaintext to our own dev server. */
  temporalOptions: TemporalConnectOptions;
  namespace: string;
  uiUrl: string | null;
  temporalCli: TemporalCli;
  databaseUrl: string;
  dataDir: string;
  /** The dev server's pid when `up` manages it; null for an operator-provided TEMPORAL_ADDRESS. */
  temporalPid: number | null;
  /** What this call started (as opposed to found running). */
  started: string[];
}

interface TemporalState {
  pid: number;
  port: number;
  uiPort: number;
}

export const DEFAULT_TEMPORAL_PORT = 7233;
export const DEFAULT_UI_PORT = 8233;

/**
 * Where `up` keeps its services' state: BTCBOT_DATA_DIR, default `<project>/.data`. A shared
 * directory (sticky like /tmp, world-writable, or another user's) is refused, naming the variable.
 */
export function localDataDir(projectRoot: string, env: NodeJS.ProcessEnv = process.env): string {
  const named = env.BTCBOT_DATA_DIR?.trim();
  if (!named) return join(projectRoot, '.data');
  refuseSharedDir(named, 'BTCBOT_DATA_DIR');
  return named;
}

function portFromEnv<T extends number | null>(env: NodeJS.ProcessEnv, name: string, fallback: T): number | T {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new DevEnvError(`${name} must be a port number`);
  return port;
}

/** Where `up` records what it set up, for every later command (see `applyStackRecord`). */
export const STACK_RECORD_FILE = 'stack.json';

/** What `btcbot up` set up, written to `<data dir>/stack.json`. Holds no secret. */
export interface StackRecord {
  temporal: {
    address: string;
    namespace: string;
    uiUrl: string | null;
    /** The dev server `up` started (null: an operator-provided TEMPORAL_ADDRESS). */
    pid: number | null;
  };
  /** The project's local cluster, or an operator-provided DATABASE_URL (password masked). */
  postgres: { local: true; dataDir: string } | { local: false; url: string };
  recordedAt: string;
}

/**
 * A state file `up` wrote: its content if it has the expected shape, null when there is none, or
 * why it cannot be used (a crash or a full disk mid-write, an edit by hand). Never throws.
 */
function readState<T>(file: string, valid: (v: unknown) => v is T): { value: T | null; problem: string | null } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { value: null, problem: null };
    return { value: null, problem: `unreadable: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` };
  }
  if (text.trim() === '') return { value: null, problem: 'empty' };
  try {
    const parsed: unknown = JSON.parse(text);
    if (valid(parsed)) return { value: parsed, problem: null };
  } catch {
    // falls through: not JSON
  }
  return { value: null, problem: 'not a record `btcbot up` wrote' };
}

/** Write `file` whole or not at all: a temporary file next to it, then a rename over it. */
function writeState(file: string, value: unknown): void {
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  renameSync(temporary, file);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isPid = (v: unknown): v is number | null => v === null || (Number.isInteger(v) && (v as number) > 0);

function isStackRecord(v: unknown): v is StackRecord {
  if (!isObject(v) || !isObject(v.temporal) || !isObject(v.postgres)) return false;
  const { address, namespace, pid } = v.temporal;
  return typeof address === 'string' && address !== '' && typeof namespace === 'string' && isPid(pid ?? null) &&
    (v.postgres.local === true || typeof v.postgres.url === 'string');
}

function isTemporalState(v: unknown): v is TemporalState {
  return isObject(v) && isPid(v.pid) && v.pid !== null && Number.isInteger(v.port) && Number.isInteger(v.uiPort);
}

function loadStackRecord(dataDir: string): { value: StackRecord | null; problem: string | null } {
  return readState(join(dataDir, STACK_RECORD_FILE), isStackRecord);
}

export function readStackRecord(dataDir: string): StackRecord | null {
  return loadStackRecord(dataDir).value;
}

export function writeStackRecord(dataDir: string, record: StackRecord): void {
  writeState(join(dataDir, STACK_RECORD_FILE), record);
}

/** The dev server an earlier `up` started, if that process still runs (a reused pid is not ours). */
function runningDevServer(pid: number): boolean {
  if (!isProcessAlive(pid)) return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('start-dev');
  } catch {
    return true; // no /proc (not Linux): trust the pid
  }
}

export async function ensureLocalStack(
  projectRoot: string,
  log: (line: string) => void,
  env: NodeJS.ProcessEnv = process.env,
): Promise<LocalStack> {
  // Only ours; as root, the cluster's postgres user must pass through to .data/postgres. A
  // directory the operator named is made private when missing, and otherwise left as it is.
  const dataDir = makePrivateDir(localDataDir(projectRoot, env), {
    passThrough: process.getuid?.() === 0 && !env.DATABASE_URL,
    own: !env.BTCBOT_DATA_DIR?.trim(),
  });
  const started: string[] = [];
  const namespace = env.TEMPORAL_NAMESPACE?.trim() || 'default';

  const temporalCli = await ensureTemporalCli(projectRoot, log);
  let temporalAddress = env.TEMPORAL_ADDRESS?.trim() || '';
  let temporalOptions: TemporalConnectOptions = { address: temporalAddress };
  let uiUrl: string | null = null;
  let pid: number | null = null;
  if (temporalAddress) {
    // An operator-provided server: use it as is, with the operator's TLS or API key.
    temporalOptions = temporalConnection(temporalAddress, env).options;
    if (!(await namespaceReady(temporalOptions, namespace))) {
      throw new DevEnvError(`TEMPORAL_ADDRESS=${temporalAddress} does not answer (namespace ${namespace})`);
    }
  } else {
    if (!temporalConnection('', env).plaintext) {
      throw new DevEnvError('TEMPORAL_TLS_* or TEMPORAL_API_KEY is set, but the local dev server speaks plaintext only: set TEMPORAL_ADDRESS to the server they are for, or unset them');
    }
        const stateFile = join(makePrivateDir(join(dataDir, 'temporal')), 'server.json');
    const { value: state, problem } = readState(stateFile, isTemporalState);
    if (problem) log(`${stateFile} cannot be read (${problem}): ignored`);
    const ours = state !== null && runningDevServer(state.pid);
    const askedPort = portFromEnv(env, 'BTCBOT_TEMPORAL_PORT', null);
    const askedUiPort = portFromEnv(env, 'BTCBOT_UI_PORT', null);
    // A server an earlier `up` started keeps its ports; a new one takes the ports asked for, else
    // the previous ones (the UI links printed before stay valid), else the defaults.
    const port = ours ? state.port : (askedPort ?? state?.port ?? DEFAULT_TEMPORAL_PORT);
    const uiPort = ours ? state.uiPort : (askedUiPort ?? state?.uiPort ?? DEFAULT_UI_PORT);
    temporalAddress = `127.0.0.1:${port}`;
    temporalOptions = { address: temporalAddress };
    uiUrl = `http://127.0.0.1:${uiPort}`;
    if (ours && askedPort !== null && askedPort !== state.port) {
      log(`BTCBOT_TEMPORAL_PORT=${askedPort}, but the dev server an earlier \`btcbot up\` started runs on ${state.port}: using it (\`btcbot down\`, then \`up\`, to move it)`);
    }
    if (ours) {
      pid = state.pid;
      if (!(await namespaceReady(temporalOptions, namespace))) {
        throw new DevEnvError(`the Temporal dev server started by an earlier \`btcbot up\` (pid ${state.pid}) does not answer on ${temporalAddress}; \`btcbot down\` stops it`);
      }
    } else if (await isPortOpen(port)) {
      // Whatever answers here, this data directory did not start it: never act on someone else's server.
      const what = (await namespaceReady(temporalOptions, namespace)) ? 'a Temporal server that `btcbot up` did not start' : 'something that is not a Temporal server';
      throw new DevEnvError(
        `port ${port} is taken by ${what}; set TEMPORAL_ADDRESS=${temporalAddress} to use it on purpose, or BTCBOT_TEMPORAL_PORT to start our own on another port`,
      );
    } else {
      log(`starting the Temporal dev server on ${temporalAddress} (UI ${uiUrl}) with ${temporalCli.path}`);
      const server = await startTemporalDevServer({
        cliPath: temporalCli.path,
        port,
        uiPort,
        dbFilename: join(dataDir, 'temporal', 'dev.db'),
        logFile: join(dataDir, 'temporal', 'server.log'),
        detached: true,
      });
      writeState(stateFile, { pid: server.pid, port, uiPort } satisfies TemporalState);
      pid = server.pid;
      started.push('temporal');
    }
  }
  const connection = await Connection.connect(temporalOptions);
  try {
    const added = await ensureSearchAttributes(connection, namespace);
    if (added.length > 0) log(`registered search attributes: ${added.join(', ')}`);
  } finally {
    await connection.close();
  }

  if (!env.DATABASE_URL) log(`starting (or reusing) the local Postgres cluster in ${join(dataDir, 'postgres')}`);
  const postgres = await ensurePostgres({ dataDir: join(dataDir, 'postgres') }, env);
  if (!env.DATABASE_URL) started.push('postgres');

  return { temporalAddress, temporalOptions, namespace, uiUrl, temporalCli, databaseUrl: postgres.url, dataDir, temporalPid: pid, started };
}

/** Where the record told a command to look, and what it should tell the operator about it. */
export interface StackResolution {
  /** Variables set from the record (so far only TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE). */
  applied: string[];
  /** The record consulted; null when TEMPORAL_ADDRESS made it irrelevant (it is then not read). */
  recordFile: string | null;
  /** Lines for stderr: the command is about to use a server it may not expect. */
  notices: string[];
}

/**
 * Point a command at the stack `btcbot up` recorded, unless TEMPORAL_ADDRESS says otherwise (then
 * the record is not read at all: nothing in it can change where the command goes). Say so whenever
 * the server about to be used may not be the one expected: the recorded one is not running, there
 * is no record, or the record cannot be read (it is then no record).
 */
export function applyStackRecord(projectRoot: string, env: NodeJS.ProcessEnv): StackResolution {
  const dataDir = localDataDir(projectRoot, env);
  const recordFile = join(dataDir, STACK_RECORD_FILE);
  const applied: string[] = [];
  const notices: string[] = [];
  if (env.TEMPORAL_ADDRESS?.trim()) return { applied, recordFile: null, notices };
  const { value: record, problem } = loadStackRecord(dataDir);
  if (problem) notices.push(`the stack record ${recordFile} cannot be read (${problem}): ignored (\`btcbot up\` writes it again)`);
  if (record) {
    env.TEMPORAL_ADDRESS = record.temporal.address;
    applied.push('TEMPORAL_ADDRESS');
    if (!env.TEMPORAL_NAMESPACE?.trim() && record.temporal.namespace !== 'default') {
      env.TEMPORAL_NAMESPACE = record.temporal.namespace;
      applied.push('TEMPORAL_NAMESPACE');
    }
    if (record.temporal.pid != null && !runningDevServer(record.temporal.pid)) {
      notices.push(`the Temporal dev server \`btcbot up\` recorded at ${record.temporal.address} is not running (start it again with \`btcbot up\`)`);
    }
    if (!record.postgres.local && !env.DATABASE_URL?.trim()) {
      notices.push(`\`btcbot up\` used DATABASE_URL=${record.postgres.url}, but DATABASE_URL is not set here: using the local cluster in ${join(dataDir, 'postgres')}`);
    }
  } else {
    notices.push(
      `TEMPORAL_ADDRESS is not set and \`btcbot up\` has recorded no server in ${dataDir}: using 127.0.0.1:${DEFAULT_TEMPORAL_PORT}, which btcbot did not start`,
    );
  }
  return { applied, recordFile, notices };
}

/** Stop the services a previous `btcbot up` left running. Returns what was stopped. */
export async function stopLocalStack(projectRoot: string, env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
  const stopped: string[] = [];
  const dataDir = localDataDir(projectRoot, env);
  const stateFile = join(dataDir, 'temporal', 'server.json');
  const { value: state } = readState(stateFile, isTemporalState);
  if (state && runningDevServer(state.pid)) {
    await stopProcess(state.pid);
    stopped.push('temporal');
  }
  if (await stopLocalPostgres(join(dataDir, 'postgres'))) stopped.push('postgres');
  return stopped;
}
