// npm run bench:heartbeat — the real heartbeat path against a bare Durable Object, side by side.
//
// One local workerd (wrangler dev) with CLUSTERS copies of the example cluster (4 nodes each).
// Rounds alternate between the two routes so both see the same machine state:
//   bare:      POST /v1/bench/echo/:id    auth + JSON parse + one DO round trip (EchoObject, only in
//              wrangler.toml's `bench` environment: test/bench/worker/)
//   heartbeat: POST /v1/clusters/:id/nodes/:node/heartbeat   the real path (token check in the
//              DO, zod validation, engine step, reply with desired state)
// Each round runs CONCURRENCY workers for ROUND_SECONDS, while every node also keeps beating
// once a second (its real cadence) so the clusters stay in steady state during bare rounds too. Prints requests/s, p50/p99 latency,
// the ratio (goal >= 0.8) and storage writes per steady-state heartbeat (must be 0), read from
// the Durable Objects' own write counters (GET /v1/clusters/:id/status -> storage).
// Env: BENCH_CLUSTERS (default 25), BENCH_CONCURRENCY (16), BENCH_ROUND_SECONDS (5), BENCH_ROUNDS (3).
import { z } from "zod";
import type { HeartbeatRequestInput } from "../../protocol/heartbeat.js";
import { api, createCluster, loadSpecFile, startControlPlane } from "../support/control-plane.js";

const CLUSTERS = Number(process.env.BENCH_CLUSTERS ?? 25);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const ROUND_SECONDS = Number(process.env.BENCH_ROUND_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

interface Target {
  cluster: string;
  node: string;
  token: string;
  seq: number;
  /** What the node holds (its grants), reported like a shim does: the availability ledger is on. */
  holding: { group: string; epoch: number }[];
}

const Status = z.object({ storage: z.object({ statePuts: z.number(), alarmWrites: z.number(), heartbeats: z.number() }) });

function body(t: Target): HeartbeatRequestInput {
  const server = t.node.startsWith("server");
  const ok = { healthy: true, detail: "http 200 in 1 ms" };
  return {
    bootId: `bench-${t.node}`,
    seq: t.seq++,
    probes: server ? { "server-api": ok, portal: ok, influxdb: ok } : { "chime-agent": ok },
    holding: t.holding,
    released: [],
    operations: [],
  };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

interface RoundResult {
  ok: number;
  failed: number;
  seconds: number;
  latencies: number[];
}

async function round(send: (t: Target) => Promise<Response>, targets: Target[]): Promise<RoundResult> {
  const latencies: number[] = [];
  let failed = 0;
  let next = 0;
  const start = performance.now();
  const end = start + ROUND_SECONDS * 1000;
  const worker = async () => {
    while (performance.now() < end) {
      const t = targets[next++ % targets.length]!;
      const t0 = performance.now();
      try {
        const res = await send(t);
        await res.arrayBuffer();
        if (res.ok) latencies.push(performance.now() - t0);
        else failed++;
      } catch {
        failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return { ok: latencies.length, failed, seconds: (performance.now() - start) / 1000, latencies };
}

function merge(rs: RoundResult[]) {
  const latencies = rs.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const seconds = rs.reduce((a, r) => a + r.seconds, 0);
  const ok = rs.reduce((a, r) => a + r.ok, 0);
  return { ok, failed: rs.reduce((a, r) => a + r.failed, 0), perSecond: ok / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

async function storageCounters(url: string, token: string, clusters: string[]) {
  const out = new Map<string, z.infer<typeof Status>["storage"]>();
  for (const c of clusters) out.set(c, Status.parse(await api(url, token, "GET", `/v1/clusters/${c}/status`)).storage);
  return out;
}

const cp = await startControlPlane({ logLevel: "warn", wranglerEnv: "bench" });
try {
  const spec = loadSpecFile() as { name: string };
  const targets: Target[] = [];
  const clusters: string[] = [];
  for (let i = 0; i < CLUSTERS; i++) {
    const made = await createCluster(cp.url, cp.adminToken, { ...spec, name: `bench${i}` }, "bench");
    clusters.push(made.clusterId);
    for (const [node, token] of Object.entries(made.nodeTokens)) targets.push({ cluster: made.clusterId, node, token, seq: 1, holding: [] });
  }
  const heartbeat = (t: Target) =>
    fetch(`${cp.url}/v1/clusters/${t.cluster}/nodes/${t.node}/heartbeat`, {
      method: "POST",
      headers: { authorization: `Bearer ${t.token}`, "content-type": "application/json" },
      body: JSON.stringify(body(t)),
    });
  const echo = (t: Target) =>
    fetch(`${cp.url}/v1/bench/echo/${t.cluster}`, {
      method: "POST",
      headers: { authorization: `Bearer ${cp.adminToken}`, "content-type": "application/json" },
      body: JSON.stringify(body(t)),
    });

  // Warm-up: every node beats until groups are granted (first grants are transitions and are
  // written), and both routes have compiled and instantiated their objects.
  // Each node then reports what it holds, so the groups are in service in the availability ledger.
  const learn = async (t: Target) => {
    const res = await heartbeat(t);
    const reply = (await res.json().catch(() => null)) as { grants?: { group: string; epoch: number }[] } | null;
    if (res.ok && reply?.grants) t.holding = reply.grants.map((g) => ({ group: g.group, epoch: g.epoch }));
  };
  for (let i = 0; i < 3; i++) for (const t of targets) await learn(t);
  for (const t of targets) await (await echo(t)).arrayBuffer();

  // Keep every node beating at its real cadence (1 s) through both kinds of rounds, so leases stay
  // held while the bare route is measured: the steady state is a cluster whose nodes all renew.
  let keeping = true;
  const keeper = (async () => {
    while (keeping) {
      const t0 = performance.now();
      await Promise.all(targets.map((t) => learn(t).catch(() => undefined)));
      await new Promise((r) => setTimeout(r, Math.max(0, 1000 - (performance.now() - t0))));
    }
  })();

  const before = await storageCounters(cp.url, cp.adminToken, clusters);
  const bare: RoundResult[] = [];
  const real: RoundResult[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    bare.push(await round(echo, targets));
    real.push(await round(heartbeat, targets));
  }
  const after = await storageCounters(cp.url, cp.adminToken, clusters);
  keeping = false;
  await keeper;

  const b = merge(bare);
  const h = merge(real);
  // The counters live in each Durable Object's memory: one that restarted mid-run (wrangler dev
  // reloads when a source file changes) cannot be counted, and the run says so.
  let steadyBeats = 0;
  let writes = 0;
  let alarmWrites = 0;
  const restarted: string[] = [];
  for (const c of clusters) {
    const a = after.get(c)!;
    const b0 = before.get(c)!;
    if (a.heartbeats < b0.heartbeats) restarted.push(c);
    else {
      steadyBeats += a.heartbeats - b0.heartbeats;
      writes += a.statePuts - b0.statePuts;
      alarmWrites += a.alarmWrites - b0.alarmWrites;
    }
  }
  const fmt = (n: number) => n.toFixed(1).padStart(8);
  console.log(`\nbench:heartbeat  ${CLUSTERS} clusters x 4 nodes, ${CONCURRENCY} concurrent clients, ${ROUNDS} alternating rounds of ${ROUND_SECONDS} s each, one local workerd`);
  console.log("route                          req/s   p50 ms   p99 ms   failed");
  console.log(`bare DO echo (reference)    ${fmt(b.perSecond)} ${fmt(b.p50)} ${fmt(b.p99)} ${String(b.failed).padStart(8)}`);
  console.log(`heartbeat (real path)       ${fmt(h.perSecond)} ${fmt(h.p50)} ${fmt(h.p99)} ${String(h.failed).padStart(8)}`);
  console.log(`ratio heartbeat / bare: ${(h.perSecond / b.perSecond).toFixed(2)}  (goal >= 0.80)`);
  const steadySeconds = [...bare, ...real].reduce((a, r) => a + r.seconds, 0);
  console.log(`storage writes during the steady phase: ${writes} over ${steadyBeats} heartbeats = ${(writes / Math.max(1, steadyBeats)).toFixed(4)} per heartbeat (goal 0)`);
  // Alarms are set per deadline, not per heartbeat: about one per lease period per cluster while a
  // lease is renewed (the alarm that fires re-arms itself at the next deadline).
  console.log(`alarm writes: ${alarmWrites} in ${steadySeconds.toFixed(0)} s over ${clusters.length - restarted.length} clusters = ${(alarmWrites / Math.max(1, steadySeconds) / Math.max(1, clusters.length - restarted.length)).toFixed(3)} per cluster per second (independent of heartbeat rate)`);
  if (restarted.length) console.log(`(${restarted.length} Durable Objects restarted during the run and were left out of the write count: rerun on a quiet tree)`);
  if (h.failed > 0 || b.failed > 0 || steadyBeats === 0) process.exitCode = 1;
} finally {
  await cp.stop();
}
