// Small process and network helpers for starting local services (Temporal dev server, Postgres).
// A spawned server or tool never inherits our secrets: it gets a scrubbed environment, only what
// it needs to run (the postmaster and the dev server live on; their /proc/<pid>/environ is
// readable by whatever runs as their user).
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { accessSync, chmodSync, constants, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, type Stats } from 'node:fs';
import { createServer, createConnection } from 'node:net';
import { delimiter, join } from 'node:path';

export class DevEnvError extends Error {
  override name = 'DevEnvError';
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** What every child may see: how to find programs, who it runs as, language and time zone. */
const BASE_ENV = /^(PATH|HOME|USER|LOGNAME|LANG|LANGUAGE|LC_[A-Z_]+|TZ|TMPDIR)$/;
/** What a tool that downloads needs on top (proxies, CA bundles): for pip and go install only. */
export const NETWORK_ENV = /^((https?|no|all)_proxy|(HTTPS?|NO|ALL)_PROXY|SSL_CERT_(FILE|DIR))$/;

/** Our environment minus everything not on the allow-list: no BTCTURK_*, no payload or API keys. */
export function scrubbedEnv(allow: readonly RegExp[] = [], env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([k]) => BASE_ENV.test(k) || allow.some((re) => re.test(k))));
}

/**
 * Start a long-lived server: scrubbed environment, and umask 077 so that whatever it creates
 * (a SQLite file holding cycle histories, logs) is its owner's alone. spawn() forks synchronously,
 * so the umask is ours again before anything else runs.
 */
export function spawnServer(cmd: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
  const previous = process.umask(0o077);
  try {
    return spawn(cmd, args, { env: scrubbedEnv(), ...options });
  } finally {
    process.umask(previous);
  }
}

/** Run a command to completion, capturing output, with a scrubbed environment unless told otherwise. Never uses a shell. */
export function run(cmd: string, args: readonly string[], options: SpawnOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: scrubbedEnv(), ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

export async function runOrThrow(cmd: string, args: readonly string[], options: SpawnOptions = {}): Promise<string> {
  const r = await run(cmd, args, options);
  if (r.code !== 0) {
    throw new DevEnvError(`${cmd} ${args.join(' ')} exited ${r.code}: ${(r.stderr || r.stdout).trim().slice(-800)}`);
  }
  return r.stdout;
}

/** Why another user could meddle with what is in `st` (a directory), or null. */
function sharedBy(st: Stats): string | null {
  if ((st.mode & 0o1000) !== 0) return 'a shared directory (sticky, like /tmp)';
  if ((st.mode & 0o002) !== 0) return 'a shared directory (world-writable)';
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) return `owned by another user (uid ${st.uid})`;
  return null;
}

/**
 * Refuse `dir` (chosen by `variable`) when it exists and is not ours alone: btcbot keeps passwords
 * and cycle histories under it and tightens what it puts there, never what others put there.
 */
export function refuseSharedDir(dir: string, variable: string): void {
  let st: Stats;
  try {
    st = statSync(dir);
  } catch {
    return; // missing: it will be created, private
  }
  if (!st.isDirectory()) throw new DevEnvError(`${variable}=${dir} is not a directory`);
  const why = sharedBy(st);
  if (why !== null) {
    throw new DevEnvError(`${variable}=${dir} is ${why}: btcbot keeps private files there; point ${variable} at a directory of its own, e.g. ${join(dir, 'btcbot')}`);
  }
}

/**
 * A directory only its owner reads: 0700, or 0711 when another user (the cluster's `postgres`,
 * when we are root) must pass through it. Made when missing. An existing one is changed only when
 * it is btcbot's own (`own`: a directory btcbot made, like `.data/temporal`; not one the operator
 * named); then files in it that we own lose group and other access (older versions left them
 * 0644: the dev server's dev.db holds every cycle's history). A shared or foreign existing
 * directory is refused, never tightened.
 */
export function makePrivateDir(dir: string, { passThrough = false, own = true }: { passThrough?: boolean; own?: boolean } = {}): string {
  const created = mkdirSync(dir, { recursive: true, mode: 0o700 }) !== undefined;
  if (!created) {
    const why = sharedBy(statSync(dir));
    if (why !== null) throw new DevEnvError(`${dir} is ${why}: btcbot keeps private files there and will not use it`);
    if (!own) return dir;
  }
  chmodSync(dir, passThrough ? 0o711 : 0o700);
  if (created) return dir;
  const uid = process.getuid?.();
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const st = lstatSync(path);
    if (st.isFile() && st.uid === uid && (st.mode & 0o077) !== 0) chmodSync(path, st.mode & 0o700);
  }
  return dir;
}

/**
 * Run `fn` holding an exclusive lock file (created with O_EXCL, holding our pid): a second process
 * (or a second call in this one) waits until the first is done. A lock whose holder has died is
 * taken over. After `timeoutMs` of waiting on a live holder, a DevEnvError names the file.
 */
export async function withLockFile<T>(path: string, what: string, fn: () => Promise<T>, { timeoutMs = 180_000 } = {}): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      writeFileSync(path, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let holder = Number.NaN;
    try {
      holder = Number(readFileSync(path, 'utf8').trim());
    } catch {
      continue; // released in between: try again
    }
    // An empty file is a holder between its open and its write: alive.
    if (Number.isInteger(holder) && holder > 0 && !isProcessAlive(holder)) {
      rmSync(path, { force: true }); // a crash left it
      continue;
    }
    if (Date.now() > deadline) {
      throw new DevEnvError(`${what}: another btcbot process (pid ${holder}) has held ${path} for ${timeoutMs / 1000} s; if none is running, remove that file`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  try {
    return await fn();
  } finally {
    rmSync(path, { force: true });
  }
}

export function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Find an executable on PATH, like `which`. */
export function which(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return null;
}

/** Ask the OS for a free loopback TCP port. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export function isPortOpen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Poll `probe` until it returns true or the deadline passes. */
export async function waitUntil(
  probe: () => Promise<boolean>,
  { timeoutMs, intervalMs = 100, what }: { timeoutMs: number; intervalMs?: number; what: string },
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) throw new DevEnvError(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
