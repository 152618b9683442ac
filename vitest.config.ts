import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['packages/*/test/**/*.unit.test.ts', 'apps/*/test/**/*.unit.test.ts', 'tests/**/*.unit.test.ts'],
          // A few unit tests run a tool (promtool, kubectl kustomize, the TypeScript checker): seconds, not the default 5.
          testTimeout: 30_000,
        },
      },
      {
        // The deterministic simulation of the saga (tests/sim): a bounded search on every run, CPU-bound.
        test: {
          name: 'sim',
          include: ['tests/sim/**/*.sim.test.ts'],
          testTimeout: 120_000,
        },
      },
      {
        // Against the real Cassandra and Redis the project starts (scripts/test.mjs brings them up).
        test: {
          name: 'integration',
          include: ['packages/*/test/**/*.int.test.ts', 'apps/*/test/**/*.int.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
      {
        // Whole processes over HTTP, killed and restarted for real.
        test: {
          name: 'e2e',
          include: ['tests/**/*.e2e.test.ts'],
          testTimeout: 300_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
      {
        // The fleet on the 3-node Cassandra cluster and a Redis Cluster (`npm run test:fleet`; not in `npm test`).
        test: {
          name: 'fleet',
          include: ['tests/fleet/**/*.fleet.test.ts'],
          testTimeout: 1_800_000,
          hookTimeout: 600_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
