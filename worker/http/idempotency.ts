// Idempotency-Key on POSTs: the first successful (2xx) response for (token, key) is kept for 24 h
// and replayed for a retry of the same request; the same key with a different request is refused
// (422). Failed requests are not kept (nothing is stored on a 4xx), so they can be retried as is.
import { and, eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import type { MiddlewareHandler } from "hono";
import { idempotencyKeys } from "../db/schema.js";
import type { AppEnv } from "./auth.js";
import { ApiError } from "./problem.js";
import { sha256Hex } from "./tokens.js";

const KEY = /^[\x21-\x7e]{1,255}$/;
const TTL_MS = 24 * 3600 * 1000;
/** Response headers worth replaying (the rest are per-request). */
const KEEP = ["etag", "location"];

export const idempotency = (): MiddlewareHandler<AppEnv> => async (c, next) => {
  const key = c.req.header("idempotency-key");
  if (c.req.method !== "POST" || key === undefined) return next();
  if (!KEY.test(key)) throw new ApiError(400, "Invalid Idempotency-Key", { detail: "Idempotency-Key must be 1-255 visible ASCII characters" });
  const principal = c.get("principal");
  const body = await c.req.text();
  const requestHash = await sha256Hex(`${c.req.method} ${c.req.path}\n${body}`);
  const d = drizzle(c.env.DB);
  const where = and(eq(idempotencyKeys.tokenId, principal.tokenId), eq(idempotencyKeys.key, key));
  const now = Date.now();
  const prior = await d.select().from(idempotencyKeys).where(where).get();
  if (prior && prior.createdAt > now - TTL_MS) {
    if (prior.requestHash !== requestHash) {
      throw new ApiError(422, "Idempotency-Key reused", { detail: "this Idempotency-Key was used for a different request; use a new key" });
    }
    const headers = new Headers(prior.headers as Record<string, string>);
    if (prior.contentType) headers.set("content-type", prior.contentType);
    headers.set("idempotency-replayed", "true");
    return new Response(prior.body || null, { status: prior.status, headers });
  }
  await next();
  const res = c.res;
  if (res.status < 200 || res.status > 299) return;
  const text = await res.clone().text();
  const kept: Record<string, string> = {};
  for (const h of KEEP) {
    const v = res.headers.get(h);
    if (v !== null) kept[h] = v;
  }
  const row = { tokenId: principal.tokenId, key, requestHash, status: res.status, contentType: res.headers.get("content-type"), body: text, headers: kept, createdAt: now };
  await d.insert(idempotencyKeys).values(row).onConflictDoUpdate({ target: [idempotencyKeys.tokenId, idempotencyKeys.key], set: row });
};
