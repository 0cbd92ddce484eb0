// Local limits on the node (README, Hardening: "Local limits"): what this host's own config lets
// the control plane make the shim do. The config file is root-owned and never changed remotely;
// whatever desired state or operation falls outside it is refused here, before any command runs,
// and reported in the heartbeat (what, and which limit). Without a `limits` block the shim applies
// whatever it is sent (installs from before limits); with one, every list is an allowlist and an
// empty list turns that feature off. Pure: the agent asks, then acts or reports.
import { z } from "zod";
import type { DesiredGroup, DesiredState, Grant, Operation } from "../protocol/heartbeat.js";
import { Cidr, ipInCidr, type LimitRefusal, type LimitsReport, listed, vipRefusal } from "../protocol/limits.js";
import { type ClusterSpec, groupMembers } from "../protocol/spec.js";

export const OPERATION_KINDS = ["fence-ipmi", "fence-webhook", "evacuate", "minio-heal", "influxdb-backfill"] as const;

const Port = z.number().int().min(1).max(65535);

export const LimitsConfig = z.strictObject({
  vip: z
    .strictObject({
      /** A VIP's address must lie in one of these networks. */
      cidrs: z.array(Cidr).max(64).default([]),
      /** And its prefix may be no wider (`ip addr add` routes the whole prefix to the interface). */
      minPrefixLength: z.number().int().min(0).max(32).default(24),
      /** Interfaces a VIP may go on. */
      interfaces: z.array(z.string().min(1).max(15)).max(64).default([]),
    })
    .default({ cidrs: [], minPrefixLength: 24, interfaces: [] }),
  lb: z
    .strictObject({
      /** Ports a load-balanced VIP may listen on, and real servers' ports. */
      ports: z.array(Port).max(256).default([]),
      /** Networks real servers may be in. */
      realServers: z.array(Cidr).max(64).default([]),
    })
    .default({ ports: [], realServers: [] }),
  fence: z
    .strictObject({
      /** BMC hosts `ipmitool` may be pointed at. */
      hosts: z.array(z.string().min(1).max(253)).max(256).default([]),
      /** Environment variables (on this node) that may hold a BMC password. */
      credentialEnvs: z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/)).max(256).default([]),
      /** Accept BMC passwords and webhook credentials sent by the control plane (stored sealed there). */
      credentialsFromControlPlane: z.boolean().default(false),
    })
    .default({ hosts: [], credentialEnvs: [], credentialsFromControlPlane: false }),
  /** URL prefixes the shim may call: evacuation, fence webhooks, InfluxDB backfill sources. */
  urls: z.array(z.url()).max(64).default([]),
  /** Operations that may run at all. */
  operations: z.array(z.enum(OPERATION_KINDS)).max(OPERATION_KINDS.length).default([]),
});
export type LimitsConfig = z.infer<typeof LimitsConfig>;

export type Refusal = Omit<LimitRefusal, "since">;

/** What this node reports it allows for VIPs (`limits` absent: restricted false). */
export function limitsReport(limits: LimitsConfig | undefined, interfaceOverride: string | undefined): LimitsReport {
  const base = limits ? { restricted: true, vipCidrs: limits.vip.cidrs, minPrefixLength: limits.vip.minPrefixLength, interfaces: limits.vip.interfaces } : { restricted: false, vipCidrs: [], minPrefixLength: 0, interfaces: [] };
  return interfaceOverride ? { ...base, interfaceOverride } : base;
}

/**
 * Why a URL is not under one of the allowed prefixes: same scheme, host and port, and the path at
 * or below the prefix's path on a segment boundary (`https://a/api` allows `https://a/api/x`, not
 * `https://a/apix` nor `https://a.evil`). A URL with credentials in it is never allowed.
 */
export function urlAllowed(url: string, prefixes: readonly string[]): boolean {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  if (u.username || u.password) return false;
  return prefixes.some((p) => {
    const a = new URL(p);
    if (a.protocol !== u.protocol || a.host !== u.host) return false;
    const base = a.pathname.endsWith("/") ? a.pathname : `${a.pathname}/`;
    return u.pathname === a.pathname || u.pathname.startsWith(base);
  });
}

/** Refusals for one desired group (empty: within limits). Only groups this node would act on are judged. */
export function groupRefusals(limits: LimitsConfig | undefined, g: DesiredGroup, iface: string): Refusal[] {
  if (!limits || g.shadow || !g.member) return [];
  const out: Refusal[] = [];
  const r = vipRefusal(limitsReport(limits, undefined), g.vip, g.prefix, iface);
  if (r) out.push({ group: g.name, ...r });
  if (g.lb) {
    const ports = [...new Set(g.ports.flatMap((p) => [p.port, p.realPort ?? p.port]))];
    const badPorts = ports.filter((p) => !limits.lb.ports.includes(p));
    if (badPorts.length) out.push({ group: g.name, kind: "lb-port", what: `load balancing of port ${badPorts.join(", ")} (VIP ${g.vip})`, limit: `limits.lb.ports: ${listed(limits.lb.ports)}` });
    const badRs = g.lb.realServers.filter((s) => !limits.lb.realServers.some((c) => ipInCidr(s.ip, c)));
    if (badRs.length) out.push({ group: g.name, kind: "lb-real-server", what: `real server ${badRs.map((s) => `${s.node} (${s.ip})`).join(", ")} (VIP ${g.vip})`, limit: `limits.lb.realServers: ${listed(limits.lb.realServers)}` });
  }
  return out;
}

/** Why an operation may not run here (null: it may). */
export function operationRefusal(limits: LimitsConfig | undefined, op: Operation): Refusal | null {
  if (!limits) return null;
  const refuse = (kind: LimitRefusal["kind"], what: string, limit: string): Refusal => ({ operation: op.id, kind, what, limit });
  if (!limits.operations.includes(op.kind)) return refuse("operation", `operation ${op.kind}`, `limits.operations: ${listed(limits.operations)}`);
  switch (op.kind) {
    case "fence-ipmi":
      if (!limits.fence.hosts.includes(op.host)) return refuse("fence-host", `fence-ipmi of ${op.target} through BMC ${op.host}`, `limits.fence.hosts: ${listed(limits.fence.hosts)}`);
      if (op.password !== undefined && !limits.fence.credentialsFromControlPlane) return refuse("fence-credential", `fence-ipmi of ${op.target} with a password sent by the control plane`, "limits.fence.credentialsFromControlPlane: false");
      if (op.passwordEnv !== undefined && !limits.fence.credentialEnvs.includes(op.passwordEnv)) return refuse("fence-credential", `fence-ipmi of ${op.target} with the password in $${op.passwordEnv}`, `limits.fence.credentialEnvs: ${listed(limits.fence.credentialEnvs)}`);
      return null;
    case "fence-webhook":
      if (!urlAllowed(op.url, limits.urls)) return refuse("url", `fence-webhook of ${op.target} to ${op.url}`, `limits.urls: ${listed(limits.urls)}`);
      if (op.authorization !== undefined && !limits.fence.credentialsFromControlPlane) return refuse("fence-credential", `fence-webhook of ${op.target} with credentials sent by the control plane`, "limits.fence.credentialsFromControlPlane: false");
      return null;
    case "evacuate":
      return urlAllowed(op.url, limits.urls) ? null : refuse("url", `evacuation of ${op.target} through ${op.url}`, `limits.urls: ${listed(limits.urls)}`);
    case "influxdb-backfill":
      return urlAllowed(op.fromUrl, limits.urls) ? null : refuse("url", `InfluxDB backfill from ${op.fromUrl}`, `limits.urls: ${listed(limits.urls)}`);
    case "minio-heal":
      return null;
  }
}

/**
 * A tight `limits` block for `node` from the spec (what `chime-ha-shim limits --spec` prints and
 * `install --spec` writes): exactly the VIPs, interfaces, ports, real servers, BMC hosts, credential
 * variables, URLs and operations this spec gives the node. Widen it by hand when the spec grows.
 */
export function limitsFromSpec(spec: ClusterSpec, node: string, interfaceOverride?: string): LimitsConfig {
  const me = spec.nodes.find((n) => n.name === node);
  if (!me) throw new Error(`node '${node}' is not in the spec (nodes: ${spec.nodes.map((n) => n.name).join(", ")})`);
  const groups = spec.groups.filter((g) => groupMembers(spec, g).includes(node));
  const uniq = <T>(xs: T[]) => [...new Set(xs)];
  const server = me.role === "server";
  const computes = spec.nodes.filter((n) => n.role === "compute");
  const ipmi = server ? computes.flatMap((n) => (n.fence?.type === "ipmi" ? [n.fence] : [])) : [];
  const webhooks = server ? computes.flatMap((n) => (n.fence?.type === "webhook" ? [n.fence] : [])) : [];
  const lbGroups = groups.filter((g) => g.mode === "active-active-lb");
  const influx = groups.some((g) => g.mode === "influxdb-read");
  const urls = uniq([...webhooks.map((f) => urlPrefix(f.url)), ...(server && spec.evacuation ? [urlPrefix(spec.evacuation.url)] : []), ...(influx ? spec.nodes.filter((n) => n.name !== node && n.role === "server").map((n) => `http://${n.ip}:8086`) : [])]);
  const operations = OPERATION_KINDS.filter(
    (k) =>
      (k === "fence-ipmi" && ipmi.length > 0) ||
      (k === "fence-webhook" && webhooks.length > 0) ||
      (k === "evacuate" && server && spec.evacuation !== undefined) ||
      (k === "minio-heal" && groups.some((g) => g.mode === "minio")) ||
      (k === "influxdb-backfill" && influx),
  );
  return {
    vip: { cidrs: uniq(groups.map((g) => `${g.vip}/32`)), minPrefixLength: groups.length ? Math.min(...groups.map((g) => g.prefix)) : 32, interfaces: uniq(interfaceOverride ? [interfaceOverride] : groups.map((g) => g.interface)) },
    lb: { ports: uniq(lbGroups.flatMap((g) => g.ports.flatMap((p) => [p.port, p.realPort ?? p.port]))).sort((a, b) => a - b), realServers: lbGroups.length ? uniq(groupMembersIps(spec, lbGroups)) : [] },
    fence: { hosts: uniq(ipmi.map((f) => f.host)), credentialEnvs: uniq(ipmi.flatMap((f) => (f.passwordEnv ? [f.passwordEnv] : []))), credentialsFromControlPlane: [...ipmi, ...webhooks].some((f) => ("password" in f && f.password !== undefined) || ("authorization" in f && f.authorization !== undefined)) },
    urls,
    operations,
  };
}

/** A URL up to its first placeholder, cut back to a path segment (`.../hosts/{hostname}/x` -> `.../hosts`). */
function urlPrefix(url: string): string {
  const i = url.indexOf("{");
  if (i < 0) return url;
  const head = url.slice(0, i);
  return head.slice(0, head.lastIndexOf("/"));
}

function groupMembersIps(spec: ClusterSpec, groups: ClusterSpec["groups"]): string[] {
  return groups.flatMap((g) => groupMembers(spec, g).map((m) => `${spec.nodes.find((n) => n.name === m)!.ip}/32`));
}

/**
 * The agent's gate: every desired state passes through filter() before the core sees it, and every
 * operation through mayRun() before it starts. A refused group is shown to the core as one to let
 * go of (role `release` when the control plane made this node its holder, its grants dropped), so
 * its VIP is never added, an old one is removed, and the group is never reported as held. Whatever
 * is refused stays in report() (sent with every heartbeat) while the control plane still asks for it.
 */
export class LimitGuard {
  private groupRefused = new Map<string, Refusal[]>();
  private opRefused = new Map<string, Refusal>();
  private readonly since = new Map<string, number>();

  constructor(
    private readonly limits: LimitsConfig | undefined,
    /** The config's interface for every VIP (overrides the spec's), if any. */
    private readonly ifaceOverride: string | undefined,
    private readonly log: (msg: string, fields: Record<string, unknown>) => void,
    private readonly wall: () => number = Date.now,
  ) {}

  /** The desired state as this node will follow it, and the grants it will take. */
  filter<T extends { grants: Grant[]; desired: DesiredState }>(msg: T): T {
    const d = this.filterDesired(msg.desired);
    const refused = this.groupRefused;
    return refused.size ? { ...msg, desired: d, grants: msg.grants.filter((g) => !refused.has(g.group)) } : { ...msg, desired: d };
  }

  filterDesired(desired: DesiredState): DesiredState {
    if (!this.limits) return desired;
    const refused = new Map<string, Refusal[]>();
    const groups = desired.groups.map((g) => {
      const r = groupRefusals(this.limits, g, this.ifaceOverride ?? g.interface);
      if (!r.length) return g;
      refused.set(g.name, r);
      return g.role === "holder" ? { ...g, role: "release" as const } : g;
    });
    for (const [group, rs] of refused) if (!this.groupRefused.has(group)) for (const r of rs) this.log("refused by local limits", { group, kind: r.kind, what: r.what, limit: r.limit, specVersion: desired.specVersion, ...(desired.specBy ? { specBy: desired.specBy } : {}) });
    this.groupRefused = refused;
    // Operation refusals last while the control plane still asks.
    const ids = new Set(desired.operations.map((o) => o.id));
    for (const id of this.opRefused.keys()) if (!ids.has(id)) this.opRefused.delete(id);
    return refused.size ? { ...desired, groups } : desired;
  }

  /** Null when `op` is within the limits; else why not (and it is reported until it is no longer asked). */
  mayRun(op: Operation): string | null {
    const r = operationRefusal(this.limits, op);
    if (!r) return null;
    if (!this.opRefused.has(op.id)) this.log("refused by local limits", { operation: op.id, kind: r.kind, what: r.what, limit: r.limit, requestedBy: op.requestedBy ?? "unknown" });
    this.opRefused.set(op.id, r);
    return `refused by this node's local limits: ${r.what} is not allowed (${r.limit})`;
  }

  /** What goes in every heartbeat. */
  report(): { limits: LimitsReport; limitRefusals: LimitRefusal[] } {
    const all = [...[...this.groupRefused.values()].flat(), ...this.opRefused.values()];
    const now = this.wall();
    const keys = new Set<string>();
    const limitRefusals = all.slice(0, 64).map((r) => {
      const key = `${r.group ?? r.operation}/${r.kind}/${r.what}`;
      keys.add(key);
      if (!this.since.has(key)) this.since.set(key, Math.round(now));
      return { ...r, since: this.since.get(key)! };
    });
    for (const k of this.since.keys()) if (!keys.has(k)) this.since.delete(k);
    return { limits: limitsReport(this.limits, this.ifaceOverride), limitRefusals };
  }
}
