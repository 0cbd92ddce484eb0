// Mutation testing of the engine and the shim's pure core (README, "Mutation testing").
// `npm run test:mutation` measures everything; `npm run test:mutation -- --mutate <file>` one file.
// `-- --incremental` (CI) reuses test/mutation/baseline.json (committed): only mutants in changed
// code, or covered by changed tests, run again; the file is rewritten with the new results
// (`-- --incremental --force` rebuilds it from scratch).
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: "vitest",
  vitest: { configFile: "vitest.mutation.config.ts", related: false },
  coverageAnalysis: "perTest",
  mutate: ["worker/engine/**/*.ts", "node-shim/core/**/*.ts", "!worker/engine/index.ts", "!**/types.ts"],
  // The sandbox needs only what the engine suites import.
  ignorePatterns: ["/console", "/docs", "/migrations", "/scripts", "/dist", "/reports", "/scratch", "/test/{bench,console,data,lab,shim,worker}", "/coverage"],
  concurrency: 2,
  // Incremental only when asked (`-- --incremental`, as CI does): a one-file run must not overwrite the baseline.
  incremental: false,
  incrementalFile: "test/mutation/baseline.json",
  reporters: ["clear-text", "progress", "html", "json"],
  htmlReporter: { fileName: "reports/mutation/index.html" },
  jsonReporter: { fileName: "reports/mutation/mutation.json" },
  clearTextReporter: { allowColor: false, logTests: false, maxTestsToLog: 0 },
  thresholds: { high: 90, low: 85, break: null },
  tempDirName: ".stryker-tmp",
  cleanTempDir: "always",
};
