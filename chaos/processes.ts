// The real services a chaos run breaks on purpose: a Temporal dev server persisted in a SQLite
// file (so a restart keeps every cycle's history), a private Postgres cluster (restarted with
// pg_ctl), and the worker as a child process (SIGKILLed and restarted like a supervisor would).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findPostgresBin, startLocalPostgres } from '../src/devenv/postgres.js';
import { DevEnvError, freePort, runOrThrow } from '../src/devenv/process.js';
import { ensureTemporalCli, startTemporalDevServer, type RunningDevServer } from '../src/devenv/temporal.js';

export const projectRoot = fileURLToPath(new URL('..', import.meta.url));

// If the runner dies (a crash, Ctrl-C turned into process.exit), nothing it started may outlive it.
const atExit = new Map<object, () => void>();
let exitHookInstalled = false;
function onExit(key: object, fn: (() => void) | null): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const f of atExit.values()) {
        try {
          f();
        } catch {
          // best effort: keep cleaning up the rest
        }
      }
    });
  }
  if (fn) atExit.set(key, fn);
  else atExit.delete(key);
}

/** A Temporal dev server that can be stopped and started again on the same port and database file. */
export class TemporalService {
  private server: RunningDevServer | null = null;
  restarts = 0;

  private constructor(
    private readonly cliPath: string,
    readonly port: number,
    private readonly dir: string,
  ) {}

  static async start(dir: string, log: (line: string) => void): Promise<TemporalService> {
    const cli = await ensureTemporalCli(projectRoot, log);
    const service = new TemporalService(cli.path, await freePort(), dir);
    await service.up();
    return service;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  private async up(): Promise<void> {
    this.server = await startTemporalDevServer({
      cliPath: this.cliPath,
      port: this.port,
      uiPort: null,
      dbFilename: join(this.dir, 'temporal.db'),
      logFile: join(this.dir, 'temporal.log'),
      detached: false,
    });
    const pid = this.server.pid;
    onExit(this, () => process.kill(pid, 'SIGKILL'));
  }

  /** SIGTERM (SIGKILL after 10 s), then start again on the same port and SQLite file. */
  async restart(): Promise<void> {
    await this.server?.stop();
    await this.up();
    this.restarts += 1;
  }

  async stop(): Promise<void> {
    await this.server?.stop();
    this.server = null;
    onExit(this, null);
  }
}

/** A private Postgres cluster in `dir`, restartable with `pg_ctl restart`. */
export class PostgresService {
  restarts = 0;

  private constructor(
    readonly url: string,
    private readonly pgData: string,
    private readonly bin: string,
    private readonly stopFn: () => Promise<void>,
  ) {}

  static async start(dir: string): Promise<PostgresService> {
    const bin = findPostgresBin();
    if (!bin) throw new DevEnvError('no PostgreSQL server binaries (initdb, pg_ctl) found; set PG_BIN');
    const pg = await startLocalPostgres({ dataDir: dir, ephemeral: true });
    const service = new PostgresService(pg.url, join(dir, 'pgdata'), bin, pg.stop);
    onExit(service, () => void spawnSync(...service.pgCtl(['-D', service.pgData, '-m', 'immediate', 'stop'])));
    return service;
  }

  /** pg_ctl, as the cluster's owner (the postgres user when we are root). */
  private pgCtl(args: string[]): [string, string[]] {
    const pgCtl = join(this.bin, 'pg_ctl');
    return process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', pgCtl, ...args]] : [pgCtl, args];
  }

  /** `pg_ctl restart -m fast`: every connection is cut, the server comes back with the same options. */
  async restart(): Promise<void> {
    await runOrThrow(...this.pgCtl(['-D', this.pgData, '-l', join(this.pgData, 'server.log'), '-m', 'fast', '-w', '-t', '60', 'restart']));
    this.restarts += 1;
  }

  async stop(): Promise<void> {
    await this.stopFn();
    onExit(this, null);
  }
}

/**
 * The worker as `btcbot worker`, a child process: started, waited for (`worker ready` on stderr),
 * killed with SIGKILL, started again. Output goes to a log file. An exit we did not cause is
 * counted and the worker is started again, as a process supervisor would.
 */
export class WorkerSupervisor {
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private expectingExit = false;
  private stopped = false;
  starts = 0;
  kills = 0;
  unexpectedExits = 0;
  private restarting: Promise<void> | null = null;

  constructor(
    private readonly env: Record<string, string>,
    private readonly logFile: string,
    private readonly log: (line: string) => void,
  ) {}

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  /** Start the worker and wait until it polls. */
  async start(timeoutMs = 90_000): Promise<void> {
    const fd = openSync(this.logFile, 'a');
    const child = spawn(process.execPath, ['--import', 'tsx', join(projectRoot, 'src/cli/main.ts'), 'worker'], {
      cwd: projectRoot,
      env: this.env,
      stdio: ['ignore', fd, 'pipe'],
    });
    closeSync(fd);
    this.child = child;
    this.starts += 1;
    onExit(this, () => child.kill('SIGKILL'));
    this.expectingExit = false;
    let stderr = '';
    // stderr goes to the log too, and is watched for readiness.
    const logFd = openSync(this.logFile, 'a');
    child.stderr!.on('data', (b: Buffer) => writeSync(logFd, b));
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`worker not ready after ${timeoutMs} ms:\n${stderr.slice(-2000)}`)), timeoutMs);
      child.stderr!.on('data', (b: Buffer) => {
        const text = b.toString();
        if (stderr.length < 100_000) stderr += text;
        if (stderr.includes('worker ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`worker exited (${code ?? signal}) before it was ready:\n${stderr.slice(-2000)}`));
      });
    });
    this.exited = new Promise<void>((resolve) =>
      child.once('exit', (code, signal) => {
        closeSync(logFd);
        resolve();
        if (!this.expectingExit && !this.stopped && this.child === child) {
          this.unexpectedExits += 1;
          this.log(`worker exited unexpectedly (${code ?? signal}); restarting it`);
          this.restarting = this.start().catch((err: Error) => this.log(`worker restart failed: ${err.message}`));
        }
      }),
    );
    await ready;
  }

  /** SIGKILL: no shutdown, no cleanup, in-flight activities are abandoned mid-way. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    this.expectingExit = true;
    child.kill('SIGKILL');
    await this.exited;
    this.kills += 1;
  }

  async killAndRestart(): Promise<void> {
    await this.kill();
    await this.start();
  }

  /** Wait for a restart the supervisor began on its own (after an unexpected exit). */
  async settled(): Promise<void> {
    await this.restarting;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    this.expectingExit = true;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await this.exited;
    clearTimeout(timer);
  }
}

/** `btcbot <args>` as a process, the way an operator runs it: exit code and output. */
export function runBtcbot(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(projectRoot, 'src/cli/main.ts'), ...args], {
      cwd: projectRoot,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    onExit(child, () => child.kill('SIGKILL'));
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('close', (code) => {
      onExit(child, null);
      resolve({ code, stdout, stderr });
    });
  });
}
