// The cluster spec: one per cluster, shared by the Worker (validation, engine) and the shim/CLI.
// Only zod here (protocol/ is shared by the Worker and the shim: README, "Layout"). Cross-field
// rules live in superRefine so every error carries the exact path of the offending value.
import { z } from "zod";
import { parseDurationText, parseWindow } from "./schedule.js";

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const HOSTNAME = /^(?=.{1,253}$)([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/;
const IFACE = /^[A-Za-z0-9_.:@-]{1,15}$/;

export const Ipv4 = z.string().regex(IPV4, "must be a dotted IPv4 address like 192.168.231.11");
export const Port = z.number().int().min(1, "port must be 1-65535").max(65535, "port must be 1-65535");
export const Name = z
  .string()
  .regex(NAME, "must be lower-case letters, digits and '-', starting and ending with a letter or digit (max 63)");

export const NodeRole = z.enum(["server", "compute"]);
export type NodeRole = z.infer<typeof NodeRole>;

export const NodeSpec = z.strictObject({
  /** Short name used in the API and on the shim (`server1`). */
  name: Name,
  /** Fully qualified hostname as in the HA guide (`server1.chime.com`). */
  hostname: z.string().regex(HOSTNAME, "must be a valid hostname"),
  /** Manage IP of the node. */
  ip: Ipv4,
  /** Prefix length of the manage network; VIPs must sit inside it. */
  prefix: z.number().int().min(8).max(32).default(24),
  role: NodeRole,
  /** Higher wins when several candidates are equally fit. */
  priority: z.number().int().min(0).max(255).default(100),
  /** Label for the guide's first table ("ServerNode1"); generated when absent. */
  label: z.string().min(1).max(64).optional(),
  description: z.string().max(200).optional(),
  /** Out-of-band fencing for compute nodes (IPMI run by the shim of the chime-server holder). */
  fence: z
    .discriminatedUnion("type", [
      z.strictObject({
        type: z.literal("ipmi"),
        host: z.string().min(1),
        user: z.string().min(1),
        /** Name of an environment variable on the shim holding the password (the password stays on the node). */
        passwordEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, "must be an environment variable name").optional(),
        /**
         * Or the password itself, held by the control plane: stored encrypted (worker/secrets/),
         * never shown again, sent only to the node that runs the fence. Set exactly one.
         */
        password: z.string().min(1).max(500).optional(),
      }),
      z.strictObject({
        type: z.literal("webhook"),
        url: z.url(),
        /** Authorization header value for the fencing service, held encrypted like an IPMI password. */
        authorization: z.string().min(1).max(2000).optional(),
      }),
    ])
    .optional(),
});
export type NodeSpec = z.infer<typeof NodeSpec>;

export const GroupMode = z.enum(["active-standby", "active-active-lb", "mysql-writer", "influxdb-read", "minio"]);
export type GroupMode = z.infer<typeof GroupMode>;

export const PortSpec = z.strictObject({
  /** Port clients use on the VIP. */
  port: Port,
  /** Port the service listens on on each member; differs from `port` only with NAT load balancing (80 -> 8033). */
  realPort: Port.optional(),
  protocol: z.enum(["tcp", "udp"]).default("tcp"),
  /** What the port is for, as in the guide's table ("API", "grpc", "web UI"). */
  label: z.string().min(1).max(64).optional(),
});
export type PortSpec = z.infer<typeof PortSpec>;

const ProbeTiming = {
  intervalMs: z.number().int().min(100).max(60_000).default(1000),
  timeoutMs: z.number().int().min(50).max(60_000).default(800),
  /** Consecutive failures before the service is reported unhealthy. */
  fall: z.number().int().min(1).max(20).default(2),
  /** Consecutive successes before it is reported healthy again. */
  rise: z.number().int().min(1).max(20).default(2),
};

export const ProbeSpec = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("tcp"), port: Port, ...ProbeTiming }),
  z.strictObject({
    type: z.literal("http"),
    port: Port,
    path: z.string().startsWith("/", "must start with /").default("/"),
    scheme: z.enum(["http", "https"]).default("http"),
    expectStatus: z.array(z.number().int().min(100).max(599)).min(1).default([200]),
    bodyMatch: z.string().max(500).optional(),
    ...ProbeTiming,
  }),
  z.strictObject({
    type: z.literal("exec"),
    command: z.array(z.string().min(1)).min(1, "needs the program and its arguments"),
    ...ProbeTiming,
  }),
  z.strictObject({
    type: z.literal("mysql"),
    port: Port.default(3306),
    /** Largest Seconds_Behind_Master a candidate may have. */
    maxLagSeconds: z.number().int().min(0).max(3600).default(5),
    ...ProbeTiming,
  }),
  z.strictObject({ type: z.literal("influxdb"), port: Port.default(8086), ...ProbeTiming }),
  z.strictObject({ type: z.literal("minio"), port: Port.default(9000), scheme: z.enum(["http", "https"]).default("http"), ...ProbeTiming }),
]);
export type ProbeSpec = z.infer<typeof ProbeSpec>;

/**
 * Availability target in percent, measured per group over the calendar month and a rolling 30
 * days (the error budget is what the target leaves: 0.5 % of the time at 99.5). Absent: 99.5, the
 * HA guide's promise.
 */
export const SlaSpec = z.strictObject({
  target: z.number().gt(50, "target is a percentage, e.g. 99.5 (more than 50)").lt(100, "target must be below 100 % (100 % leaves no error budget)"),
});
export type SlaSpec = z.infer<typeof SlaSpec>;
export const DEFAULT_SLA_TARGET = 99.5;

export const GroupSpec = z.strictObject({
  name: Name,
  /** Service name for the guide's second table ("chime-server"). */
  service: z.string().min(1).max(64),
  mode: GroupMode,
  vip: Ipv4,
  prefix: z.number().int().min(8).max(32).default(24),
  /** Interface the VIP lives on; the shim config may override it per node. */
  interface: z.string().regex(IFACE, "must be a Linux interface name").default("eth0"),
  ports: z.array(PortSpec).min(1, "a group needs at least one port"),
  /** Server nodes that may hold the VIP / serve; defaults to every server node. */
  members: z.array(Name).min(1).optional(),
  probe: ProbeSpec,
  /**
   * The service's process name as the kernel shows it (/proc/PID/comm), when it has one: keepalived
   * tracks it with vrrp_track_process (`chime-ha export keepalived`), which sees it die at once.
   */
  process: z
    .string()
    .regex(/^[A-Za-z0-9_.:@+-]{1,15}$/, "must be a process name as /proc/PID/comm shows it (1-15 letters, digits or _.:@+-)")
    .optional(),
  /** Shadow mode for this group (default: the policy's). */
  shadow: z.boolean().optional(),
  /** active-active-lb only: scheduler and per-member weights. */
  lb: z
    .strictObject({
      backend: z.enum(["ipvs", "nftables"]).default("nftables"),
      scheduler: z.enum(["rr", "wrr", "sh"]).default("wrr"),
      weights: z.record(z.string(), z.number().int().min(0).max(65535)).default({}),
    })
    .optional(),
  /** mysql-writer only. */
  mysql: z
    .strictObject({
      topology: z.enum(["dual-master", "galera"]).default("dual-master"),
      /** Fence by also revoking READ_ONLY ADMIN from application accounts (MariaDB >= 10.11). */
      strictFence: z.boolean().default(false),
      /**
       * Availability over safety: promote a standby automatically even when it may lack
       * acknowledged transactions (the writer was asynchronous, or the standby had not received
       * its last position). Off by default: such a promotion is refused with a critical event and
       * needs an operator's switchover with acceptDataLoss.
       */
      promoteOnPossibleLoss: z.boolean().default(false),
    })
    .optional(),
  /** influxdb-read only. */
  influxdb: z
    .strictObject({
      /** After an outage, the returning instance copies the window it missed from a healthy peer. */
      autoBackfill: z.boolean().default(true),
      /** Databases to backfill; empty: every database of the peer except _internal. */
      databases: z.array(z.string().min(1).max(255)).max(32).default([]),
      /** Keep a returning instance out of the read VIP until its backfill has finished. */
      holdReadVipUntilBackfilled: z.boolean().default(true),
      /** Points one backfill run copies at most; longer windows continue in further runs. */
      backfillMaxPoints: z.number().int().min(1000).max(10_000_000).default(200_000),
    })
    .optional(),
  /** This group's own availability target (overrides the cluster's `sla`). */
  sla: SlaSpec.optional(),
});
export type GroupSpec = z.infer<typeof GroupSpec>;

export const PolicySpec = z.strictObject({
  heartbeatIntervalMs: z.number().int().min(100).max(60_000).default(1000),
  /** Lease TTL T: a holder keeps its VIP at most this long after its last renewal was sent. */
  leaseTtlMs: z.number().int().min(300).max(600_000).default(3000),
  /** Extra wait on the control plane after T before granting elsewhere; covers clock-rate drift. */
  driftMarginMs: z.number().int().min(0).max(60_000).default(500),
  preempt: z
    .strictObject({ enabled: z.boolean().default(false), delayMs: z.number().int().min(0).default(30_000) })
    .default({ enabled: false, delayMs: 30_000 }),
  /** Anti-flap: after an automatic health failover, the next one for the group waits this long. */
  holdDownMs: z.number().int().min(0).max(3_600_000).default(10_000),
  /** Compute nodes silent this long are declared dead (then fenced, then evacuated). */
  deadAfterMs: z.number().int().min(1000).max(3_600_000).default(15_000),
  /**
   * Failsafe mode (README, "How it stays split-brain safe"): a holder that cannot reach the control
   * plane keeps its groups past its lease only while every other member promises not to take them.
   * Unset: on whenever a group has two or more members (see failsafeOn), so an outage of a hosted
   * control plane moves no VIP; false turns it off.
   */
  failsafe: z.boolean().optional(),
  /**
   * Shadow mode (README, "Moving from keepalived"): the control plane decides as usual but the
   * shims act on nothing; they report which host has each VIP (the HA system already in place,
   * keepalived, put it there), and every move is compared with chime-ha's decisions
   * (GET /v1/clusters/:id/shadow). A group's `shadow` overrides this.
   */
  shadow: z.boolean().default(false),
});
export type PolicySpec = z.infer<typeof PolicySpec>;

export const EvacuationSpec = z.strictObject({
  /** Request sent by the shim on the chime-server holder to evacuate a dead compute node. */
  url: z.string().min(1),
  method: z.enum(["POST", "PUT"]).default("POST"),
  /**
   * `{node}`, `{hostname}`, `{ip}` and `{idempotencyKey}` are replaced in the body. The key is
   * also sent as the `Idempotency-Key` header and stays the same when the request is re-issued
   * (e.g. after the chime-server holder changed), so chime-server evacuates a node once.
   */
  body: z.string().max(4000).default('{"host":"{hostname}"}'),
});


const DurationText = z.string().regex(/^\d{1,6}(s|m|h|d|w)$/, 'must be a duration like "90s", "5m", "24h", "7d" or "2w"');

/**
 * A scheduled failover drill: within the window, at most once per `every`, the group moves to the
 * best candidate (or `to`) and back after `returnAfter` — only while every member is healthy and
 * nothing is in maintenance or hold-down.
 */
export const DrillSpec = z.strictObject({
  group: Name,
  every: DurationText,
  /** `[days] HH:MM-HH:MM UTC`, e.g. "Sun 02:00-04:00 UTC", "Mon-Fri 03:00-03:30 UTC". */
  window: z.string().min(1).max(100),
  /** How long the group stays on the other node before it moves back (default 60s). */
  returnAfter: DurationText.optional(),
  /** The node to move to (default: the best candidate). */
  to: Name.optional(),
});
export type DrillSpec = z.infer<typeof DrillSpec>;
export const DEFAULT_DRILL_RETURN_MS = 60_000;

const ClusterSpecShape = z.strictObject({
  apiVersion: z.literal("chime-ha/v1"),
  /** Cluster name, unique within its site. */
  name: Name,
  description: z.string().max(500).optional(),
  policy: PolicySpec.default(PolicySpec.parse({})),
  nodes: z.array(NodeSpec).min(1),
  groups: z.array(GroupSpec).default([]),
  evacuation: EvacuationSpec.optional(),
  sla: SlaSpec.optional(),
  drills: z.array(DrillSpec).max(16).optional(),
});

type Issue = { path: (string | number)[]; message: string };

function ipToInt(ip: string): number {
  return ip.split(".").reduce((acc, o) => acc * 256 + Number(o), 0);
}
export function sameSubnet(a: string, b: string, prefix: number): boolean {
  const block = 2 ** (32 - prefix);
  return Math.floor(ipToInt(a) / block) === Math.floor(ipToInt(b) / block);
}

/** Cross-field checks; each issue carries the path of the value at fault. */
export function clusterSpecIssues(spec: z.infer<typeof ClusterSpecShape>): Issue[] {
  const issues: Issue[] = [];
  const servers = spec.nodes.filter((n) => n.role === "server");
  const computes = spec.nodes.filter((n) => n.role === "compute");
  if (servers.length < 2 || servers.length > 3) {
    issues.push({ path: ["nodes"], message: `sizing rule: a cluster needs 2 to 3 server nodes, this one has ${servers.length}` });
  }
  if (computes.length < 1) {
    issues.push({ path: ["nodes"], message: "sizing rule: a cluster needs at least 1 compute node, this one has 0" });
  }
  const seen = { name: new Map<string, number>(), hostname: new Map<string, number>(), ip: new Map<string, number>() };
  spec.nodes.forEach((n, i) => {
    if (n.fence?.type === "ipmi" && (n.fence.password === undefined) === (n.fence.passwordEnv === undefined)) {
      issues.push({ path: ["nodes", i, "fence"], message: "set exactly one of passwordEnv (kept on the node) or password (kept encrypted by the control plane)" });
    }
    for (const key of ["name", "hostname", "ip"] as const) {
      const v = key === "hostname" ? n[key].toLowerCase() : n[key];
      const first = seen[key].get(v);
      if (first !== undefined) issues.push({ path: ["nodes", i, key], message: `duplicate ${key} '${n[key]}' (also nodes[${first}])` });
      else seen[key].set(v, i);
    }
  });
  const byName = new Map(spec.nodes.map((n) => [n.name, n]));
  const groupNames = new Map<string, number>();
  const vips = new Map<string, number>();
  spec.groups.forEach((g, gi) => {
    const first = groupNames.get(g.name);
    if (first !== undefined) issues.push({ path: ["groups", gi, "name"], message: `duplicate group name '${g.name}' (also groups[${first}])` });
    else groupNames.set(g.name, gi);
    const nodeAt = seen.ip.get(g.vip);
    if (nodeAt !== undefined) issues.push({ path: ["groups", gi, "vip"], message: `VIP ${g.vip} is the manage IP of nodes[${nodeAt}] (${spec.nodes[nodeAt]!.name})` });
    const vipAt = vips.get(g.vip);
    if (vipAt !== undefined) issues.push({ path: ["groups", gi, "vip"], message: `VIP ${g.vip} is already used by groups[${vipAt}]` });
    else vips.set(g.vip, gi);
    const members = g.members ?? servers.map((s) => s.name);
    g.members?.forEach((m, mi) => {
      const node = byName.get(m);
      if (!node) issues.push({ path: ["groups", gi, "members", mi], message: `unknown node '${m}'` });
      else if (node.role !== "server") issues.push({ path: ["groups", gi, "members", mi], message: `'${m}' is a ${node.role} node; group members must be server nodes` });
    });
    if (g.members && new Set(g.members).size !== g.members.length) {
      issues.push({ path: ["groups", gi, "members"], message: "members must not repeat" });
    }
    for (const m of members) {
      const node = byName.get(m);
      if (node && !sameSubnet(node.ip, g.vip, Math.min(node.prefix, g.prefix))) {
        issues.push({ path: ["groups", gi, "vip"], message: `VIP ${g.vip} is outside the subnet of member ${m} (${node.ip}/${node.prefix})` });
        break;
      }
    }
    const portKeys = new Set<string>();
    g.ports.forEach((p, pi) => {
      const key = `${p.protocol}/${p.port}`;
      if (portKeys.has(key)) issues.push({ path: ["groups", gi, "ports", pi, "port"], message: `port ${key} is listed twice` });
      portKeys.add(key);
      if (p.realPort !== undefined && p.realPort !== p.port && g.mode !== "active-active-lb") {
        issues.push({ path: ["groups", gi, "ports", pi, "realPort"], message: `port translation (${p.port} -> ${p.realPort}) needs mode active-active-lb (NAT load balancing)` });
      }
    });
    if (g.lb && g.mode !== "active-active-lb") issues.push({ path: ["groups", gi, "lb"], message: "lb settings only apply to mode active-active-lb" });
    if (g.lb) {
      for (const w of Object.keys(g.lb.weights)) {
        if (!members.includes(w)) issues.push({ path: ["groups", gi, "lb", "weights", w], message: `'${w}' is not a member of this group` });
      }
    }
    if (g.mysql && g.mode !== "mysql-writer") issues.push({ path: ["groups", gi, "mysql"], message: "mysql settings only apply to mode mysql-writer" });
    if (g.influxdb && g.mode !== "influxdb-read") issues.push({ path: ["groups", gi, "influxdb"], message: "influxdb settings only apply to mode influxdb-read" });
    const wantProbe: Partial<Record<GroupMode, ProbeSpec["type"]>> = { "mysql-writer": "mysql", "influxdb-read": "influxdb", minio: "minio" };
    const want = wantProbe[g.mode];
    if (want && g.probe.type !== want) issues.push({ path: ["groups", gi, "probe", "type"], message: `mode ${g.mode} needs a '${want}' probe` });
  });
  const groupAt = new Map(spec.groups.map((g, i) => [g.name, i]));
  const drilled = new Map<string, number>();
  spec.drills?.forEach((d, di) => {
    const at = (k: string) => ["drills", di, k];
    const gi = groupAt.get(d.group);
    if (gi === undefined) issues.push({ path: at("group"), message: `unknown group '${d.group}'` });
    const before = drilled.get(d.group);
    if (before !== undefined) issues.push({ path: at("group"), message: `group '${d.group}' already has a drill (drills[${before}])` });
    else drilled.set(d.group, di);
    const members = gi === undefined ? [] : (spec.groups[gi]!.members ?? servers.map((s) => s.name));
    if (gi !== undefined && members.length < 2) issues.push({ path: at("group"), message: `group '${d.group}' has one member: a drill needs somewhere to move to` });
    if (d.to !== undefined && gi !== undefined && !members.includes(d.to)) issues.push({ path: at("to"), message: `'${d.to}' is not a member of group '${d.group}'` });
    const w = parseWindow(d.window);
    if (!w.ok) issues.push({ path: at("window"), message: w.message });
    const every = parseDurationText(d.every);
    if (every !== null && every < 3_600_000) issues.push({ path: at("every"), message: `drills run at most once an hour (got ${d.every})` });
    const back = d.returnAfter === undefined ? null : parseDurationText(d.returnAfter);
    if (back !== null && (back < 5000 || back > 3_600_000)) issues.push({ path: at("returnAfter"), message: `returnAfter must be 5s to 1h (got ${d.returnAfter})` });
  });
  const p = spec.policy;
  if (p.leaseTtlMs <= 2 * p.heartbeatIntervalMs) {
    issues.push({
      path: ["policy", "leaseTtlMs"],
      message: `lease TTL (${p.leaseTtlMs} ms) must be more than 2 x heartbeat interval (${p.heartbeatIntervalMs} ms)`,
    });
  }
  return issues;
}

export const ClusterSpec = ClusterSpecShape.superRefine((spec, ctx) => {
  for (const issue of clusterSpecIssues(spec)) ctx.addIssue({ code: "custom", path: issue.path, message: issue.message });
});
export type ClusterSpec = z.infer<typeof ClusterSpec>;
export type ClusterSpecInput = z.input<typeof ClusterSpec>;

/** A problem with the exact path of the offending value; line and column when read from YAML. */
export type SpecProblem = { path: string; message: string; line?: number; column?: number };

/** Where a path is in the source text (see protocol/yaml-doc.ts). */
export type Locate = (path: readonly PropertyKey[]) => { line: number; column: number } | undefined;

/** `nodes[2].ip`-style path, the form every error message uses. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else out += out === "" ? String(seg) : `.${String(seg)}`;
  }
  return out === "" ? "(root)" : out;
}

export type SpecResult = { ok: true; spec: ClusterSpec } | { ok: false; problems: SpecProblem[] };

export function validateSpec(input: unknown, locate?: Locate): SpecResult {
  const r = ClusterSpec.safeParse(input);
  if (r.success) return { ok: true, spec: r.data };
  return {
    ok: false,
    problems: r.error.issues.map((i) => {
      const at = locate?.(i.path);
      return { path: formatPath(i.path), message: i.message, ...(at ? { line: at.line, column: at.column } : {}) };
    }),
  };
}

/**
 * Failsafe is on: as the policy says, or, unset, when some group has two or more members (a
 * group with one member has no peer to promise anything, so there is nothing to turn on).
 */
export function failsafeOn(spec: ClusterSpec): boolean {
  return spec.policy.failsafe ?? spec.groups.some((g) => groupMembers(spec, g).length >= 2);
}

/** Members of a group, resolved (defaults to every server node, in spec order). */
export function groupMembers(spec: ClusterSpec, group: GroupSpec): string[] {
  return group.members ?? spec.nodes.filter((n) => n.role === "server").map((n) => n.name);
}
