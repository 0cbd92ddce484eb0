// npm run bench:mysql-failover — writer-unavailable time of the mysql-writer group: from SIGKILL of
// the writer's mariadbd to the first insert accepted by the new writer, measured by a client
// that inserts continuously into whichever server accepts writes. Each run uses a fresh pair of
// real MariaDB servers (dual master, semi-sync) and a fresh cluster on one real control plane
// (wrangler dev), with the shim's real mysql probe and appliers. Prints min/median/max.
import { setLogSink } from "../../node-shim/log.js";
import { DataCluster, waitFor } from "../data/support/cluster.js";
import { mariadbMissing, readOnlyOf, startDualMaster } from "../data/support/mariadb.js";
import { InsertLoad, mysqlShimConfig, mysqlSpec, seqsOn, WritableSampler } from "../data/support/mysql-load.js";
import { createLocalCluster, startLocalControlPlane } from "../shim/support/control-plane.js";

const RUNS = Number(process.env.RUNS ?? 5);
const missing = mariadbMissing();
if (missing) {
  console.error(`bench:mysql-failover cannot run: ${missing}`);
  process.exit(1);
}

setLogSink(null);
const cp = await startLocalControlPlane();
const results: { ms: number; ackedBefore: number; lost: number; doubleWritable: number }[] = [];
try {
  for (let run = 1; run <= RUNS; run++) {
    const dm = await startDualMaster("chd-bench-");
    const { id, tokens } = await createLocalCluster(cp, `bench${run}`, mysqlSpec(`dbs${run}`));
    const cl = new DataCluster(cp, id, tokens);
    const sampler = new WritableSampler([dm.a, dm.b]);
    try {
      cl.start("server1", mysqlShimConfig(dm.a, dm.b));
      await waitFor("db1 writable", async () => (await cl.group("mysql")).holder === "server1" && (await readOnlyOf(dm.a)) === false, 30_000, 50);
      cl.start("server2", mysqlShimConfig(dm.b, dm.a));
      await waitFor("server2 healthy", async () => (await cl.status()).nodes.find((n) => n.name === "server2")?.probes.mysql?.healthy, 10_000, 50);
      sampler.start();
      const load = new InsertLoad([dm.a, dm.b]);
      load.start(0);
      await waitFor("steady load on db1", async () => load.acked.length >= 300, 20_000, 20);
      // Let server2 report a few times under load, as a standby would in production.
      await new Promise((r) => setTimeout(r, 1000));
      const killedAt = performance.now();
      await dm.a.kill();
      await waitFor("first insert on db2", async () => load.acked.some((x) => x.on === "db2"), 30_000, 2);
      const first = load.acked.find((x) => x.on === "db2")!;
      await load.stop();
      sampler.stop();
      const onB = await seqsOn(dm.b);
      const r = {
        ms: Math.round(first.at - killedAt),
        ackedBefore: load.acked.filter((x) => x.on === "db1").length,
        lost: load.acked.filter((x) => !onB.has(x.seq)).length,
        doubleWritable: sampler.doubleWritable.length,
      };
      results.push(r);
      console.log(`run ${run}: writer unavailable ${r.ms} ms (${r.ackedBefore} inserts acked before the kill, ${r.lost} lost, ${r.doubleWritable} double-writable samples of ${sampler.samples})`);
    } finally {
      sampler.stop();
      await cl.stopAll();
      await dm.cleanup();
    }
  }
} finally {
  await cp.stop();
}
const ms = results.map((r) => r.ms).sort((a, b) => a - b);
const median = ms.length % 2 ? ms[(ms.length - 1) / 2]! : (ms[ms.length / 2 - 1]! + ms[ms.length / 2]!) / 2;
console.log(
  `mysql writer-unavailable time over ${ms.length} runs (SIGKILL -> first accepted insert on the new writer): min ${ms[0]} ms, median ${median} ms, max ${ms[ms.length - 1]} ms` +
    ` (probe every 200 ms, fall 2; heartbeat 500 ms, lease TTL 2000 ms); lost acknowledged inserts: ${results.reduce((a, r) => a + r.lost, 0)}; double-writable samples: ${results.reduce((a, r) => a + r.doubleWritable, 0)}`,
);
if (results.some((r) => r.lost > 0 || r.doubleWritable > 0)) process.exit(1);
