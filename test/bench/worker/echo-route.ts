// Baseline route for `npm run bench:heartbeat`: the same auth + JSON parse + Durable Object
// round trip as a heartbeat, without the engine. Admin only. Bench-only (see index.ts).
import { createRoute, z } from "@hono/zod-openapi";
import type { App } from "../../../worker/api/app.js";
import { SECURITY } from "../../../worker/api/app.js";
import { requireRole } from "../../../worker/http/auth.js";
import type { EchoObject } from "./echo-object.js";

export function registerBenchEcho(app: App, echo: (env: unknown) => DurableObjectNamespace<EchoObject>): void {
  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/bench/echo/{id}",
      security: SECURITY,
      request: { params: z.object({ id: z.string() }), body: { required: true, content: { "application/json": { schema: z.record(z.string(), z.unknown()) } } } },
      responses: { 200: { description: "echo", content: { "application/json": { schema: z.object({ n: z.number(), body: z.unknown() }) } } } },
    }),
    async (c) => {
      requireRole(c, "admin");
      const { id } = c.req.valid("param");
      const ns = echo(c.env);
      const stub = ns.get(ns.idFromName(id));
      // RPC typing turns `unknown` into `never`; the echo returns exactly what it was given.
      const out = (await stub.echo(c.req.valid("json"))) as unknown as { n: number; body: unknown };
      return c.json({ n: out.n, body: out.body }, 200);
    },
  );
}
