// The project's one test command (`npm test`): typecheck, the build (`npm run build`, skipped when
// dist/ is already built from these sources: the integration tests run the compiled worker), then
// every vitest project (unit, contract, integration on the real stack), then a plain closing line
// `N passed, N failed`. Extra arguments go to vitest (e.g. `npm test -- --project unit`).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { buildFreshness } from '../src/build-info.js';

interface VitestJson {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
  numTotalTests: number;
  success: boolean;
}

const bin = (name: string) => join('node_modules', '.bin', name);

console.log('== typecheck (tsc --noEmit)');
const tsc = spawnSync(bin('tsc'), ['--noEmit', '-p', 'tsconfig.json'], { stdio: 'inherit' });
const typecheckOk = tsc.status === 0;

let buildOk = true;
if (buildFreshness() === 'fresh') {
  console.log('== build: dist/ is built from these sources');
} else {
  console.log('== build (npm run build)');
  buildOk = spawnSync(bin('tsx'), ['scripts/build.ts'], { stdio: 'inherit' }).status === 0;
}

mkdirSync('test-results', { recursive: true });
const report = join('test-results', 'vitest.json');
rmSync(report, { force: true });
console.log('== vitest');
const vitest = spawnSync(
  bin('vitest'),
  ['run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...process.argv.slice(2)],
  { stdio: 'inherit' },
);

// The typecheck and the build count as one check each.
let passed = (typecheckOk ? 1 : 0) + (buildOk ? 1 : 0);
let failed = (typecheckOk ? 0 : 1) + (buildOk ? 0 : 1);
let skipped = 0;
if (existsSync(report)) {
  const r = JSON.parse(readFileSync(report, 'utf8')) as VitestJson;
  passed += r.numPassedTests;
  failed += r.numFailedTests;
  skipped += r.numPendingTests + r.numTodoTests;
  // A suite that crashed before running its tests reports no failed test, only success=false.
  if (!r.success && r.numFailedTests === 0) failed += 1;
} else {
  failed += 1;
}
const ranNothing = passed <= 2 && failed === 0;
const ok = typecheckOk && buildOk && vitest.status === 0 && failed === 0 && !ranNothing;
console.log(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(ok ? 0 : 1);
