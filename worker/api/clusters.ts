// Clusters: created from a spec (validated with path-precise errors; nothing stored when it is
// bad). Node tokens are returned once at creation (and by rotation); only hashes are kept.
import { createRoute, z } from "@hono/zod-openapi";
import { and, eq, isNotNull, isNull, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { Cluster, ClusterCreate, ClusterCreated, ClusterSpecUpdate, NodeTokenRotate, NodeTokenRotated } from "../../protocol/api.js";
import { type ClusterSpec, type Locate, validateSpec } from "../../protocol/spec.js";
import { apiEvent, clusterView, db, loadCluster, loadSite } from "../db/registry.js";
import { clusters, events, nodes, tokens } from "../db/schema.js";
import { clusterStub, forgetPlacement, stubFor } from "../cluster/placement.js";
import { actorOf, requireRole } from "../http/auth.js";
import { ApiError } from "../http/problem.js";
import { newId, newToken, sha256Hex } from "../http/tokens.js";
import { issuesToErrors } from "../http/validation.js";
import { specUrlProblems } from "../net/url-policy.js";
import { specLimitProblems } from "../engine/limits.js";
import { sealSpec } from "../secrets/spec-secrets.js";
import { isYamlRequest, YAML_MEDIA, yamlSpecBody } from "../http/yaml-body.js";
import { type App, problemResponse, SECURITY } from "./app.js";

const IdParam = z.object({ id: z.string() });

/** A JSON body without a content type is refused by the media-type gate; an empty one here. */
function noBody(): never {
  throw new ApiError(400, "Invalid request", { detail: "a body is required: the cluster spec as application/yaml, or JSON as documented" });
}

function parseSpec(input: unknown, locate?: Locate): ClusterSpec {
  const r = validateSpec(input, locate);
  // URLs the nodes will call must be https (or the node's own loopback): worker/net/url-policy.ts.
  const problems = r.ok ? specUrlProblems(r.spec) : r.problems;
  if (problems.length > 0) {
    throw new ApiError(400, "Invalid cluster spec", {
      detail: `${problems.length} problem(s) in the spec; nothing was stored`,
      errors: problems.map((p) => ({ ...p, path: p.path === "(root)" ? "spec" : `spec.${p.path}` })),
    });
  }
  return (r as Extract<typeof r, { ok: true }>).spec;
}

async function mintNodeTokens(clusterId: string, names: string[], now: number) {
  const clear: Record<string, string> = {};
  const hashes: Record<string, string> = {};
  const rows: (typeof tokens.$inferInsert)[] = [];
  for (const name of names) {
    const token = newToken("node");
    const hash = await sha256Hex(token);
    clear[name] = token;
    hashes[name] = hash;
    rows.push({ id: newId("tok"), kind: "node", clusterId, nodeName: name, label: `node ${name} of ${clusterId}`, hash, createdAt: now });
  }
  return { clear, hashes, rows };
}

export function registerClusters(app: App): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/clusters",
      security: SECURITY,
      request: { query: z.object({ site: z.string().optional() }) },
      responses: { 200: { description: "clusters", content: { "application/json": { schema: z.object({ clusters: z.array(Cluster) }) } } } },
    }),
    async (c) => {
      const p = requireRole(c, "viewer");
      const { site } = c.req.valid("query");
      const rows = await db(c.env).select().from(clusters).orderBy(clusters.id).all();
      const visible = rows.filter((r) => (p.siteId === null || r.siteId === p.siteId) && (site === undefined || r.siteId === site));
      return c.json({ clusters: visible.map((r) => clusterView(r, false)) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/clusters",
      security: SECURITY,
      description:
        "Create a cluster from a spec. The body is JSON `{site, spec}`, or (content-type application/yaml) the spec file itself with `?site=`; a body is required. Problems name the path (and for YAML the line) of every bad field; nothing is stored then.",
      request: {
        query: z.object({ site: z.string().optional().openapi({ description: "the site, for a YAML body that is the spec itself" }) }),
        body: { required: false, content: { "application/json": { schema: ClusterCreate }, ...YAML_MEDIA } },
      },
      responses: {
        201: { description: "created; node tokens are shown this once", content: { "application/json": { schema: ClusterCreated } } },
        400: problemResponse("invalid spec, with the path of every problem"),
        409: problemResponse("exists"),
      },
    }),
    async (c) => {
      const yaml = isYamlRequest(c) ? await yamlSpecBody(c, ClusterCreate, (spec) => ({ site: c.req.valid("query").site, spec })) : null;
      if (!yaml && !c.req.header("content-type")) noBody();
      // JSON bodies were validated against ClusterCreate by the route (the string is YAML's schema).
      const body = yaml ? yaml.body : (c.req.valid("json") as z.infer<typeof ClusterCreate>);
      const p = requireRole(c, "admin", body.site);
      const parsed = parseSpec(body.spec, yaml?.locateSpec);
      const d = db(c.env);
      const site = await loadSite(d, body.site);
      const id = `${body.site}.${parsed.name}`;
      // Fence credentials are stored sealed, in D1 and in the Durable Object alike.
      const spec = await sealSpec(c.env, id, parsed);
      if (await d.select({ id: clusters.id }).from(clusters).where(eq(clusters.id, id)).get()) {
        throw new ApiError(409, "Conflict", { detail: `cluster '${spec.name}' already exists in site '${body.site}' (${id}); update its spec instead` });
      }
      const now = Date.now();
      const minted = await mintNodeTokens(id, spec.nodes.map((n) => n.name), now);
      // The Durable Object first (idempotent), then the registry rows in one batch; if the batch
      // fails the object is removed again so nothing is half-created.
      // Created in the site's jurisdiction, near its location hint (cluster/placement.ts).
      const stub = stubFor(c.env, id, { locationHint: site.locationHint, jurisdiction: site.jurisdiction });
      await stub.init(id, body.site, spec, 1, minted.hashes, actorOf(p));
      const row = { id, siteId: body.site, name: spec.name, spec, specVersion: 1, createdAt: now, updatedAt: now };
      try {
        await d.batch([
          d.insert(clusters).values(row),
          d.insert(nodes).values(spec.nodes.map((n) => ({ clusterId: id, name: n.name, hostname: n.hostname, ip: n.ip, role: n.role }))),
          d.insert(tokens).values(minted.rows),
          d.insert(events).values(
            apiEvent({ siteId: body.site, clusterId: id, kind: "cluster.created", reason: `cluster ${id} created from spec (${spec.nodes.length} nodes, ${spec.groups.length} groups)`, actor: actorOf(p) }),
          ),
        ]);
      } catch (err) {
        await stub.destroy();
        throw err;
      }
      return c.json({ cluster: clusterView(row, true), nodeTokens: minted.clear }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/clusters/{id}",
      security: SECURITY,
      request: { params: IdParam },
      responses: { 200: { description: "cluster with spec", content: { "application/json": { schema: Cluster } } }, 404: problemResponse("no such cluster") },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const row = await loadCluster(db(c.env), id);
      requireRole(c, "viewer", row.siteId);
      c.header("ETag", `"v${row.specVersion}"`);
      return c.json(clusterView(row, true), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "put",
      path: "/v1/clusters/{id}/spec",
      security: SECURITY,
      request: {
        params: IdParam,
        headers: z.object({ "if-match": z.string().optional().openapi({ description: 'the ETag from GET /v1/clusters/{id} ("v<version>"), or "*"; required' }) }),
        body: { required: false, content: { "application/json": { schema: ClusterSpecUpdate }, ...YAML_MEDIA } },
      },
      description: "Replace the spec (If-Match required). The body is JSON `{spec}`, or (content-type application/yaml) the spec file itself; a body is required.",
      responses: {
        200: { description: "new spec version; tokens for nodes the spec added", content: { "application/json": { schema: ClusterCreated } } },
        400: problemResponse("invalid spec"),
        404: problemResponse("no such cluster"),
        409: problemResponse("a group's VIP would lie outside the local limits every member reported"),
        412: problemResponse("If-Match does not match the current version"),
        428: problemResponse("If-Match is missing"),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const d = db(c.env);
      const row = await loadCluster(d, id);
      const p = requireRole(c, "admin", row.siteId);
      const ifMatch = c.req.header("if-match");
      // Required, so two automations cannot overwrite each other's spec unknowingly ("*": on purpose).
      if (ifMatch === undefined) {
        throw new ApiError(428, "Precondition required", { detail: `send If-Match with the cluster's ETag ("v${row.specVersion}", from GET /v1/clusters/${id}), or "*" to overwrite any version` });
      }
      if (ifMatch !== `"v${row.specVersion}"` && ifMatch !== "*") {
        throw new ApiError(412, "Precondition failed", { detail: `the spec is at version ${row.specVersion} ("v${row.specVersion}"); you sent If-Match ${ifMatch}` });
      }
      const yaml = isYamlRequest(c) ? await yamlSpecBody(c, ClusterSpecUpdate, (spec) => ({ spec })) : null;
      if (!yaml && !c.req.header("content-type")) noBody();
      const parsed = parseSpec((yaml ? yaml.body : (c.req.valid("json") as z.infer<typeof ClusterSpecUpdate>)).spec, yaml?.locateSpec);
      // A credential sent back as REDACTED keeps the stored one.
      const spec = await sealSpec(c.env, id, parsed, row.specParsed);
      if (spec.name !== row.name) throw new ApiError(400, "Invalid cluster spec", { errors: [{ path: "spec.name", message: `a cluster cannot be renamed (is '${row.name}')` }] });
      // Before anything is stored: a VIP no member of its group would accept (their local limits,
      // as they reported them) is refused here rather than by every node.
      const outside = specLimitProblems(row.specParsed, spec, await (await clusterStub(c.env, id)).nodeLimits());
      if (outside.length > 0) {
        throw new ApiError(409, "Outside the nodes' local limits", {
          detail: `${outside.length} group(s) would get a VIP that none of their members' local limits allow; nothing was stored (${outside.map((o) => o.message).join(" | ")})`,
          errors: outside.map((o) => ({ path: `spec.groups[${o.group}].${o.field}`, message: o.message })),
        });
      }
      const oldNames = new Set(row.specParsed.nodes.map((n) => n.name));
      const newNames = new Set(spec.nodes.map((n) => n.name));
      const added = [...newNames].filter((n) => !oldNames.has(n));
      const removed = [...oldNames].filter((n) => !newNames.has(n));
      const now = Date.now();
      const minted = await mintNodeTokens(id, added, now);
      const kept = await d.select().from(tokens).where(and(eq(tokens.clusterId, id), eq(tokens.kind, "node"), isNull(tokens.revokedAt))).all();
      const hashes: Record<string, string> = { ...minted.hashes };
      const previous: Record<string, { hash: string; until: number }> = {};
      // A node's current token has no expiry; one with an expiry is in a rotation's grace period.
      for (const t of kept) {
        if (!t.nodeName || !newNames.has(t.nodeName)) continue;
        if (t.expiresAt === null) hashes[t.nodeName] = t.hash;
        else if (t.expiresAt > now) previous[t.nodeName] = { hash: t.hash, until: t.expiresAt };
      }
      const version = row.specVersion + 1;
      const stmts: BatchItem<"sqlite">[] = [
        d.update(clusters).set({ spec, specVersion: version, updatedAt: now }).where(and(eq(clusters.id, id), eq(clusters.specVersion, row.specVersion))),
        // Guard: if another writer moved the version since we read it, the update above changed
        // nothing; this insert then violates NOT NULL and the whole batch (one transaction) rolls back.
        d.run(sql`INSERT INTO sites (id, description, created_at) SELECT NULL, '', 0 WHERE changes() = 0`),
        d.delete(nodes).where(eq(nodes.clusterId, id)),
        d.insert(nodes).values(spec.nodes.map((n) => ({ clusterId: id, name: n.name, hostname: n.hostname, ip: n.ip, role: n.role }))),
        ...removed.map((n) => d.update(tokens).set({ revokedAt: now }).where(and(eq(tokens.clusterId, id), eq(tokens.nodeName, n)))),
        d.insert(events).values(
          apiEvent({
            siteId: row.siteId,
            clusterId: id,
            kind: "cluster.spec-updated",
            reason: `spec version ${version}${added.length ? `; nodes added: ${added.join(", ")}` : ""}${removed.length ? `; nodes removed: ${removed.join(", ")}` : ""}`,
            actor: actorOf(p),
          }),
        ),
      ];
      if (minted.rows.length) stmts.push(d.insert(tokens).values(minted.rows));
      const [first, ...rest] = stmts;
      try {
        await d.batch([first!, ...rest]);
      } catch (err) {
        if (!/NOT NULL constraint failed: sites\.id/.test(String((err as Error)?.cause ?? err))) throw err;
        throw new ApiError(412, "Precondition failed", { detail: `the spec changed while this update was being made (it was at version ${row.specVersion}); read it again and retry` });
      }
      await (await clusterStub(c.env, id)).updateSpec(spec, version, actorOf(p), hashes, previous);
      c.header("ETag", `"v${version}"`);
      return c.json({ cluster: clusterView({ ...row, spec, specVersion: version, updatedAt: now }, true), nodeTokens: minted.clear }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/v1/clusters/{id}",
      security: SECURITY,
      request: { params: IdParam },
      responses: { 204: { description: "deleted" }, 404: problemResponse("no such cluster") },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const d = db(c.env);
      const row = await loadCluster(d, id);
      const p = requireRole(c, "admin", row.siteId);
      await (await clusterStub(c.env, id)).destroy();
      forgetPlacement(id);
      await d.batch([
        d.update(tokens).set({ revokedAt: Date.now() }).where(and(eq(tokens.clusterId, id), isNull(tokens.revokedAt))),
        d.delete(nodes).where(eq(nodes.clusterId, id)),
        d.delete(clusters).where(eq(clusters.id, id)),
        d.insert(events).values(apiEvent({ siteId: row.siteId, clusterId: id, kind: "cluster.deleted", reason: `cluster ${id} deleted`, actor: actorOf(p), severity: "warning" })),
      ]);
      return c.body(null, 204);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/clusters/{id}/nodes/{node}/token",
      security: SECURITY,
      description:
        "Rotate a node's token. The old one stays valid for `graceSeconds` (default 3600), so the node keeps heartbeating until the new token is in its token file (the shim re-reads it); 0 ends it at once (a leaked token).",
      request: {
        params: z.object({ id: z.string(), node: z.string() }),
        body: { required: false, content: { "application/json": { schema: NodeTokenRotate } } },
      },
      responses: {
        200: { description: "the new node token, shown once, and when the old one stops working", content: { "application/json": { schema: NodeTokenRotated } } },
        404: problemResponse("no such cluster or node"),
      },
    }),
    async (c) => {
      const { id, node } = c.req.valid("param");
      // The body is optional: no body (or an empty one) means the default grace period.
      const text = await c.req.text();
      const parsed = NodeTokenRotate.safeParse(text.trim() === "" ? {} : safeJson(text));
      if (!parsed.success) throw new ApiError(400, "Invalid request", { detail: "the request body does not match the API schema", errors: issuesToErrors(parsed.error.issues) });
      const graceMs = parsed.data.graceSeconds * 1000;
      const d = db(c.env);
      const row = await loadCluster(d, id);
      const p = requireRole(c, "admin", row.siteId);
      if (!row.specParsed.nodes.some((n) => n.name === node)) throw new ApiError(404, "Not found", { detail: `no node '${node}' in cluster ${id}` });
      const now = Date.now();
      const minted = await mintNodeTokens(id, [node], now);
      const graceUntil = graceMs > 0 ? now + graceMs : null;
      const live = and(eq(tokens.clusterId, id), eq(tokens.nodeName, node), isNull(tokens.revokedAt));
      await d.batch([
        // Earlier tokens still in a grace period end now: only the token being replaced overlaps.
        d.update(tokens).set({ revokedAt: now }).where(and(live, isNotNull(tokens.expiresAt))),
        graceUntil === null
          ? d.update(tokens).set({ revokedAt: now }).where(and(live, isNull(tokens.expiresAt)))
          : d.update(tokens).set({ expiresAt: graceUntil }).where(and(live, isNull(tokens.expiresAt))),
        d.insert(tokens).values(minted.rows),
        d.insert(events).values(
          apiEvent({
            siteId: row.siteId,
            clusterId: id,
            node,
            kind: "node.token-rotated",
            reason: `node ${node} token rotated; ${graceUntil === null ? "the old token ended at once" : `the old token stays valid until ${new Date(graceUntil).toISOString()}`}`,
            actor: actorOf(p),
          }),
        ),
      ]);
      await (await clusterStub(c.env, id)).setNodeToken(node, minted.hashes[node]!, graceUntil);
      return c.json({ node, token: minted.clear[node]!, previousValidUntil: graceUntil }, 200);
    },
  );
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
