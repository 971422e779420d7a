import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Real-peer tests bind ports, namespaces and VMs: run files one at a time, each in its own process.
    fileParallelism: false,
  },
});
