// Authorization matrix: every route of the API x (no token, wrong token, viewer of the cluster's
// site, operator of another site, node token of another node, node token on an admin route), with
// the expected status, and proof that nothing changed on a refused call (registry rows and the
// cluster's live state). Then the positive controls: an admin (a D1 token, so its id shows in the
// audit trail) gets a 2xx on every route and every mutation leaves an audit event with its id.
import { env } from "cloudflare:workers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ClusterSpecInput } from "../../protocol/spec.js";
import { ALL_HEALTHY, beat, call, exampleSpec, heartbeat, newCluster, stateFingerprint } from "./helpers.js";

type Role = "public" | "viewer" | "operator" | "admin" | "node";
/** Whose resource: site A (the cluster's), site E (another), a filtered list, or every site at once. */
type Scope = "A" | "E" | "list" | "global";
interface Route {
  method: string;
  template: string;
  path: () => string;
  body?: () => unknown;
  headers?: Record<string, string>;
  role: Role;
  scope: Scope;
  /** Admin's expected status(es); a mutation must leave an audit event. */
  ok: number[];
  mutation?: boolean;
}

const FAST = (s: ClusterSpecInput) => {
  // Leases long enough that a loaded machine does not let one lapse mid-matrix (that would change
  // the live state under a refused call), short enough to wait out the restart grace once.
  s.policy = { heartbeatIntervalMs: 500, leaseTtlMs: 5000, driftMarginMs: 500, holdDownMs: 0 };
};

// Filled in beforeAll.
const ctx = {
  siteA: "",
  siteB: "",
  siteE: "",
  cluster: "",
  doomed: "",
  nodeTokens: {} as Record<string, string>,
  viewerA: "",
  operatorB: "",
  admin: "",
  adminId: "",
  spareTokenId: "",
  webhook: "",
  doomedWebhook: "",
};

const ROUTES: Route[] = [
  { method: "GET", template: "/v1/sites", path: () => "/v1/sites", role: "viewer", scope: "list", ok: [200] },
  { method: "POST", template: "/v1/sites", path: () => "/v1/sites", body: () => ({ id: `${ctx.siteA}-new` }), role: "admin", scope: "global", ok: [201], mutation: true },
  { method: "GET", template: "/v1/sites/{id}", path: () => `/v1/sites/${ctx.siteA}`, role: "viewer", scope: "A", ok: [200] },
  { method: "PATCH", template: "/v1/sites/{id}", path: () => `/v1/sites/${ctx.siteA}`, body: () => ({ description: "changed" }), role: "admin", scope: "A", ok: [200], mutation: true },
  { method: "DELETE", template: "/v1/sites/{id}", path: () => `/v1/sites/${ctx.siteE}`, role: "admin", scope: "E", ok: [204], mutation: true },
  { method: "GET", template: "/v1/clusters", path: () => "/v1/clusters", role: "viewer", scope: "list", ok: [200] },
  { method: "POST", template: "/v1/clusters", path: () => "/v1/clusters", body: () => ({ site: ctx.siteA, spec: exampleSpec((s) => (s.name = "second")) }), role: "admin", scope: "A", ok: [201], mutation: true },
  { method: "GET", template: "/v1/clusters/{id}", path: () => `/v1/clusters/${ctx.cluster}`, role: "viewer", scope: "A", ok: [200] },
  {
    method: "PUT",
    template: "/v1/clusters/{id}/spec",
    path: () => `/v1/clusters/${ctx.cluster}/spec`,
    body: () => ({ spec: exampleSpec((s) => (FAST(s), (s.description = "v2"))) }),
    headers: { "if-match": '"v1"' },
    role: "admin",
    scope: "A",
    ok: [200],
    mutation: true,
  },
  { method: "DELETE", template: "/v1/clusters/{id}", path: () => `/v1/clusters/${ctx.doomed}`, role: "admin", scope: "A", ok: [204], mutation: true },
  { method: "POST", template: "/v1/clusters/{id}/nodes/{node}/token", path: () => `/v1/clusters/${ctx.cluster}/nodes/node2/token`, role: "admin", scope: "A", ok: [200], mutation: true },
  { method: "GET", template: "/v1/clusters/{id}/status", path: () => `/v1/clusters/${ctx.cluster}/status`, role: "viewer", scope: "A", ok: [200] },
  { method: "GET", template: "/v1/clusters/{id}/shadow", path: () => `/v1/clusters/${ctx.cluster}/shadow`, role: "viewer", scope: "A", ok: [200] },
  { method: "POST", template: "/v1/clusters/{id}/nodes/{node}/heartbeat", path: () => `/v1/clusters/${ctx.cluster}/nodes/server1/heartbeat`, body: () => beat({ seq: 0 }, ALL_HEALTHY), role: "node", scope: "A", ok: [200] },
  { method: "GET", template: "/v1/clusters/{id}/nodes/{node}/watch", path: () => `/v1/clusters/${ctx.cluster}/nodes/server1/watch`, role: "node", scope: "A", ok: [426] },
  { method: "POST", template: "/v1/clusters/{id}/switchover", path: () => `/v1/clusters/${ctx.cluster}/switchover`, body: () => ({ group: "server-api", to: "server2" }), role: "operator", scope: "A", ok: [200], mutation: true },
  // Refused by the engine when the cluster is in maintenance or a member is unfit (409, a drill.refused event); auth passed.
  { method: "POST", template: "/v1/clusters/{id}/drills", path: () => `/v1/clusters/${ctx.cluster}/drills`, body: () => ({ group: "server-api", returnAfterMs: 1000 }), role: "operator", scope: "A", ok: [200, 409], mutation: true },
  { method: "GET", template: "/v1/clusters/{id}/availability", path: () => `/v1/clusters/${ctx.cluster}/availability`, role: "viewer", scope: "A", ok: [200] },
  { method: "POST", template: "/v1/clusters/{id}/maintenance", path: () => `/v1/clusters/${ctx.cluster}/maintenance`, body: () => ({ on: true }), role: "operator", scope: "A", ok: [200], mutation: true },
  { method: "POST", template: "/v1/clusters/{id}/nodes/{node}/maintenance", path: () => `/v1/clusters/${ctx.cluster}/nodes/server2/maintenance`, body: () => ({ on: true }), role: "operator", scope: "A", ok: [200], mutation: true },
  // The engine refuses an ack for a compute node that is not being fenced (409); auth passed.
  { method: "POST", template: "/v1/clusters/{id}/nodes/{node}/ack-fence", path: () => `/v1/clusters/${ctx.cluster}/nodes/node1/ack-fence`, role: "operator", scope: "A", ok: [200, 409], mutation: true },
  // Refused by the engine when no healthy minio holder runs it (409); auth passed.
  { method: "POST", template: "/v1/clusters/{id}/operations", path: () => `/v1/clusters/${ctx.cluster}/operations`, body: () => ({ kind: "minio-heal", group: "minio", alias: "chime" }), role: "operator", scope: "A", ok: [200, 409], mutation: true },
  { method: "GET", template: "/v1/clusters/{id}/events", path: () => `/v1/clusters/${ctx.cluster}/events`, role: "viewer", scope: "A", ok: [200] },
  { method: "GET", template: "/v1/events", path: () => "/v1/events", role: "viewer", scope: "list", ok: [200] },
  { method: "GET", template: "/v1/tokens", path: () => "/v1/tokens", role: "admin", scope: "list", ok: [200] },
  { method: "POST", template: "/v1/tokens", path: () => "/v1/tokens", body: () => ({ role: "viewer", site: ctx.siteA, label: "made by admin" }), role: "admin", scope: "A", ok: [201], mutation: true },
  { method: "GET", template: "/v1/tokens/{id}", path: () => `/v1/tokens/${ctx.spareTokenId}`, role: "admin", scope: "A", ok: [200] },
  { method: "DELETE", template: "/v1/tokens/{id}", path: () => `/v1/tokens/${ctx.spareTokenId}`, role: "admin", scope: "A", ok: [204], mutation: true },
  { method: "GET", template: "/v1/webhooks", path: () => "/v1/webhooks", role: "viewer", scope: "list", ok: [200] },
  {
    method: "POST",
    template: "/v1/webhooks",
    path: () => "/v1/webhooks",
    body: () => ({ format: "discord", url: "http://127.0.0.1:9/never", cluster: ctx.cluster, enabled: false }),
    role: "admin",
    scope: "A",
    ok: [201],
    mutation: true,
  },
  { method: "GET", template: "/v1/webhooks/{id}", path: () => `/v1/webhooks/${ctx.webhook}`, role: "viewer", scope: "A", ok: [200] },
  { method: "PATCH", template: "/v1/webhooks/{id}", path: () => `/v1/webhooks/${ctx.webhook}`, body: () => ({ label: "renamed" }), role: "admin", scope: "A", ok: [200], mutation: true },
  { method: "DELETE", template: "/v1/webhooks/{id}", path: () => `/v1/webhooks/${ctx.doomedWebhook}`, role: "admin", scope: "A", ok: [204], mutation: true },
  { method: "POST", template: "/v1/webhooks/{id}/test", path: () => `/v1/webhooks/${ctx.webhook}/test`, role: "operator", scope: "A", ok: [202], mutation: true },
  { method: "GET", template: "/v1/dead-letters", path: () => "/v1/dead-letters", role: "viewer", scope: "list", ok: [200] },
  { method: "POST", template: "/v1/dead-letters/replay", path: () => "/v1/dead-letters/replay", body: () => ({}), role: "operator", scope: "list", ok: [200] },
  { method: "GET", template: "/v1/metrics", path: () => "/v1/metrics", role: "viewer", scope: "list", ok: [200] },
  { method: "GET", template: "/v1/fleet", path: () => "/v1/fleet", role: "viewer", scope: "list", ok: [200] },
  { method: "GET", template: "/v1/availability", path: () => "/v1/availability", role: "viewer", scope: "list", ok: [200] },
  { method: "GET", template: "/v1/whoami", path: () => "/v1/whoami", role: "viewer", scope: "list", ok: [200] },
  { method: "GET", template: "/v1/openapi.json", path: () => "/v1/openapi.json", role: "public", scope: "global", ok: [200] },
  { method: "GET", template: "/v1/admin/secrets", path: () => "/v1/admin/secrets", role: "admin", scope: "global", ok: [200] },
  { method: "GET", template: "/v1/audit", path: () => "/v1/audit?limit=5", role: "admin", scope: "global", ok: [200] },
  { method: "GET", template: "/v1/audit/verify", path: () => "/v1/audit/verify", role: "admin", scope: "global", ok: [200] },
  { method: "POST", template: "/v1/admin/secrets/rotate", path: () => "/v1/admin/secrets/rotate", role: "admin", scope: "global", ok: [200], mutation: true },
];

type Who = "none" | "wrong" | "viewerA" | "operatorB" | "nodeOther" | "nodeOnAdmin";
const WHO: Who[] = ["none", "wrong", "viewerA", "operatorB", "nodeOther", "nodeOnAdmin"];
const RANK = { viewer: 1, operator: 2, admin: 3 } as const;

function tokenOf(who: Who): string | null {
  switch (who) {
    case "none":
      return null;
    case "wrong":
      return "cha_admin_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    case "viewerA":
      return ctx.viewerA;
    case "operatorB":
      return ctx.operatorB;
    case "nodeOther":
      return ctx.nodeTokens.server2!; // the routes name server1
    case "nodeOnAdmin":
      return ctx.nodeTokens.server1!;
  }
}

/** What each caller must get. */
function expected(r: Route, who: Who): number {
  if (r.role === "public") return 200;
  if (who === "none") return 401;
  if (r.role === "node") {
    // Only server1's own token passes (the routes are server1's); everything else is 403.
    return who === "nodeOnAdmin" ? r.ok[0]! : 403;
  }
  if (who === "wrong") return 401;
  if (who === "nodeOther" || who === "nodeOnAdmin") return 403;
  const [rank, site] = who === "viewerA" ? [1, "A"] : [2, "B"];
  const allowed = rank >= RANK[r.role] && (r.scope === "list" || r.scope === site);
  return allowed ? r.ok[0]! : 403;
}

/** Everything a call could change (see stateFingerprint). */
const fingerprint = () => stateFingerprint(ctx.cluster, { outbox: true, probes: false });

async function mustCreate(method: string, path: string, body: unknown, token?: string) {
  const r = await call(method, path, { body, ...(token ? { token } : {}) });
  if (r.status < 200 || r.status > 299) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.json)}`);
  return r.json as unknown as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

beforeAll(async () => {
  const c = await newCluster(FAST);
  Object.assign(ctx, { siteA: c.site, cluster: c.id, nodeTokens: c.tokens });
  ctx.siteB = `${c.site}-b`;
  ctx.siteE = `${c.site}-e`;
  await mustCreate("POST", "/v1/sites", { id: ctx.siteB });
  await mustCreate("POST", "/v1/sites", { id: ctx.siteE });
  ctx.doomed = (await mustCreate("POST", "/v1/clusters", { site: ctx.siteA, spec: exampleSpec((s) => (s.name = "doomed")) })).cluster.id;
  ctx.viewerA = (await mustCreate("POST", "/v1/tokens", { role: "viewer", site: ctx.siteA })).token;
  ctx.operatorB = (await mustCreate("POST", "/v1/tokens", { role: "operator", site: ctx.siteB })).token;
  const admin = await mustCreate("POST", "/v1/tokens", { role: "admin", label: "matrix admin" });
  ctx.admin = admin.token;
  ctx.adminId = admin.info.id;
  ctx.spareTokenId = (await mustCreate("POST", "/v1/tokens", { role: "operator", site: ctx.siteA })).info.id;
  ctx.webhook = (await mustCreate("POST", "/v1/webhooks", { format: "slack", url: "http://127.0.0.1:9/never", cluster: ctx.cluster, enabled: false })).webhook.id;
  ctx.doomedWebhook = (await mustCreate("POST", "/v1/webhooks", { format: "teams", url: "http://127.0.0.1:9/never", site: ctx.siteA, enabled: false })).webhook.id;
  // Both servers keep beating (short leases: FAST) so the live state stays put while the matrix
  // runs, and the switchover has a holder and a target. Bounded: at most 3 minutes.
  const deadline = Date.now() + 180_000;
  let seq = 0;
  beating = (async () => {
    while (!stopBeating && Date.now() < deadline) {
      seq++;
      for (const n of ["server1", "server2"]) {
        const r = await heartbeat(c.id, n, c.tokens[n]!, beat({ seq, holding: holdingOf(n) }, ALL_HEALTHY));
        if (r.status === 200) held[n] = r.reply.grants.map((g) => ({ group: g.group, epoch: g.epoch }));
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  // Past the restart grace (T + margin), so the groups are held before the matrix starts.
  const start = Date.now();
  for (;;) {
    const st = (await env.CLUSTER.get(env.CLUSTER.idFromName(c.id)).status())!;
    if (st.groups.find((g) => g.name === "server-api")?.holder) break;
    if (Date.now() - start > 20_000) throw new Error("server-api never got a holder");
    await new Promise((r) => setTimeout(r, 250));
  }
}, 60_000);

let stopBeating = false;
let beating: Promise<void> = Promise.resolve();
/** What each server holds (from its last reply), so the engine sees renewals, not strangers. */
const held: Record<string, { group: string; epoch: number }[]> = {};
const holdingOf = (n: string) => held[n] ?? [];
afterAll(async () => {
  stopBeating = true;
  await beating;
});

describe("authorization matrix", () => {
  it("covers every route in the OpenAPI document", async () => {
    const doc = (await call("GET", "/v1/openapi.json", { token: null })).json as unknown as { paths: Record<string, Record<string, unknown>> };
    const documented = Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`));
    const inMatrix = ROUTES.map((r) => `${r.method} ${r.template}`);
    expect(new Set(inMatrix)).toEqual(new Set([...documented, "GET /v1/openapi.json"]));
  });

  it("gives every caller the expected status, and a refused call changes nothing", { timeout: 120_000 }, async () => {
    const table: string[] = [];
    const mismatches: string[] = [];
    for (const r of ROUTES) {
      const row: string[] = [];
      for (const who of WHO) {
        const before = await fingerprint();
        const res = await call(r.method, r.path(), { token: tokenOf(who), body: r.body?.(), ...(r.headers ? { headers: r.headers } : {}) });
        const want = expected(r, who);
        row.push(`${who}=${res.status}`);
        if (res.status !== want) mismatches.push(`${r.method} ${r.path()} as ${who}: got ${res.status}, want ${want} ${JSON.stringify(res.json).slice(0, 200)}`);
        if (res.status >= 400) {
          expect(res.headers.get("content-type"), `${r.method} ${r.template} as ${who}`).toBe("application/problem+json");
          const after = await fingerprint();
          if (after !== before) {
            const [a, b] = [JSON.parse(before) as unknown[], JSON.parse(after) as unknown[]];
            const i = a.findIndex((x, k) => JSON.stringify(x) !== JSON.stringify(b[k]));
            expect(b[i], `${r.method} ${r.template} as ${who} changed part ${i}`).toEqual(a[i]);
          }
        }
      }
      table.push(`${r.method.padEnd(6)} ${r.template.padEnd(42)} ${row.join(" ")}`);
    }
    console.log(`authorization matrix (status per caller):\n${table.join("\n")}`);
    expect(mismatches).toEqual([]);
  });

  it("scoped lists show nothing of other sites", async () => {
    for (const path of ["/v1/clusters", "/v1/sites", "/v1/webhooks", "/v1/events", "/v1/metrics", "/v1/fleet", "/v1/availability"]) {
      const r = await call("GET", path, { token: ctx.operatorB });
      expect(r.status, path).toBe(200);
      expect(JSON.stringify(r.json), path).not.toContain(ctx.cluster);
      expect(JSON.stringify(r.json), path).not.toContain(`"${ctx.siteA}"`);
    }
  });

  it("lets an admin token through on every route; each mutation is an audit event with the token's id", { timeout: 60_000 }, async () => {
    for (const r of ROUTES) {
      const token = r.role === "node" ? ctx.nodeTokens.server1! : r.role === "public" ? null : ctx.admin;
      const lastId = ((await env.DB.prepare("SELECT max(id) AS m FROM events").first<{ m: number | null }>())?.m ?? 0) as number;
      const res = await call(r.method, r.path(), { token, body: r.body?.(), headers: r.method === "PUT" ? { "if-match": "*" } : {} });
      expect(r.ok, `${r.method} ${r.template}: ${res.status} ${JSON.stringify(res.json).slice(0, 300)}`).toContain(res.status);
      if (r.mutation && res.status < 300) {
        // Durable Object decisions are written just after the reply: poll briefly.
        let found = false;
        for (let i = 0; i < 50 && !found; i++) {
          const ev = await env.DB.prepare("SELECT count(*) AS n FROM events WHERE id > ? AND actor LIKE ?").bind(lastId, `%${ctx.adminId}%`).first<{ n: number }>();
          found = (ev?.n ?? 0) > 0;
          if (!found) await new Promise((res) => setTimeout(res, 50));
        }
        expect(found, `audit event with ${ctx.adminId} for ${r.method} ${r.template}`).toBe(true);
      }
    }
  });
});
