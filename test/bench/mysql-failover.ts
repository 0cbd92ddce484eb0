// npm run bench:mysql-failover [-- --topology galera] [-- --scenario <name>] — writer failover on
// real MariaDB under the real control plane (wrangler dev), with the writer VIP really applied in
// network namespaces and 8 connections inserting through it. Every scenario of issue 16 runs
// RUNS times (default 5) on fresh servers; printed per scenario: writer-unavailable time through
// the VIP (fault -> first insert the new writer acknowledged; min/median/max), acknowledged and
// lost inserts, and `refused (reason)` where the engine refused. Exit 1 if an automatic
// promotion lost an acknowledged insert, or the control run did not show a loss.
import { mariadbMissing } from "../data/support/mariadb.js";
import { captureShimLog, LAB_POLICY, MysqlLab } from "../data/support/mysql-lab.js";
import { galeraMissing } from "../data/support/galera.js";
import { controlSemiSyncOff, cutOff, galeraFault, ioStopped, nodeCrash, partition, type Run, writerKill } from "../data/support/mysql-scenarios.js";
import { labUnavailable } from "../shim/support/netns.js";
import { startLocalControlPlane } from "../shim/support/control-plane.js";

const arg = (name: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const RUNS = Number(process.env.RUNS ?? arg("runs") ?? 5);
const topology = arg("topology") ?? "dual-master";
const only = arg("scenario");

const missing = mariadbMissing() ?? (await labUnavailable(["ip", "nft", "arping"]));
if (missing) {
  console.error(`bench:mysql-failover cannot run: ${missing}`);
  process.exit(1);
}
if (topology !== "dual-master" && topology !== "galera") {
  console.error(`unknown --topology ${topology} (dual-master or galera)`);
  process.exit(1);
}
const galera = topology === "galera";
if (galera && galeraMissing()) {
  console.error(`bench:mysql-failover --topology galera cannot run: ${galeraMissing()}`);
  process.exit(1);
}

type Scenario = { key: string; automatic: boolean; control?: boolean; run: (lab: MysqlLab) => Promise<Run[]> };
const GALERA: Scenario[] = [
  { key: "kill", automatic: true, run: async (l) => [await galeraFault(l, "kill")] },
  { key: "stop", automatic: true, run: async (l) => [await galeraFault(l, "stop")] },
  { key: "partition", automatic: true, run: async (l) => [await galeraFault(l, "partition")] },
];
const DUAL_MASTER: Scenario[] = [
  { key: "kill", automatic: true, run: async (l) => [await writerKill(l)] },
  { key: "crash", automatic: true, run: async (l) => [await nodeCrash(l)] },
  { key: "io-stopped", automatic: false, run: async (l) => Object.values(await ioStopped(l)) },
  { key: "partition", automatic: true, run: async (l) => [await partition(l)] },
  { key: "cut-off", automatic: true, run: async (l) => [await cutOff(l)] },
  { key: "two-domains", automatic: true, run: async (l) => [await writerKill(l, "two")] },
  { key: "control", automatic: false, control: true, run: async (l) => [await controlSemiSyncOff(l)] },
];

captureShimLog();
const started = new Date();
const cp = await startLocalControlPlane();
const lab = new MysqlLab(cp, `chd-b${process.pid % 100000}-`);
const results = new Map<string, { automatic: boolean; control: boolean; runs: Run[] }>();
try {
  await lab.build(galera);
  for (const sc of (galera ? GALERA : DUAL_MASTER).filter((s) => !only || s.key === only)) {
    for (let i = 1; i <= RUNS; i++) {
      const runs = await sc.run(lab);
      for (const r of runs) {
        const row = results.get(r.scenario) ?? { automatic: sc.automatic && !r.scenario.startsWith("forced"), control: sc.control === true, runs: [] };
        row.runs.push(r);
        results.set(r.scenario, row);
        const s = r.sampler;
        console.log(
          `${sc.key} run ${i}: ${r.scenario}: ${r.refused ? `refused (${r.refused.slice(0, 160)}...)` : `unavailable ${r.unavailableMs} ms`}, ${r.acked} acked at ${r.rate}/s, ${r.lost} lost, ` +
            `${s.samples} samples / ${s.durationMs} ms, ${s.doubleWritable.length} double-writable; ${JSON.stringify(r.facts).slice(0, 300)}`,
        );
      }
    }
  }
} finally {
  await lab.cleanup();
  await cp.stop();
}

const ms = (v: number) => (v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${v} ms`);
function spread(xs: number[]): string {
  if (xs.length === 0) return "-";
  const s = [...xs].sort((a, b) => a - b);
  const med = s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  return `${ms(s[0]!)} / ${ms(Math.round(med))} / ${ms(s[s.length - 1]!)}`;
}
const loadAvg = (await import("node:os")).loadavg()[0]!.toFixed(1);
console.log(
  `\nbench:mysql-failover, ${galera ? "galera (2 MariaDB 10.11 nodes with galera-4 + garbd, evs keepalive 0.5 s / suspect 1.5 s)" : "dual master (MariaDB 10.11, semi-sync AFTER_SYNC, wait_no_slave ON, timeout 2 s)"}, ${RUNS} runs per scenario, ${started.toISOString()} .. ${new Date().toISOString()}, load average ${loadAvg}; ` +
    `policy: heartbeat ${LAB_POLICY.heartbeatIntervalMs} ms, lease TTL ${LAB_POLICY.leaseTtlMs} ms, margin ${LAB_POLICY.driftMarginMs} ms, mysql probe every ${LAB_POLICY.probeIntervalMs} ms (fall 2); load: 8 connections through the VIP\n`,
);
console.log(`| scenario | writer unavailable through the VIP, min / median / max | inserts acknowledged (per run) | inserts/s | lost | refused (reason) | ${galera ? "n/a (all Galera nodes are writable)" : "double-writable samples"} |`);
console.log("| --- | --- | --- | --- | --- | --- | --- |");
let failed = false;
for (const [name, row] of results) {
  const lost = row.runs.map((r) => r.lost);
  const refusedRuns = row.runs.filter((r) => r.refused);
  const reason = refusedRuns.length ? `${refusedRuns.length}/${row.runs.length}: ${refusedRuns[0]!.refused!.replace(/\|/g, "/")}` : "-";
  const unavailable = row.runs.map((r) => r.unavailableMs).filter((x): x is number => x !== null);
  // Galera nodes are all writable by design: only the dual master has a "never two writable" rule.
  const dbl = galera ? 0 : row.runs.reduce((a, r) => a + r.sampler.doubleWritable.length, 0);
  console.log(`| ${name} | ${spread(unavailable)} | ${row.runs.map((r) => r.acked).join(", ")} | ${Math.min(...row.runs.map((r) => r.rate))}-${Math.max(...row.runs.map((r) => r.rate))} | ${lost.join(", ")} | ${reason} | ${dbl} |`);
  if (row.automatic && lost.some((l) => l > 0)) failed = true;
  if (row.control && !lost.every((l) => l > 0)) failed = true;
  if (dbl > 0) failed = true;
}
console.log(
  failed
    ? "\nFAILED: an automatic promotion lost acknowledged inserts, two servers were writable at once, or the control run did not show loss"
    : galera
      ? "\n0 acknowledged writes lost"
      : "\n0 acknowledged writes lost in every automatic promotion; the control run (semi-sync off) lost inserts, as it must",
);
process.exit(failed ? 1 : 0);
