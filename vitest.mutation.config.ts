// The suites the mutation run (npm run test:mutation, stryker.config.mjs) measures the engine and
// the shim's core with: the fast, pure ones that state behaviour exactly (no network namespaces,
// servers or workerd), with a fixed seed so each mutant is judged in a moment, the same way every
// run. Left out (they run in `npm test`): the long simulations (`*.long.test.ts`: whole months of
// heartbeats), the random-fault property runs (properties.test.ts, whose simulator drives the shim
// core too) and the alarm-policy simulations (an hour of heartbeats, random drift and delays).
// Every surviving mutant re-runs every test that covers it, so one 5-second test there costs more
// than all the rest.
import { BaseSequencer, type TestSpecification } from "vitest/node";
import { defineConfig } from "vitest/config";

// Stryker stops a mutant's run at its first failing test: the slowest files go last, so a mutant
// a quick test kills never waits for them.
const LAST = ["scenarios", "availability"];
const weight = (f: TestSpecification) => LAST.findIndex((n) => f.moduleId.endsWith(`/${n}.test.ts`));

class QuickFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    return [...files].sort((a, b) => weight(a) - weight(b) || a.moduleId.localeCompare(b.moduleId));
  }
}

export default defineConfig({
  test: {
    name: "mutation",
    include: ["test/engine/**/*.test.ts", "test/unit/shim-core*.test.ts"],
    exclude: ["**/node_modules/**", "test/engine/**/*.long.test.ts", "test/engine/properties.test.ts", "test/engine/alarm-policy.test.ts"],
    environment: "node",
    testTimeout: 30_000,
    // One module graph per worker, not per file: the engine is pure and keeps no module state, and
    // re-importing it for each of ~30 files made every mutant's run 2-4 times slower.
    isolate: false,
    sequence: { sequencer: QuickFirst },
    env: { CHIME_PROPERTY_RUNS: "25", CHIME_FUZZ_SEED: "20260419" },
  },
});
