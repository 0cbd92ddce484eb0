// `chime-ha operation backfill|heal CLUSTER ...`: ask a node to copy a missed InfluxDB window from
// a healthy peer, or to run `mc admin heal` (what influxdb.outage-window and minio events ask
// for). The node runs it and reports back; --wait follows the events until its result arrives
// and exits 1 if it failed or did not finish in time.
import type { Command } from "commander";
import { AdminOpResult, EventPage, type RunOperation } from "../../protocol/api.js";
import { ApiClient, clusterPath } from "./client.js";
import { resolveConnection } from "./contexts.js";
import { CommandFailed, out, parseDuration, parseTime, sleep } from "./output.js";
import { seconds } from "./wait.js";

async function run(program: Command, clusterArg: string, body: RunOperation, wait: boolean, timeout: string): Promise<void> {
  const timeoutMs = parseDuration(timeout, "--timeout");
  const client = new ApiClient(resolveConnection(program.opts()));
  const cluster = (await client.resolveCluster(clusterArg)).id;
  const events = `${clusterPath(cluster)}/events`;
  // The newest event now: its result will come after it.
  const start = await client.get(`${events}?last=1`, EventPage);
  const r = await client.post(`${clusterPath(cluster)}/operations`, body, AdminOpResult);
  out(r.detail);
  if (!wait) return;
  const id = /\(operation ([^)]+)\)/.exec(r.detail)?.[1];
  if (!id) throw new CommandFailed(`cannot tell the operation's id from the reply: ${r.detail}`);
  const t0 = performance.now();
  let cursor = start.nextCursor;
  while (performance.now() - t0 < timeoutMs) {
    const page = await client.get(`${events}?limit=500${cursor ? `&cursor=${cursor}` : ""}`, EventPage);
    cursor = page.nextCursor ?? cursor;
    for (const e of page.events) {
      if (!e.reason.includes(`(operation ${id})`)) continue;
      if (e.kind === "operation.finished") return out(`${e.reason}, after ${seconds(performance.now() - t0)}`);
      if (e.kind === "operation.failed") throw new CommandFailed(e.reason);
    }
    await sleep(500);
  }
  throw new CommandFailed(`operation ${id} has not reported a result within ${seconds(timeoutMs)}; it stays pending until the node reports (chime-ha events ${cluster} -f)`);
}

export function registerOperation(program: Command): void {
  const op = program.command("operation").description("ask a node to run a data-service operation (influxdb backfill, minio heal)");
  op.command("backfill")
    .description("copy the writes an influxdb instance missed from a healthy peer (influxdb-read group)")
    .argument("<cluster>", "cluster id (site.name) or name")
    .requiredOption("--group <group>", "the influxdb-read group")
    .requiredOption("--node <node>", "the instance that missed writes (it copies into itself)")
    .requiredOption("--database <db>", "the database to copy")
    .requiredOption("--start <time>", "window start: ISO time, epoch ms, or a duration ago (2h)")
    .option("--end <time>", "window end (default: now)")
    .option("--from <node>", "the peer to copy from (default: a live, healthy member)")
    .option("--wait", "wait for the result; exit 1 if it failed or took too long")
    .option("--timeout <duration>", "how long --wait waits", "10m")
    .action(async (cluster: string, o: { group: string; node: string; database: string; start: string; end?: string; from?: string; wait?: boolean; timeout: string }) => {
      const body: RunOperation = {
        kind: "influxdb-backfill",
        group: o.group,
        node: o.node,
        database: o.database,
        startMs: parseTime(o.start, "--start"),
        endMs: o.end === undefined ? Date.now() : parseTime(o.end, "--end"),
        ...(o.from ? { from: o.from } : {}),
      };
      await run(program, cluster, body, o.wait === true, o.timeout);
    });
  op.command("heal")
    .description("run `mc admin heal` on the minio group's holder (or a named node)")
    .argument("<cluster>", "cluster id (site.name) or name")
    .requiredOption("--group <group>", "the minio group")
    .requiredOption("--alias <alias>", "the mc alias configured on the node")
    .option("--node <node>", "where to run it (default: the group's VIP holder)")
    .option("--wait", "wait for the result; exit 1 if it failed or took too long")
    .option("--timeout <duration>", "how long --wait waits", "10m")
    .action(async (cluster: string, o: { group: string; alias: string; node?: string; wait?: boolean; timeout: string }) => {
      await run(program, cluster, { kind: "minio-heal", group: o.group, alias: o.alias, ...(o.node ? { node: o.node } : {}) }, o.wait === true, o.timeout);
    });
}
