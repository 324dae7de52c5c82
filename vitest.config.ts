import { defineConfig } from 'vitest/config';

// Integration suites start real processes (kubectl, moto_server, speakers), so give them room,
// and run files in parallel forks: each suite starts its own servers on free loopback ports.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'src/**/*.test.ts', 'providers/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default', './test/support/closingLineReporter.ts'],
  },
});
