import { defineConfig } from 'vitest/config';

// Benchmarks: one file at a time in a forked process, so that nothing else competes for the cores
// while a measurement runs. Figures are printed, never asserted.
export default defineConfig({
  test: {
    include: ['bench/**/*.bench.ts'],
    testTimeout: 900_000,
    hookTimeout: 900_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
