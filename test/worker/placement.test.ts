// Placement: a site's location hint and jurisdiction decide where its clusters' Durable Objects are
// created and run. Checked through the stub options every route uses (a recording namespace in
// front of the real one), through the real namespaces (the object exists only in the site's
// jurisdiction), and through validation (a hint outside the jurisdiction, a change once the site
// has clusters).
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { app } from "../../worker/index.js";
import { ALL_HEALTHY, ADMIN, beat, call, exampleSpec } from "./helpers.js";

type Recorded = { op: "jurisdiction"; value: string } | { op: "get"; options: unknown };

/**
 * The real CLUSTER namespace behind a proxy that records jurisdiction() and get() options. Local
 * workerd has no jurisdictions (jurisdiction() throws), so a jurisdiction's namespace is emulated
 * by deriving its ids from "jurisdiction=<j>:<name>": a distinct object per jurisdiction, as in
 * production, where the same name gives different ids in different jurisdictions.
 */
function recording(ns: DurableObjectNamespace, log: Recorded[], prefix = ""): DurableObjectNamespace {
  return new Proxy(ns, {
    get(target, prop) {
      if (prop === "jurisdiction") return (j: DurableObjectJurisdiction) => (log.push({ op: "jurisdiction", value: j }), recording(target, log, `jurisdiction=${j}:`));
      if (prop === "idFromName") return (name: string) => target.idFromName(prefix + name);
      if (prop === "get") return (id: DurableObjectId, options?: DurableObjectNamespaceGetDurableObjectOptions) => (log.push({ op: "get", options: options ?? null }), target.get(id, options));
      const v = Reflect.get(target, prop) as unknown;
      return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

async function through(log: Recorded[], method: string, path: string, body?: unknown, token = ADMIN, headers: Record<string, string> = {}) {
  const e = { ...env, CLUSTER: recording(env.CLUSTER as unknown as DurableObjectNamespace, log) };
  const init: RequestInit = { method, headers: { authorization: `Bearer ${token}`, ...headers } };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    (init.headers as Record<string, string>)["content-type"] = "application/json";
  }
  const ctx = { waitUntil: () => undefined, passThroughOnException: () => undefined, props: {} } as unknown as ExecutionContext;
  return app.fetch(new Request(`http://chime-ha.test${path}`, init), e, ctx);
}

let n = 0;
const siteName = () => `place${++n}-${Math.floor(Math.random() * 1e6)}`;

describe("placement of cluster objects", () => {
  it("refuses a location hint outside the jurisdiction, at the hint's path", async () => {
    const r = await call("POST", "/v1/sites", { body: { id: siteName(), jurisdiction: "eu", locationHint: "apac" } });
    expect(r.status).toBe(400);
    expect(r.json.errors).toEqual([{ path: "locationHint", message: "location hint 'apac' lies outside jurisdiction 'eu' (use weur or eeur, or none)" }]);
    const bad = await call("POST", "/v1/sites", { body: { id: siteName(), locationHint: "mars" } });
    expect(bad.status).toBe(400);
    expect((bad.json.errors as unknown as { path: string }[])[0]!.path).toBe("locationHint");
  });

  it("creates a site's clusters in its jurisdiction near its hint, and every node and operator route reaches them there", async () => {
    const site = siteName();
    const created = await call("POST", "/v1/sites", { body: { id: site, jurisdiction: "eu", locationHint: "weur" } });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ id: site, jurisdiction: "eu", locationHint: "weur" });
    const log: Recorded[] = [];
    const res = await through(log, "POST", "/v1/clusters", { site, spec: exampleSpec() });
    expect(res.status).toBe(201);
    const body = (await res.json()) as { cluster: { id: string }; nodeTokens: Record<string, string> };
    const id = body.cluster.id;
    expect(log).toEqual([
      { op: "jurisdiction", value: "eu" },
      { op: "get", options: { locationHint: "weur" } },
    ]);
    // The object exists in the eu jurisdiction only (emulated ids, see recording()).
    expect(await env.CLUSTER.get(env.CLUSTER.idFromName(`jurisdiction=eu:${id}`)).status()).not.toBeNull();
    expect(await env.CLUSTER.get(env.CLUSTER.idFromName(id)).status()).toBeNull();
    // Heartbeat, watch and status go to the same place.
    for (const [method, path, reqBody, token, headers] of [
      ["POST", `/v1/clusters/${id}/nodes/server1/heartbeat`, beat({}, ALL_HEALTHY), body.nodeTokens.server1!, {}],
      ["GET", `/v1/clusters/${id}/nodes/server1/watch`, undefined, body.nodeTokens.server1!, { upgrade: "websocket" }],
      ["GET", `/v1/clusters/${id}/status`, undefined, ADMIN, {}],
    ] as const) {
      log.length = 0;
      const r = await through(log, method, path, reqBody, token, headers);
      expect(r.status, `${method} ${path}`).toBe(path.endsWith("/watch") ? 101 : 200);
      if (r.webSocket) {
        r.webSocket.accept();
        r.webSocket.close(1000, "done");
      }
      expect(log, `${method} ${path}`).toEqual([
        { op: "jurisdiction", value: "eu" },
        { op: "get", options: { locationHint: "weur" } },
      ]);
    }
    const status = (await (await through(log, "GET", `/v1/clusters/${id}/status`)).json()) as { groups: { name: string; holder: string }[] };
    expect(status.groups.find((g) => g.name === "server-api")!.holder).toBe("server1");
    // Without the emulation, this runtime refuses a jurisdiction instead of ignoring it.
    const local = await call("GET", `/v1/clusters/${id}/status`);
    expect(local.status).toBe(501);
    expect(local.json.detail).toMatch(/^this runtime cannot keep objects in jurisdiction 'eu'/);
  });

  it("a site without placement leaves the choice to Cloudflare (no jurisdiction, no hint)", async () => {
    const site = siteName();
    expect((await call("POST", "/v1/sites", { body: { id: site } })).json).toMatchObject({ locationHint: null, jurisdiction: null });
    const log: Recorded[] = [];
    expect((await through(log, "POST", "/v1/clusters", { site, spec: exampleSpec() })).status).toBe(201);
    expect(log).toEqual([{ op: "get", options: null }]);
  });

  it("placement is fixed once the site has clusters; before that it can change, validated as a whole", async () => {
    const site = siteName();
    expect((await call("POST", "/v1/sites", { body: { id: site, jurisdiction: "fedramp" } })).status).toBe(201);
    // enam lies inside fedramp; weur does not, whether given together or against the stored jurisdiction.
    expect((await call("PATCH", `/v1/sites/${site}`, { body: { locationHint: "enam" } })).json).toMatchObject({ jurisdiction: "fedramp", locationHint: "enam" });
    const outside = await call("PATCH", `/v1/sites/${site}`, { body: { locationHint: "weur" } });
    expect(outside.status).toBe(400);
    expect(outside.json.detail).toBe("location hint 'weur' lies outside jurisdiction 'fedramp' (use wnam or enam, or none)");
    expect((await call("PATCH", `/v1/sites/${site}`, { body: { jurisdiction: null, locationHint: "weur" } })).json).toMatchObject({ jurisdiction: null, locationHint: "weur" });
    expect((await call("POST", "/v1/clusters", { body: { site, spec: exampleSpec() } })).status).toBe(201);
    const moved = await call("PATCH", `/v1/sites/${site}`, { body: { locationHint: "apac" } });
    expect(moved.status).toBe(409);
    expect(moved.json.detail).toMatch(/has clusters: their Durable Objects cannot move/);
    // The description can still change.
    expect((await call("PATCH", `/v1/sites/${site}`, { body: { description: "Frankfurt" } })).json).toMatchObject({ description: "Frankfurt", locationHint: "weur" });
  });
});
