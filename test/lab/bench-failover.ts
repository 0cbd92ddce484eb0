// npm run bench:failover [-- --runs 5] [--scenarios a,b,e] [--systems chime-ha,keepalived] [--policy lab|default] [--json out.json] [--verbose]
//
// Every scenario of test/lab/scenarios.ts, `runs` times on chime-ha and on keepalived (configured
// by `chime-ha export keepalived` from the same spec), in the same lab. Prints:
//   scenario | chime-ha downtime min/median/max | keepalived same | ratio (medians) | split-brain instants
// Needs root (network namespaces), nft, arping, keepalived.
import { writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { stats } from "./analyze.js";
import { DEFAULT_POLICY, Lab, LAB_POLICY, labMissing, policySummary, type System } from "./lab.js";
import { type RunResult, SCENARIOS, type ScenarioId } from "./scenarios.js";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "5" },
    scenarios: { type: "string", default: "a,b,c,d,e,f,g,h" },
    systems: { type: "string", default: "chime-ha,keepalived" },
    json: { type: "string" },
    policy: { type: "string", default: "lab" },
    verbose: { type: "boolean", default: false },
  },
});
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1 || runs > 50) throw new Error(`--runs: a whole number 1-50, got ${values.runs}`);
const wanted = values.scenarios!.split(",").map((s) => s.trim()) as ScenarioId[];
for (const w of wanted) if (!SCENARIOS.some((s) => s.id === w)) throw new Error(`--scenarios: unknown scenario '${w}' (a-h)`);
if (values.policy !== "lab" && values.policy !== "default") throw new Error(`--policy: lab or default, got '${values.policy}'`);
const policy = values.policy === "lab" ? LAB_POLICY : DEFAULT_POLICY;
const systems = values.systems!.split(",").map((s) => s.trim()) as System[];
for (const s of systems) if (s !== "chime-ha" && s !== "keepalived") throw new Error(`--systems: unknown system '${s}'`);

const missing = await labMissing(systems.includes("keepalived") ? "both" : "chime-ha");
if (missing) {
  process.stderr.write(`bench:failover cannot run: ${missing}\n`);
  process.exit(1);
}

const results: RunResult[] = [];
// Figures depend on how busy the machine is (every shim command is a process): print it.
const loadAtStart = loadavg()[1]!;
const startedAt = new Date();
const errors: string[] = [];
for (const system of systems) {
  const lab = new Lab({ system, policy, verbose: values.verbose });
  const stopAll = () => void lab.stop().finally(() => process.exit(130));
  process.once("SIGINT", stopAll);
  try {
    await lab.start();
    for (const sc of SCENARIOS.filter((s) => wanted.includes(s.id))) {
      if (sc.notFor?.[system]) continue;
      for (let i = 0; i < runs; i++) {
        try {
          const r = await sc.run(lab);
          results.push(r);
          process.stderr.write(`${system} (${sc.id}) run ${i + 1}/${runs}: downtime ${r.downtimeMs ?? "NOT BACK"} ms, failures ${r.failures} (${r.laterFailures} after recovery), dual-VIP ${r.dualVipInstants}, interleaved ${r.interleaved} — ${r.detail}\n`);
        } catch (err) {
          errors.push(`${system} (${sc.id}) run ${i + 1}: ${(err as Error).message}`);
          process.stderr.write(`${system} (${sc.id}) run ${i + 1} FAILED: ${(err as Error).message}\n`);
          // Bring the lab back to a known state before the next run.
          await lab.waitSteady(60_000).catch(() => undefined);
        }
      }
    }
  } finally {
    process.removeListener("SIGINT", stopAll);
    await lab.stop();
  }
}

const fmt = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`);
function cell(system: System, id: ScenarioId): { text: string; median: number | null } {
  const sc = SCENARIOS.find((s) => s.id === id)!;
  if (sc.notFor?.[system]) return { text: `n/a (${sc.notFor[system]})`, median: null };
  const rs = results.filter((r) => r.system === system && r.scenario === id);
  if (rs.length === 0) return { text: systems.includes(system) ? "no run" : "not run", median: null };
  const down = rs.filter((r) => r.downtimeMs !== null).map((r) => r.downtimeMs!);
  const notBack = rs.length - down.length;
  const st = stats(down);
  const later = rs.reduce((a, r) => a + r.laterFailures, 0);
  const text = st
    ? `${fmt(st.min)} / ${fmt(st.median)} / ${fmt(st.max)}${notBack ? ` (+${notBack} not back)` : ""}${later ? ` (+${later} lone failed requests after recovery)` : ""}`
    : `not back in ${rs.length} runs`;
  const cpDown = stats(rs.filter((r) => r.extra?.cpDownMs !== undefined).map((r) => r.extra!.cpDownMs!));
  return { text: cpDown ? `${text} (control plane down ${fmt(cpDown.min)}-${fmt(cpDown.max)})` : text, median: st?.median ?? null };
}
const splitBrain = (system: System, id: ScenarioId): string => {
  const rs = results.filter((r) => r.system === system && r.scenario === id);
  if (rs.length === 0) return "-";
  const dual = rs.reduce((a, r) => a + r.dualVipInstants, 0);
  const inter = rs.reduce((a, r) => a + r.interleaved, 0);
  return `${dual + inter} (${dual} dual-VIP, ${inter} interleaved)`;
};

const header = ["scenario", `chime-ha downtime min / median / max (${runs} runs)`, "keepalived same", "ratio (medians)", "split-brain instants chime-ha", "split-brain instants keepalived"];
const rows: string[][] = [];
for (const sc of SCENARIOS.filter((s) => wanted.includes(s.id))) {
  const c = cell("chime-ha", sc.id);
  const k = cell("keepalived", sc.id);
  const ratio = c.median !== null && k.median !== null ? (k.median === 0 ? (c.median === 0 ? "1.00x" : "inf") : `${(c.median / k.median).toFixed(2)}x`) : "-";
  rows.push([`(${sc.id}) ${sc.title}`, c.text, k.text, ratio, splitBrain("chime-ha", sc.id), splitBrain("keepalived", sc.id)]);
}
const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
const out = [
  `chime-ha policy "${policy.name}": ${policySummary(policy)}`,
  "keepalived: VRRP advert_int 1, vrrp_script interval 1 fall 2 rise 1, nopreempt (from `chime-ha export keepalived --advert-int 1 --no-virtual-server`)",
  `machine: ${startedAt.toISOString().slice(0, 16)}Z, load average (5 min) ${loadAtStart.toFixed(1)} at start, ${loadavg()[1]!.toFixed(1)} at end`,
  "client: GET every 20 ms, 200 ms budget; VIP samplers every 10 ms; downtime = first failed request to the first good one of 10 in a row",
  "",
  line(header),
  line(header.map(() => "---")),
  ...rows.map(line),
];
process.stdout.write(out.join("\n") + "\n");
if (errors.length) process.stdout.write(`\n${errors.length} run(s) failed:\n${errors.map((e) => `  ${e}`).join("\n")}\n`);
if (values.json) writeFileSync(values.json, JSON.stringify({ policy, runs, results, errors }, null, 2));
