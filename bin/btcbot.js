#!/usr/bin/env node
// The `btcbot` command: the compiled CLI (dist/, built by `npm run build`, which `npm ci` runs),
// imported into THIS process. There is no child process, so a signal from a terminal, a process
// manager, systemd or `docker stop` reaches the code that handles it. In development,
// `npm run btcbot -- <args>` runs the TypeScript sources through tsx instead.
import { existsSync } from 'node:fs';

const main = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(main)) {
  console.error('btcbot: no compiled build in dist/: run `npm run build` (`npm ci` runs it; it needs the dev dependencies)');
  process.exit(2);
}
// The build writes build-info.json last, after every check passed: without it, no build finished.
if (!existsSync(new URL('../dist/build-info.json', import.meta.url))) {
  console.error('btcbot: no finished build in dist/ (dist/build-info.json is missing): run `npm run build`');
  process.exit(2);
}
await import(main.href);
