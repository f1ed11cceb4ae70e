import { defineConfig } from 'vitest/config';

// Hardened mode (scripts/hardened/run.sh): the runner itself needs a JIT (vite loads WebAssembly),
// so only the test workers run under the seccomp launcher, which execs node --jitless.
// vitest forks workers with process.execPath, so pointing it at the launcher is enough.
if (process.env.JITMEM_HARDENED_LAUNCHER) process.execPath = process.env.JITMEM_HARDENED_LAUNCHER;

export default defineConfig({
  test: {
    pool: 'forks',
    include: ['test/**/*.test.ts'],
    exclude: ['test/stress/**', 'node_modules/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
