// Through the real Worker: a new cluster without shims is quiet (one info event per group), and an
// apply failure a shim reports in its heartbeat becomes one event and shows in status.
import { runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { EventRow } from "../../protocol/api.js";
import type { ApplyError } from "../../protocol/heartbeat.js";
import type { ClusterStatus } from "../../protocol/status.js";
import { ALL_HEALTHY, beat, call, heartbeat, newCluster } from "./helpers.js";

const stub = (id: string) => env.CLUSTER.get(env.CLUSTER.idFromName(id));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function events(id: string): Promise<EventRow[]> {
  const r = await call("GET", `/v1/clusters/${id}/events?limit=500`);
  expect(r.status).toBe(200);
  return (r.json as unknown as { events: EventRow[] }).events;
}

/** Events are written after the step (waitUntil): wait until `ok` holds for them (bounded). */
async function eventsWhen(id: string, ok: (e: EventRow[]) => boolean): Promise<EventRow[]> {
  let last: EventRow[] = [];
  for (let i = 0; i < 100; i++) {
    last = await events(id);
    if (ok(last)) return last;
    await sleep(50);
  }
  throw new Error(`events never matched; last: ${JSON.stringify(last.map((e) => [e.kind, e.reason]))}`);
}

async function status(id: string): Promise<ClusterStatus> {
  const r = await call("GET", `/v1/clusters/${id}/status`);
  expect(r.status).toBe(200);
  return r.json as unknown as ClusterStatus;
}

const GROUPS = ["server-api", "portal", "mysql", "influxdb", "minio"];

describe("quiet by default, through the Worker", () => {
  it("a new cluster without shims: one 'waiting' info per group and one no-fence warning per compute node, however often it ticks", async () => {
    const c = await newCluster();
    for (let i = 0; i < 10; i++) await runDurableObjectAlarm(stub(c.id));
    const evs = await eventsWhen(c.id, (e) => e.filter((x) => x.kind === "group.waiting").length >= GROUPS.length && e.filter((x) => x.kind === "compute.no-fence").length >= 2);
    for (let i = 0; i < 5; i++) await runDurableObjectAlarm(stub(c.id));
    await sleep(200);
    const all = (await events(c.id)).filter((e) => e.actor === "engine");
    expect(all.length).toBe(evs.filter((e) => e.actor === "engine").length);
    for (const g of GROUPS) {
      expect(all.filter((e) => e.group === g).map((e) => [e.kind, e.severity, e.reason])).toEqual([
        ["group.waiting", "info", `${g} has no holder yet: waiting for the first heartbeat from server1 and server2`],
      ]);
    }
    expect(all.filter((e) => e.group === null).map((e) => [e.kind, e.severity, e.node])).toEqual([
      ["compute.no-fence", "warning", "node1"],
      ["compute.no-fence", "warning", "node2"],
    ]);
    const st = await status(c.id);
    expect(st.groups.map((g) => [g.health, g.reason])).toEqual(GROUPS.map(() => ["waiting", "waiting for the first heartbeat from server1 and server2"]));
  });

  it("a director that cannot program its balancer: status shows the group degraded with the command; one event; resolved when it applies", async () => {
    const c = await newCluster((s) => {
      s.policy = { heartbeatIntervalMs: 1000, leaseTtlMs: 30_000, driftMarginMs: 1000 };
    });
    const t1 = c.tokens.server1!;
    expect((await heartbeat(c.id, "server1", t1, beat({ seq: 0 }, ALL_HEALTHY))).reply.grants.map((g) => g.group)).toContain("portal");
    const err: ApplyError = {
      group: "portal",
      target: "lb",
      command: "ipvsadm -A -t 192.168.231.20:80 -s wrr",
      exitCode: 2,
      stderrTail: "Can't initialize ipvs: Protocol not available",
      since: Date.UTC(2026, 10, 30, 12, 0, 1),
    };
    expect((await heartbeat(c.id, "server1", t1, beat({ seq: 1, applyErrors: [err] }, ALL_HEALTHY))).status).toBe(200);
    // A malformed report is refused with its path, like any heartbeat field.
    const bad = await heartbeat(c.id, "server1", t1, beat({ seq: 2, applyErrors: [{ ...err, exitCode: "two" as unknown as number }] }, ALL_HEALTHY));
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.raw)).toContain("applyErrors[0].exitCode");
    expect((await status(c.id)).groups.find((g) => g.name === "portal")!.health).toBe("ok"); // not persistent yet
    await sleep(3100);
    await heartbeat(c.id, "server1", t1, beat({ seq: 3, applyErrors: [err] }, ALL_HEALTHY));
    await heartbeat(c.id, "server1", t1, beat({ seq: 4, applyErrors: [err] }, ALL_HEALTHY));
    const reason =
      "server1 cannot apply lb for portal: `ipvsadm -A -t 192.168.231.20:80 -s wrr` exited 2 (Can't initialize ipvs: Protocol not available), failing since 2026-11-30T12:00:01.000Z";
    const evs = await eventsWhen(c.id, (e) => e.some((x) => x.kind === "apply.failed"));
    expect(evs.filter((e) => e.kind === "apply.failed").map((e) => [e.severity, e.group, e.node, e.reason])).toEqual([["critical", "portal", "server1", reason]]);
    const st = await status(c.id);
    expect(st.groups.find((g) => g.name === "portal")).toMatchObject({ holder: "server1", health: "degraded", reason });
    expect(st.nodes.find((n) => n.name === "server1")!.applyErrors).toEqual([err]);
    await heartbeat(c.id, "server1", t1, beat({ seq: 5 }, ALL_HEALTHY));
    await eventsWhen(c.id, (e) => e.some((x) => x.kind === "apply.recovered" && x.reason === "server1 applies lb for portal again"));
    expect((await status(c.id)).groups.find((g) => g.name === "portal")!.health).toBe("ok");
  });
});
