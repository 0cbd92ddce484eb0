// Generic JSON: the Alert itself, signed. Receivers recompute
//   HMAC-SHA256(secret, `${timestamp}.${body}`)
// and reject stale timestamps, so a captured request cannot be replayed later.
// Headers: X-Chime-Timestamp: <unix seconds>, X-Chime-Signature: t=<unix seconds>,v1=<hex>.
import type { Alert, Rendered } from "../types.js";

export async function hmacHex(secret: string, text: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const sig = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(text));
  return [...new Uint8Array(sig)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

export async function renderGenericJson(a: Alert, secret: string, nowMs: number): Promise<Rendered> {
  const body = JSON.stringify(a);
  const ts = Math.floor(nowMs / 1000);
  const sig = await hmacHex(secret, `${ts}.${body}`);
  return {
    body,
    headers: {
      "content-type": "application/json",
      "x-chime-timestamp": String(ts),
      "x-chime-signature": `t=${ts},v1=${sig}`,
      "x-chime-alert-id": String(a.id),
    },
  };
}
