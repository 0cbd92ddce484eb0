// Where the control plane may send requests, and where it may tell a node to send them.
//
// Alert webhooks are fetched by the Worker itself: https only, and never to an address inside a
// network (SSRF): loopback, private (RFC 1918, CGNAT, IPv6 ULA), link-local (which holds the
// cloud metadata services, 169.254.169.254 and fd00:ec2::254), multicast, reserved, or an IPv4
// address embedded in IPv6 (mapped, NAT64). Host names are checked in three ways: names that are
// internal by convention (no dot, localhost, .local, .internal, .lan, .home.arpa, ...), names
// that spell a blocked IPv4 address for wildcard-DNS services (10.0.0.1.nip.io,
// 10-0-0-1.sslip.io), and what the name resolves to, over DNS-over-HTTPS (worker/net/resolve.ts),
// when the webhook is saved and again before every delivery (a name that later resolves inward
// is refused then). Cloudflare's own fetch cannot reach a customer's private network anyway; these
// checks matter where the Worker runs elsewhere (wrangler dev / workerd on a LAN) and keep a
// stored URL honest. CHIME_LOOPBACK_TEST_MODE=true (tests, local dev; never in staging or
// production) additionally allows http:// and loopback addresses, nothing else.
//
// URLs in the spec (evacuation request, fence webhook) are called by a node's shim, on the
// cluster's own network, so private addresses are their point: they must be https, except to the
// node's own loopback (the request never leaves the host).
import type { ClusterSpec } from "../../protocol/spec.js";

export interface UrlPolicyEnv {
  CHIME_LOOPBACK_TEST_MODE?: string;
}

export const loopbackTestMode = (env: UrlPolicyEnv) => env.CHIME_LOOPBACK_TEST_MODE === "true";

/** Why an IPv4 address is not a public destination, or null. */
export function blockedIpv4(ip: string): string | null {
  const o = ip.split(".").map(Number);
  if (o.length !== 4 || o.some((x) => !Number.isInteger(x) || x < 0 || x > 255)) return "not an IPv4 address";
  const [a, b] = o as [number, number, number, number];
  if (a === 127) return "loopback";
  if (a === 0) return "'this network' (0.0.0.0/8)";
  if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168)) return "private (RFC 1918)";
  if (a === 100 && b >= 64 && b <= 127) return "shared address space (CGNAT, 100.64.0.0/10)";
  if (a === 169 && b === 254) return ip === "169.254.169.254" ? "link-local (the cloud metadata service)" : "link-local";
  if (a === 192 && b === 0 && o[2] === 0) return "IETF protocol assignments (192.0.0.0/24)";
  if (a === 198 && (b === 18 || b === 19)) return "benchmarking (198.18.0.0/15)";
  if (a >= 224 && a <= 239) return "multicast";
  if (a >= 240) return "reserved";
  return null;
}

/** Why an IPv6 address (without brackets, as the URL parser normalises it) is not public, or null. */
export function blockedIpv6(ip: string): string | null {
  const words = expandIpv6(ip);
  if (!words) return "not an IPv6 address";
  if (words.every((w) => w === 0)) return "unspecified (::)";
  if (words.slice(0, 7).every((w) => w === 0) && words[7] === 1) return "loopback";
  const v4 = (i: number) => `${words[i]! >> 8}.${words[i]! & 255}.${words[i + 1]! >> 8}.${words[i + 1]! & 255}`;
  // ::ffff:a.b.c.d (mapped) and 64:ff9b::a.b.c.d (NAT64) reach the IPv4 address inside.
  if (words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff) return blockedIpv4(v4(6)) && `IPv4-mapped ${blockedIpv4(v4(6))}`;
  if (words[0] === 0x64 && words[1] === 0xff9b && words.slice(2, 6).every((w) => w === 0)) return blockedIpv4(v4(6)) && `NAT64 of ${blockedIpv4(v4(6))}`;
  const w0 = words[0]!;
  if ((w0 & 0xfe00) === 0xfc00) return w0 === 0xfd00 && words[1] === 0xec2 ? "unique local (the cloud metadata service)" : "unique local (fc00::/7)";
  if ((w0 & 0xffc0) === 0xfe80) return "link-local";
  if ((w0 & 0xff00) === 0xff00) return "multicast";
  if (w0 === 0x2001 && words[1] === 0xdb8) return "documentation (2001:db8::/32)";
  return null;
}

function expandIpv6(ip: string): number[] | null {
  let s = ip.toLowerCase();
  // A trailing dotted quad (::ffff:1.2.3.4) becomes two words.
  const quad = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (quad) {
    const o = quad[1]!.split(".").map(Number);
    s = s.slice(0, -quad[1]!.length) + `${((o[0]! << 8) | o[1]!).toString(16)}:${((o[2]! << 8) | o[3]!).toString(16)}`;
  }
  const halves = s.split("::");
  if (halves.length > 2) return null;
  const parse = (part: string) => (part === "" ? [] : part.split(":").map((h) => (/^[0-9a-f]{1,4}$/.test(h) ? Number.parseInt(h, 16) : Number.NaN)));
  const head = parse(halves[0]!);
  const tail = halves.length === 2 ? parse(halves[1]!) : [];
  const fill = halves.length === 2 ? 8 - head.length - tail.length : 0;
  if (fill < 0) return null;
  const words = [...head, ...new Array<number>(fill).fill(0), ...tail];
  return words.length === 8 && words.every((w) => Number.isInteger(w)) ? words : null;
}

/** Why an address (v4 or v6) is not public, or null. */
export function blockedAddress(ip: string): string | null {
  return ip.includes(":") ? blockedIpv6(ip) : blockedIpv4(ip);
}

const INTERNAL_SUFFIXES = [".localhost", ".local", ".internal", ".intranet", ".lan", ".home", ".corp", ".private", ".home.arpa", ".localdomain"];

/** Why a host name is internal by its spelling alone, or null (it still has to resolve outward). */
export function internalName(host: string): string | null {
  const h = host.toLowerCase().replace(/\.$/, "");
  if (h === "localhost" || h.endsWith(".localhost")) return "localhost";
  if (!h.includes(".")) return "a single-label name (resolved by a local search domain)";
  const suffix = INTERNAL_SUFFIXES.find((s) => h.endsWith(s));
  if (suffix) return `an internal name (*${suffix})`;
  // Wildcard DNS services answer with the address spelled in the name: 10.0.0.1.nip.io, 10-0-0-1.sslip.io.
  for (const m of h.matchAll(/(?:^|[.-])(\d{1,3})[.-](\d{1,3})[.-](\d{1,3})[.-](\d{1,3})(?=$|[.-])/g)) {
    const ip = `${m[1]}.${m[2]}.${m[3]}.${m[4]}`;
    const why = blockedIpv4(ip);
    if (why && why !== "not an IPv4 address") return `a name that spells ${ip} (${why})`;
  }
  return null;
}

export type HostKind = { kind: "ip"; address: string } | { kind: "name"; name: string };

export function hostOf(u: URL): HostKind {
  const h = u.hostname;
  if (h.startsWith("[") && h.endsWith("]")) return { kind: "ip", address: h.slice(1, -1) };
  if (/^\d+\.\d+\.\d+\.\d+$/.test(h)) return { kind: "ip", address: h };
  return { kind: "name", name: h.replace(/\.$/, "") };
}

export const isLoopback = (host: HostKind) => (host.kind === "ip" ? blockedAddress(host.address) === "loopback" : host.name === "localhost" || host.name.endsWith(".localhost"));

/**
 * The static part of the webhook check (no DNS): a reason to refuse, or null. Names that pass
 * must still resolve outward (checkResolved).
 */
export function webhookUrlProblem(url: string, env: UrlPolicyEnv): string | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return "must be an absolute https URL";
  }
  const test = loopbackTestMode(env);
  const host = hostOf(u);
  if (test && isLoopback(host)) return u.protocol === "https:" || u.protocol === "http:" ? null : "must be an https URL";
  if (u.protocol !== "https:") return "must be an https URL (http is refused: alerts carry cluster details)";
  if (u.username || u.password) return "must not carry credentials in the URL";
  if (host.kind === "ip") {
    const why = blockedAddress(host.address);
    return why ? `refused: ${host.address} is ${why}; alerts go to public endpoints only` : null;
  }
  const why = internalName(host.name);
  return why ? `refused: ${host.name} is ${why}; alerts go to public endpoints only` : null;
}

/** After resolving a webhook's host name: a reason to refuse (any inward answer), or null. */
export function resolvedProblem(name: string, addresses: string[]): string | null {
  for (const a of addresses) {
    const why = blockedAddress(a);
    if (why) return `refused: ${name} resolves to ${a}, which is ${why}; alerts go to public endpoints only`;
  }
  return null;
}

/** A URL a node's shim calls on the cluster's network: https, or http to its own loopback. */
export function nodeUrlProblem(url: string): string | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return "must be an absolute URL";
  }
  if (u.protocol === "https:") return u.username || u.password ? "must not carry credentials in the URL (put them in the shim's settings)" : null;
  if (u.protocol === "http:" && isLoopback(hostOf(u))) return null;
  return "must be https (http only to the node's own loopback, 127.0.0.1 or localhost: the request then never leaves the host)";
}

/** Spec URLs that break nodeUrlProblem, with their spec paths. */
export function specUrlProblems(spec: ClusterSpec): { path: string; message: string }[] {
  const out: { path: string; message: string }[] = [];
  spec.nodes.forEach((n, i) => {
    if (n.fence?.type === "webhook") {
      const why = nodeUrlProblem(n.fence.url);
      if (why) out.push({ path: `nodes[${i}].fence.url`, message: why });
    }
  });
  if (spec.evacuation) {
    const filled = spec.evacuation.url.replace(/\{(node|hostname|ip)\}/g, "x");
    const why = nodeUrlProblem(filled);
    if (why) out.push({ path: "evacuation.url", message: why });
  }
  return out;
}
