import { runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { WatchMessage } from "../../protocol/heartbeat.js";
import type { ClusterSpecInput } from "../../protocol/spec.js";
import { ALL_HEALTHY, beat, call, heartbeat, newCluster, worker } from "./helpers.js";

// Short leases so real time (workerd's clock) can pass within a test.
const FAST = (s: ClusterSpecInput) => {
  s.policy = { heartbeatIntervalMs: 100, leaseTtlMs: 300, driftMarginMs: 100, holdDownMs: 0 };
};
// Failover timing in real time: a lease long enough that a busy machine's scheduling delays
// (hundreds of ms under load) cannot expire it by accident, short enough to wait out.
const MEDIUM = (s: ClusterSpecInput) => {
  s.policy = { heartbeatIntervalMs: 500, leaseTtlMs: 1500, driftMarginMs: 300, holdDownMs: 0 };
};
// Nothing here depends on time passing.
const SLOW = (s: ClusterSpecInput) => {
  s.policy = { heartbeatIntervalMs: 1000, leaseTtlMs: 30_000, driftMarginMs: 1000 };
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const stub = (id: string) => env.CLUSTER.get(env.CLUSTER.idFromName(id));

async function status(id: string) {
  const r = await call("GET", `/v1/clusters/${id}/status`);
  expect(r.status).toBe(200);
  return r.json as unknown as {
    groups: { name: string; holder: string | null; epoch: number }[];
    decisions: { kind: string; reason: string; group?: string }[];
    storage: { statePuts: number };
  };
}
const holderOf = async (id: string, group: string) => (await status(id)).groups.find((g) => g.name === group)!;

describe("heartbeats, grants and failover", () => {
  it("grants the group to the first healthy server that beats", async () => {
    const c = await newCluster(FAST);
    const r = await heartbeat(c.id, "server1", c.tokens.server1!, beat({}, ALL_HEALTHY));
    expect(r.status).toBe(200);
    const grant = r.reply.grants.find((g) => g.group === "server-api");
    expect(grant).toEqual({ group: "server-api", epoch: 1, ttlMs: 300 });
    const desired = r.reply.desired.groups.find((g) => g.name === "server-api")!;
    expect(desired.role).toBe("holder");
    expect(desired.vip).toBe("192.168.231.10");
    // The other server gets no grant and stands by.
    const r2 = await heartbeat(c.id, "server2", c.tokens.server2!, beat({}, ALL_HEALTHY));
    expect(r2.reply.grants.find((g) => g.group === "server-api")).toBeUndefined();
    expect(r2.reply.desired.groups.find((g) => g.name === "server-api")!.role).toBe("standby");
  });

  it("fails over after the holder's lease expires, not before", async () => {
    const c = await newCluster(MEDIUM);
    await heartbeat(c.id, "server1", c.tokens.server1!, beat({}, ALL_HEALTHY));
    await heartbeat(c.id, "server2", c.tokens.server2!, beat({}, ALL_HEALTHY));
    expect((await holderOf(c.id, "server-api")).holder).toBe("server1");
    // server1 goes silent; server2 keeps beating. Before T + margin nothing moves.
    await heartbeat(c.id, "server2", c.tokens.server2!, beat({ seq: 2 }, ALL_HEALTHY));
    await runDurableObjectAlarm(stub(c.id));
    expect((await holderOf(c.id, "server-api")).holder).toBe("server1");
    const deadline = Date.now() + 15_000;
    let moved = false;
    for (let seq = 3; Date.now() < deadline && !moved; seq++) {
      await sleep(200);
      await heartbeat(c.id, "server2", c.tokens.server2!, beat({ seq }, ALL_HEALTHY));
      await runDurableObjectAlarm(stub(c.id));
      moved = (await holderOf(c.id, "server-api")).holder === "server2";
    }
    expect(moved).toBe(true);
    const g = await holderOf(c.id, "server-api");
    expect(g.epoch).toBe(2);
    const r = await heartbeat(c.id, "server2", c.tokens.server2!, beat({ seq: 99 }, ALL_HEALTHY));
    expect(r.reply.grants.find((x) => x.group === "server-api")).toEqual({ group: "server-api", epoch: 2, ttlMs: 1500 });
    const s = await status(c.id);
    expect(s.decisions.some((d) => d.group === "server-api" && /server1 lease expired/.test(d.reason) && /server2/.test(d.reason))).toBe(true);
    // The old holder, back, is told to stand by: no preemption.
    const back = await heartbeat(c.id, "server1", c.tokens.server1!, beat({ bootId: "boot-2" }, ALL_HEALTHY));
    expect(back.reply.grants.find((x) => x.group === "server-api")).toBeUndefined();
  });

  it("writes no storage for plain renewals", async () => {
    const c = await newCluster(SLOW);
    await heartbeat(c.id, "server1", c.tokens.server1!, beat({}, ALL_HEALTHY));
    await heartbeat(c.id, "server2", c.tokens.server2!, beat({}, ALL_HEALTHY));
    // server1 reports the VIP up: the availability ledger starts (a transition, written once).
    await heartbeat(c.id, "server1", c.tokens.server1!, beat({ seq: 1, holding: [{ group: "server-api", epoch: 1 }] }, ALL_HEALTHY));
    const before = (await status(c.id)).storage.statePuts;
    for (let i = 2; i < 30; i++) {
      await heartbeat(c.id, "server1", c.tokens.server1!, beat({ seq: i, holding: [{ group: "server-api", epoch: 1 }] }, ALL_HEALTHY));
      await heartbeat(c.id, "server2", c.tokens.server2!, beat({ seq: i }, ALL_HEALTHY));
    }
    expect((await status(c.id)).storage.statePuts).toBe(before);
  });

  it("switches over on request: revoke, release confirmed, grant — without waiting for the lease", async () => {
    const c = await newCluster((s) => {
      s.policy = { heartbeatIntervalMs: 1000, leaseTtlMs: 30_000, driftMarginMs: 1000 };
    });
    await heartbeat(c.id, "server1", c.tokens.server1!, beat({}, ALL_HEALTHY));
    await heartbeat(c.id, "server2", c.tokens.server2!, beat({}, ALL_HEALTHY));
    const sw = await call("POST", `/v1/clusters/${c.id}/switchover`, { body: { group: "server-api", to: "server2" } });
    expect(sw.status).toBe(200);
    const r1 = await heartbeat(c.id, "server1", c.tokens.server1!, beat({ seq: 2 }, ALL_HEALTHY));
    expect(r1.reply.desired.groups.find((g) => g.name === "server-api")!.role).toBe("release");
    expect(r1.reply.grants.find((g) => g.group === "server-api")).toBeUndefined();
    await heartbeat(c.id, "server1", c.tokens.server1!, beat({ seq: 3, released: [{ group: "server-api", epoch: 1 }] }, ALL_HEALTHY));
    const r2 = await heartbeat(c.id, "server2", c.tokens.server2!, beat({ seq: 2 }, ALL_HEALTHY));
    expect(r2.reply.grants.find((g) => g.group === "server-api")).toEqual({ group: "server-api", epoch: 2, ttlMs: 30_000 });
    // A switchover to a node that is not a healthy live member is refused with the reason.
    const bad = await call("POST", `/v1/clusters/${c.id}/switchover`, { body: { group: "server-api", to: "node1" } });
    expect(bad.status).toBe(409);
    expect(String(bad.json.detail)).toMatch(/node1/);
  });

  it("freezes decisions in cluster maintenance", async () => {
    // MEDIUM, not FAST: under load the setup calls alone took longer than a 300 ms lease, and
    // server2 got the group before maintenance was on.
    const c = await newCluster(MEDIUM);
    await heartbeat(c.id, "server1", c.tokens.server1!, beat({}, ALL_HEALTHY));
    await heartbeat(c.id, "server2", c.tokens.server2!, beat({}, ALL_HEALTHY));
    expect((await call("POST", `/v1/clusters/${c.id}/maintenance`, { body: { on: true } })).status).toBe(200);
    expect((await holderOf(c.id, "server-api")).holder).toBe("server1");
    // Past server1's lease end + margin (1.8 s) with server2 beating and alarms firing: nothing moves.
    for (let seq = 2; seq < 10; seq++) {
      await sleep(300);
      await heartbeat(c.id, "server2", c.tokens.server2!, beat({ seq }, ALL_HEALTHY));
      await runDurableObjectAlarm(stub(c.id));
    }
    const g = await holderOf(c.id, "server-api");
    expect(g.holder).toBe("server1");
    expect(g.epoch).toBe(1);
    const r = await heartbeat(c.id, "server2", c.tokens.server2!, beat({ seq: 11 }, ALL_HEALTHY));
    expect(r.reply.desired.maintenance).toBe(true);
    expect(r.reply.grants.find((x) => x.group === "server-api")).toBeUndefined();
  });

  it("pushes new desired state over the WebSocket watch", async () => {
    const c = await newCluster((s) => {
      s.policy = { heartbeatIntervalMs: 1000, leaseTtlMs: 30_000, driftMarginMs: 1000 };
    });
    await heartbeat(c.id, "server1", c.tokens.server1!, beat({}, ALL_HEALTHY));
    await heartbeat(c.id, "server2", c.tokens.server2!, beat({}, ALL_HEALTHY));
    const res = await worker.fetch(
      new Request(`http://chime-ha.test/v1/clusters/${c.id}/nodes/server1/watch`, {
        headers: { upgrade: "websocket", authorization: `Bearer ${c.tokens.server1}` },
      }),
    );
    expect(res.status).toBe(101);
    const ws = res.webSocket!;
    const messages: WatchMessage[] = [];
    ws.addEventListener("message", (e: MessageEvent) => messages.push(JSON.parse(String(e.data)) as WatchMessage));
    ws.accept();
    const sw = await call("POST", `/v1/clusters/${c.id}/switchover`, { body: { group: "server-api", to: "server2" } });
    expect(sw.status).toBe(200);
    for (let i = 0; i < 50 && !messages.some((m) => m.type === "desired"); i++) await sleep(20);
    const pushed = messages.find((m): m is Extract<WatchMessage, { type: "desired" }> => m.type === "desired");
    expect(pushed).toBeDefined();
    expect(pushed!.desired.groups.find((g) => g.name === "server-api")!.role).toBe("release");
    ws.close(1000, "done");
  });
});
