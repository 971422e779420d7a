import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // dist/ is built from the sources under test first: e2e tests spawn it.
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Real-peer tests bind ports, namespaces and VMs: run files one at a time, each in its own process.
    fileParallelism: false,
  },
});
