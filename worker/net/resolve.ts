// Resolving a webhook's host name before the Worker sends to it, over DNS-over-HTTPS (JSON API,
// RFC 8484's JSON form as Cloudflare and Google serve it). A Worker has no resolver of its own;
// fetch() resolves internally and does not say where it connected, so the name is resolved here
// and the answers checked (url-policy.ts). Between this lookup and fetch's own, a name could
// change (DNS rebinding): the window is one request, and Cloudflare's fetch does not reach
// private networks anyway. Failures are refusals (fail closed): delivery retries with backoff.
import { hostOf, isLoopback, loopbackTestMode, resolvedProblem, type UrlPolicyEnv, webhookUrlProblem } from "./url-policy.js";

export interface ResolveEnv extends UrlPolicyEnv {
  /** DoH endpoint answering `?name=&type=` with application/dns-json (default Cloudflare's). */
  DNS_RESOLVER_URL?: string;
}

const DEFAULT_RESOLVER = "https://cloudflare-dns.com/dns-query";
const TYPES = { A: 1, AAAA: 28 } as const;
/** Answers are kept this long per isolate (DNS TTLs are not honoured beyond it). */
const CACHE_MS = 30_000;
const cache = new Map<string, { at: number; addresses: string[] }>();

export class ResolveError extends Error {}

export async function resolveHost(env: ResolveEnv, name: string, opts: { fresh?: boolean } = {}, now = Date.now()): Promise<string[]> {
  const hit = cache.get(name);
  if (!opts.fresh && hit && now - hit.at < CACHE_MS) return hit.addresses;
  const base = env.DNS_RESOLVER_URL || DEFAULT_RESOLVER;
  const addresses: string[] = [];
  let nxdomain = false;
  for (const [type, code] of Object.entries(TYPES)) {
    let body: { Status?: number; Answer?: { type: number; data: string }[] };
    try {
      const res = await fetch(`${base}?name=${encodeURIComponent(name)}&type=${type}`, { headers: { accept: "application/dns-json" }, signal: AbortSignal.timeout(3000) });
      if (!res.ok) throw new ResolveError(`resolver answered HTTP ${res.status}`);
      body = (await res.json()) as typeof body;
    } catch (err) {
      throw new ResolveError(`cannot resolve ${name}: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (body.Status === 3) nxdomain = true;
    else if (body.Status !== 0) throw new ResolveError(`cannot resolve ${name}: DNS status ${body.Status}`);
    for (const a of body.Answer ?? []) if (a.type === code) addresses.push(a.data);
  }
  if (addresses.length === 0) throw new ResolveError(nxdomain ? `${name} does not exist (NXDOMAIN)` : `${name} has no A or AAAA record`);
  if (!opts.fresh) cache.set(name, { at: now, addresses });
  return addresses;
}

/**
 * The whole webhook check: static rules, then (for host names) the resolved addresses. `fresh`
 * skips the per-isolate answer cache (saving a webhook); deliveries use it.
 */
export async function webhookDestinationProblem(env: ResolveEnv, url: string, opts: { fresh?: boolean } = {}): Promise<string | null> {
  const problem = webhookUrlProblem(url, env);
  if (problem) return problem;
  const host = hostOf(new URL(url));
  if (host.kind === "ip" || (loopbackTestMode(env) && isLoopback(host))) return null;
  try {
    return resolvedProblem(host.name, await resolveHost(env, host.name, opts));
  } catch (err) {
    return `refused: ${(err as Error).message}`;
  }
}
