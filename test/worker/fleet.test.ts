// What the console reads from the API: GET /v1/whoami, GET /v1/fleet (roll-up, order, scope,
// ETag/304), events `last=N`, and the per-member candidacy reasons in the status the switchover
// picker shows.
import { describe, expect, it } from "vitest";
import type { HeartbeatRequestInput } from "../../protocol/heartbeat.js";
import type { ClusterSpecInput } from "../../protocol/spec.js";
import { ALL_HEALTHY, beat, call, heartbeat, newCluster } from "./helpers.js";

// Nothing here depends on a lease running out.
const SLOW = (s: ClusterSpecInput) => {
  s.policy = { heartbeatIntervalMs: 1000, leaseTtlMs: 30_000, driftMarginMs: 1000 };
};

const MYSQL_OK = { readOnly: true, replicaConfigured: false, ioRunning: false, sqlRunning: false, caughtUp: false, secondsBehind: null, gtidCurrentPos: "0-1-5", gtidBinlogPos: "0-1-5", gtidSlavePos: "0-1-5", errantTransactions: false };

/** A server heartbeat with every probe passing, mysql and minio with their reports. */
function serverBeat(seq: number, holding: { group: string; epoch: number }[] = []): HeartbeatRequestInput {
  const b = beat({ seq, holding }, ALL_HEALTHY);
  b.probes!.mysql = { healthy: true, detail: "read-only, caught up", mysql: MYSQL_OK };
  b.probes!.minio = { healthy: true, detail: "minio live, write quorum", minio: { live: true, writeQuorum: true, readQuorum: true } };
  return b;
}

/** A cluster whose every group is held by server1 and whose every node is alive. */
async function healthyCluster() {
  const c = await newCluster(SLOW);
  const r = await heartbeat(c.id, "server1", c.tokens.server1!, serverBeat(1));
  expect(r.status).toBe(200);
  await heartbeat(c.id, "server2", c.tokens.server2!, serverBeat(1));
  for (const n of ["node1", "node2"]) await heartbeat(c.id, n, c.tokens[n]!, beat({ seq: 1 }));
  return { ...c, held: r.reply.grants.map((g) => ({ group: g.group, epoch: g.epoch })) };
}

describe("GET /v1/whoami", () => {
  it("names the role, scope, label and expiry of the token; node tokens and bad tokens are refused", async () => {
    const boot = await call("GET", "/v1/whoami");
    expect(boot.status).toBe(200);
    expect(boot.json).toMatchObject({ role: "admin", site: null, tokenId: "admin:bootstrap" });
    const c = await newCluster(SLOW);
    const made = await call("POST", "/v1/tokens", { body: { role: "viewer", site: c.site, label: "wall screen", expiresInSeconds: 3600 } });
    expect(made.status).toBe(201);
    const viewer = await call("GET", "/v1/whoami", { token: made.json.token as unknown as string });
    expect(viewer.status).toBe(200);
    expect(viewer.json).toMatchObject({ role: "viewer", site: c.site, label: "wall screen" });
    expect(viewer.json.expiresAt as unknown as number).toBeGreaterThan(Date.now());
    expect((await call("GET", "/v1/whoami", { token: c.tokens.server1! })).status).toBe(403);
    const bad = await call("GET", "/v1/whoami", { token: "cha_admin_nope" });
    expect(bad.status).toBe(401);
    expect(bad.json.detail).toMatch(/unknown, revoked or expired/);
    // Revoked: the same message (no hint whether a token ever existed).
    expect((await call("DELETE", `/v1/tokens/${(made.json.info as unknown as { id: string }).id}`)).status).toBe(204);
    expect((await call("GET", "/v1/whoami", { token: made.json.token as unknown as string })).status).toBe(401);
  });
});

type FleetBody = {
  sites: { id: string; clusters: number }[];
  clusters: { id: string; state: string; reasons: string[]; groups: { total: number; held: number; healthy: number }; nodes: { alive: number; total: number }; holders: Record<string, string | null> }[];
  counts: Record<string, number>;
};

describe("GET /v1/fleet", () => {
  it("rolls each cluster up, worst first, with reasons and holders", async () => {
    const ok = await healthyCluster();
    const silent = await newCluster(SLOW);
    const r = await call("GET", "/v1/fleet");
    expect(r.status).toBe(200);
    const fleet = r.json as unknown as FleetBody;
    const good = fleet.clusters.find((c) => c.id === ok.id)!;
    expect(good).toMatchObject({ state: "healthy", reasons: [], groups: { total: 5, held: 5, healthy: 5 }, nodes: { alive: 4, total: 4 } });
    expect(good.holders).toEqual({ "server-api": "server1", portal: "server1", mysql: "server1", influxdb: "server1", minio: "server1" });
    const bad = fleet.clusters.find((c) => c.id === silent.id)!;
    expect(bad.state).toBe("no-holder");
    expect(bad.reasons).toContain("server-api: no holder");
    expect(bad.reasons).toContain("server1: no heartbeat yet");
    // Worst first: every no-holder cluster comes before every healthy one.
    const order = fleet.clusters.map((c) => c.state);
    expect(order.lastIndexOf("no-holder")).toBeLessThan(order.indexOf("healthy"));
    expect(fleet.counts.healthy).toBeGreaterThanOrEqual(1);
    expect(fleet.sites.find((s) => s.id === ok.site)?.clusters).toBe(1);
  });

  it("calls a cluster degraded when every group is held but a node or probe is not well", async () => {
    const c = await healthyCluster();
    // server1 (the holder) reports its portal probe failing; the lease is long, so it keeps it.
    const b = serverBeat(2, c.held);
    b.probes!.portal = { healthy: false, detail: "http 503" };
    await heartbeat(c.id, "server1", c.tokens.server1!, b);
    const f = (await call("GET", `/v1/fleet?site=${c.site}`)).json as unknown as FleetBody;
    const mine = f.clusters.find((x) => x.id === c.id)!;
    // The engine moves a failing holder's group to the healthy standby (release pending): either
    // way the cluster is not healthy and the reason names the portal.
    expect(["degraded", "no-holder"]).toContain(mine.state);
    expect(mine.reasons.join("; ")).toMatch(/portal/);
  });

  it("answers 304 to If-None-Match while nothing changed, and 200 with a new ETag after a change", async () => {
    const c = await healthyCluster();
    const first = await call("GET", `/v1/fleet?site=${c.site}`);
    const etag = first.headers.get("etag")!;
    expect(etag).toMatch(/^"fleet-[0-9a-f]{32}"$/);
    const again = await call("GET", `/v1/fleet?site=${c.site}`, { headers: { "if-none-match": etag } });
    expect(again.status).toBe(304);
    expect(again.headers.get("etag")).toBe(etag);
    expect(await call("GET", `/v1/fleet?site=${c.site}`, { headers: { "if-none-match": `W/${etag}, "other"` } }).then((r) => r.status)).toBe(304);
    expect((await call("POST", `/v1/clusters/${c.id}/maintenance`, { body: { on: true } })).status).toBe(200);
    const changed = await call("GET", `/v1/fleet?site=${c.site}`, { headers: { "if-none-match": etag } });
    expect(changed.status).toBe(200);
    expect(changed.headers.get("etag")).not.toBe(etag);
    expect((changed.json as unknown as FleetBody).clusters[0]).toMatchObject({ id: c.id, state: "degraded", reasons: ["cluster maintenance: decisions frozen"] });
  });

  it("shows a site-scoped token its own site only", async () => {
    const a = await newCluster(SLOW);
    const b = await newCluster(SLOW);
    const viewer = (await call("POST", "/v1/tokens", { body: { role: "viewer", site: a.site } })).json.token as unknown as string;
    const f = (await call("GET", "/v1/fleet", { token: viewer })).json as unknown as FleetBody;
    expect(f.clusters.map((c) => c.id)).toEqual([a.id]);
    expect(f.sites.map((s) => s.id)).toEqual([a.site]);
    expect((await call("GET", `/v1/fleet?site=${b.site}`, { token: viewer })).status).toBe(403);
  });
});

describe("what the cluster view reads", () => {
  it("events?last=N gives the newest N, oldest first, and the cursor follows on from them", async () => {
    const c = await newCluster(SLOW);
    for (const on of [true, false, true]) expect((await call("POST", `/v1/clusters/${c.id}/maintenance`, { body: { on } })).status).toBe(200);
    const all = (await call("GET", `/v1/clusters/${c.id}/events?limit=500`)).json as unknown as { events: { id: number }[] };
    const tail = (await call("GET", `/v1/clusters/${c.id}/events?last=2`)).json as unknown as { events: { id: number }[]; nextCursor: string };
    expect(tail.events.map((e) => e.id)).toEqual(all.events.slice(-2).map((e) => e.id));
    expect(tail.nextCursor).toBe(String(all.events.at(-1)!.id));
    expect((await call("POST", `/v1/clusters/${c.id}/maintenance`, { body: { on: false } })).status).toBe(200);
    const next = (await call("GET", `/v1/clusters/${c.id}/events?cursor=${tail.nextCursor}`)).json as unknown as { events: { reason: string }[] };
    expect(next.events.map((e) => e.reason).join("\n")).toMatch(/maintenance off/);
    expect((await call("GET", `/v1/clusters/${c.id}/events?last=0`)).status).toBe(400);
  });

  it("status names, per group member, why it is not a candidate", async () => {
    const c = await healthyCluster();
    await call("POST", `/v1/clusters/${c.id}/nodes/server2/maintenance`, { body: { on: true } });
    const st = (await call("GET", `/v1/clusters/${c.id}/status`)).json as unknown as { groups: { name: string; members: { node: string; why: string | null }[] }[] };
    const api = st.groups.find((g) => g.name === "server-api")!;
    expect(api.members).toEqual([
      { node: "server1", why: null },
      { node: "server2", why: "server2 is in maintenance" },
    ]);
  });
});
