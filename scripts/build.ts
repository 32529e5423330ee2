// `npm run build` (also run by `npm ci` through `prepare`): the production build.
//   1. tsc compiles src/ to dist/ (tsconfig.build.json), type errors fail the build;
//   2. the workflow bundle is built once from the compiled workflows into dist/workflow-bundle.js,
//      which compiled workers load instead of bundling at every start (Temporal's production setup);
//   3. the bundle is checked: every committed history in test/replay/histories replays against it,
//      so a bundle that cannot load, lacks a workflow type or is non-deterministic fails here;
//   4. dist/build-info.json records the source hash, so bin/btcbot.js can tell a stale build.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { BUILD_INFO_FILE, DIST_DIR, packageRoot, packageVersion, sourceHash, WORKFLOW_BUNDLE_FILE, type BuildInfo } from '../src/build-info.js';

const dist = join(packageRoot, DIST_DIR);
const historiesDir = join(packageRoot, 'test/replay/histories');
const step = (what: string) => console.error(`[build] ${what}`);

async function main(): Promise<void> {
  // Hashed before compiling: an edit made while the build runs leaves the build marked stale.
  const hash = sourceHash();
  if (hash === null) throw new Error('no src/ to build');
  rmSync(dist, { recursive: true, force: true });
  step('tsc -p tsconfig.build.json → dist/');
  const tsc = spawnSync(join(packageRoot, 'node_modules/.bin/tsc'), ['-p', join(packageRoot, 'tsconfig.build.json')], { stdio: 'inherit' });
  if (tsc.status !== 0) throw new Error(`tsc failed (exit ${tsc.status})`);

  step(`bundling the compiled workflows → dist/${WORKFLOW_BUNDLE_FILE}`);
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const { code } = await bundleWorkflowCode({ workflowsPath: join(dist, 'workflows/index.js'), logger: new DefaultLogger('WARN') });
  const bundlePath = join(dist, WORKFLOW_BUNDLE_FILE);
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
  writeFileSync(join(dist, BUILD_INFO_FILE), `${JSON.stringify(info, null, 2)}\n`);
  step(`done: btcbot ${info.version}, sources ${hash.slice(0, 12)}`);
}

main().catch((err: unknown) => {
  console.error(`[build] FAILED: ${(err as Error).message}`);
  process.exit(1);
});
