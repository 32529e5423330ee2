// What `npm run build` (scripts/build.ts) produced in dist/, and whether it still matches src/.
// The compiled CLI runs from dist/ (bin/btcbot.js); a build older than the sources would silently
// run yesterday's code, so the CLI compares a hash of the build's inputs with the one recorded at
// build time (src/cli/main.ts: a worker refuses a stale build, other commands warn).
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project (or installed package) root: one level up from src/ and from dist/ alike. */
export const packageRoot = fileURLToPath(new URL('..', import.meta.url));
export const DIST_DIR = 'dist';
/** The workflow bundle, next to the compiled worker (dist/worker.js loads it). */
export const WORKFLOW_BUNDLE_FILE = 'workflow-bundle.js';
export const BUILD_INFO_FILE = 'build-info.json';

export interface BuildInfo {
  version: string;
  /** sha256 of every file under src/, the tsconfig files and the package and lock files, as `sourceHash` computes it. */
  sourceHash: string;
  builtAt: string;
  node: string;
  /** Committed histories the bundle replayed at build time. */
  replayedHistories: number;
}

function files(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const path = join(dir, name);
      return statSync(path).isDirectory() ? files(path) : [path];
    });
}

/** What the build compiles and against what: the dependencies pinned by the lockfile count too. */
const BUILD_INPUTS = ['tsconfig.json', 'tsconfig.build.json', 'package.json', 'package-lock.json'];

/** A hash of what the build compiles; null where there are no sources (an installed package, the image). */
export function sourceHash(root = packageRoot): string | null {
  const src = join(root, 'src');
  if (!existsSync(src)) return null;
  const hash = createHash('sha256');
  for (const file of [...files(src), ...BUILD_INPUTS.map((f) => join(root, f))]) {
    if (!existsSync(file)) continue;
    hash.update(relative(root, file)).update('\0').update(readFileSync(file)).update('\0');
  }
  return hash.digest('hex');
}

/** The package's version (package.json, next to src/ and dist/). */
export function packageVersion(root = packageRoot): string {
  return (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
}

export function readBuildInfo(root = packageRoot): BuildInfo | null {
  const file = join(root, DIST_DIR, BUILD_INFO_FILE);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as BuildInfo) : null;
}

export type Freshness = 'fresh' | 'stale' | 'no-sources' | 'not-built';

/** Whether dist/ was built from the sources as they are now. */
export function buildFreshness(root = packageRoot): Freshness {
  const info = readBuildInfo(root);
  if (!info) return 'not-built';
  const current = sourceHash(root);
  if (current === null) return 'no-sources';
  return current === info.sourceHash ? 'fresh' : 'stale';
}
