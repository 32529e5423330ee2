import { defineConfig } from 'vitest/config';

// Two projects: `unit` needs nothing but Node; `integration` runs against a real Temporal dev
// server, a real Postgres and the simulator over real HTTP, all started once by the global setup.
export default defineConfig({
  test: {
    pool: 'forks', // Temporal's native core must not share a thread (sdk-typescript#876)
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          testTimeout: 30_000,
        },
      },
      {
        extends: true,
        test: {
          // The exchange client against the simulator over real loopback HTTP; no Temporal/Postgres.
          name: 'contract',
          include: ['test/contract/**/*.test.ts'],
          testTimeout: 60_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/integration/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
