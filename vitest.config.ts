import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/e2e/**', 'node_modules/**'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration and platform tests start real processes; two cores want few of them at once.
    maxWorkers: 2,
    globalSetup: ['test/platform/globalSetup.ts'],
  },
});
