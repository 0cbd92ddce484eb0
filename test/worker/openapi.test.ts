// The OpenAPI 3.1 document at /v1/openapi.json: valid (swagger-parser) and complete (every route
// the Worker serves is in it, generated from the same zod schemas the routes validate with).
import { describe, expect, inject, it } from "vitest";
import { app } from "../../worker/index.js";
import { call } from "./helpers.js";

type Doc = { openapi: string; paths: Record<string, Record<string, { security?: unknown[]; responses?: Record<string, unknown>; requestBody?: unknown }>> };

async function getDoc(): Promise<Doc> {
  const r = await call("GET", "/v1/openapi.json", { token: null });
  expect(r.status).toBe(200);
  expect(r.headers.get("content-type")).toMatch(/^application\/json/);
  return r.json as unknown as Doc;
}

describe("OpenAPI document", () => {
  it("is a valid OpenAPI 3.1 document", async () => {
    const doc = await getDoc();
    expect(doc.openapi).toBe("3.1.0");
    // swagger-parser runs in the Node-side helper (test/worker/receiver.ts): it cannot load in workerd.
    const r = await fetch(`${inject("receiverUrl")}/_openapi/validate`, { method: "POST", body: JSON.stringify(doc) });
    const out = (await r.json()) as { ok: boolean; paths?: number; error?: string };
    expect(out).toEqual({ ok: true, paths: Object.keys(doc.paths).length });
    // The validator does reject a broken document (so the check above means something).
    const broken = { ...doc, paths: { "/x": { get: { responses: { 200: { description: 5 } } } } } };
    const bad = (await (await fetch(`${inject("receiverUrl")}/_openapi/validate`, { method: "POST", body: JSON.stringify(broken) })).json()) as { ok: boolean };
    expect(bad.ok).toBe(false);
  });

  it("lists every route the Worker serves, each with its security and responses", async () => {
    const doc = await getDoc();
    const documented = new Set(Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`)));
    // Hono's routing table (middleware entries are method ALL); `:id` -> `{id}`.
    const served = new Set(
      app.routes
        .filter((r) => r.method !== "ALL" && r.path.startsWith("/v1/") && r.path !== "/v1/openapi.json")
        .map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, "{$1}")}`),
    );
    expect([...served].filter((r) => !documented.has(r)), "served but not documented").toEqual([]);
    expect([...documented].filter((r) => !served.has(r)), "documented but not served").toEqual([]);
    for (const [p, ops] of Object.entries(doc.paths)) {
      for (const [m, op] of Object.entries(ops)) {
        expect(op.security, `${m} ${p} security`).toBeDefined();
        expect(Object.keys(op.responses ?? {}).length, `${m} ${p} responses`).toBeGreaterThan(0);
        if (["post", "put", "patch"].includes(m) && !/\/(token|test|ack-fence|rotate)$/.test(p)) expect(op.requestBody, `${m} ${p} body schema`).toBeDefined();
      }
    }
    // The resources of this issue are there.
    for (const r of ["POST /v1/tokens", "DELETE /v1/tokens/{id}", "POST /v1/webhooks", "POST /v1/webhooks/{id}/test", "GET /v1/dead-letters", "POST /v1/dead-letters/replay", "GET /v1/metrics"]) {
      expect(documented.has(r), r).toBe(true);
    }
  });
});
