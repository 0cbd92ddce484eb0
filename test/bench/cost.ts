// npm run bench:cost — what a cluster costs per month on Cloudflare, measured, per transport.
//
// One local workerd (wrangler dev --env bench) with copies of the example cluster (2 servers + 2
// compute nodes): BENCH_CLUSTERS for each policy (BENCH_CLUSTERS_300MS for the 300 ms heartbeat
// if it should differ). For the default policy (1 s heartbeat) and a 300 ms
// heartbeat, each transport runs in turn on the same clusters: every node heartbeats at its
// policy's cadence, over its watch socket (websocket) or as HTTP POSTs (http), for a warm-up and
// then BENCH_SECONDS measured. Every billable unit is counted where it happens — Workers requests
// by the bench Worker, Durable Object RPC calls, fetches, alarm invocations, WebSocket messages,
// storage rows written (incl. setAlarm), D1 rows and queue messages by each object
// (worker/cluster/cluster-object.ts, UsageCounters), CPU by reading workerd's own CPU time — and
// priced from test/bench/prices.ts. Prints units and dollars per cluster-month (30 days), a fleet
// table for 1 to 10,000 clusters beside a self-hosted quorum, and last one line:
//   websocket $X.XX/cluster-month (default), $Y.YY (300 ms); http $Z.ZZ; ratio R
// Env: BENCH_CLUSTERS (50), BENCH_CLUSTERS_300MS (as many), BENCH_SECONDS (60), BENCH_WARMUP_SECONDS (10, then on until steady, at most
// BENCH_WARMUP_MAX_SECONDS (90) more); BENCH_ONLY="default websocket,300 ms http"
// runs only the listed phases (no fleet table or summary line then).
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { Agent, request as httpRequest } from "node:http";
import { join } from "node:path";
import WebSocket from "ws";
import { z } from "zod";
import type { HeartbeatRequestInput } from "../../protocol/heartbeat.js";
import { api, createCluster, loadSpecFile, REPO_ROOT, startControlPlane } from "../support/control-plane.js";
import { PLAN_BASE_USD_PER_MONTH, PRICES, PRICES_READ_ON, type PriceKey, SELF_HOSTED } from "./prices.js";

const CLUSTERS = Number(process.env.BENCH_CLUSTERS ?? 50);
// 50 clusters at 300 ms are 667 heartbeats a second into one local workerd: on an otherwise idle
// 2-core machine all were answered (2026-11-30, 100 %); on a busy one fewer clusters keep late
// heartbeats from starting failovers no real fleet would pay for (the units of one cluster do not
// depend on how many others share the workerd). The warning at the end says when < 90 % answered.
const CLUSTERS_300MS = Number(process.env.BENCH_CLUSTERS_300MS ?? CLUSTERS);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 60);
const WARMUP = Number(process.env.BENCH_WARMUP_SECONDS ?? 10);
const WARMUP_MAX = Number(process.env.BENCH_WARMUP_MAX_SECONDS ?? 90);
/** Seconds each phase warmed up before its window (steady or not). */
const warmups = new Map<string, number>();
const MONTH_S = 30 * 24 * 3600;
const GB_PER_OBJECT = 0.128;

const POLICIES = [
  { name: "default", heartbeatIntervalMs: 1000, leaseTtlMs: 3000, driftMarginMs: 500, clusters: CLUSTERS },
  { name: "300 ms", heartbeatIntervalMs: 300, leaseTtlMs: 1500, driftMarginMs: 300, clusters: CLUSTERS_300MS },
] as const;
type PolicyName = (typeof POLICIES)[number]["name"];
type Transport = "websocket" | "http";

/** head_sampling_rate of the production Worker's [observability] (1 when unset). */
function logSampling(): number {
  const toml = readFileSync(join(REPO_ROOT, "wrangler.toml"), "utf8");
  const top = toml.split(/^\[env\./m)[0]!;
  const section = /^\[observability\]\n([\s\S]*?)(?=^\[|$(?![\s\S]))/m.exec(top)?.[1] ?? "";
  const rate = /^head_sampling_rate\s*=\s*([\d.]+)/m.exec(section)?.[1];
  return rate === undefined ? 1 : Number(rate);
}

const Usage = z.object({
  rpcCalls: z.number(),
  fetches: z.number(),
  wsMessagesIn: z.number(),
  alarms: z.number(),
  rowsWritten: z.number(),
  d1RowsWritten: z.number(),
  queueMessages: z.number(),
  heartbeatsHttp: z.number(),
  heartbeatsSocket: z.number(),
});
type Usage = z.infer<typeof Usage>;

/** CPU seconds used so far by the workerd processes of the control plane's process group. */
function workerdCpuSeconds(pgid: number): number {
  const tick = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100;
  let total = 0;
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    } catch {
      continue;
    }
    const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // fields[2] is the process group; [11], [12] utime and stime in clock ticks.
    if (Number(fields[2]) === pgid && comm.startsWith("workerd")) total += (Number(fields[11]) + Number(fields[12])) / tick;
  }
  return total;
}

interface Node {
  cluster: string;
  node: string;
  token: string;
  seq: number;
  ws: WebSocket | null;
  pending: Map<number, () => void>;
  inFlight: boolean;
}

function body(n: Node): HeartbeatRequestInput {
  const ok = { healthy: true, detail: "http 200 in 1 ms" };
  return {
    bootId: `bench-${n.node}`,
    seq: n.seq++,
    probes: n.node.startsWith("server") ? { "server-api": ok, portal: ok, influxdb: ok } : { "chime-agent": ok },
    holding: [],
    released: [],
    operations: [],
    shimVersion: "bench",
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const cp = await startControlPlane({ logLevel: "warn", wranglerEnv: "bench", readyTimeoutMs: 90_000 });
const sampling = logSampling();
try {
  const base = loadSpecFile() as { name: string; policy?: Record<string, unknown> };
  const nodesByPolicy = new Map<PolicyName, Node[]>();
  const clustersByPolicy = new Map<PolicyName, string[]>();
  for (const p of POLICIES) {
    const nodes: Node[] = [];
    const ids: string[] = [];
    for (let i = 0; i < p.clusters; i++) {
      const { name: _name, clusters: _clusters, ...policy } = p;
      const made = await createCluster(cp.url, cp.adminToken, { ...base, name: `cost${p.heartbeatIntervalMs}-${i}`, policy: { ...base.policy, ...policy } }, "bench");
      ids.push(made.clusterId);
      for (const [node, token] of Object.entries(made.nodeTokens)) nodes.push({ cluster: made.clusterId, node, token, seq: 1, ws: null, pending: new Map(), inFlight: false });
    }
    nodesByPolicy.set(p.name, nodes);
    clustersByPolicy.set(p.name, ids);
  }

  // HTTP heartbeats share a pool of kept-alive connections (BENCH_HTTP_SOCKETS, 16): the bench
  // counts billable units, and one local workerd answers a few hundred connections far slower than
  // a pool (a real fleet's connections end at Cloudflare's edge, not at one process).
  const httpAgent = new Agent({ keepAlive: true, maxSockets: Number(process.env.BENCH_HTTP_SOCKETS ?? 16) });
  const wsUrl = (n: Node) => `${cp.url.replace(/^http/, "ws")}/v1/clusters/${n.cluster}/nodes/${n.node}/watch`;
  async function connect(n: Node): Promise<void> {
    const ws = new WebSocket(wsUrl(n), { headers: { authorization: `Bearer ${n.token}` } });
    ws.on("message", (data) => {
      const m = JSON.parse(String(data)) as { type: string; seq?: number };
      if ((m.type === "reply" || m.type === "refused") && typeof m.seq === "number") n.pending.get(m.seq)?.();
    });
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    n.ws = ws;
  }

  async function beatOnce(n: Node, transport: Transport): Promise<boolean> {
    const req = body(n);
    if (transport === "websocket") {
      const done = new Promise<boolean>((resolve) => {
        const t = setTimeout(() => {
          n.pending.delete(req.seq);
          resolve(false);
        }, 5000);
        n.pending.set(req.seq, () => {
          clearTimeout(t);
          n.pending.delete(req.seq);
          resolve(true);
        });
      });
      n.ws!.send(JSON.stringify({ type: "heartbeat", request: req }));
      return done;
    }
    const payload = JSON.stringify(req);
    return new Promise<boolean>((resolve) => {
      const r = httpRequest(
        `${cp.url}/v1/clusters/${n.cluster}/nodes/${n.node}/heartbeat`,
        { method: "POST", agent: httpAgent, timeout: 5000, headers: { authorization: `Bearer ${n.token}`, "content-type": "application/json", "content-length": Buffer.byteLength(payload) } },
        (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode === 200));
          res.on("error", () => resolve(false));
        },
      );
      r.on("timeout", () => r.destroy(new Error("timeout")));
      r.on("error", () => resolve(false));
      r.end(payload);
    });
  }

  /** Every node beats at a fixed rate (a beat still in flight skips its slot) until `stop` is set. */
  function drive(nodes: Node[], transport: Transport, intervalMs: number) {
    const state = { stop: false, ok: 0, failed: 0, skipped: 0 };
    const loops = nodes.map(async (n) => {
      await sleep(Math.random() * intervalMs);
      let next = performance.now();
      while (!state.stop) {
        if (n.inFlight) state.skipped++;
        else {
          n.inFlight = true;
          void beatOnce(n, transport).then((ok) => {
            n.inFlight = false;
            if (ok) state.ok++;
            else state.failed++;
          });
        }
        next += intervalMs;
        await sleep(Math.max(0, next - performance.now()));
      }
    });
    return { state, done: () => Promise.all(loops) };
  }

  /** Every object's counters and the Worker's request count, in one bench-only request (retried: the machine is busy). */
  async function snapshot(ids: string[]) {
    const Snapshot = z.object({ workerRequests: z.number(), clusters: z.record(z.string(), Usage) });
    for (let attempt = 1; ; attempt++) {
      try {
        const res = await fetch(`${cp.url}/v1/bench/usage?clusters=${ids.join(",")}`, { headers: { authorization: `Bearer ${cp.adminToken}` }, signal: AbortSignal.timeout(60_000) });
        const s = Snapshot.parse(await res.json());
        return { perCluster: new Map(Object.entries(s.clusters)), workerRequests: s.workerRequests, cpu: workerdCpuSeconds(cp.pid), at: performance.now() };
      } catch (err) {
        process.stderr.write(`usage snapshot failed (${(err as Error).message})\n${cp.logTail(20)}\n`);
        if (attempt >= 3) throw err;
      }
    }
  }

  interface Measured {
    policy: PolicyName;
    transport: Transport;
    seconds: number;
    heartbeats: number;
    nominalHeartbeats: number;
    failed: number;
    /** Units per cluster-month, by price. */
    units: Record<PriceKey, number>;
    doCpuMsPerHeartbeat: number;
    restarted: number;
  }
  const results: Measured[] = [];
  const doCpuMs = new Map<PolicyName, number>();

  for (const p of POLICIES) {
    const nodes = nodesByPolicy.get(p.name)!;
    const ids = clustersByPolicy.get(p.name)!;
    for (const transport of ["websocket", "http"] as const) {
      if (process.env.BENCH_ONLY && !process.env.BENCH_ONLY.split(",").includes(`${p.name} ${transport}`)) continue;
      const note = (what: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${p.name} ${transport}: ${what}\n`);
      if (transport === "websocket") {
        note(`connecting ${nodes.length} sockets`);
        await Promise.all(nodes.map(connect));
      }
      note(`${WARMUP} s warm-up`);
      const run = drive(nodes, transport, p.heartbeatIntervalMs);
      await sleep(WARMUP * 1000);
      // The window starts steady: a phase's first seconds (fresh objects granting and auditing, or
      // the switch of transport) can overrun a busy machine, and heartbeats answered late make
      // failovers no fleet would pay for. Warm up on until 5 s in a row answered >= 95 % of the
      // nominal rate (at most BENCH_WARMUP_MAX_SECONDS more); then measure either way.
      const perSecond = (nodes.length * 1000) / p.heartbeatIntervalMs;
      const okAt: number[] = [run.state.ok];
      let extra = 0;
      for (; extra < WARMUP_MAX; extra++) {
        if (okAt.length > 5 && okAt[okAt.length - 1]! - okAt[okAt.length - 6]! >= 0.95 * 5 * perSecond) break;
        if (extra === 0 || extra % 10 === 0) note(`not steady yet (${run.state.ok} answered, ${run.state.failed} failed, ${run.state.skipped} skipped so far): warming up on`);
        await sleep(1000);
        okAt.push(run.state.ok);
      }
      warmups.set(`${p.name} ${transport}`, WARMUP + extra);
      note(`warm-up ${WARMUP + extra} s: ${run.state.ok} answered, ${run.state.failed} failed, ${run.state.skipped} skipped (still in flight); measuring ${SECONDS} s`);
      const a = await snapshot(ids);
      const okBefore = run.state.ok;
      const failedBefore = run.state.failed;
      await sleep(SECONDS * 1000);
      const b = await snapshot(ids);
      const heartbeats = run.state.ok - okBefore;
      const failed = run.state.failed - failedBefore;
      run.state.stop = true;
      await run.done();
      await sleep(500);
      if (transport === "websocket") for (const n of nodes) n.ws?.close(1000, "phase over");
      else httpAgent.destroy();

      const seconds = (b.at - a.at) / 1000;
      const sum: Usage = { rpcCalls: 0, fetches: 0, wsMessagesIn: 0, alarms: 0, rowsWritten: 0, d1RowsWritten: 0, queueMessages: 0, heartbeatsHttp: 0, heartbeatsSocket: 0 };
      let restarted = 0;
      let counted = 0;
      for (const id of ids) {
        const u0 = a.perCluster.get(id)!;
        const u1 = b.perCluster.get(id)!;
        // Counters live in the object's memory: one that restarted mid-run cannot be counted.
        if (u1.rpcCalls < u0.rpcCalls) {
          restarted++;
          continue;
        }
        counted++;
        for (const k of Object.keys(sum) as (keyof Usage)[]) sum[k] += u1[k] - u0[k];
      }
      // The bench's own status read of each object in the first snapshot is one RPC within the window
      // (the usage route itself is not counted as a Worker request).
      sum.rpcCalls -= counted;
      const workerRequests = b.workerRequests - a.workerRequests;
      const cpuMs = (b.cpu - a.cpu) * 1000;
      const beatsCounted = sum.heartbeatsHttp + sum.heartbeatsSocket;
      // CPU per heartbeat: on the socket it is the object's work alone; over HTTP the rest is the Worker's.
      const cpuPerBeat = cpuMs / Math.max(1, beatsCounted);
      if (transport === "websocket") doCpuMs.set(p.name, cpuPerBeat);
      const doShare = doCpuMs.get(p.name) ?? cpuPerBeat;
      const workerCpuMs = transport === "http" ? Math.max(0, cpuPerBeat - doShare) * beatsCounted : 0;
      const doInvocations = sum.rpcCalls + sum.fetches + sum.alarms + sum.wsMessagesIn;
      const perMonth = MONTH_S / (seconds * Math.max(1, counted));
      const units: Record<PriceKey, number> = {
        workerRequests: workerRequests * perMonth,
        workerCpuMs: workerCpuMs * perMonth,
        doRequests: (sum.rpcCalls + sum.fetches + sum.alarms + sum.wsMessagesIn / 20) * perMonth,
        // Assumption (stated in the output): an object is active for about the CPU time of each
        // invocation (a steady heartbeat does no I/O), 128 MB while active, nothing between.
        doDuration: ((doInvocations * doShare) / 1000) * GB_PER_OBJECT * perMonth,
        doRowsWritten: sum.rowsWritten * perMonth,
        d1RowsWritten: sum.d1RowsWritten * perMonth,
        queueOperations: sum.queueMessages * 3 * perMonth,
        logEvents: (workerRequests + doInvocations) * sampling * perMonth,
      };
      results.push({
        policy: p.name,
        transport,
        seconds,
        heartbeats,
        nominalHeartbeats: (nodes.length * seconds * 1000) / p.heartbeatIntervalMs,
        failed,
        units,
        doCpuMsPerHeartbeat: doShare,
        restarted,
      });
      process.stderr.write(`${p.name} ${transport}: ${heartbeats} heartbeats in ${seconds.toFixed(1)} s (${failed} failed), alarms ${sum.alarms}, rows written ${sum.rowsWritten}, D1 rows ${sum.d1RowsWritten}, workerd CPU ${cpuPerBeat.toFixed(3)} ms/heartbeat\n`);
    }
    // The next policy's phases must not pay for this one's clusters: left without heartbeats, all
    // of their nodes would go silent at once (failovers, audit rows, alerts) while the next
    // window is measured, and the machine's time goes to that. Delete them instead.
    if (p !== POLICIES[POLICIES.length - 1]) {
      process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${p.name}: deleting its ${ids.length} clusters\n`);
      for (const id of ids) {
        // A busy local workerd may restart mid-request (503): try again, then go on without it.
        for (let attempt = 1; attempt <= 3; attempt++) {
          try {
            await api(cp.url, cp.adminToken, "DELETE", `/v1/clusters/${encodeURIComponent(id)}`);
            break;
          } catch (err) {
            if (attempt === 3) process.stderr.write(`could not delete cluster ${id}: ${(err as Error).message}\n`);
            else await sleep(1000);
          }
        }
      }
      await sleep(2000);
    }
  }

  const dollars = (units: Record<PriceKey, number>) => {
    const out: Record<string, number> = {};
    let total = 0;
    for (const k of Object.keys(PRICES) as PriceKey[]) {
      out[k] = (units[k] / 1e6) * PRICES[k].perMillion;
      total += out[k]!;
    }
    return { each: out as Record<PriceKey, number>, total };
  };
  /** The account's monthly bill for n clusters: plan base plus what exceeds each allowance. */
  const fleet = (units: Record<PriceKey, number>, n: number) =>
    PLAN_BASE_USD_PER_MONTH.usd + (Object.keys(PRICES) as PriceKey[]).reduce((acc, k) => acc + (Math.max(0, units[k] * n - PRICES[k].included) / 1e6) * PRICES[k].perMillion, 0);

  const fmtUnits = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} k` : n.toFixed(1));
  const usd = (n: number) => `$${n.toFixed(n < 1 ? 3 : 2)}`;
  const lines: string[] = [];
  lines.push(`bench:cost  ${POLICIES.map((p) => `${p.clusters} clusters at ${p.name}`).join(", ")}, 4 nodes each (2 servers, 2 compute nodes), ${WARMUP} s warm-up (on until steady: ${[...warmups].map(([k, v]) => `${k} ${v} s`).join(", ")}) then ${SECONDS} s measured per transport, one local workerd`);
  lines.push(`prices read ${PRICES_READ_ON} (test/bench/prices.ts), Workers Paid, marginal (beyond the account's included allowances); 30-day month`);
  lines.push(`Workers Logs head_sampling_rate ${sampling} (wrangler.toml); assumption: every Worker and Durable Object invocation is one log event when sampled`);
  lines.push("assumption: an object is active (128 MB) for the CPU time workerd spends per invocation (no I/O in a steady heartbeat); over HTTP the rest of workerd's CPU is billed as Worker CPU");
  lines.push("");
  for (const p of POLICIES) {
    const ws = results.find((r) => r.policy === p.name && r.transport === "websocket");
    const http = results.find((r) => r.policy === p.name && r.transport === "http");
    // BENCH_ONLY: a phase left out is printed as nothing measured.
    if (!ws || !http) {
      for (const r of [ws, http]) if (r) lines.push(`policy ${p.name}, ${r.transport} only: $${dollars(r.units).total.toFixed(3)}/cluster-month, ${r.heartbeats} heartbeats answered of ${Math.round(r.nominalHeartbeats)} nominal`);
      continue;
    }
    lines.push(`policy ${p.name}: heartbeat ${p.heartbeatIntervalMs} ms, lease TTL ${p.leaseTtlMs} ms, margin ${p.driftMarginMs} ms, ${p.clusters} clusters`);
    for (const r of [ws, http]) {
      lines.push(
        `  ${r.transport}: ${r.heartbeats} heartbeats answered of ${Math.round(r.nominalHeartbeats)} nominal (${((100 * r.heartbeats) / r.nominalHeartbeats).toFixed(0)} %), ${r.failed} failed, object CPU ${r.doCpuMsPerHeartbeat.toFixed(3)} ms per heartbeat${r.restarted ? `, ${r.restarted} objects restarted (left out)` : ""}`,
      );
    }
    lines.push(`  | unit (per cluster-month) | websocket units | websocket $ | http units | http $ |`);
    lines.push(`  | --- | --- | --- | --- | --- |`);
    const dw = dollars(ws.units);
    const dh = dollars(http.units);
    for (const k of Object.keys(PRICES) as PriceKey[]) {
      lines.push(`  | ${PRICES[k].what} | ${fmtUnits(ws.units[k])} | ${usd(dw.each[k])} | ${fmtUnits(http.units[k])} | ${usd(dh.each[k])} |`);
    }
    lines.push(`  | total | | ${usd(dw.total)} | | ${usd(dh.total)} |`);
    lines.push("");
  }

  const wsDefault = results.find((r) => r.policy === "default" && r.transport === "websocket");
  const wsFast = results.find((r) => r.policy === "300 ms" && r.transport === "websocket");
  const httpDefault = results.find((r) => r.policy === "default" && r.transport === "http");
  const httpFast = results.find((r) => r.policy === "300 ms" && r.transport === "http");
  if (!wsDefault || !wsFast || !httpDefault || !httpFast) {
    process.stdout.write(lines.join("\n") + "\n");
    process.stderr.write(`BENCH_ONLY=${process.env.BENCH_ONLY}: no fleet table or summary line (they need all four phases)\n`);
  } else {
    const quorum = (n: number, intervalMs: number) => Math.ceil(n / Math.max(1, Math.floor((SELF_HOSTED.clustersPerQuorumAt1s * intervalMs) / 1000))) * SELF_HOSTED.vmsPerQuorum * SELF_HOSTED.vmUsdPerMonth;
    lines.push(`fleet: the account's monthly bill (plan $${PLAN_BASE_USD_PER_MONTH.usd} + usage beyond the included allowances), beside a self-hosted quorum of ${SELF_HOSTED.vmsPerQuorum} VMs at $${SELF_HOSTED.vmUsdPerMonth}/month each per ${SELF_HOSTED.clustersPerQuorumAt1s} clusters at 1 s (assumed, test/bench/prices.ts)`);
    lines.push("| clusters | websocket, 1 s | websocket, 300 ms | http, 1 s | http, 300 ms | self-hosted etcd/Consul, 1 s | self-hosted, 300 ms |");
    lines.push("| --- | --- | --- | --- | --- | --- | --- |");
    for (const n of [1, 100, 1000, 10_000]) {
      const f = (u: Record<PriceKey, number>) => `$${Math.round(fleet(u, n)).toLocaleString("en-US")}`;
      lines.push(`| ${n.toLocaleString("en-US")} | ${f(wsDefault.units)} | ${f(wsFast.units)} | ${f(httpDefault.units)} | ${f(httpFast.units)} | $${quorum(n, 1000).toLocaleString("en-US")} | $${quorum(n, 300).toLocaleString("en-US")} |`);
    }
    lines.push("");
    const wsTotal = dollars(wsDefault.units).total;
    const wsFastTotal = dollars(wsFast.units).total;
    const httpTotal = dollars(httpDefault.units).total;
    lines.push(`websocket $${wsTotal.toFixed(2)}/cluster-month (default), $${wsFastTotal.toFixed(2)} (300 ms); http $${httpTotal.toFixed(2)}; ratio ${(httpTotal / wsTotal).toFixed(1)}`);
    process.stdout.write(lines.join("\n") + "\n");
    if (results.some((r) => r.heartbeats < 0.9 * r.nominalHeartbeats)) {
      process.stderr.write("warning: some runs answered fewer than 90 % of the nominal heartbeats (a busy machine); their per-heartbeat figures stand, the time-based ones (alarms) may be high\n");
    }
  }
} finally {
  await cp.stop();
}
