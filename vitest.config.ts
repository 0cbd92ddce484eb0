// Every suite, as vitest projects. `npm test` runs them all; CI must not skip any.
// Suites that need root, network namespaces or real servers fail (not skip) under CI=true
// when something they need is missing.
import { defineConfig } from "vitest/config";

const nodeProject = (name: string, include: string[], extra: Record<string, unknown> = {}) => ({
  test: { name, include, environment: "node", testTimeout: 30_000, hookTimeout: 60_000, ...extra },
});

export default defineConfig({
  test: {
    projects: [
      nodeProject("unit", ["test/unit/**/*.test.ts"]),
      "test/worker/vitest.config.ts",
      nodeProject("engine", ["test/engine/**/*.test.ts"]),
      // The console in Debian's headless Chromium against wrangler dev and the demo shims.
      nodeProject("console", ["test/console/**/*.test.ts"], { fileParallelism: false, testTimeout: 60_000, hookTimeout: 150_000 }),
      nodeProject("shim", ["test/shim/**/*.test.ts"], { fileParallelism: false }),
      nodeProject("data", ["test/data/**/*.test.ts"], { fileParallelism: false, testTimeout: 120_000 }),
      nodeProject("lab", ["test/lab/**/*.test.ts"], { fileParallelism: false, testTimeout: 300_000, hookTimeout: 180_000 }),
    ],
  },
});
