// The build and the package as an operator meets them: a failed build leaves the last good dist/
// in place (and nothing half-made), the bin refuses a dist/ that no build finished, a worker
// refuses a build older than its sources, `npm ci --omit=dev` can run `prepare`, and the packed
// package holds a runnable build. Each in a scratch copy of the project (node_modules linked).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { buildFreshness } from '../../src/build-info.js';
import { projectRoot } from './cli-harness.js';

const scratch = mkdtempSync(join(tmpdir(), 'btcbot-build-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A copy of the project's committed build inputs and its dist/ (node_modules linked). */
function projectCopy(paths = ['package.json', 'package-lock.json', '.npmrc', 'tsconfig.json', 'tsconfig.build.json', 'bin', 'src', 'scripts', 'test/replay/histories', 'dist']): string {
  expect(buildFreshness(projectRoot), 'dist/ built from the current sources (npm test builds it)').toBe('fresh');
  const dir = mkdtempSync(join(scratch, 'project-'));
  for (const p of paths) {
    mkdirSync(dirname(join(dir, p)), { recursive: true });
    cpSync(join(projectRoot, p), join(dir, p), { recursive: true });
  }
  symlinkSync(join(projectRoot, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

const run = (cwd: string, cmd: string, args: string[], env: Record<string, string> = {}) =>
  spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', ...env } });
const bin = (cwd: string, args: string[], env: Record<string, string> = {}) => run(cwd, process.execPath, [join(cwd, 'bin/btcbot.js'), ...args], env);
const digest = (dir: string): string => {
  const hash = createHash('sha256');
  const walk = (d: string): void => {
    for (const name of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(d, name.name);
      if (name.isDirectory()) walk(p);
      else hash.update(p.slice(dir.length)).update(readFileSync(p));
    }
  };
  walk(dir);
  return hash.digest('hex');
};

describe('the build', () => {
  test('a build whose bundle fails the replay check leaves the last good dist/ untouched and nothing half-made; a dist/ no build finished is refused (exit 2)', () => {
    const dir = projectCopy();
    const before = digest(join(dir, 'dist'));
    const workflow = join(dir, 'src/workflows/trading-cycle.ts');
    const gate = '  const gate = evaluateGates(input.gates, input.dryRunRequested);';
    expect(readFileSync(workflow, 'utf8')).toContain(gate);
    writeFileSync(workflow, readFileSync(workflow, 'utf8').replace(gate, `  await wf.sleep(1);\n${gate}`)); // a new timer: not deterministic
    const build = run(dir, join(dir, 'node_modules/.bin/tsx'), ['scripts/build.ts']);
    expect(build.status, build.stderr).toBe(1);
    expect(build.stderr).toContain('the workflow bundle does not replay the committed histories');
    expect(digest(join(dir, 'dist')), 'dist/ changed').toBe(before);
    expect(readdirSync(dir).sort()).toEqual(['.npmrc', 'bin', 'dist', 'node_modules', 'package-lock.json', 'package.json', 'scripts', 'src', 'test', 'tsconfig.build.json', 'tsconfig.json']);

    rmSync(join(dir, 'dist/build-info.json'));
    const version = bin(dir, ['--version']);
    expect(version.status).toBe(2);
    expect(version.stderr).toContain('no finished build in dist/ (dist/build-info.json is missing): run `npm run build`');
  });

  test('a worker refuses a build older than its sources (exit 2, saying how to fix it) unless --allow-stale-build; other commands warn', () => {
    const dir = projectCopy();
    writeFileSync(join(dir, 'src/shared.ts'), `${readFileSync(join(dir, 'src/shared.ts'), 'utf8')}\n// edited after the build\n`);
    const refused = bin(dir, ['worker']);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain('dist/ was built from other sources than src/ holds now: run `npm run build` (or `btcbot worker --allow-stale-build` to run it anyway)');
    expect(refused.stderr).not.toContain('worker ready');

    const allowed = bin(dir, ['worker', '--allow-stale-build']); // runs on: stops at the missing BTCTURK_BASE_URL
    expect(allowed.status).toBe(2);
    expect(allowed.stderr).toContain('BTCTURK_BASE_URL is required for a worker');
    expect(allowed.stderr).toContain('--allow-stale-build: running a build older than src/');

    const version = bin(dir, ['--version']);
    expect(version.status).toBe(0);
    expect(version.stderr).toContain('warning: dist/ was built from other sources than src/ holds now');
  });
});

describe('the package', () => {
  test('prepare runs without dev dependencies (npm ci --omit=dev): it says why it does not build, and succeeds', () => {
    const dir = projectCopy(['package.json', 'package-lock.json', '.npmrc', 'scripts', 'src', 'bin']);
    rmSync(join(dir, 'node_modules')); // as after `npm ci --omit=dev`: no tsx, no typescript
    const prepare = run(dir, 'npm', ['run', 'prepare'], { npm_config_update_notifier: 'false' });
    expect(prepare.status, prepare.stderr).toBe(0);
    expect(prepare.stderr).toContain('not building: the dev dependencies are not installed');
  });

  test('npm pack holds the compiled build, the bin and nothing of the sources; installed from it, btcbot runs', () => {
    const packed = run(projectRoot, 'npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { npm_config_update_notifier: 'false' });
    expect(packed.status, packed.stderr).toBe(0);
    const files = (JSON.parse(packed.stdout) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map((f) => f.path);
    expect(files).toEqual(expect.arrayContaining(['bin/btcbot.js', 'dist/cli/main.js', 'dist/workflow-bundle.js', 'dist/build-info.json', 'package.json', 'README.md']));
    expect(files.filter((f) => /^(src|test|scripts|\.data|\.tools)\//.test(f) || f.startsWith('.env'))).toEqual([]);

    // What `npm install btcbot-<version>.tgz` lays out: the packed files (dependencies linked).
    const installed = mkdtempSync(join(scratch, 'installed-'));
    for (const f of files) {
      mkdirSync(dirname(join(installed, f)), { recursive: true });
      cpSync(join(projectRoot, f), join(installed, f));
    }
    symlinkSync(join(projectRoot, 'node_modules'), join(installed, 'node_modules'));
    const version = bin(installed, ['--version']);
    expect(version.status, version.stderr).toBe(0);
    expect(version.stdout).toMatch(/^btcbot \d+\.\d+\.\d+ \(compiled /);
  });
});
