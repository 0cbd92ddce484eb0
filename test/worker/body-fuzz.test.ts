// Property test (fast-check): random and malformed bodies at every JSON route. The API never
// answers 5xx, errors are problem+json, and a 4xx stores nothing (registry rows and the
// cluster's live state are unchanged). Bodies: random JSON values, broken JSON text, valid
// bodies with one field replaced by garbage, odd content types, Idempotency-Keys, deep nesting.
import { env } from "cloudflare:test";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import type { ClusterSpecInput } from "../../protocol/spec.js";
import { MAX_JSON_DEPTH } from "../../worker/http/json-guard.js";
import { fuzzSeed } from "../support/fuzz-seed.js";
import { beat, call, exampleSpec, newCluster, stateFingerprint } from "./helpers.js";

const ctx = { site: "", cluster: "", nodeToken: "", webhook: "" };

// A long lease: within the restart grace (T + margin) nothing is granted, so the live state can
// only change through an accepted call, never by a lease lapsing in the background mid-check.
const LONG = (s: ClusterSpecInput) => {
  s.policy = { heartbeatIntervalMs: 1000, leaseTtlMs: 120_000, driftMarginMs: 500, holdDownMs: 0 };
};

beforeAll(async () => {
  const c = await newCluster(LONG);
  Object.assign(ctx, { site: c.site, cluster: c.id, nodeToken: c.tokens.server1! });
  const w = await call("POST", "/v1/webhooks", { body: { format: "slack", url: "http://127.0.0.1:9/fuzz", cluster: c.id, enabled: false } });
  expect(w.status).toBe(201);
  ctx.webhook = (w.json.webhook as unknown as { id: string }).id;
});

interface JsonRoute {
  method: string;
  path: () => string;
  /** A valid body, the seed for one-field mutations. */
  valid: () => Record<string, unknown>;
  token?: () => string;
  headers?: Record<string, string>;
}

// Every route that takes a JSON body. Mutated bodies reuse the live ids, so they reach the
// handlers' own checks, not just 404s. Webhook URLs stay on loopback.
const ROUTES: JsonRoute[] = [
  { method: "POST", path: () => "/v1/sites", valid: () => ({ id: "fuzz-site", description: "x" }) },
  { method: "PATCH", path: () => `/v1/sites/${ctx.site}`, valid: () => ({ description: "y" }) },
  { method: "POST", path: () => "/v1/clusters", valid: () => ({ site: ctx.site, spec: exampleSpec((s) => (s.name = "fuzzed")) }) },
  { method: "PUT", path: () => `/v1/clusters/${ctx.cluster}/spec`, valid: () => ({ spec: exampleSpec(LONG) }), headers: { "if-match": "*" } },
  { method: "POST", path: () => `/v1/clusters/${ctx.cluster}/switchover`, valid: () => ({ group: "server-api", to: "server2" }) },
  { method: "POST", path: () => `/v1/clusters/${ctx.cluster}/operations`, valid: () => ({ kind: "influxdb-backfill", group: "influxdb", node: "server2", database: "chime", startMs: 1000, endMs: 2000 }) },
  { method: "POST", path: () => `/v1/clusters/${ctx.cluster}/maintenance`, valid: () => ({ on: true }) },
  { method: "POST", path: () => `/v1/clusters/${ctx.cluster}/nodes/server2/maintenance`, valid: () => ({ on: true }) },
  { method: "POST", path: () => `/v1/clusters/${ctx.cluster}/nodes/server1/heartbeat`, valid: () => beat({ seq: 7 }) as unknown as Record<string, unknown>, token: () => ctx.nodeToken },
  { method: "POST", path: () => "/v1/tokens", valid: () => ({ role: "viewer", site: ctx.site, label: "fuzz", expiresInSeconds: 3600 }) },
  { method: "POST", path: () => "/v1/webhooks", valid: () => ({ format: "generic-json", url: "http://127.0.0.1:9/fuzz", cluster: ctx.cluster, minSeverity: "critical", enabled: false }) },
  { method: "PATCH", path: () => `/v1/webhooks/${ctx.webhook}`, valid: () => ({ label: "l", minSeverity: "info", ratePerMinute: 5 }) },
  { method: "POST", path: () => "/v1/dead-letters/replay", valid: () => ({ webhook: ctx.webhook, ids: [1, 2] }) },
];

/** A body: raw text (maybe not JSON) plus the content type to send it with. */
type Body = { text: string; contentType: string | null; idempotencyKey?: string };

const garbage = fc.oneof(
  fc.json({ depthSize: "small" }).map((s) => JSON.parse(s) as unknown),
  fc.string({ maxLength: 80 }),
  fc.integer(),
  fc.double(),
  fc.constantFrom(null, true, false, "", [], {}, -1, 0, 1e308, "a".repeat(5000), "__proto__", "../../etc/passwd", "<script>", "'; DROP TABLE sites; --"),
);

function mutate(valid: Record<string, unknown>, key: string | null, value: unknown, extraKey: string | null): Record<string, unknown> {
  const out: Record<string, unknown> = structuredClone(valid);
  if (key !== null) out[key] = value;
  if (extraKey !== null) out[extraKey] = value;
  return out;
}

function bodyArb(r: JsonRoute): fc.Arbitrary<Body> {
  const keys = Object.keys(r.valid());
  const json = (v: unknown) => JSON.stringify(v) ?? "null";
  const asJson = (text: string) => ({ text, contentType: "application/json" as string | null });
  const shapes = fc.oneof(
    // Random JSON values.
    garbage.map((v) => asJson(json(v))),
    // A valid body with one field replaced, dropped (undefined) or an extra one added.
    fc.tuple(fc.option(fc.constantFrom(...keys), { nil: null }), fc.oneof(garbage, fc.constant(undefined)), fc.option(fc.string({ maxLength: 12 }), { nil: null })).map(([k, v, extra]) => asJson(json(mutate(r.valid(), k, v, extra)))),
    // Broken JSON text.
    fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.json().map((s) => s.slice(0, Math.max(0, s.length - 1))),
      fc.constantFrom("{", "}", "[", '{"a":', "nul", "{'single':1}", '{"a":1,}', "\u0000", "1e999999", "[".repeat(5000) + "]".repeat(5000), '{"a":'.repeat(3000) + "1" + "}".repeat(3000)),
    ).map(asJson),
    // A valid body under the wrong or no content type.
    fc.constantFrom<string | null>("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", null, "application/json; charset=utf-16").map((ct) => ({ text: json(r.valid()), contentType: ct })),
  );
  return fc.tuple(shapes, fc.option(fc.oneof(fc.string({ minLength: 1, maxLength: 20 }), fc.constantFrom("", " ", "a".repeat(300), "has space", "a\tb")), { nil: undefined })).map(([b, key]) => (key === undefined ? b : { ...b, idempotencyKey: key }));
}

/** Everything a call could change (see stateFingerprint). */
const fingerprint = () => stateFingerprint(ctx.cluster, { outbox: false, probes: true });

async function send(r: JsonRoute, b: Body) {
  const headers: Record<string, string> = { authorization: `Bearer ${r.token?.() ?? "test-admin-token"}`, ...r.headers };
  if (b.contentType !== null) headers["content-type"] = b.contentType;
  if (b.idempotencyKey !== undefined) headers["idempotency-key"] = b.idempotencyKey;
  const { worker } = await import("./helpers.js");
  return worker.fetch(new Request(`http://chime-ha.test${r.path()}`, { method: r.method, headers, body: b.text }));
}

describe("random and malformed bodies", () => {
  it("never get a 5xx, and a 4xx stores nothing", { timeout: 240_000 }, async () => {
    const seed = fuzzSeed("body fuzz", env.CHIME_FUZZ_SEED);
    const tally: Record<string, Record<number, number>> = {};
    for (const [i, r] of ROUTES.entries()) {
      const name = `${r.method} ${r.path().replace(ctx.cluster, "{id}").replace(ctx.site, "{site}").replace(ctx.webhook, "{webhook}")}`;
      tally[name] = {};
      await fc.assert(
        fc.asyncProperty(bodyArb(r), async (b) => {
          const before = await fingerprint();
          const res = await send(r, b);
          const text = await res.text();
          tally[name]![res.status] = (tally[name]![res.status] ?? 0) + 1;
          expect(res.status, `${name} ${b.contentType} ${b.text.slice(0, 200)} -> ${text.slice(0, 300)}`).toBeLessThan(500);
          if (res.status >= 400) {
            expect(res.headers.get("content-type"), `${name} -> ${res.status}`).toBe("application/problem+json");
            expect(await fingerprint(), `${name} ${res.status} stored something for ${b.text.slice(0, 200)}`).toBe(before);
          }
        }),
        // One seed per route, derived from the run's seed: a replay repeats every route's bodies.
        { numRuns: 25, seed: (seed + i * 7919) | 0 },
      );
    }
    console.log(`status counts per route:\n${Object.entries(tally).map(([k, v]) => `${k.padEnd(58)} ${JSON.stringify(v)}`).join("\n")}`);
  });

  // Regression: a body a few hundred levels deep reached a Durable Object over RPC, whose
  // structured clone recursed per level until "Maximum call stack size exceeded" (a 500). The
  // random bodies above found it only when they happened to nest deep enough.
  it("refuses a deeply nested body at every JSON route with 400 naming the limit, storing nothing", async () => {
    const deep = [`${'{"a":'.repeat(400)}1${"}".repeat(400)}`, `${"[".repeat(5000)}${"]".repeat(5000)}`, `{"x":${"[".repeat(MAX_JSON_DEPTH)}1${"]".repeat(MAX_JSON_DEPTH)}}`];
    for (const r of ROUTES) {
      for (const text of deep) {
        for (const contentType of ["application/json", "application/json; charset=utf-8"]) {
          const before = await fingerprint();
          const res = await send(r, { text, contentType });
          const body = (await res.json()) as { detail?: string; limit?: number };
          const what = `${r.method} ${r.path()} depth ${text.length} ${contentType}`;
          expect(res.status, what).toBe(400);
          expect(res.headers.get("content-type"), what).toBe("application/problem+json");
          expect(body.limit, what).toBe(MAX_JSON_DEPTH);
          expect(body.detail, what).toContain(`the limit is ${MAX_JSON_DEPTH}`);
          expect(await fingerprint(), what).toBe(before);
        }
      }
    }
    // At the limit the body passes the guard and reaches the route's own checks (not the guard's 400).
    const atLimit = `{"description":${"[".repeat(MAX_JSON_DEPTH - 1)}1${"]".repeat(MAX_JSON_DEPTH - 1)}}`;
    const res = await send(ROUTES[1]!, { text: atLimit, contentType: "application/json" });
    const body = (await res.json()) as { limit?: number; errors?: { path: string }[] };
    expect(res.status).toBe(400);
    expect(body.limit).toBeUndefined();
    expect(body.errors?.[0]?.path).toBe("description");
  });

  it("refuses a body over 1 MiB with 413 and stores nothing", async () => {
    const before = await fingerprint();
    const big = JSON.stringify({ id: "big-site", description: "x".repeat(1024 * 1024) });
    const r = await call("POST", "/v1/sites", { body: big });
    expect(r.status).toBe(413);
    expect(r.headers.get("content-type")).toBe("application/problem+json");
    // Without Content-Length (a stream): still counted and refused.
    const stream = new ReadableStream({
      start(ctrl) {
        for (let i = 0; i < 20; i++) ctrl.enqueue(new TextEncoder().encode("x".repeat(64 * 1024)));
        ctrl.close();
      },
    });
    const { worker } = await import("./helpers.js");
    const s = await worker.fetch(new Request("http://chime-ha.test/v1/sites", { method: "POST", headers: { authorization: "Bearer test-admin-token", "content-type": "application/json" }, body: stream, duplex: "half" } as RequestInit));
    expect(s.status).toBe(413);
    expect(await fingerprint()).toBe(before);
    // Just under the limit is parsed as usual (and fails validation: description max 500).
    const under = await call("POST", "/v1/sites", { body: JSON.stringify({ id: "big-site", description: "x".repeat(1000 * 1000) }) });
    expect(under.status).toBe(400);
  });
});
