// Operator actions on a cluster: planned switchover, maintenance (cluster or node) and the
// acknowledgement that a compute node is fenced (lets evacuation go ahead without IPMI proof).
import { createRoute, z } from "@hono/zod-openapi";
import { AdminOpResult, Maintenance, RunOperation, Switchover } from "../../protocol/api.js";
import { apiEvent, db, loadCluster } from "../db/registry.js";
import { events } from "../db/schema.js";
import { actorOf, requireRole } from "../http/auth.js";
import { ApiError } from "../http/problem.js";
import { type App, problemResponse, SECURITY } from "./app.js";
import { clusterStub } from "./clusters.js";

const ok = { 200: { description: "accepted; detail is the engine's reason", content: { "application/json": { schema: AdminOpResult } } } };
const errors = { 404: problemResponse("no such cluster, node or group"), 409: problemResponse("refused by the engine, with its reason") };

export function registerOperations(app: App): void {
  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/clusters/{id}/switchover",
      security: SECURITY,
      request: { params: z.object({ id: z.string() }), body: { required: true, content: { "application/json": { schema: Switchover } } } },
      responses: { ...ok, ...errors },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const body = c.req.valid("json");
      const row = await loadCluster(db(c.env), id);
      const p = requireRole(c, "operator", row.siteId);
      if (!row.specParsed.groups.some((g) => g.name === body.group)) throw new ApiError(404, "Not found", { detail: `no group '${body.group}' in cluster ${id}` });
      if (body.to !== undefined && !row.specParsed.nodes.some((n) => n.name === body.to)) throw new ApiError(404, "Not found", { detail: `no node '${body.to}' in cluster ${id}` });
      const out = await clusterStub(c.env, id).admin({ type: "switchover", group: body.group, to: body.to ?? null, actor: actorOf(p) });
      if (!out.ok) throw new ApiError(out.status, out.status === 404 ? "Not found" : "Conflict", { detail: out.detail });
      return c.json({ ok: true as const, detail: out.detail }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/clusters/{id}/maintenance",
      security: SECURITY,
      request: { params: z.object({ id: z.string() }), body: { required: true, content: { "application/json": { schema: Maintenance } } } },
      responses: { ...ok, ...errors },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const row = await loadCluster(db(c.env), id);
      const p = requireRole(c, "operator", row.siteId);
      const out = await clusterStub(c.env, id).admin({ type: "maintenance", node: null, on: c.req.valid("json").on, actor: actorOf(p) });
      if (!out.ok) throw new ApiError(out.status, "Conflict", { detail: out.detail });
      return c.json({ ok: true as const, detail: out.detail }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/clusters/{id}/nodes/{node}/maintenance",
      security: SECURITY,
      request: { params: z.object({ id: z.string(), node: z.string() }), body: { required: true, content: { "application/json": { schema: Maintenance } } } },
      responses: { ...ok, ...errors },
    }),
    async (c) => {
      const { id, node } = c.req.valid("param");
      const row = await loadCluster(db(c.env), id);
      const p = requireRole(c, "operator", row.siteId);
      if (!row.specParsed.nodes.some((n) => n.name === node)) throw new ApiError(404, "Not found", { detail: `no node '${node}' in cluster ${id}` });
      const out = await clusterStub(c.env, id).admin({ type: "maintenance", node, on: c.req.valid("json").on, actor: actorOf(p) });
      if (!out.ok) throw new ApiError(out.status, "Conflict", { detail: out.detail });
      return c.json({ ok: true as const, detail: out.detail }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/clusters/{id}/nodes/{node}/ack-fence",
      security: SECURITY,
      description: "An operator confirms a dead compute node is powered off; evacuation may proceed without a successful automatic fence.",
      request: { params: z.object({ id: z.string(), node: z.string() }) },
      responses: { ...ok, ...errors },
    }),
    async (c) => {
      const { id, node } = c.req.valid("param");
      const d = db(c.env);
      const row = await loadCluster(d, id);
      const p = requireRole(c, "operator", row.siteId);
      const spec = row.specParsed.nodes.find((n) => n.name === node);
      if (!spec) throw new ApiError(404, "Not found", { detail: `no node '${node}' in cluster ${id}` });
      if (spec.role !== "compute") throw new ApiError(409, "Conflict", { detail: `${node} is a ${spec.role} node; only compute nodes are fenced` });
      const out = await clusterStub(c.env, id).admin({ type: "ack-fence", node, actor: actorOf(p) });
      if (!out.ok) throw new ApiError(out.status, "Conflict", { detail: out.detail });
      await d.insert(events).values(apiEvent({ siteId: row.siteId, clusterId: id, node, kind: "node.fence-acked", severity: "warning", reason: `operator acknowledged ${node} is fenced`, actor: actorOf(p) }));
      return c.json({ ok: true as const, detail: out.detail }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/clusters/{id}/operations",
      security: SECURITY,
      description:
        "Ask a node to run an operation: influxdb-backfill (copy a missed window from a healthy peer) or minio-heal (`mc admin heal`). The node runs it through its CommandRunner and reports the result as an operation.finished / operation.failed event.",
      request: { params: z.object({ id: z.string() }), body: { required: true, content: { "application/json": { schema: RunOperation } } } },
      responses: { ...ok, ...errors },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const body = c.req.valid("json");
      const row = await loadCluster(db(c.env), id);
      const p = requireRole(c, "operator", row.siteId);
      if (!row.specParsed.groups.some((g) => g.name === body.group)) throw new ApiError(404, "Not found", { detail: `no group '${body.group}' in cluster ${id}` });
      for (const n of [body.node, body.kind === "influxdb-backfill" ? body.from : undefined]) {
        if (n !== undefined && !row.specParsed.nodes.some((x) => x.name === n)) throw new ApiError(404, "Not found", { detail: `no node '${n}' in cluster ${id}` });
      }
      const out = await clusterStub(c.env, id).admin({ type: "run-operation", request: body, actor: actorOf(p) });
      if (!out.ok) throw new ApiError(out.status, out.status === 404 ? "Not found" : "Conflict", { detail: out.detail });
      return c.json({ ok: true as const, detail: out.detail }, 200);
    },
  );
}
