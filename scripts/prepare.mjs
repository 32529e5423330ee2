// `prepare` (npm runs it after `npm ci` / `npm install` in a clone, and before `npm pack`): the
// build, when it can be built. Plain Node on purpose: `npm ci --omit=dev` installs no tsx and no
// typescript, and a production install must not fail for it. Then nothing is built, and the bin
// says so (a production install runs a package made by `npm pack`, or the Docker image).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const tsx = fileURLToPath(new URL('../node_modules/.bin/tsx', import.meta.url));
if (!existsSync(tsx) || !existsSync(new URL('../node_modules/typescript/package.json', import.meta.url))) {
  console.error('[prepare] not building: the dev dependencies are not installed (npm ci --omit=dev). ' +
    'Install a package built by `npm pack` instead, or run `npm ci && npm run build`.');
  process.exit(0);
}
const build = spawnSync(tsx, ['scripts/build.ts'], { cwd: root, stdio: 'inherit' });
process.exit(build.status ?? 1);
