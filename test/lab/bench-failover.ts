// npm run bench:failover [-- --runs 5] [--scenarios a,b,e] [--systems chime-ha,keepalived,keepalived-tuned]
//                         [--transport websocket|http|websocket,http] [--policy lab|default] [--hog e] [--json out.json] [--verbose]
//                         [--shim tsx|bundle]
//
// Every scenario of test/lab/scenarios.ts, `runs` times on chime-ha (once per transport) and on
// keepalived twice: "default" (VRRPv2, advert_int 1, vrrp_script checks) and "tuned" (VRRPv3 with
// advert_int = chime-ha's heartbeat interval, vrrp_track_process), both configured by
// `chime-ha export keepalived` from the same spec, in the same lab. Prints:
//   scenario | chime-ha downtime min/median/max | keepalived default | keepalived tuned | ratios | split-brain instants
// With --hog e: scenario (e) once more per system with a CPU hog on both cores (printed beside the idle row).
// --shim bundle: the shim as installed (dist/chime-ha-shim.mjs, built first, under the systemd
// unit's V8 flags: interpreter only, 1 MB young generation) instead of the source under tsx.
// Needs root (network namespaces), nft, arping, keepalived.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { parseArgs } from "node:util";
import { SHIM_NODE_FLAGS } from "../../scripts/build-shim-flags.js";
import { stats } from "./analyze.js";
import { addLedger, agreementMs, ledgerAgrees } from "./ledger.js";
import { DEFAULT_POLICY, isKeepalived, Lab, LAB_POLICY, labMissing, policySummary, type System, type Transport } from "./lab.js";
import { type RunResult, SCENARIOS, type ScenarioId } from "./scenarios.js";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "5" },
    scenarios: { type: "string", default: "a,b,c,d,e,f,g,h,i,j,k,l,m" },
    systems: { type: "string", default: "chime-ha,keepalived,keepalived-tuned" },
    transport: { type: "string", default: "websocket" },
    json: { type: "string" },
    policy: { type: "string", default: "lab" },
    hog: { type: "string", default: "" },
    verbose: { type: "boolean", default: false },
    shim: { type: "string", default: "tsx" },
  },
});
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1 || runs > 50) throw new Error(`--runs: a whole number 1-50, got ${values.runs}`);
const wanted = values.scenarios!.split(",").map((s) => s.trim()) as ScenarioId[];
for (const w of wanted) if (!SCENARIOS.some((s) => s.id === w)) throw new Error(`--scenarios: unknown scenario '${w}' (${SCENARIOS.map((s) => s.id).join(", ")})`);
if (values.policy !== "lab" && values.policy !== "default") throw new Error(`--policy: lab or default, got '${values.policy}'`);
const policy = values.policy === "lab" ? LAB_POLICY : DEFAULT_POLICY;
const systems = values.systems!.split(",").map((s) => s.trim()) as System[];
for (const s of systems) if (s !== "chime-ha" && s !== "keepalived" && s !== "keepalived-tuned") throw new Error(`--systems: unknown system '${s}' (chime-ha, keepalived, keepalived-tuned)`);
const transports = values.transport!.split(",").map((s) => s.trim()) as Transport[];
for (const t of transports) if (t !== "websocket" && t !== "http") throw new Error(`--transport: websocket or http, got '${t}'`);
if (values.shim !== "tsx" && values.shim !== "bundle") throw new Error(`--shim: tsx or bundle, got '${values.shim}'`);
let shimCommand: string[] | undefined;
if (values.shim === "bundle") {
  // Built from this tree, run the way the unit runs it.
  execFileSync(process.execPath, ["--import", "tsx", "scripts/build-shim.ts"], { stdio: "inherit" });
  shimCommand = [process.execPath, ...SHIM_NODE_FLAGS, "dist/chime-ha-shim.mjs"];
}
const hogged = values.hog ? (values.hog.split(",").map((s) => s.trim()) as ScenarioId[]) : [];
for (const h of hogged) if (!SCENARIOS.some((s) => s.id === h)) throw new Error(`--hog: unknown scenario '${h}'`);

const missing = await labMissing(systems.some(isKeepalived) ? "both" : "chime-ha");
if (missing) {
  process.stderr.write(`bench:failover cannot run: ${missing}\n`);
  process.exit(1);
}

/** A column of the table: a system (chime-ha once per transport). */
interface Column {
  system: System;
  transport?: Transport;
  label: string;
}
const columns: Column[] = systems.flatMap((s): Column[] =>
  s === "chime-ha" ? transports.map((t) => ({ system: s, transport: t, label: transports.length > 1 ? `chime-ha (${t})` : "chime-ha" })) : [{ system: s, label: s === "keepalived" ? "keepalived default" : "keepalived tuned" }],
);

/** Two busy loops at normal priority, one per core (the machine's other work competes with them). */
function startHog(): ChildProcess[] {
  return cpus().map(() => spawn(process.execPath, ["-e", "for (;;) {}"], { stdio: "ignore" }));
}
function stopHog(hog: ChildProcess[]): void {
  for (const p of hog) if (p.pid && p.exitCode === null) p.kill("SIGKILL");
}

const results: (RunResult & { hog?: boolean })[] = [];
// Figures depend on how busy the machine is (every shim command is a process): print it.
const loadAtStart = loadavg()[1]!;
const startedAt = new Date();
const errors: string[] = [];
for (const col of columns) {
  const lab = new Lab({ system: col.system, policy, verbose: values.verbose, ...(col.transport ? { transport: col.transport } : {}), ...(shimCommand ? { shimCommand } : {}) });
  let hog: ChildProcess[] = [];
  const stopAll = () => {
    stopHog(hog);
    void lab.stop().finally(() => process.exit(130));
  };
  process.once("SIGINT", stopAll);
  try {
    await lab.start();
    const plan: { id: ScenarioId; hog: boolean }[] = [...wanted.map((id) => ({ id, hog: false })), ...hogged.map((id) => ({ id, hog: true }))];
    for (const { id, hog: underHog } of plan) {
      const sc = SCENARIOS.find((s) => s.id === id)!;
      if (sc.notFor?.[col.system]) continue;
      if (underHog) hog = startHog();
      for (let i = 0; i < runs; i++) {
        const what = `${col.label} (${sc.id})${underHog ? " under a CPU hog" : ""} run ${i + 1}/${runs}`;
        try {
          const r = await addLedger(lab, await sc.run(lab));
          results.push({ ...r, ...(underHog ? { hog: true } : {}) });
          process.stderr.write(`${what}: downtime ${r.downtimeMs ?? "NOT BACK"} ms${r.ledgerDowntimeMs !== undefined ? ` (ledger ${r.ledgerDowntimeMs ?? "?"} ms)` : ""}, failures ${r.failures} (${r.laterFailures} after recovery), dual-VIP ${r.dualVipInstants} effective / ${r.dualConfigured} configured, dual-MAC ${r.dualMac}, interleaved ${r.interleaved} — ${r.detail}${r.ledgerIntervals?.length ? `\n  ledger: ${r.ledgerIntervals.join("\n  ledger: ")}` : ""}\n`);
        } catch (err) {
          errors.push(`${what}: ${(err as Error).message}`);
          process.stderr.write(`${what} FAILED: ${(err as Error).message}\n`);
          // Bring the lab back to a known state before the next run.
          await lab.waitSteady(60_000).catch(() => undefined);
        }
      }
      stopHog(hog);
      hog = [];
    }
  } finally {
    stopHog(hog);
    process.removeListener("SIGINT", stopAll);
    await lab.stop();
  }
}

const fmt = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`);
const of = (col: Column, id: ScenarioId, hog: boolean) => results.filter((r) => r.system === col.system && (col.transport === undefined || r.transport === col.transport) && r.scenario === id && (r.hog === true) === hog);
function cell(col: Column, id: ScenarioId, hog: boolean): { text: string; median: number | null } {
  const sc = SCENARIOS.find((s) => s.id === id)!;
  if (sc.notFor?.[col.system]) return { text: `n/a (${sc.notFor[col.system]})`, median: null };
  const rs = of(col, id, hog);
  if (rs.length === 0) return { text: "no run", median: null };
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
const splitBrain = (col: Column, id: ScenarioId, hog: boolean): string => {
  const rs = of(col, id, hog);
  if (rs.length === 0) return "-";
  const dual = rs.reduce((a, r) => a + r.dualVipInstants, 0);
  const mac = rs.reduce((a, r) => a + r.dualMac, 0);
  const configured = rs.reduce((a, r) => a + r.dualConfigured, 0);
  const inter = rs.reduce((a, r) => a + r.interleaved, 0);
  return `${dual + inter}${dual + inter ? ` (${dual} dual-VIP, ${inter} interleaved)` : ""}${mac || configured ? `; ARP: ${mac} two-MAC rounds; configured on both: ${configured}` : ""}`;
};
/** The control plane's own figure for the same runs: its availability ledger, and how many runs agree with the client. */
const ledgerCell = (col: Column, id: ScenarioId, hog: boolean): string => {
  const rs = of(col, id, hog);
  if (rs.length === 0) return "-";
  if (rs.every((r) => r.ledgerWindow === undefined)) return "n/a (a pool member failed; the group's holder did not)";
  const xs = rs.map((r) => r.ledgerDowntimeMs).filter((x): x is number => typeof x === "number");
  const st = stats(xs);
  if (!st) return "not read";
  const agree = rs.filter((r) => ledgerAgrees(r) === true).length;
  const worst = Math.max(...rs.filter((r) => r.downtimeMs !== null && typeof r.ledgerDowntimeMs === "number").map((r) => Math.abs(r.ledgerDowntimeMs! - r.downtimeMs!) - agreementMs(r.downtimeMs!)));
  return `${fmt(st.min)} / ${fmt(st.median)} / ${fmt(st.max)} (${agree}/${rs.length} agree${agree < rs.length ? `, worst ${fmt(worst)} over` : ""})`;
};
const ratio = (a: number | null, b: number | null) => (a === null || b === null ? "-" : b === 0 ? (a === 0 ? "1.00x" : "inf") : `${(a / b).toFixed(2)}x`);

const chime = columns.filter((c) => c.system === "chime-ha");
const wsCol = chime.find((c) => c.transport === "websocket");
const httpCol = chime.find((c) => c.transport === "http");
const tuned = columns.find((c) => c.system === "keepalived-tuned");
const deflt = columns.find((c) => c.system === "keepalived");
const header = [
  "scenario",
  ...columns.map((c) => `${c.label} min / median / max (${runs} runs)`),
  ...chime.map((c) => `${c.label} ledger downtime (agrees with the client within max(10 %, 300 ms))`),
  ...chime.flatMap((c) => [...(tuned ? [`${c.label} / keepalived tuned`] : []), ...(deflt ? [`${c.label} / keepalived default`] : [])]),
  // Both transports: the socket's medians against HTTP's, run in the same bench.
  ...(wsCol && httpCol ? ["chime-ha websocket / http"] : []),
  ...columns.map((c) => `split-brain instants ${c.label}`),
];
const rows: string[][] = [];
for (const { id, hog } of [...wanted.map((id) => ({ id, hog: false })), ...hogged.map((id) => ({ id, hog: true }))]) {
  const sc = SCENARIOS.find((s) => s.id === id)!;
  const cells = columns.map((c) => cell(c, id, hog));
  const med = (c: Column | undefined) => (c ? cells[columns.indexOf(c)]!.median : null);
  rows.push([
    `(${id}) ${sc.title}${hog ? ", with a CPU hog on both cores" : ""}`,
    ...cells.map((c) => c.text),
    ...chime.map((c) => ledgerCell(c, id, hog)),
    ...chime.flatMap((c) => [...(tuned ? [ratio(med(c), med(tuned))] : []), ...(deflt ? [ratio(med(c), med(deflt))] : [])]),
    ...(wsCol && httpCol ? [ratio(med(wsCol), med(httpCol))] : []),
    ...columns.map((c) => splitBrain(c, id, hog)),
  ]);
}
const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
const out = [
  `chime-ha policy "${policy.name}": ${policySummary(policy)}; heartbeats over ${transports.join(" and ")}; shim run as ${values.shim === "bundle" ? `the installed bundle (${SHIM_NODE_FLAGS.join(" ")})` : "source under tsx"}`,
  `keepalived default: VRRPv2 advert_int 1, vrrp_script (tcp) interval 1 fall ${policy.probeFall} rise ${policy.probeRise}, nopreempt`,
  `keepalived tuned: VRRPv3 advert_int ${policy.heartbeatIntervalMs / 1000} (chime-ha's heartbeat interval), vrrp_track_process for chime-server and chime-portal, the same vrrp_script, nopreempt`,
  `machine: ${startedAt.toISOString().slice(0, 16)}Z, load average (5 min) ${loadAtStart.toFixed(1)} at start, ${loadavg()[1]!.toFixed(1)} at end`,
  "client: GET every 20 ms, 200 ms budget; ARP for each VIP every 20 ms; VIP samplers every 10 ms (configured, and effective: not fenced by the kernel's lease filter); downtime = first failed request to the first good one of 10 in a row; split-brain instant = a VIP effective on both servers, or answers flipping back",
  "ledger: the control plane's availability ledger over the run (GET /v1/clusters/:id/availability): time server-api was down or in a planned gap; a silent holder's outage counts from its last heartbeat, or from the last answer its peers' VIP checks saw",
  "",
  line(header),
  line(header.map(() => "---")),
  ...rows.map(line),
];
process.stdout.write(out.join("\n") + "\n");
if (errors.length) process.stdout.write(`\n${errors.length} run(s) failed:\n${errors.map((e) => `  ${e}`).join("\n")}\n`);
if (values.json) writeFileSync(values.json, JSON.stringify({ policy, runs, transports, results, errors }, null, 2));
