// A token bucket, pure: `capacity` requests at once, refilled at `perMinute`. Times in ms.
export interface Bucket {
  tokens: number;
  at: number;
}

export interface Take {
  ok: boolean;
  /** Requests left right after this one (ok), or 0. */
  remaining: number;
  /** When refused: how long until one request is allowed again (ms). */
  retryAfterMs: number;
}

export function take(b: Bucket | null, now: number, perMinute: number, capacity: number): { bucket: Bucket; result: Take } {
  const perMs = perMinute / 60_000;
  const start = b ?? { tokens: capacity, at: now };
  const tokens = Math.min(capacity, start.tokens + Math.max(0, now - start.at) * perMs);
  if (tokens >= 1) return { bucket: { tokens: tokens - 1, at: now }, result: { ok: true, remaining: Math.floor(tokens - 1), retryAfterMs: 0 } };
  return { bucket: { tokens, at: now }, result: { ok: false, remaining: 0, retryAfterMs: Math.ceil((1 - tokens) / perMs) } };
}
