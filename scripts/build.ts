// `npm run build` (also run by `npm ci` through `prepare`, scripts/prepare.mjs): the production build.
//   1. tsc compiles src/ (tsconfig.build.json) into a temporary directory; a type error fails the build;
//   2. the workflow bundle is built once from the compiled workflows (workflow-bundle.js), which
//      compiled workers load instead of bundling at every start (Temporal's production setup);
//   3. the bundle is checked: every committed history in test/replay/histories replays against it,
//      so a bundle that cannot load, lacks a workflow type or is non-deterministic fails here;
//   4. build-info.json records the source hash, so the CLI can tell a stale build;
//   5. only then the temporary directory replaces dist/ (two renames). A build that fails at any
//      step leaves the last good dist/ as it was and removes what it made: nothing runnable is
//      ever left half-checked.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { BUILD_INFO_FILE, DIST_DIR, packageRoot, packageVersion, sourceHash, WORKFLOW_BUNDLE_FILE, type BuildInfo } from '../src/build-info.js';

const dist = join(packageRoot, DIST_DIR);
// Next to dist/ (same filesystem, so the swap is a rename), named for this process.
const staging = join(packageRoot, `.${DIST_DIR}-build-${process.pid}`);
const retired = join(packageRoot, `.${DIST_DIR}-old-${process.pid}`);
const historiesDir = join(packageRoot, 'test/replay/histories');
const step = (what: string) => console.error(`[build] ${what}`);

async function main(): Promise<void> {
  // Hashed before compiling: an edit made while the build runs leaves the build marked stale.
  const hash = sourceHash();
  if (hash === null) throw new Error('no src/ to build');
  rmSync(staging, { recursive: true, force: true });
  step('tsc -p tsconfig.build.json (into a temporary directory; dist/ is replaced only when every check passed)');
  const tsc = spawnSync(join(packageRoot, 'node_modules/.bin/tsc'), ['-p', join(packageRoot, 'tsconfig.build.json'), '--outDir', staging], { stdio: 'inherit' });
  if (tsc.status !== 0) throw new Error(`tsc failed (exit ${tsc.status})`);

  step(`bundling the compiled workflows → ${WORKFLOW_BUNDLE_FILE}`);
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const { code } = await bundleWorkflowCode({ workflowsPath: join(staging, 'workflows/index.js'), logger: new DefaultLogger('WARN') });
  const bundlePath = join(staging, WORKFLOW_BUNDLE_FILE);
  writeFileSync(bundlePath, code);

  const histories = existsSync(historiesDir) ? readdirSync(historiesDir).filter((f) => f.endsWith('.json')).sort() : [];
  if (histories.length === 0) throw new Error(`no committed histories in ${historiesDir}: the bundle cannot be checked`);
  step(`checking the bundle: replaying ${histories.length} committed histories against it`);
  const results = Worker.runReplayHistories(
    { workflowBundle: { codePath: bundlePath } },
    histories.map((file) => ({
      workflowId: `replay-${file.replace(/\.json$/, '')}`,
      history: JSON.parse(readFileSync(join(historiesDir, file), 'utf8')) as object,
    })),
  );
  const failures: string[] = [];
  for await (const r of results) if (r.error) failures.push(`${r.workflowId}: ${r.error.message.split('\n')[0]}`);
  if (failures.length > 0) throw new Error(`the workflow bundle does not replay the committed histories:\n  ${failures.join('\n  ')}`);

  const info: BuildInfo = { version: packageVersion(), sourceHash: hash, builtAt: new Date().toISOString(), node: process.version, replayedHistories: histories.length };
  writeFileSync(join(staging, BUILD_INFO_FILE), `${JSON.stringify(info, null, 2)}\n`);

  if (existsSync(dist)) renameSync(dist, retired);
  try {
    renameSync(staging, dist);
  } catch (err) {
    if (existsSync(retired)) renameSync(retired, dist);
    throw err;
  }
  rmSync(retired, { recursive: true, force: true });
  step(`done: btcbot ${info.version}, sources ${hash.slice(0, 12)} → ${DIST_DIR}/`);
}

main().catch((err: unknown) => {
  rmSync(staging, { recursive: true, force: true });
  console.error(`[build] FAILED: ${(err as Error).message}${existsSync(dist) ? ` (${DIST_DIR}/ is unchanged)` : ''}`);
  process.exit(1);
});
