#!/usr/bin/env node
// The `btcbot` command: the compiled CLI (dist/, built by `npm run build`, which `npm ci` runs),
// imported into THIS process. There is no child process, so a signal from a terminal, a process
// manager, systemd or `docker stop` reaches the code that handles it. In development,
// `npm run btcbot -- <args>` runs the TypeScript sources through tsx instead.
import { existsSync } from 'node:fs';

const main = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(main)) {
  console.error('btcbot: no compiled build in dist/: run `npm run build` (`npm ci` runs it for you)');
  process.exit(2);
}
const { buildFreshness } = await import('../dist/build-info.js');
if (buildFreshness() === 'stale') {
  console.error('[btcbot] warning: dist/ was built from other sources than src/ holds now; run `npm run build` (or `npm run btcbot -- ...` to run the sources)');
}
await import(main.href);
