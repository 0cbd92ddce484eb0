// A real local HTTP receiver for alert delivery tests, started by vitest's globalSetup (Node) on
// 127.0.0.1; the Worker under test (workerd) POSTs alerts to it. Each hook name keeps its own
// log and failure mode, set by the tests over HTTP:
//   POST /_control/<name> {"failForMs": n} | {"failAlways": true} | {"ok": true} | {"delayMs": n}
//   (failForMs counts from the first request that arrives after it is set, so a slow machine
//   cannot let the outage pass before any alert was sent)
//   GET  /_log/<name> -> [{ at, status, headers, body }]  (every request, failed ones too)
// It also validates OpenAPI documents with @apidevtools/swagger-parser, which runs in Node but
// not in workerd (it require()s an ESM package):
//   POST /_openapi/validate <document> -> { ok: true, paths } | { ok: false, error }
import { createServer, type Server } from "node:http";
import SwaggerParser from "@apidevtools/swagger-parser";
import type { TestProject } from "vitest/node";

interface Hook {
  failUntil: number;
  /** Outage length armed by failForMs, started by the next request. */
  failFor: number;
  failAlways: boolean;
  /** Answer each request this late (per-destination timeout tests). */
  delayMs: number;
  log: { at: number; status: number; headers: Record<string, string>; body: string }[];
}

export function startReceiver(): Promise<{ server: Server; url: string }> {
  const hooks = new Map<string, Hook>();
  const hook = (name: string) => {
    let h = hooks.get(name);
    if (!h) hooks.set(name, (h = { failUntil: 0, failFor: 0, failAlways: false, delayMs: 0, log: [] }));
    return h;
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const [, kind, name = ""] = (req.url ?? "").split("/");
      const send = (status: number, json: unknown) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(json));
      };
      if (kind === "_control" && req.method === "POST") {
        const h = hook(name);
        const cmd = JSON.parse(body || "{}") as { failForMs?: number; failAlways?: boolean; ok?: boolean; delayMs?: number };
        if (cmd.failForMs !== undefined) h.failFor = cmd.failForMs;
        if (cmd.delayMs !== undefined) h.delayMs = cmd.delayMs;
        h.failAlways = cmd.failAlways === true;
        if (cmd.ok) h.failUntil = h.failFor = 0;
        return send(200, { ok: true });
      }
      if (kind === "_log" && req.method === "GET") return send(200, hook(name).log);
      if (kind === "_openapi" && name === "validate" && req.method === "POST") {
        SwaggerParser.validate(JSON.parse(body))
          .then((api) => send(200, { ok: true, paths: Object.keys(api.paths ?? {}).length }))
          .catch((err: unknown) => send(200, { ok: false, error: String(err) }));
        return;
      }
      if (kind === "hook" && req.method === "POST") {
        const h = hook(name);
        if (h.failFor > 0) {
          h.failUntil = Date.now() + h.failFor;
          h.failFor = 0;
        }
        const status = h.failAlways || Date.now() < h.failUntil ? 503 : 200;
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string") headers[k] = v;
        h.log.push({ at: Date.now(), status, headers, body });
        const answer = () => send(status, status === 200 ? { ok: true } : { error: "receiver is down (test)" });
        if (h.delayMs > 0) return void setTimeout(answer, h.delayMs);
        return answer();
      }
      send(404, { error: "unknown path" });
    });
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const addr = server.address();
      if (!addr || typeof addr === "string") return reject(new Error("no address"));
      resolve({ server, url: `http://127.0.0.1:${addr.port}` });
    });
  });
}

/** vitest globalSetup: one receiver for the worker project, closed at the end. */
export default async function setup(project: TestProject) {
  const { server, url } = await startReceiver();
  project.provide("receiverUrl", url);
  return () => new Promise<void>((resolve) => server.close(() => resolve()));
}

declare module "vitest" {
  export interface ProvidedContext {
    receiverUrl: string;
  }
}
