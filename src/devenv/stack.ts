// The local development stack behind `btcbot up`: a Temporal dev server and a Postgres cluster
// that outlive the command (so the UI, `temporal workflow list` and psql keep working after a
// `--once` run), kept under .data/ and reused on the next run. `btcbot down` stops them.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
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

function portFromEnv(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new DevEnvError(`${name} must be a port number`);
  return port;
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
    const state = existsSync(stateFile) ? (JSON.parse(readFileSync(stateFile, 'utf8')) as TemporalState) : null;
    const port = state?.port ?? portFromEnv(env, 'BTCBOT_TEMPORAL_PORT', DEFAULT_TEMPORAL_PORT);
    const uiPort = state?.uiPort ?? portFromEnv(env, 'BTCBOT_UI_PORT', DEFAULT_UI_PORT);
    temporalAddress = `127.0.0.1:${port}`;
    temporalOptions = { address: temporalAddress };
    uiUrl = `http://127.0.0.1:${uiPort}`;
    if (!(await namespaceReady(temporalOptions, namespace))) {
      if (await isPortOpen(port)) {
        throw new DevEnvError(`port ${port} is taken by something that is not a Temporal server; set TEMPORAL_ADDRESS`);
      }
      log(`starting the Temporal dev server on ${temporalAddress} (UI ${uiUrl}) with ${temporalCli.path}`);
      const server = await startTemporalDevServer({
        cliPath: temporalCli.path,
        port,
        uiPort,
        dbFilename: join(dataDir, 'temporal', 'dev.db'),
        logFile: join(dataDir, 'temporal', 'server.log'),
        detached: true,
      });
      writeFileSync(stateFile, JSON.stringify({ pid: server.pid, port, uiPort } satisfies TemporalState), { mode: 0o600 });
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

  return { temporalAddress, temporalOptions, namespace, uiUrl, temporalCli, databaseUrl: postgres.url, started };
}

/** Stop the services a previous `btcbot up` left running. Returns what was stopped. */
export async function stopLocalStack(projectRoot: string, env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
  const stopped: string[] = [];
  const dataDir = localDataDir(projectRoot, env);
  const stateFile = join(dataDir, 'temporal', 'server.json');
  if (existsSync(stateFile)) {
    const { pid } = JSON.parse(readFileSync(stateFile, 'utf8')) as TemporalState;
    if (isProcessAlive(pid)) {
      await stopProcess(pid);
      stopped.push('temporal');
    }
  }
  if (await stopLocalPostgres(join(dataDir, 'postgres'))) stopped.push('postgres');
  return stopped;
}
