// `npm run test:mutation:ci`: the mutation run in incremental mode against the
// committed baseline (test/mutation/baseline.json), so only mutants in changed code, or covered by
// changed tests, run again; then the score per area. It fails when an area is below its goal and
// more than SLACK points lower than in the baseline (a change may not make an area worse while it
// is short of its goal; one new survivor among thousands is not "worse"), or fell below its goal.
// The rewritten baseline is what to commit with the change.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";

const BASELINE = "test/mutation/baseline.json";
const REPORT = "reports/mutation/mutation.json";
const SLACK = 0.5;
const AREAS = [
  { area: "worker/engine", prefix: "worker/engine/", goal: 90 },
  { area: "node-shim/core", prefix: "node-shim/core/", goal: 85 },
];

type Report = { files: Record<string, { mutants: { status: string }[] }> };

/** Score as Stryker counts it: killed and timed-out mutants over all that ran or had no test. */
export function areaScore(report: Report, prefix: string): { killed: number; total: number; score: number } {
  let killed = 0;
  let total = 0;
  for (const [file, f] of Object.entries(report.files)) {
    if (!file.replaceAll("\\", "/").startsWith(prefix)) continue;
    for (const m of f.mutants) {
      const k = m.status === "Killed" || m.status === "Timeout";
      if (k || m.status === "Survived" || m.status === "NoCoverage") total++;
      if (k) killed++;
    }
  }
  return { killed, total, score: total === 0 ? 0 : (100 * killed) / total };
}

const read = (file: string): Report => JSON.parse(readFileSync(file, "utf8")) as Report;
const before = existsSync(BASELINE) ? read(BASELINE) : null;
const started = Date.now();
const run = spawnSync("stryker", ["run", "--incremental", ...process.argv.slice(2)], { stdio: "inherit" });
if (run.status !== 0) process.exit(run.status ?? 1);
// Stryker records the absolute project path; the committed baseline names none (and compact JSON
// is half the size).
const written = JSON.parse(readFileSync(BASELINE, "utf8")) as Record<string, unknown>;
writeFileSync(BASELINE, JSON.stringify({ ...written, projectRoot: "." }));
const after = read(REPORT);
let failed = false;
console.log(`mutation run: ${((Date.now() - started) / 1000).toFixed(0)} s (incremental against ${before ? BASELINE : "nothing: a full run"})`);
for (const { area, prefix, goal } of AREAS) {
  const a = areaScore(after, prefix);
  const b = before ? areaScore(before, prefix) : null;
  const worse = a.score < goal && b !== null && a.score < b.score - SLACK;
  const fellBelow = a.score < goal && b !== null && b.score >= goal;
  if (worse || fellBelow || a.total === 0) failed = true;
  const was = b ? `; baseline ${b.score.toFixed(2)} %` : "";
  const verdict = fellBelow ? " FELL BELOW THE GOAL" : worse ? " WORSE THAN THE BASELINE" : a.score < goal ? " (below the goal, not worse)" : "";
  console.log(`${area}: ${a.score.toFixed(2)} % (${a.killed} of ${a.total} mutants killed; goal ${goal} %${was})${verdict}`);
}
process.exit(failed ? 1 : 0);
