// `npm run test:unit`: in-process tests only (no peers, no processes, no build of dist/ first: they import src/).
// Today the layers above the protocol planes; a folder whose tests are all in-process can be added to the list.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/core/**/*.test.ts', 'test/store/**/*.test.ts', 'test/auth/**/*.test.ts', 'test/log.test.ts'],
    pool: 'forks',
  },
});
