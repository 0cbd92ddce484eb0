// The nodes' own routes: heartbeat (POST, replies with desired state and grants) and the watch
// WebSocket. Node tokens are checked by the cluster's Durable Object against hashes it keeps in
// memory, so a heartbeat costs no D1 query.
import { z } from "@hono/zod-openapi";
import { HeartbeatReply, HeartbeatRequest } from "../../protocol/heartbeat.js";
import { bearer } from "../http/auth.js";
import { ApiError } from "../http/problem.js";
import { sha256Hex } from "../http/tokens.js";
import { type App, problemResponse } from "./app.js";
import { clusterStub } from "../cluster/placement.js";

const NodeParams = z.object({ id: z.string(), node: z.string() });
const NODE_SECURITY = [{ nodeToken: [] }];

async function nodeTokenHash(header: string | undefined): Promise<string> {
  const token = bearer(header);
  if (!token) throw new ApiError(401, "Unauthorized", { detail: "send the node's token as 'Authorization: Bearer <token>'" });
  return sha256Hex(token);
}

export function registerHeartbeats(app: App): void {
  // Documented from the same schemas, but validated by hand AFTER the token check, so a caller
  // without the node's token learns nothing about the body format (401/403 before 400).
  app.openAPIRegistry.registerPath({
    method: "post",
    path: "/v1/clusters/{id}/nodes/{node}/heartbeat",
    security: NODE_SECURITY,
    request: { params: NodeParams, body: { required: true, content: { "application/json": { schema: HeartbeatRequest } } } },
    responses: {
      200: { description: "desired state and the grants valid for this node", content: { "application/json": { schema: HeartbeatReply } } },
      400: problemResponse("the body does not match the heartbeat schema"),
      401: problemResponse("no token"),
      403: problemResponse("not this node's token"),
      404: problemResponse("no such cluster or node"),
    },
  });
  app.post("/v1/clusters/:id/nodes/:node/heartbeat", async (c) => {
    const { id, node } = c.req.param();
    const hash = await nodeTokenHash(c.req.header("authorization"));
    // An unparseable body reaches the Durable Object as "no body": it answers 400 after the token
    // check. Depth was checked by the API's JSON guard (http/json-guard.ts) before this handler.
    let body: unknown;
    try {
      body = JSON.parse(await c.req.text());
    } catch {
      body = undefined;
    }
    const out = await (await clusterStub(c.env, id)).heartbeat(node, hash, body);
    if (!out.ok) {
      const title = out.status === 404 ? "Not found" : out.status === 400 ? "Invalid heartbeat" : "Forbidden";
      throw new ApiError(out.status, title, out.errors ? { detail: out.detail, errors: out.errors } : { detail: out.detail });
    }
    return c.json(out.reply, 200);
  });

  app.openAPIRegistry.registerPath({
    method: "get",
    path: "/v1/clusters/{id}/nodes/{node}/watch",
    security: NODE_SECURITY,
    request: { params: NodeParams },
    responses: {
      101: { description: "WebSocket: the Durable Object pushes {type:'desired'} when this node's desired state changes" },
      401: problemResponse("no token"),
      403: problemResponse("not this node's token"),
      426: problemResponse("not a WebSocket upgrade"),
    },
  });
  app.get("/v1/clusters/:id/nodes/:node/watch", async (c) => {
    const { id, node } = c.req.param();
    const hash = await nodeTokenHash(c.req.header("authorization"));
    const headers = new Headers(c.req.raw.headers);
    headers.set("x-chime-node", node);
    headers.set("x-chime-token-hash", hash);
    headers.delete("authorization");
    const res = await (await clusterStub(c.env, id)).fetch(new Request(c.req.raw.url, { headers }));
    if (res.status === 101) return res;
    const detail = await res.text();
    const status = res.status === 404 ? 404 : res.status === 426 ? 426 : 403;
    throw new ApiError(status, status === 404 ? "Not found" : status === 426 ? "Upgrade required" : "Forbidden", { detail });
  });
}
