// API rate limits per token: one Durable Object per token holds the bucket, so every isolate that
// serves the token counts against the same budget; over it, 429 with Retry-After.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { take } from "../../worker/ratelimit/bucket.js";
import { limitsFor } from "../../worker/ratelimit/rate-limiter.js";
import { call } from "./helpers.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function tokenWithRate(ratePerMinute: number) {
  const r = await call("POST", "/v1/tokens", { body: { role: "viewer", label: "rate test", ratePerMinute } });
  expect(r.status, JSON.stringify(r.json)).toBe(201);
  return { token: r.json.token as unknown as string, id: (r.json.info as unknown as { id: string; ratePerMinute: number }).id };
}

describe("token bucket (pure)", () => {
  it("allows `capacity` at once, refills at the rate, and says when the next request fits", () => {
    let b = null;
    const results = [];
    for (let i = 0; i < 6; i++) {
      const r = take(b, 1000, 30, 5);
      b = r.bucket;
      results.push(r.result.ok);
    }
    expect(results).toEqual([true, true, true, true, true, false]);
    expect(take(b, 1000, 30, 5).result.retryAfterMs).toBe(2000);
    expect(take(b, 2999, 30, 5).result.ok).toBe(false);
    expect(take(b, 3000, 30, 5).result.ok).toBe(true);
    // A long pause refills to capacity, not beyond.
    expect(take(b, 10_000_000, 30, 5).result.remaining).toBe(4);
  });

  it("defaults: 1,200 per minute, bursts of 200; a token's own rate wins", () => {
    expect(limitsFor({} as never, null)).toEqual({ perMinute: 1200, capacity: 200 });
    expect(limitsFor({} as never, 30)).toEqual({ perMinute: 30, capacity: 5 });
    expect(limitsFor({ API_RATE_PER_MINUTE: "600", API_RATE_BURST: "50" } as never, null)).toEqual({ perMinute: 600, capacity: 50 });
  });
});

describe("API rate limits per token", () => {
  it("the request over the budget gets 429 problem+json with Retry-After; other tokens are not affected; it refills", { timeout: 20_000 }, async () => {
    const a = await tokenWithRate(30);
    const b = await tokenWithRate(30);
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await call("GET", "/v1/sites", { token: a.token })).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200]);
    const refused = await call("GET", "/v1/sites", { token: a.token });
    expect(refused.status).toBe(429);
    expect(refused.headers.get("content-type")).toBe("application/problem+json");
    const retry = Number(refused.headers.get("retry-after"));
    expect(retry).toBeGreaterThanOrEqual(1);
    expect(retry).toBeLessThanOrEqual(2);
    expect(String(refused.json.detail)).toContain(`token ${a.id} is limited to 30 requests per minute`);
    // Refused requests do not change anything, and POSTs are limited the same way.
    expect((await call("POST", "/v1/sites", { token: a.token, body: { id: "never" } })).status).toBe(429);
    expect((await call("GET", "/v1/sites", { token: b.token })).status).toBe(200);
    await sleep(retry * 1000 + 100);
    expect((await call("GET", "/v1/sites", { token: a.token })).status).toBe(200);
  });

  it("one budget across isolates: requests counted by any caller of the token's object share it, also when concurrent", async () => {
    const t = await tokenWithRate(30);
    // Another isolate (here: this test's own code) takes 3 of the 5 from the same object.
    const stub = env.RATE_LIMITER!.get(env.RATE_LIMITER!.idFromName(t.id));
    for (let i = 0; i < 3; i++) expect((await stub.take(30, 5)).ok).toBe(true);
    const all = await Promise.all(Array.from({ length: 12 }, () => call("GET", "/v1/sites", { token: t.token })));
    const counts = all.reduce<Record<number, number>>((m, r) => ((m[r.status] = (m[r.status] ?? 0) + 1), m), {});
    expect(counts).toEqual({ 200: 2, 429: 10 });
  });

  it("the bootstrap admin token is limited too (the remaining budget is in a header)", async () => {
    const r = await call("GET", "/v1/sites");
    expect(r.status).toBe(200);
    expect(Number(r.headers.get("ratelimit-remaining"))).toBeGreaterThan(0);
  });
});
