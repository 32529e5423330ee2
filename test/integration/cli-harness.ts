// The `btcbot` command as a process, for integration tests: a clean environment, exit code and output.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const projectRoot = fileURLToPath(new URL('../..', import.meta.url));
const cliMain = join(projectRoot, 'src/cli/main.ts');

export interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface Proc {
  exited: Promise<Exit>;
  /** Resolves when `text` appears on stdout or stderr. */
  waitFor(text: string): Promise<void>;
  kill(signal: NodeJS.Signals): void;
}

/** Run `btcbot ...` with a clean environment (no gate or exchange variables leak in from the host). */
export function btcbot(args: string[], env: Record<string, string> = {}): Proc {
  const base: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root' };
  const child = spawn(process.execPath, ['--import', 'tsx', cliMain, ...args], {
    cwd: projectRoot,
    env: { ...base, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
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
  child.stdout.on('data', (b: Buffer) => ((stdout += b.toString()), check()));
  child.stderr.on('data', (b: Buffer) => ((stderr += b.toString()), check()));
  const exited = new Promise<Exit>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  return {
    exited,
    waitFor: (text) =>
      Promise.race([
        new Promise<void>((resolve) => {
          waiters.push({ text, resolve });
          check();
        }),
        exited.then((e) => {
          throw new Error(`btcbot exited (${e.code}) before printing ${JSON.stringify(text)}:\n${e.stdout}\n${e.stderr}`);
        }),
      ]),
    kill: (signal) => child.kill(signal),
  };
}
