// The suites the mutation run (npm run test:mutation, stryker.config.mjs) measures the engine and
// the shim's core with: only the fast, pure ones (no network namespaces, servers or workerd), with
// property runs lowered and a fixed seed so each mutant is judged in seconds, the same way every run.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    name: "mutation",
    include: ["test/engine/**/*.test.ts", "test/unit/shim-core*.test.ts"],
    environment: "node",
    testTimeout: 30_000,
    env: { CHIME_PROPERTY_RUNS: "25", CHIME_FUZZ_SEED: "20260419" },
  },
});
