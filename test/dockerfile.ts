// The Dockerfile read the way Docker reads it, as far as the tests need: stages, and the files each
// stage's COPY and RUN instructions put where (shared by the structural test and the image rehearsal).
import { posix } from 'node:path';

export interface Stage {
  from: string;
  name: string | null;
  instructions: string[];
}

/** The Dockerfile as stages of instructions (continuation lines joined, comments dropped). */
export function dockerfileStages(text: string): Stage[] {
  const lines = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const stages: Stage[] = [];
  for (const line of lines) {
    const from = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/i.exec(line);
    if (from) stages.push({ from: from[1]!, name: from[2] ?? null, instructions: [] });
    else stages.at(-1)?.instructions.push(line);
  }
  return stages;
}

export interface Copy {
  /** The stage copied from (`--from=`), or null for the build context. */
  from: string | null;
  /** As written: a path in the context, or an absolute path in the stage copied from. */
  source: string;
  /** Absolute path in this stage. */
  target: string;
}

/** Every COPY of a stage, one entry per source, with its target resolved against WORKDIR. */
export function copies(stage: Stage): Copy[] {
  let workdir = '/';
  const out: Copy[] = [];
  for (const i of stage.instructions) {
    const [op, ...args] = i.split(/\s+/);
    if (op === 'WORKDIR') workdir = posix.resolve(workdir, args[0]!);
    if (op !== 'COPY') continue;
    const from = args.find((a) => a.startsWith('--from='))?.slice('--from='.length) ?? null;
    const paths = args.filter((a) => !a.startsWith('--'));
    const dest = posix.resolve(workdir, paths.at(-1)!);
    const sources = paths.slice(0, -1);
    const intoDir = paths.at(-1)!.endsWith('/') || sources.length > 1;
    for (const source of sources) out.push({ from, source, target: intoDir ? posix.join(dest, posix.basename(source)) : dest });
  }
  return out;
}

/** What a stage holds at its end: its COPY targets, plus what its `npm ci` and `npm run build` make. */
export function produced(stage: Stage, buildOutDir: string): string[] {
  let workdir = '/';
  const made: string[] = copies(stage).map((c) => c.target);
  for (const i of stage.instructions) {
    const [op, ...args] = i.split(/\s+/);
    if (op === 'WORKDIR') workdir = posix.resolve(workdir, args[0]!);
    if (op === 'RUN' && /\bnpm ci\b/.test(i)) made.push(posix.join(workdir, 'node_modules'));
    if (op === 'RUN' && /\bnpm run build\b/.test(i)) made.push(posix.join(workdir, buildOutDir));
  }
  return made;
}

/** Whether `path` is one of `made` or inside one. */
export const isProduced = (path: string, made: readonly string[]): boolean => made.some((p) => path === p || path.startsWith(`${p}/`));
