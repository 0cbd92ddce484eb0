// Shadow mode through the API: shims report which host has each VIP, the cluster's object pairs
// the incumbent's moves with chime-ha's decisions, GET /v1/clusters/:id/shadow reports them; a
// shim that does not speak protocol v3 is never told to hold a shadow group.
import { describe, expect, it } from "vitest";
import type { ShadowReport } from "../../protocol/api.js";
import type { HeartbeatRequestInput } from "../../protocol/heartbeat.js";
import { ALL_HEALTHY, beat, call, heartbeat, newCluster } from "./helpers.js";

const SHADOW = (s: { policy?: unknown }) => {
  s.policy = { heartbeatIntervalMs: 1000, leaseTtlMs: 30_000, driftMarginMs: 1000, shadow: true };
};
const seen = (present: boolean, forMs = 0): HeartbeatRequestInput["observed"] =>
  ["server-api", "portal", "mysql", "influxdb", "minio"].map((group) => ({ group, present: group === "server-api" ? present : false, forMs }));

async function report(id: string): Promise<ShadowReport> {
  const r = await call("GET", `/v1/clusters/${id}/shadow`);
  expect(r.status).toBe(200);
  return r.json as unknown as ShadowReport;
}

describe("shadow mode through the API", () => {
  it("reports keepalived's holder and moves beside chime-ha's decisions", async () => {
    const c = await newCluster(SHADOW);
    const s1 = await heartbeat(c.id, "server1", c.tokens.server1!, beat({ seq: 1, protocol: 3, observed: seen(true, 5000) }, ALL_HEALTHY));
    expect(s1.reply.desired.groups.find((g) => g.name === "server-api")).toMatchObject({ role: "holder", shadow: true });
    await heartbeat(c.id, "server2", c.tokens.server2!, beat({ seq: 1, protocol: 3, observed: seen(false) }, ALL_HEALTHY));
    let r = (await report(c.id)).groups.find((g) => g.group === "server-api")!;
    expect(r).toMatchObject({ shadow: true, keepalivedHolder: "server1", chimeHaHolder: "server1" });
    expect(r.entries.map((e) => [e.verdict, e.text])).toEqual([["agreed", "both start with server1"]]);

    // keepalived hands the VIP to server2; chime-ha is switched over too (operator): both moved.
    await heartbeat(c.id, "server1", c.tokens.server1!, beat({ seq: 2, protocol: 3, observed: seen(false) }, ALL_HEALTHY));
    await heartbeat(c.id, "server2", c.tokens.server2!, beat({ seq: 2, protocol: 3, observed: seen(true, 50) }, ALL_HEALTHY));
    r = (await report(c.id)).groups.find((g) => g.group === "server-api")!;
    expect(r.entries.at(-1)).toMatchObject({ verdict: "pending", keepalived: { to: "server2" }, chimeHa: null });
    expect((await call("POST", `/v1/clusters/${c.id}/switchover`, { body: { group: "server-api", to: "server2" } })).status).toBe(200);
    await heartbeat(c.id, "server1", c.tokens.server1!, beat({ seq: 3, protocol: 3, observed: seen(false), released: [{ group: "server-api", epoch: 1 }] }, ALL_HEALTHY));
    r = (await report(c.id)).groups.find((g) => g.group === "server-api")!;
    const moved = r.entries.at(-1)!;
    expect(moved).toMatchObject({ verdict: "agreed", keepalived: { to: "server2" }, chimeHa: { to: "server2", epoch: 2 } });
    expect(moved.deltaMs).toBeGreaterThan(0);
    expect(moved.text).toMatch(/^both moved to server2; chime-ha \d+ ms after keepalived$/);
    expect(r.summary).toMatchObject({ keepalivedMoves: 1, agreed: 1, disagreed: 0 });
  });

  it("a shim of protocol v2 is shown shadow groups as standby and gets no grant for them", async () => {
    const c = await newCluster(SHADOW);
    const v2 = await heartbeat(c.id, "server1", c.tokens.server1!, beat({ seq: 1, protocol: 2 }, ALL_HEALTHY));
    expect(v2.status).toBe(200);
    expect(v2.reply.grants).toEqual([]);
    expect(v2.reply.desired.groups.every((g) => g.role === "standby" && !("shadow" in g))).toBe(true);
  });
});
