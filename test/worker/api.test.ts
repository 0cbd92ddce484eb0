import { describe, expect, it } from "vitest";
import { ALL_HEALTHY, beat, call, exampleSpec, heartbeat, newCluster } from "./helpers.js";

// Every route of the API, with a sample path; each must refuse a request without a valid token.
const ROUTES: [string, string][] = [
  ["GET", "/v1/sites"],
  ["POST", "/v1/sites"],
  ["GET", "/v1/sites/dc1"],
  ["PATCH", "/v1/sites/dc1"],
  ["DELETE", "/v1/sites/dc1"],
  ["GET", "/v1/clusters"],
  ["POST", "/v1/clusters"],
  ["GET", "/v1/clusters/dc1.chimestack"],
  ["PUT", "/v1/clusters/dc1.chimestack/spec"],
  ["DELETE", "/v1/clusters/dc1.chimestack"],
  ["POST", "/v1/clusters/dc1.chimestack/nodes/server1/token"],
  ["GET", "/v1/clusters/dc1.chimestack/status"],
  ["POST", "/v1/clusters/dc1.chimestack/nodes/server1/heartbeat"],
  ["GET", "/v1/clusters/dc1.chimestack/nodes/server1/watch"],
  ["POST", "/v1/clusters/dc1.chimestack/switchover"],
  ["POST", "/v1/clusters/dc1.chimestack/maintenance"],
  ["POST", "/v1/clusters/dc1.chimestack/nodes/server1/maintenance"],
  ["POST", "/v1/clusters/dc1.chimestack/nodes/node1/ack-fence"],
  ["GET", "/v1/clusters/dc1.chimestack/events"],
  ["GET", "/v1/events"],
];

describe("auth", () => {
  it("refuses every route without a token, and with a wrong one, as problem+json", async () => {
    for (const [method, path] of ROUTES) {
      for (const token of [null, "cha_admin_wrong"]) {
        const r = await call(method, path, { token, body: method === "GET" || method === "DELETE" ? undefined : {} });
        expect([401, 403], `${method} ${path} with ${token ?? "no token"}`).toContain(r.status);
        expect(r.headers.get("content-type")).toBe("application/problem+json");
      }
    }
  });

  it("lets a node token heartbeat only as its own node, and nowhere else", async () => {
    const c = await newCluster();
    const own = await heartbeat(c.id, "server1", c.tokens.server1!, beat({}, ALL_HEALTHY));
    expect(own.status).toBe(200);
    const other = await heartbeat(c.id, "server2", c.tokens.server1!, beat({}, ALL_HEALTHY));
    expect(other.status).toBe(403);
    for (const [method, path] of [
      ["GET", "/v1/clusters"],
      ["GET", `/v1/clusters/${c.id}/status`],
      ["POST", `/v1/clusters/${c.id}/switchover`],
    ] as const) {
      const r = await call(method, path, { token: c.tokens.server1!, body: method === "POST" ? { group: "server-api" } : undefined });
      expect(r.status, `${method} ${path}`).toBe(403);
    }
  });
});

describe("registry", () => {
  it("rejects a bad spec with the path of every problem and stores nothing", async () => {
    expect((await call("POST", "/v1/sites", { body: { id: "badspec" } })).status).toBe(201);
    const before = await call("GET", "/v1/events?site=badspec");
    const spec = exampleSpec((s) => {
      s.nodes[1]!.ip = "192.168.231.11";
      s.groups![0]!.vip = "10.9.9.9";
      s.groups![1]!.ports[0]!.port = 0;
    });
    const r = await call("POST", "/v1/clusters", { body: { site: "badspec", spec } });
    expect(r.status).toBe(400);
    expect(r.headers.get("content-type")).toBe("application/problem+json");
    expect(r.json.errors).toEqual(
      expect.arrayContaining([
        { path: "spec.nodes[1].ip", message: "duplicate ip '192.168.231.11' (also nodes[0])" },
        { path: "spec.groups[0].vip", message: "VIP 10.9.9.9 is outside the subnet of member server1 (192.168.231.11/24)" },
        { path: "spec.groups[1].ports[0].port", message: "port must be 1-65535" },
      ]),
    );
    const list = await call("GET", "/v1/clusters?site=badspec");
    expect(list.json.clusters).toEqual([]);
    const after = await call("GET", "/v1/events?site=badspec");
    expect(after.json.events).toEqual(before.json.events);
  });

  it("creates a cluster, returns node tokens once, and keeps only hashes", async () => {
    const c = await newCluster();
    expect(Object.keys(c.tokens).sort()).toEqual(["node1", "node2", "server1", "server2"]);
    const got = await call("GET", `/v1/clusters/${c.id}`);
    expect(got.status).toBe(200);
    expect(JSON.stringify(got.json)).not.toContain(c.tokens.server1);
    expect(got.headers.get("etag")).toBe('"v1"');
    const dup = await call("POST", "/v1/clusters", { body: { site: c.site, spec: exampleSpec() } });
    expect(dup.status).toBe(409);
  });

  it("rotates a node token without grace: the old one stops working at once", async () => {
    const c = await newCluster();
    const r = await call("POST", `/v1/clusters/${c.id}/nodes/server2/token`, { body: { graceSeconds: 0 } });
    expect(r.status).toBe(200);
    expect((await heartbeat(c.id, "server2", c.tokens.server2!, beat())).status).toBe(403);
    expect((await heartbeat(c.id, "server2", r.json.token as unknown as string, beat())).status).toBe(200);
  });

  it("updates a spec with If-Match and refuses a stale one", async () => {
    const c = await newCluster();
    const spec = exampleSpec((s) => (s.description = "v2"));
    const ok = await call("PUT", `/v1/clusters/${c.id}/spec`, { body: { spec }, headers: { "if-match": '"v1"' } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("etag")).toBe('"v2"');
    const stale = await call("PUT", `/v1/clusters/${c.id}/spec`, { body: { spec }, headers: { "if-match": '"v1"' } });
    expect(stale.status).toBe(412);
  });

  it("pages events with a cursor", async () => {
    const c = await newCluster();
    await call("POST", `/v1/clusters/${c.id}/maintenance`, { body: { on: true } });
    await call("POST", `/v1/clusters/${c.id}/maintenance`, { body: { on: false } });
    const all: number[] = [];
    let cursor: string | null = null;
    for (let i = 0; i < 20; i++) {
      const page = await call("GET", `/v1/clusters/${c.id}/events?limit=1${cursor ? `&cursor=${cursor}` : ""}`);
      const evs = page.json.events as unknown as { id: number }[];
      if (evs.length === 0) break;
      all.push(...evs.map((e) => e.id));
      cursor = page.json.nextCursor as unknown as string;
    }
    expect(all.length).toBeGreaterThanOrEqual(3);
    expect([...all].sort((a, b) => a - b)).toEqual(all);
    expect(new Set(all).size).toBe(all.length);
  });
});
