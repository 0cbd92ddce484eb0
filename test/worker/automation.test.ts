// API-for-automation features: tokens (shown once, hashed, scoped, expiring, revocable),
// Idempotency-Key on POSTs, If-Match on spec updates, cursor pagination, Prometheus metrics.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ALL_HEALTHY, beat, call, exampleSpec, heartbeat, newCluster } from "./helpers.js";
import { constantTimeEqual, sha256Hex } from "../../worker/http/tokens.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("tokens", () => {
  it("are shown once, stored only as a SHA-256 hash, and work until revoked", async () => {
    const c = await newCluster();
    const r = await call("POST", "/v1/tokens", { body: { role: "operator", site: c.site, label: "ci" } });
    expect(r.status).toBe(201);
    const token = r.json.token as unknown as string;
    const id = (r.json.info as unknown as { id: string }).id;
    expect(token).toMatch(/^cha_operator_/);
    const row = await env.DB.prepare("SELECT * FROM tokens WHERE id = ?").bind(id).first<Record<string, unknown>>();
    expect(row!.hash).toBe(await sha256Hex(token));
    expect(JSON.stringify(row)).not.toContain(token);
    // Never shown again.
    expect(JSON.stringify((await call("GET", `/v1/tokens/${id}`)).json)).not.toContain(token);
    expect(JSON.stringify((await call("GET", "/v1/tokens?limit=500")).json)).not.toContain(token);
    // Works within its site, not outside it, and not above its role.
    expect((await call("POST", `/v1/clusters/${c.id}/maintenance`, { token, body: { on: true } })).status).toBe(200);
    expect((await call("POST", "/v1/sites", { token, body: { id: "nope" } })).status).toBe(403);
    // Revoked: refused at once; revoking again is a conflict; the audit trail has both.
    expect((await call("DELETE", `/v1/tokens/${id}`)).status).toBe(204);
    expect((await call("GET", `/v1/clusters/${c.id}`, { token })).status).toBe(401);
    expect((await call("DELETE", `/v1/tokens/${id}`)).status).toBe(409);
    const ev = await call("GET", `/v1/events?site=${c.site}&limit=500`);
    const mine = (ev.json.events as unknown as { kind: string; reason: string; actor: string }[]).filter((e) => e.reason.includes(id) || e.actor.includes(id));
    expect(mine.map((e) => e.kind)).toEqual(["token.created", "cluster.maintenance", "token.revoked"]);
    // The mutation made with the token carries its id as the actor.
    expect(mine[1]!.actor).toBe(`operator:${id}`);
  });

  it("expire", async () => {
    const r = await call("POST", "/v1/tokens", { body: { role: "viewer", expiresInSeconds: 60 } });
    const token = r.json.token as unknown as string;
    expect((await call("GET", "/v1/sites", { token })).status).toBe(200);
    // Move its expiry into the past (waiting 60 s is not worth it); the check is on every request.
    await env.DB.prepare("UPDATE tokens SET expires_at = ? WHERE id = ?").bind(Date.now() - 1, (r.json.info as unknown as { id: string }).id).run();
    const after = await call("GET", "/v1/sites", { token });
    expect(after.status).toBe(401);
    expect(after.json.detail).toContain("expired");
    // Out-of-range lifetimes are refused with the field's path.
    const bad = await call("POST", "/v1/tokens", { body: { role: "viewer", expiresInSeconds: 5 } });
    expect(bad.status).toBe(400);
    expect((bad.json.errors as unknown as { path: string }[])[0]!.path).toBe("expiresInSeconds");
  });

  it("a site-scoped admin cannot mint tokens beyond its site", async () => {
    const c = await newCluster();
    const scoped = (await call("POST", "/v1/tokens", { body: { role: "admin", site: c.site } })).json.token as unknown as string;
    expect((await call("POST", "/v1/tokens", { token: scoped, body: { role: "admin" } })).status).toBe(403);
    expect((await call("POST", "/v1/tokens", { token: scoped, body: { role: "viewer", site: "other-site" } })).status).toBe(403);
    expect((await call("POST", "/v1/tokens", { token: scoped, body: { role: "viewer", site: c.site } })).status).toBe(201);
  });

  it("revoking a node token stops its heartbeats at once", async () => {
    const c = await newCluster();
    expect((await heartbeat(c.id, "server1", c.tokens.server1!, beat({}, ALL_HEALTHY))).status).toBe(200);
    const list = await call("GET", "/v1/tokens?limit=500");
    const t = (list.json.tokens as unknown as { id: string; cluster: string | null; node: string | null }[]).find((x) => x.cluster === c.id && x.node === "server1")!;
    expect((await call("DELETE", `/v1/tokens/${t.id}`)).status).toBe(204);
    expect((await heartbeat(c.id, "server1", c.tokens.server1!, beat({ seq: 2 }, ALL_HEALTHY))).status).toBe(403);
  });

  it("compares in constant time over the longer length", () => {
    expect(constantTimeEqual("abc", "abc")).toBe(true);
    expect(constantTimeEqual("abc", "abd")).toBe(false);
    expect(constantTimeEqual("abc", "abcd")).toBe(false);
    expect(constantTimeEqual("", "")).toBe(true);
  });

  it("paginate with a cursor", async () => {
    for (let i = 0; i < 5; i++) await call("POST", "/v1/tokens", { body: { role: "viewer", label: `page-${i}` } });
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let i = 0; i < 100; i++) {
      const r = await call("GET", `/v1/tokens?limit=2${cursor ? `&cursor=${cursor}` : ""}`);
      expect(r.status).toBe(200);
      seen.push(...(r.json.tokens as unknown as { id: string }[]).map((t) => t.id));
      cursor = r.json.nextCursor as unknown as string | null;
      if (!cursor) break;
    }
    const all = (await call("GET", "/v1/tokens?limit=500")).json.tokens as unknown as { id: string }[];
    expect(seen).toEqual(all.map((t) => t.id));
    expect(new Set(seen).size).toBe(seen.length);
  });
});

describe("Idempotency-Key", () => {
  it("replays the first response for a retried POST and creates nothing twice", async () => {
    const key = `k-${crypto.randomUUID()}`;
    const body = { role: "viewer", label: "idem" };
    const a = await call("POST", "/v1/tokens", { body, headers: { "idempotency-key": key } });
    const b = await call("POST", "/v1/tokens", { body, headers: { "idempotency-key": key } });
    expect(a.status).toBe(201);
    expect(b.status).toBe(201);
    expect(b.json).toEqual(a.json);
    expect(b.headers.get("idempotency-replayed")).toBe("true");
    const n = await env.DB.prepare("SELECT count(*) AS n FROM tokens WHERE label = 'idem'").first<{ n: number }>();
    expect(n!.n).toBe(1);
    // The same key with a different request is refused.
    const c = await call("POST", "/v1/tokens", { body: { ...body, label: "other" }, headers: { "idempotency-key": key } });
    expect(c.status).toBe(422);
  });

  it("keeps nothing for a failed request, so a corrected retry with the same key works", async () => {
    const key = `k-${crypto.randomUUID()}`;
    const site = `idem-${Math.floor(Math.random() * 1e6)}`;
    const bad = await call("POST", "/v1/sites", { body: { id: "NOT valid" }, headers: { "idempotency-key": key } });
    expect(bad.status).toBe(400);
    expect(await env.DB.prepare("SELECT count(*) AS n FROM idempotency_keys WHERE key = ?").bind(key).first<{ n: number }>()).toEqual({ n: 0 });
    // A different body with the same key is fine now (nothing was kept).
    expect((await call("POST", "/v1/sites", { body: { id: site }, headers: { "idempotency-key": key } })).status).toBe(201);
    expect((await call("POST", "/v1/sites", { body: { id: site }, headers: { "idempotency-key": key } })).status).toBe(201);
    expect((await call("POST", "/v1/sites", { body: { id: site } })).status).toBe(409);
  });

  it("is per token: another token's key does not replay", async () => {
    const key = `k-${crypto.randomUUID()}`;
    const other = (await call("POST", "/v1/tokens", { body: { role: "admin" } })).json.token as unknown as string;
    const site = `idem2-${Math.floor(Math.random() * 1e6)}`;
    expect((await call("POST", "/v1/sites", { body: { id: site }, headers: { "idempotency-key": key } })).status).toBe(201);
    expect((await call("POST", "/v1/sites", { token: other, body: { id: site }, headers: { "idempotency-key": key } })).status).toBe(409);
  });
});

describe("If-Match on spec updates", () => {
  it("is required (428), must match (412), and makes the second of two concurrent writers lose", async () => {
    const c = await newCluster();
    const spec = exampleSpec((s) => (s.description = "changed"));
    expect((await call("PUT", `/v1/clusters/${c.id}/spec`, { body: { spec } })).status).toBe(428);
    const etag = (await call("GET", `/v1/clusters/${c.id}`)).headers.get("etag")!;
    const [x, y] = [await call("PUT", `/v1/clusters/${c.id}/spec`, { body: { spec }, headers: { "if-match": etag } }), await call("PUT", `/v1/clusters/${c.id}/spec`, { body: { spec }, headers: { "if-match": etag } })];
    expect([x.status, y.status]).toEqual([200, 412]);
    expect(y.json.detail).toContain("version 2");
    // Truly concurrent writers with the same ETag: exactly one wins, the spec moves one version.
    const etag2 = (await call("GET", `/v1/clusters/${c.id}`)).headers.get("etag")!;
    const racers = await Promise.all(
      [1, 2, 3, 4].map((i) => call("PUT", `/v1/clusters/${c.id}/spec`, { body: { spec: exampleSpec((s) => (s.description = `racer ${i}`)) }, headers: { "if-match": etag2 } })),
    );
    expect(racers.map((r) => r.status).sort()).toEqual([200, 412, 412, 412]);
    const final = await call("GET", `/v1/clusters/${c.id}`);
    expect(final.headers.get("etag")).toBe('"v3"');
    const winner = racers.findIndex((r) => r.status === 200) + 1;
    expect((final.json.spec as unknown as { description: string }).description).toBe(`racer ${winner}`);
  });

  it("the write itself is conditional: a stale version rolls the whole batch back", async () => {
    // Requests in one isolate rarely interleave between the If-Match check and the write, so
    // check the guard the handler uses (same SQL) directly: a batch is one transaction.
    const c = await newCluster();
    const guard = "INSERT INTO sites (id, description, created_at) SELECT NULL, '', 0 WHERE changes() = 0";
    const batch = (version: number) =>
      env.DB.batch([
        env.DB.prepare("UPDATE clusters SET spec_version = spec_version + 1 WHERE id = ? AND spec_version = ?").bind(c.id, version),
        env.DB.prepare(guard),
        env.DB.prepare("UPDATE clusters SET name = name || '' WHERE id = ?").bind(c.id),
      ]);
    await expect(batch(7)).rejects.toThrow(/NOT NULL constraint failed: sites\.id/);
    expect((await env.DB.prepare("SELECT spec_version AS v FROM clusters WHERE id = ?").bind(c.id).first<{ v: number }>())!.v).toBe(1);
    await batch(1);
    expect((await env.DB.prepare("SELECT spec_version AS v FROM clusters WHERE id = ?").bind(c.id).first<{ v: number }>())!.v).toBe(2);
  });
});

describe("/v1/metrics", () => {
  it("exposes holder, epoch, lease left, node alive and failovers in Prometheus text format", async () => {
    const c = await newCluster((s) => {
      // A 2 s lease: long enough that a loaded machine's delays between server2's last renewal and
      // the metrics read cannot run it out (a 1 s lease did, at load average 8).
      s.policy = { heartbeatIntervalMs: 250, leaseTtlMs: 2000, driftMarginMs: 200, holdDownMs: 0 };
    });
    const held: Record<string, { group: string; epoch: number }[]> = {};
    const beatAs = async (n: string, seq: number) => {
      const r = await heartbeat(c.id, n, c.tokens[n]!, beat({ seq, holding: held[n] ?? [] }, ALL_HEALTHY));
      expect(r.status).toBe(200);
      held[n] = r.reply.grants.map((g) => ({ group: g.group, epoch: g.epoch }));
    };
    // server1 takes the groups (after the restart grace), then stops; server2 keeps beating and
    // takes over once server1's lease and the margin have passed: one automatic failover.
    const t0 = Date.now();
    for (let i = 1; Date.now() - t0 < 2500 || !held.server1?.length; i++) {
      if (Date.now() - t0 > 10_000) throw new Error("server1 never got a grant");
      await beatAs("server1", i);
      await beatAs("server2", i);
      await sleep(200);
    }
    const t1 = Date.now();
    for (let i = 100; !held.server2?.some((g) => g.group === "server-api"); i++) {
      if (Date.now() - t1 > 10_000) throw new Error("server2 never took over");
      await beatAs("server2", i);
      await sleep(200);
    }
    await sleep(300); // the Durable Object writes its events just after replying
    await beatAs("server2", 1000); // a fresh renewal: the lease left below is counted from it
    const r = await call("GET", "/v1/metrics");
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toContain("text/plain; version=0.0.4");
    const text = r.json as unknown as string;
    const lbl = `site="${c.site}",cluster="${c.id}"`;
    expect(text).toContain("# TYPE chime_ha_group_epoch gauge");
    expect(text).toContain(`chime_ha_group_holder{${lbl},group="server-api",node="server2"} 1`);
    expect(text).toMatch(new RegExp(`chime_ha_group_epoch\\{${lbl},group="server-api"\\} [2-9]`));
    const leaseLeft = Number(new RegExp(`chime_ha_group_lease_left_seconds\\{${lbl},group="server-api"\\} ([\\d.]+)`).exec(text)?.[1]);
    expect(leaseLeft).toBeGreaterThan(0);
    expect(leaseLeft).toBeLessThanOrEqual(2);
    expect(text).toContain(`chime_ha_node_alive{${lbl},node="server1",role="server"} 0`);
    expect(text).toContain(`chime_ha_node_alive{${lbl},node="server2",role="server"} 1`);
    expect(text).toMatch(new RegExp(`chime_ha_failovers_total\\{${lbl},group="server-api"\\} [1-9]`));
    // Every sample line is `name{labels} number`.
    for (const line of text.trim().split("\n").filter((l) => !l.startsWith("#"))) expect(line).toMatch(/^[a-z_]+\{[^}]*\} -?[\d.e+-]+$/);
  });
});
