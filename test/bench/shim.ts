// npm run bench:shim — RSS and CPU share of one chime-ha-shim process at the default cadence
// (heartbeat every 1 s, probe every 1 s) against a real local control plane (wrangler dev),
// measured from /proc over 60 s after a 5 s warm-up. Goal: <= 60 MB RSS, <= 2% of one core.
// The shim runs in dry-run mode in this namespace (it reads the interface every beat, as in
// production, but adds nothing to the machine's own network); it holds the group's lease.
// Env: BENCH_SECONDS (default 60).
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SHIM_NODE_FLAGS, SHIM_SEA_NODE_OPTIONS } from "../../scripts/build-shim-flags.js";
import { createLocalCluster, labSpec, startLocalControlPlane } from "../shim/support/control-plane.js";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 60);
const TICKS = 100; // USER_HZ on Linux
const PAGE_KB = 4;

function ownTicks(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8");
  const x = f.slice(f.lastIndexOf(")") + 2).split(" ");
  return Number(x[11]) + Number(x[12]);
}
function cpuTicks(pid: number): number {
  // /proc/PID/stat fields 14-17: utime, stime, cutime, cstime (children: the ip/probe commands).
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
}
function rssMb(pid: number): number {
  const statm = readFileSync(`/proc/${pid}/statm`, "utf8").split(" ");
  return (Number(statm[1]) * PAGE_KB) / 1024;
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const dir = mkdtempSync(join(tmpdir(), "chs-bench-"));
const cp = await startLocalControlPlane();
// The service the shim probes: a local HTTP server answering /health.
const http = createServer((_q, s) => s.end("ok"));
await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
const probePort = (http.address() as { port: number }).port;
let shimPid: number | undefined;
try {
  const spec = labSpec("10.231.65");
  spec.groups![0]!.probe = { type: "http", port: probePort, path: "/health" }; // default cadence: 1 s, fall/rise 2
  const { id, tokens } = await createLocalCluster(cp, "bench", spec);
  const cfg = join(dir, "shim.yaml");
  writeFileSync(cfg, [`controlPlaneUrl: ${cp.url}`, `cluster: ${id}`, "node: server1", `token: ${tokens.server1}`, "interface: lo", "dryRun: true", `stateDir: ${join(dir, "state")}`, ""].join("\n"));
  // Measured as it is installed: BENCH_RUNTIME=sea runs the single executable the way the unit
  // does (node-shim/systemd/chime-ha-shim.service: NODE_OPTIONS); the default runs the esbuild
  // bundle from `npm run build:shim` with the bundle's V8 flags; BENCH_RUNTIME=tsx the dev form.
  const flags = (process.env.BENCH_NODE_FLAGS ?? SHIM_NODE_FLAGS.join(" ")).split(" ").filter(Boolean);
  let cmd = process.execPath;
  let argv = [...flags, "--import", "tsx", "node-shim/bin/chime-ha-shim.ts"];
  let env: NodeJS.ProcessEnv = process.env;
  if (process.env.BENCH_RUNTIME !== "tsx") {
    await new Promise<void>((resolve, reject) => execFile("npm", ["run", "--silent", "build:shim"], (e) => (e ? reject(e) : resolve())));
    argv = [...flags, "dist/chime-ha-shim.mjs"];
  }
  if (process.env.BENCH_RUNTIME === "sea") {
    cmd = `dist/chime-ha-shim-linux-${process.arch}`;
    argv = [];
    env = { ...process.env, NODE_OPTIONS: process.env.BENCH_SEA_NODE_OPTIONS ?? SHIM_SEA_NODE_OPTIONS.join(" ") };
  }
  console.log(`bench:shim runs: ${env.NODE_OPTIONS && cmd !== process.execPath ? `NODE_OPTIONS="${env.NODE_OPTIONS}" ` : ""}${[cmd === process.execPath ? "node" : cmd, ...argv].join(" ")}`);
  const shim = spawn(cmd, [...argv, "--config", cfg], { stdio: ["ignore", "pipe", "inherit"], env });
  shimPid = shim.pid!;
  let lines = 0;
  let heartbeatsFailed = 0;
  shim.stdout!.on("data", (d: Buffer) => {
    const text = String(d);
    lines += text.split("\n").length - 1;
    heartbeatsFailed += text.split('"heartbeat failed"').length - 1;
  });
  await sleep(5000);
  const startMb = rssMb(shimPid);
  const t0 = performance.now();
  const c0 = cpuTicks(shimPid);
  const o0 = ownTicks(shimPid);
  const l0 = lines;
  let maxMb = startMb;
  let sumMb = 0;
  let samples = 0;
  while (performance.now() - t0 < SECONDS * 1000) {
    await sleep(1000);
    const mb = rssMb(shimPid);
    maxMb = Math.max(maxMb, mb);
    sumMb += mb;
    samples++;
  }
  const wallS = (performance.now() - t0) / 1000;
  const cpuS = (cpuTicks(shimPid) - c0) / TICKS;
  const ownS = (ownTicks(shimPid) - o0) / TICKS;
  const status = (await (await fetch(`${cp.url}/v1/clusters/${id}/status`, { headers: { authorization: `Bearer ${cp.adminToken}` } })).json()) as {
    groups: { name: string; holder: string | null }[];
  };
  const cpuPct = (100 * cpuS) / wallS;
  const result = {
    seconds: Math.round(wallS),
    rssMbAvg: +(sumMb / samples).toFixed(1),
    rssMbMax: +maxMb.toFixed(1),
    cpuPercentOfOneCore: +cpuPct.toFixed(2),
    cpuPercentShimOnly: +((100 * ownS) / wallS).toFixed(2),
    logLinesPerSecond: +((lines - l0) / wallS).toFixed(1),
    heartbeatsFailed,
    holder: status.groups[0]?.holder ?? null,
    goals: { rssMb: 60, cpuPercent: 2 },
    withinGoals: maxMb <= 60 && cpuPct <= 2,
  };
  const form = cmd === process.execPath ? `${argv.at(-1)}, node ${flags.join(" ")}` : `${cmd}, NODE_OPTIONS ${env.NODE_OPTIONS}`;
  console.log(`chime-ha-shim (${form}) over ${result.seconds} s at default cadence: RSS avg ${result.rssMbAvg} MB (max ${result.rssMbMax} MB), CPU ${result.cpuPercentOfOneCore}% of one core (incl. child commands); goal <= 60 MB, <= 2%`);
  console.log(JSON.stringify(result));
} finally {
  if (shimPid !== undefined) {
    try {
      process.kill(shimPid, "SIGTERM");
    } catch {
      // gone
    }
    await sleep(500);
  }
  http.close();
  await cp.stop();
  rmSync(dir, { recursive: true, force: true });
}
