// The nodes' own routes: heartbeat (POST, replies with desired state and grants) and the watch
// WebSocket. Node tokens are checked by the cluster's Durable Object against hashes it keeps in
// memory, so a heartbeat costs no D1 query.
import { createRoute, z } from "@hono/zod-openapi";
import { HeartbeatReply, HeartbeatRequest } from "../../protocol/heartbeat.js";
import { bearer } from "../http/auth.js";
import { ApiError } from "../http/problem.js";
import { sha256Hex } from "../http/tokens.js";
import { type App, problemResponse } from "./app.js";
import { clusterStub } from "./clusters.js";

const NodeParams = z.object({ id: z.string(), node: z.string() });
const NODE_SECURITY = [{ nodeToken: [] }];

async function nodeTokenHash(header: string | undefined): Promise<string> {
  const token = bearer(header);
  if (!token) throw new ApiError(401, "Unauthorized", { detail: "send the node's token as 'Authorization: Bearer <token>'" });
  return sha256Hex(token);
}

export function registerHeartbeats(app: App): void {
  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/clusters/{id}/nodes/{node}/heartbeat",
      security: NODE_SECURITY,
      request: { params: NodeParams, body: { required: true, content: { "application/json": { schema: HeartbeatRequest } } } },
      responses: {
        200: { description: "desired state and the grants valid for this node", content: { "application/json": { schema: HeartbeatReply } } },
        401: problemResponse("no token"),
        403: problemResponse("not this node's token"),
        404: problemResponse("no such cluster or node"),
      },
    }),
    async (c) => {
      const { id, node } = c.req.valid("param");
      const hash = await nodeTokenHash(c.req.header("authorization"));
      const out = await clusterStub(c.env, id).heartbeat(node, hash, c.req.valid("json"));
      if (!out.ok) throw new ApiError(out.status, out.status === 404 ? "Not found" : "Forbidden", { detail: out.detail });
      return c.json(out.reply, 200);
    },
  );

  // WebSocket upgrade: not an OpenAPI operation body, but documented as one for completeness.
  app.openapi(
    createRoute({
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
    }),
    async (c) => {
      const { id, node } = c.req.valid("param");
      const hash = await nodeTokenHash(c.req.header("authorization"));
      if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
        throw new ApiError(426, "Upgrade required", { detail: "the watch is a WebSocket: send 'Upgrade: websocket'" });
      }
      const headers = new Headers(c.req.raw.headers);
      headers.set("x-chime-node", node);
      headers.set("x-chime-token-hash", hash);
      headers.delete("authorization");
      const res = await clusterStub(c.env, id).fetch(new Request(c.req.raw.url, { headers }));
      if (res.status !== 101) {
        const detail = await res.text();
        throw new ApiError(res.status === 404 ? 404 : 403, res.status === 404 ? "Not found" : "Forbidden", { detail });
      }
      return res as unknown as never;
    },
  );
}
