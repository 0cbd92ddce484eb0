// 429 with Retry-After once a token uses up its rate (worker/ratelimit/rate-limiter.ts): checked
// after authentication, before the route, for every API token including the bootstrap admin.
import type { MiddlewareHandler } from "hono";
import { limitsFor } from "../ratelimit/rate-limiter.js";
import type { AppEnv } from "./auth.js";
import { problem } from "./problem.js";

export const rateLimit = (): MiddlewareHandler<AppEnv> => async (c, next) => {
  const p = c.get("principal");
  if (!p || p.kind === "node" || !c.env.RATE_LIMITER) return next();
  const { perMinute, capacity } = limitsFor(c.env, p.ratePerMinute);
  const r = await c.env.RATE_LIMITER.get(c.env.RATE_LIMITER.idFromName(p.tokenId)).take(perMinute, capacity);
  if (!r.ok) {
    const seconds = Math.max(1, Math.ceil(r.retryAfterMs / 1000));
    const res = problem(c, 429, "Too many requests", { detail: `token ${p.tokenId} is limited to ${perMinute} requests per minute (bursts of ${capacity}); retry in ${seconds} s`, limit: perMinute, retryAfterSeconds: seconds });
    res.headers.set("retry-after", String(seconds));
    return res;
  }
  await next();
  c.header("ratelimit-remaining", String(r.remaining));
};
