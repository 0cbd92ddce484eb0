// Operator actions on a cluster: planned switchover, maintenance (cluster or node) and the
// acknowledgement that a compute node is fenced (lets evacuation go ahead without IPMI proof).
import { createRoute, z } from "@hono/zod-openapi";
import { AdminOpResult, Maintenance, RunOperation, Switchover } from "../../protocol/api.js";
import { DrillRequest } from "../../protocol/availability.js";
import { apiEvent, db, loadCluster } from "../db/registry.js";
import { events } from "../db/schema.js";
import { actorOf, requireRole } from "../http/auth.js";
import { ApiError } from "../http/problem.js";
import { type App, problemResponse, SECURITY } from "./app.js";
import type { ClusterObject } from "../cluster/cluster-object.js";
import { clusterStub } from "../cluster/placement.js";

const ok = { 200: { description: "accepted; detail is the engine's reason", content: { "application/json": { schema: AdminOpResult } } } };
const errors = { 404: problemResponse("no such cluster, node or group"), 409: problemResponse("refused by the engine, with its reason") };

type Ctx = Parameters<Parameters<App["openapi"]>[1]>[0];

/** The cluster an operator acts on; group and node names must exist in its spec (404 otherwise). */
async function operatorTarget(c: Ctx, id: string, names: { group?: string; nodes?: (string | undefined)[] } = {}) {
  const row = await loadCluster(db(c.env), id);
  const p = requireRole(c, "operator", row.siteId);
  if (names.group !== undefined && !row.specParsed.groups.some((g) => g.name === names.group)) throw new ApiError(404, "Not found", { detail: `no group '${names.group}' in cluster ${id}` });
  for (const n of names.nodes ?? []) {
    if (n !== undefined && !row.specParsed.nodes.some((x) => x.name === n)) throw new ApiError(404, "Not found", { detail: `no node '${n}' in cluster ${id}` });
  }
  return { row, actor: actorOf(p) };
}

/** Feed an operator input to the cluster's engine; its refusal becomes a problem with the reason. */
async function runAdmin(c: Ctx, id: string, input: Parameters<ClusterObject["admin"]>[0]) {
  const out = await (await clusterStub(c.env, id)).admin(input);
  if (!out.ok) throw new ApiError(out.status, out.status === 404 ? "Not found" : "Conflict", { detail: out.detail });
  return { ok: true as const, detail: out.detail, decisions: out.decisions };
}

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
      const { actor } = await operatorTarget(c, id, { group: body.group, nodes: [body.to] });
      return c.json(await runAdmin(c, id, { type: "switchover", group: body.group, to: body.to ?? null, actor, ...(body.acceptDataLoss ? { acceptDataLoss: true } : {}) }), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/clusters/{id}/drills",
      security: SECURITY,
      description:
        "A failover drill now: the group moves to the best candidate (or the spec drill's `to`) and back after returnAfterMs, planned (not counted against the target). Refused (409, and a drill.refused event) unless every member is healthy and nothing is in maintenance or hold-down. The result is a drill.passed / drill.failed event.",
      request: { params: z.object({ id: z.string() }), body: { required: true, content: { "application/json": { schema: DrillRequest } } } },
      responses: { ...ok, ...errors },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const body = c.req.valid("json");
      const { actor } = await operatorTarget(c, id, { group: body.group });
      return c.json(await runAdmin(c, id, { type: "drill", group: body.group, actor, ...(body.returnAfterMs !== undefined ? { returnAfterMs: body.returnAfterMs } : {}) }), 200);
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
      const { actor } = await operatorTarget(c, id);
      return c.json(await runAdmin(c, id, { type: "maintenance", node: null, on: c.req.valid("json").on, actor }), 200);
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
      const { actor } = await operatorTarget(c, id, { nodes: [node] });
      return c.json(await runAdmin(c, id, { type: "maintenance", node, on: c.req.valid("json").on, actor }), 200);
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
      const { row, actor } = await operatorTarget(c, id, { nodes: [node] });
      const spec = row.specParsed.nodes.find((n) => n.name === node)!;
      if (spec.role !== "compute") throw new ApiError(409, "Conflict", { detail: `${node} is a ${spec.role} node; only compute nodes are fenced` });
      const out = await runAdmin(c, id, { type: "ack-fence", node, actor });
      await db(c.env).insert(events).values(apiEvent({ siteId: row.siteId, clusterId: id, node, kind: "node.fence-acked", severity: "warning", reason: `operator acknowledged ${node} is fenced`, actor }));
      return c.json(out, 200);
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
      const { actor } = await operatorTarget(c, id, { group: body.group, nodes: [body.node, body.kind === "influxdb-backfill" ? body.from : undefined] });
      return c.json(await runAdmin(c, id, { type: "run-operation", request: body, actor }), 200);
    },
  );
}
