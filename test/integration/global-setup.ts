// Starts the real components once for the integration project: a Temporal CLI dev server
// (installed by the project if missing; never downloaded by the SDK) and a private Postgres
// cluster in a temporary directory. Every test file gets its own database on that cluster.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import { startLocalPostgres } from '../../src/devenv/postgres.js';
import { freePort } from '../../src/devenv/process.js';
import { ensureTemporalCli, startTemporalDevServer } from '../../src/devenv/temporal.js';

const projectRoot = fileURLToPath(new URL('../..', import.meta.url));

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dir = mkdtempSync(join(tmpdir(), 'btcbot-it-'));
  chmodSync(dir, 0o711); // the Postgres cluster runs as the postgres user when we are root: it passes through
  const cli = await ensureTemporalCli(projectRoot, (l) => console.error(`[global-setup] ${l}`));
  const [server, postgres] = await Promise.all([
    freePort().then((port) =>
      startTemporalDevServer({ cliPath: cli.path, port, uiPort: null, logFile: join(dir, 'temporal.log') }),
    ),
    startLocalPostgres({ dataDir: join(dir, 'postgres'), ephemeral: true }),
  ]);
  project.provide('temporalAddress', server.address);
  project.provide('temporalCliPath', cli.path);
  // The passwords the cluster generated (read from its password file), in the URLs.
  project.provide('postgresAdminUrl', postgres.adminUrl);
  project.provide('postgresUrl', postgres.url);
  return async () => {
    await Promise.allSettled([server.stop(), postgres.stop()]);
    rmSync(dir, { recursive: true, force: true });
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    temporalCliPath: string;
    /** The cluster's superuser: for creating and dropping databases. */
    postgresAdminUrl: string;
    /** The application role (what tests connect as), on the `btcbot` database. */
    postgresUrl: string;
  }
}
