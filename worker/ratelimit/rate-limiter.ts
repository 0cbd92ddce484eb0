// API rate limits per token. Every Worker isolate, in every Cloudflare location, asks the same
// Durable Object for a token (one object per API token, by name), so the limit is one global
// count however many isolates serve the token's requests: a Durable Object is single-threaded
// and has one instance worldwide. The bucket lives in memory only: an object that was evicted
// (idle) or restarted starts full again, which only ever forgives (and an idle token's bucket
// would have refilled anyway). Cost: one Durable Object request per API call; node heartbeats
// are not counted here (they go to their cluster's object, which limits nothing per beat).
import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env.js";
import { type Bucket, take, type Take } from "./bucket.js";

export class RateLimiter extends DurableObject<Env> {
  private bucket: Bucket | null = null;

  async take(perMinute: number, capacity: number): Promise<Take> {
    const r = take(this.bucket, Date.now(), perMinute, capacity);
    this.bucket = r.bucket;
    return r.result;
  }
}

/** Limits: the token's own (tokens.rate_per_minute), else the Worker's defaults. */
export function limitsFor(env: Env, tokenRate: number | null | undefined): { perMinute: number; capacity: number } {
  const num = (v: string | undefined, dflt: number) => {
    const n = v === undefined ? Number.NaN : Number(v);
    return Number.isFinite(n) && n > 0 ? n : dflt;
  };
  const perMinute = tokenRate ?? num(env.API_RATE_PER_MINUTE, 1200);
  // A burst of up to 10 s of traffic (at least 1, at most the configured burst).
  const capacity = Math.max(1, Math.min(num(env.API_RATE_BURST, 200), Math.ceil(perMinute / 6)));
  return { perMinute, capacity };
}
