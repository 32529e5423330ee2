// The `btcbot` command as a process, for integration tests: a clean environment, exit code and output.
// It runs in an empty working directory, never the project's: a developer's own .env there (which
// could arm the gates) never reaches a test. Tests about .env give their own `cwd`.
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { buildFreshness } from '../../src/build-info.js';

export const projectRoot = fileURLToPath(new URL('../..', import.meta.url));
const cliMain = join(projectRoot, 'src/cli/main.ts');
/** tsx's loader by path: `--import tsx` would resolve it from the working directory. */
const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
let emptyDir: string | null = null;
/** A working directory with no .env, shared by the harness's processes. */
export const harnessCwd = (): string => (emptyDir ??= mkdtempSync(join(tmpdir(), 'btcbot-cli-')));

export interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface Proc {
  pid: number;
  exited: Promise<Exit>;
  /** Resolves when `text` appears on stdout or stderr. */
  waitFor(text: string): Promise<void>;
  kill(signal: NodeJS.Signals): void;
}

/**
 * Run `btcbot ...` with a clean environment (no gate or exchange variables leak in from the host):
 * the sources through tsx, or with `compiled` the package's bin (dist/, which must be built from
 * the current sources; a worker starts faster there: no bundling at start).
 */
export function btcbot(
  args: string[],
  env: Record<string, string> = {},
  { cwd = harnessCwd(), compiled = false }: { cwd?: string; compiled?: boolean } = {},
): Proc {
  if (compiled && buildFreshness(projectRoot) !== 'fresh') {
    throw new Error('dist/ is not built from the current sources: run `npm run build` (npm test does)');
  }
  const argv = compiled ? [join(projectRoot, 'bin/btcbot.js'), ...args] : ['--import', tsxLoader, cliMain, ...args];
  return watch(spawn(process.execPath, argv, { cwd, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] }));
}

/** PATH and HOME (node, npm and npx need them) and nothing else from the host. */
export function cleanEnv(env: Record<string, string>): Record<string, string> {
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', ...env };
}

/** Output, exit and `waitFor` of any child process started with piped stdout and stderr. */
export function watch(child: ReturnType<typeof spawn>): Proc {
  let stdout = '';
  let stderr = '';
  const waiters: Array<{ text: string; resolve: () => void }> = [];
  const check = () => {
    for (const w of [...waiters]) {
      if ((stdout + stderr).includes(w.text)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  child.stdout!.on('data', (b: Buffer) => ((stdout += b.toString()), check()));
  child.stderr!.on('data', (b: Buffer) => ((stderr += b.toString()), check()));
  const exited = new Promise<Exit>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  return {
    pid: child.pid!,
    exited,
    waitFor: (text) =>
      Promise.race([
        new Promise<void>((resolve) => {
          waiters.push({ text, resolve });
          check();
        }),
        exited.then((e) => {
          throw new Error(`process exited (${e.code}) before printing ${JSON.stringify(text)}:\n${e.stdout}\n${e.stderr}`);
        }),
      ]),
    kill: (signal) => child.kill(signal),
  };
}
