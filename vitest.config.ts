import { defineConfig } from 'vitest/config';

// Integration suites start real processes (kubectl, moto_server, speakers), so give them room,
// and run files in parallel forks: each suite starts its own servers on free loopback ports.
// The BGP lab (FRR in three namespaces, bird2, BFD at sub-second timers) runs last and alone: beside
// another heavy suite on two cores, FRR's reloads and BFD miss their timers.
const INCLUDE = ['test/**/*.test.ts', 'src/**/*.test.ts', 'providers/**/*.test.ts'];
const ALONE = ['test/metal/bgpRouter.test.ts', 'test/metal/bgpTopologies.test.ts'];
const shared = { testTimeout: 60_000, hookTimeout: 120_000, pool: 'forks' as const };

export default defineConfig({
  test: {
    maxWorkers: 2,
    reporters: ['default', './test/support/closingLineReporter.ts'],
    projects: [
      { test: { ...shared, name: 'suites', include: INCLUDE, exclude: ALONE, sequence: { groupOrder: 0 } } },
      { test: { ...shared, name: 'bgp-lab', include: ALONE, fileParallelism: false, sequence: { groupOrder: 1 } } },
    ],
  },
});
