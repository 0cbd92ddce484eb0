// `chime-ha import keepalived server1.conf server2.conf [--computes node1=IP,...]`: a cluster spec
// from the keepalived.conf files an operator runs today, one file per server node.
//
// Mapping (every construct that has no chime-ha equivalent gets a message with file and line):
// - each file is one server node: its name from `router_id` (or the file name), its manage IP
//   from `unicast_src_ip` (or a peer's `unicast_peer`, or --ip), one priority per node;
// - each vrrp_instance is one group: its VIP, prefix and interface from virtual_ipaddress, its
//   members the files that have it, its probe from the first track_script's vrrp_script (curl,
//   /dev/tcp, mysqladmin and plain commands are recognised), its process from track_process;
// - advert_int sets the heartbeat interval (lease TTL 3 x, margin 0.5 x, as VRRP's master-down
//   is about 3 adverts); nopreempt everywhere -> no preemption; preempt_delay -> its delay;
// - a virtual_server on a group's VIP makes it an active-active-lb group: its ports (NAT port
//   translation as realPort), lb_algo, real_server weights.
// Files written by `chime-ha export keepalived` carry comments with what keepalived has no keyword
// for (hostname, service, mode, ports); they are read back, so export -> import -> export is exact.
import { readFileSync, writeFileSync } from "node:fs";
import { basename } from "node:path";
import type { Command } from "commander";
import { stringify } from "yaml";
import { type ClusterSpecInput, type SpecProblem, validateSpec } from "../../protocol/spec.js";

// ---------------------------------------------------------------- the keepalived.conf syntax

/** One statement: `keyword args...`, with a block when it ended in `{`. */
export interface ConfNode {
  keyword: string;
  args: string[];
  line: number;
  children?: ConfNode[];
}

export interface ConfFile {
  file: string;
  nodes: ConfNode[];
  /** Comment lines (without the leading `#`/`!`), by line number: export's header and group notes. */
  comments: Map<number, string>;
}

export class ImportError extends Error {}

/** Tokens of keepalived.conf: words, "quoted strings", `{` and `}`; `#` and `!` start comments. */
export function parseConf(file: string, text: string): ConfFile {
  const comments = new Map<number, string>();
  type Tok = { t: string; line: number; brace?: "{" | "}" };
  const lines: Tok[][] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    const toks: Tok[] = [];
    let j = 0;
    while (j < raw.length) {
      const c = raw[j]!;
      if (c === " " || c === "\t") {
        j++;
      } else if (c === "#" || c === "!") {
        if (toks.length === 0) comments.set(line, raw.slice(j + 1).trim());
        break;
      } else if (c === "{" || c === "}") {
        toks.push({ t: c, line, brace: c });
        j++;
      } else if (c === '"') {
        const end = raw.indexOf('"', j + 1);
        if (end < 0) throw new ImportError(`${file}:${line}: unterminated quoted string`);
        toks.push({ t: raw.slice(j + 1, end), line });
        j = end + 1;
      } else {
        let k = j;
        while (k < raw.length && !" \t{}\"#!".includes(raw[k]!)) k++;
        // `!` and `#` inside a word are part of it (passwords, paths); only at a word's start they comment.
        while (k < raw.length && (raw[k] === "!" || raw[k] === "#")) {
          k++;
          while (k < raw.length && !" \t{}\"".includes(raw[k]!)) k++;
        }
        toks.push({ t: raw.slice(j, k), line });
        j = k;
      }
    }
    lines.push(toks);
  });
  // Statements end at a newline, `{` or `}`.
  const root: ConfNode[] = [];
  const stack: ConfNode[][] = [root];
  const open: ConfNode[] = [];
  for (const toks of lines) {
    let cur: ConfNode | null = null;
    for (const tok of toks) {
      if (tok.brace === "{") {
        const node = cur ?? { keyword: "", args: [], line: tok.line };
        if (!cur) stack[stack.length - 1]!.push(node);
        node.children = [];
        stack.push(node.children);
        open.push(node);
        cur = null;
      } else if (tok.brace === "}") {
        if (stack.length === 1) throw new ImportError(`${file}:${tok.line}: '}' without a block to close`);
        stack.pop();
        open.pop();
        cur = null;
      } else if (!cur) {
        cur = { keyword: tok.t, args: [], line: tok.line };
        stack[stack.length - 1]!.push(cur);
      } else cur.args.push(tok.t);
    }
  }
  if (open.length > 0) throw new ImportError(`${file}:${open.at(-1)!.line}: block '${open.at(-1)!.keyword}' is never closed`);
  return { file, nodes: root, comments };
}

// ---------------------------------------------------------------- mapping to a spec

export interface ImportOptions {
  /** Compute nodes, `name=ip` (a cluster needs at least one). */
  computes?: Record<string, string>;
  /** Manage IPs of server nodes the files do not tell (`server1=192.168.231.11`). */
  ips?: Record<string, string>;
  /** Ports of groups the files do not tell (`group -> [8801, 8802]`). */
  ports?: Record<string, number[]>;
  /** Cluster name (default: from an exported file's header, else "imported"). */
  name?: string;
}

export interface ImportResult {
  spec: ClusterSpecInput;
  /** One line per construct that was not mapped, or mapped with a change, with file and line. */
  messages: string[];
  /** What keeps the spec from being valid (it is still returned, for the operator to finish). */
  problems: SpecProblem[];
}

type Probe = Record<string, unknown> & { type: string };
type PortNote = { port: number; realPort?: number; protocol?: "udp" };

interface Instance {
  file: string;
  name: string;
  line: number;
  vrid: number | null;
  priority: number | null;
  advert: number | null;
  nopreempt: boolean;
  preemptDelay: number | null;
  unicastSrc: string | null;
  peers: string[];
  vips: { vip: string; prefix: number; iface: string | null; line: number }[];
  iface: string | null;
  scripts: string[];
  processes: string[];
  /** From an exported file's `# group` comment. */
  note: { name: string; service: string; mode: string; ports: { port: number; realPort?: number; protocol?: "udp" }[] } | null;
}

interface VirtualServer {
  file: string;
  line: number;
  vip: string;
  port: number;
  algo: string | null;
  kind: string | null;
  protocol: "tcp" | "udp";
  reals: { ip: string; port: number; weight: number }[];
}

const NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** A chime-ha name from a keepalived identifier: `VI_1` -> `vi-1`. */
export function toName(raw: string): string {
  const n = raw
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 63)
    .replace(/-+$/, "");
  return n || "unnamed";
}

const HEADER = /^keepalived\.conf for (\S+) \((\S+), (\S+)\) of cluster (\S+)\.$/;
const GROUP_NOTE = /^group (\S+): (.+) \(([a-z-]+)\), VIP (\S+)\/(\d+), ports (.+)$/;

function parsePorts(text: string): { port: number; realPort?: number; protocol?: "udp" }[] | null {
  const out: { port: number; realPort?: number; protocol?: "udp" }[] = [];
  for (const part of text.split(",").map((p) => p.trim())) {
    const m = /^(\d+)(?:->(\d+))?(\/udp)?$/.exec(part);
    if (!m) return null;
    out.push({ port: Number(m[1]), ...(m[2] ? { realPort: Number(m[2]) } : {}), ...(m[3] ? { protocol: "udp" as const } : {}) });
  }
  return out;
}

/**
 * The probe a vrrp_script's command amounts to. Recognised: the forms `chime-ha export keepalived`
 * writes (curl, bash /dev/tcp, mysqladmin ping), and any other command as an exec probe.
 */
export function probeFromScript(script: string, timing: { intervalMs: number; timeoutMs: number; fall: number; rise: number }): { probe: Probe; host: string | null } {
  const words = splitCommand(script);
  let w = words;
  if (/(^|\/)timeout$/.test(w[0] ?? "") && /^\d+(\.\d+)?[smh]?$/.test(w[1] ?? "")) w = w.slice(2);
  const tcp = /<\s*\/dev\/tcp\/([^/\s']+)\/(\d+)/.exec(script);
  if (tcp && /(^|\/)(ba)?sh$/.test(w[0] ?? "")) return { probe: { type: "tcp", port: Number(tcp[2]), ...timing }, host: tcp[1]! };
  if (/(^|\/)curl$/.test(w[0] ?? "")) {
    const url = w.find((x) => /^https?:\/\//.test(x));
    if (url) {
      const u = new URL(url);
      const scheme = u.protocol === "https:" ? "https" : "http";
      const port = Number(u.port || (scheme === "https" ? 443 : 80));
      if (u.pathname === "/ping") return { probe: { type: "influxdb", port, ...timing }, host: u.hostname };
      if (u.pathname === "/minio/health/cluster") return { probe: { type: "minio", port, scheme, ...timing }, host: u.hostname };
      return { probe: { type: "http", port, path: u.pathname + u.search, scheme, ...timing }, host: u.hostname };
    }
  }
  if (/(^|\/)mysqladmin$/.test(w[0] ?? "") && w.includes("ping")) {
    const p = w.indexOf("-P");
    const port = p >= 0 ? Number(w[p + 1]) : 3306;
    const h = w.indexOf("-h");
    return { probe: { type: "mysql", port, ...timing }, host: h >= 0 ? w[h + 1]! : null };
  }
  return { probe: { type: "exec", command: w.length ? w : words, ...timing }, host: null };
}

/** Shell-like split of a check command: quotes group words (no expansion). */
function splitCommand(cmd: string): string[] {
  const out: string[] = [];
  const re = /'([^']*)'|"([^"]*)"|(\S+)/g;
  for (let m = re.exec(cmd); m; m = re.exec(cmd)) out.push(m[1] ?? m[2] ?? m[3]!);
  return out;
}

const num = (v: string | undefined): number | null => (v !== undefined && /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : null);

export function importKeepalived(files: ConfFile[], opts: ImportOptions = {}): ImportResult {
  const messages: string[] = [];
  const say = (f: ConfFile | string, line: number, text: string) => messages.push(`${typeof f === "string" ? f : f.file}:${line}: ${text}`);
  if (files.length < 2 || files.length > 3) throw new ImportError(`give one keepalived.conf per server node: a cluster has 2 or 3 servers, got ${files.length} file(s)`);

  interface Server {
    conf: ConfFile;
    name: string;
    hostname: string;
    ip: string | null;
    version: 2 | 3;
    cluster: string | null;
  }
  const servers: Server[] = [];
  const scripts = new Map<string, Map<string, { node: ConfNode; timing: { intervalMs: number; timeoutMs: number; fall: number; rise: number }; command: string | null }>>();
  const tracked = new Map<string, Map<string, string>>();
  const instances: Instance[] = [];
  const virtualServers: VirtualServer[] = [];

  for (const conf of files) {
    let header: RegExpExecArray | null = null;
    for (const c of conf.comments.values()) header ??= HEADER.exec(c);
    let routerId: string | null = null;
    let version: 2 | 3 = 2;
    const fileScripts = new Map<string, { node: ConfNode; timing: { intervalMs: number; timeoutMs: number; fall: number; rise: number }; command: string | null }>();
    const fileTracks = new Map<string, string>();
    scripts.set(conf.file, fileScripts);
    tracked.set(conf.file, fileTracks);
    for (const n of conf.nodes) {
      switch (n.keyword) {
        case "global_defs":
          for (const g of n.children ?? []) {
            if (g.keyword === "router_id") routerId = g.args[0] ?? null;
            else if (g.keyword === "vrrp_version") version = g.args[0] === "3" ? 3 : 2;
            else if (["enable_script_security", "script_user", "vrrp_skip_check_adv_addr", "vrrp_garp_interval", "vrrp_gna_interval", "max_auto_priority"].includes(g.keyword)) continue;
            else if (g.keyword.startsWith("notification_email") || g.keyword.startsWith("smtp_")) say(conf, g.line, `global_defs ${g.keyword}: not mapped; chime-ha alerts through /v1/webhooks (Slack, Teams, e-mail gateways, ...)`);
            else if (g.keyword === "vrrp_strict") say(conf, g.line, "global_defs vrrp_strict: VRRP-only, nothing to map");
            else say(conf, g.line, `global_defs ${g.keyword}: not mapped (no chime-ha equivalent)`);
          }
          break;
        case "vrrp_script": {
          const name = n.args[0] ?? "";
          let command: string | null = null;
          const timing = { intervalMs: 1000, timeoutMs: 800, fall: 1, rise: 1 };
          for (const c of n.children ?? []) {
            const v = num(c.args[0]);
            if (c.keyword === "script") command = c.args.join(" ");
            else if (c.keyword === "interval" && v !== null) timing.intervalMs = Math.max(100, Math.round(v * 1000));
            else if (c.keyword === "timeout" && v !== null) timing.timeoutMs = Math.max(50, Math.round(v * 1000));
            else if (c.keyword === "fall" && v !== null) timing.fall = Math.min(20, Math.max(1, v));
            else if (c.keyword === "rise" && v !== null) timing.rise = Math.min(20, Math.max(1, v));
            else if (c.keyword === "weight" && v !== null && v !== 0) say(conf, c.line, `vrrp_script ${name}: weight ${v} not mapped; in chime-ha a failing check makes the node unfit (like weight 0), it does not shift priorities`);
            else if (c.keyword === "user" || c.keyword === "init_fail") continue;
            else say(conf, c.line, `vrrp_script ${name}: ${c.keyword} not mapped`);
          }
          // keepalived's default timeout is the interval; chime-ha's probe timeout must fit in it.
          if (!(n.children ?? []).some((c) => c.keyword === "timeout")) timing.timeoutMs = Math.max(50, Math.min(timing.intervalMs, 60_000));
          fileScripts.set(name, { node: n, timing, command });
          break;
        }
        case "vrrp_track_process": {
          const name = n.args[0] ?? "";
          for (const c of n.children ?? []) {
            if (c.keyword === "process") fileTracks.set(name, c.args[0] ?? "");
            else if (["quorum", "weight", "delay", "terminate_delay", "fork_delay"].includes(c.keyword)) continue;
            else say(conf, c.line, `vrrp_track_process ${name}: ${c.keyword} not mapped (chime-ha tracks the process by its name only)`);
          }
          break;
        }
        case "vrrp_instance":
          instances.push(readInstance(conf, n, say));
          break;
        case "virtual_server": {
          // Every director has the same virtual_server: the first file's counts.
          const vs = readVirtualServer(conf, n, say);
          if (vs && !virtualServers.some((v) => v.vip === vs.vip && v.port === vs.port && v.protocol === vs.protocol)) virtualServers.push(vs);
          break;
        }
        case "vrrp_sync_group":
          say(conf, n.line, `vrrp_sync_group ${n.args[0] ?? ""}: not mapped; chime-ha moves each group on its own (put services that must move together in one group)`);
          break;
        case "include":
          say(conf, n.line, `include ${n.args.join(" ")}: not followed; pass the included files' contents in the node's file`);
          break;
        default:
          say(conf, n.line, `${n.keyword}: not mapped (no chime-ha equivalent)`);
      }
    }
    const name = header?.[1] ?? (routerId ? toName(routerId) : toName(basename(conf.file).replace(/\.conf$/, "")));
    servers.push({ conf, name, hostname: header?.[2] ?? name, ip: header?.[3] ?? null, version, cluster: header?.[4] ?? null });
  }

  // Servers: names unique, manage IPs from the header, unicast_src_ip, --ip or a peer's unicast_peer.
  const seen = new Set<string>();
  for (const s of servers) {
    if (seen.has(s.name)) throw new ImportError(`${s.conf.file}: two files describe node '${s.name}' (router_id); give each server its own router_id or file name`);
    seen.add(s.name);
    s.ip = opts.ips?.[s.name] ?? s.ip ?? instances.find((i) => i.file === s.conf.file && i.unicastSrc)?.unicastSrc ?? null;
  }
  for (const s of servers) {
    if (s.ip) continue;
    const others = new Set(servers.filter((o) => o !== s).map((o) => o.ip).filter(Boolean));
    const named = servers.filter((o) => o !== s).flatMap((o) => instances.filter((i) => i.file === o.conf.file).flatMap((i) => i.peers)).filter((p) => !others.has(p));
    const candidates = [...new Set(named)];
    if (candidates.length === 1) s.ip = candidates[0]!;
    else throw new ImportError(`${s.conf.file}: cannot tell ${s.name}'s manage IP (no unicast_src_ip, no unique unicast_peer in the other files): pass --ip ${s.name}=<address>`);
  }

  // One priority per node (keepalived may have one per instance).
  const priorityOf = new Map<string, number>();
  for (const s of servers) {
    const mine = instances.filter((i) => i.file === s.conf.file && i.priority !== null);
    const first = mine[0]?.priority ?? 100;
    for (const i of mine) {
      if (i.priority !== first) {
        say(s.conf, i.line, `vrrp_instance ${i.name}: priority ${i.priority} differs from ${first} in ${mine[0]!.name}; chime-ha has one priority per node: ${s.name} gets ${first}`);
        break;
      }
    }
    priorityOf.set(s.name, Math.max(0, Math.min(255, first)));
  }

  // Groups: instances with the same name across files, ordered by virtual_router_id.
  const byName = new Map<string, Instance[]>();
  for (const i of instances) (byName.get(i.name) ?? byName.set(i.name, []).get(i.name)!).push(i);
  const groups = [...byName.values()].sort((a, b) => (a[0]!.vrid ?? 0) - (b[0]!.vrid ?? 0) || a[0]!.line - b[0]!.line);
  const serverOf = new Map(servers.map((s) => [s.conf.file, s]));
  const ipToNode = new Map(servers.map((s) => [s.ip!, s.name]));
  const adverts: number[] = [];
  const preempts: { nopreempt: boolean; delay: number | null }[] = [];
  const specGroups: Record<string, unknown>[] = [];
  const groupNames = new Set<string>();
  for (const list of groups) {
    const first = list[0]!;
    const conf = serverOf.get(first.file)!.conf;
    for (const i of list.slice(1)) {
      if (i.vrid !== first.vrid) say(i.file, i.line, `vrrp_instance ${i.name}: virtual_router_id ${i.vrid} differs from ${first.vrid} in ${first.file}; using the group as one`);
    }
    for (const i of list) {
      if (i.advert !== null) adverts.push(i.advert);
      preempts.push({ nopreempt: i.nopreempt, delay: i.preemptDelay });
    }
    let name = first.note?.name ?? toName(first.name);
    while (groupNames.has(name)) name = `${name.slice(0, 60)}-2`;
    groupNames.add(name);
    const vip = first.vips[0];
    if (!vip) {
      say(conf, first.line, `vrrp_instance ${first.name}: no virtual_ipaddress; skipped`);
      continue;
    }
    for (const extra of first.vips.slice(1)) say(conf, extra.line, `vrrp_instance ${first.name}: VIP ${extra.vip} not mapped; a chime-ha group has one VIP (make a group per VIP)`);
    // Probe: the first tracked script that every member runs alike.
    const scriptName = first.scripts[0];
    if (first.scripts.length > 1) say(conf, first.line, `vrrp_instance ${first.name}: chime-ha has one probe per group: using ${scriptName}, not ${first.scripts.slice(1).join(", ")}`);
    let probe: Probe | null = null;
    if (scriptName) {
      const sc = scripts.get(first.file)?.get(scriptName);
      if (!sc) say(conf, first.line, `vrrp_instance ${first.name}: track_script ${scriptName} is not defined in this file`);
      else if (!sc.command) say(conf, sc.node.line, `vrrp_script ${scriptName}: no script command`);
      else {
        const p = probeFromScript(sc.command, sc.timing);
        probe = p.probe;
        if (p.host && !["127.0.0.1", "localhost", "::1"].includes(p.host)) say(conf, sc.node.line, `vrrp_script ${scriptName}: checks ${p.host}; chime-ha's shim probes each node's own services (probeHost in the shim config)`);
      }
    }
    const processName = first.processes.map((t) => tracked.get(first.file)?.get(t)).find((p) => p) ?? null;
    const vs = virtualServers.filter((v) => v.vip === vip.vip);
    let ports: PortNote[] | null = first.note?.ports ?? (opts.ports?.[name] ? opts.ports[name]!.map((port) => ({ port })) : null);
    if (!ports && vs.length) ports = vs.map((v) => ({ port: v.port, ...(v.reals[0] && v.reals[0].port !== v.port ? { realPort: v.reals[0].port } : {}), ...(v.protocol === "udp" ? { protocol: "udp" as const } : {}) }));
    if (!ports && probe && typeof probe.port === "number") ports = [{ port: probe.port }];
    if (!ports) {
      say(conf, first.line, `vrrp_instance ${first.name}: no port known (no virtual_server, no check with a port): pass --ports ${name}=<port>[,<port>]`);
      ports = [];
    }
    const mode =
      first.note?.mode ??
      (vs.length
        ? "active-active-lb"
        : probe?.type === "mysql"
          ? "mysql-writer"
          : probe?.type === "influxdb"
            ? "influxdb-read"
            : probe?.type === "minio"
              ? "minio"
              : "active-standby");
    if (!probe) {
      const port = ports[0]?.realPort ?? ports[0]?.port;
      if (port === undefined) probe = { type: "tcp", port: 1 };
      else {
        probe = { type: "tcp", port };
        say(conf, first.line, `vrrp_instance ${first.name}: no vrrp_script check; chime-ha probes tcp port ${port}`);
      }
    }
    const members = list.map((i) => serverOf.get(i.file)!.name);
    const group: Record<string, unknown> = {
      name,
      service: first.note?.service ?? processName ?? name,
      mode,
      vip: vip.vip,
      prefix: vip.prefix,
      interface: vip.iface ?? first.iface ?? "eth0",
      ports: ports.map((p) => ({ port: p.port, ...(p.realPort !== undefined ? { realPort: p.realPort } : {}), ...(p.protocol ? { protocol: p.protocol } : {}) })),
      ...(members.length === servers.length ? {} : { members }),
      probe,
      ...(processName ? { process: processName } : {}),
    };
    if (vs.length) {
      const algo = vs[0]!.algo ?? "wrr";
      const scheduler = ["rr", "wrr", "sh"].includes(algo) ? algo : "wrr";
      if (scheduler !== algo) say(vs[0]!.file, vs[0]!.line, `virtual_server ${vs[0]!.vip} ${vs[0]!.port}: lb_algo ${algo} not mapped; chime-ha balances with rr, wrr or sh: using wrr`);
      const weights: Record<string, number> = {};
      for (const r of vs[0]!.reals) {
        const node = ipToNode.get(r.ip);
        if (!node) say(vs[0]!.file, vs[0]!.line, `virtual_server ${vs[0]!.vip} ${vs[0]!.port}: real_server ${r.ip} is none of the servers; chime-ha balances across the group's members`);
        else if (r.weight !== 1) weights[node] = r.weight;
      }
      group.lb = { backend: "ipvs", scheduler, ...(Object.keys(weights).length ? { weights } : {}) };
      if (mode !== "active-active-lb") say(vs[0]!.file, vs[0]!.line, `virtual_server ${vs[0]!.vip}: group ${name} is ${mode}; its virtual_server is not mapped`);
    }
    specGroups.push(group);
  }
  for (const v of virtualServers) {
    if (!instances.some((i) => i.vips[0]?.vip === v.vip)) say(v.file, v.line, `virtual_server ${v.vip} ${v.port}: no vrrp_instance carries this VIP; not mapped`);
  }

  // Policy: VRRP's master-down interval is about 3 adverts: lease TTL 3 x, margin 0.5 x.
  const advert = adverts.length ? Math.min(...adverts) : 1;
  if (new Set(adverts).size > 1) say(files[0]!, 1, `advert_int differs between instances (${[...new Set(adverts)].join(", ")} s); chime-ha has one heartbeat interval per cluster: ${advert} s`);
  let heartbeat = Math.round(advert * 1000);
  if (heartbeat < 100) {
    say(files[0]!, 1, `advert_int ${advert} s is below chime-ha's 100 ms heartbeat minimum: 100 ms`);
    heartbeat = 100;
  }
  const preempt = (() => {
    if (preempts.every((p) => p.nopreempt)) return { enabled: false, delayMs: 30_000 };
    const delay = Math.max(0, ...preempts.map((p) => p.delay ?? 0));
    if (preempts.every((p) => !p.nopreempt && p.delay === null)) say(files[0]!, 1, "no nopreempt: keepalived preempts at once by default, so chime-ha will too (policy.preempt.delayMs 0); chime-ha's own default is not to preempt");
    else if (preempts.some((p) => p.nopreempt)) say(files[0]!, 1, "nopreempt on some instances only: chime-ha preempts per cluster; preemption is on");
    return { enabled: true, delayMs: delay * 1000 };
  })();

  const computes = Object.entries(opts.computes ?? {});
  if (computes.length === 0) say("(options)", 0, "no compute nodes: a chime-ha cluster needs at least one (keepalived does not know them): pass --computes node1=<ip>[,node2=<ip>]");
  const clusterName = opts.name ?? servers.find((s) => s.cluster)?.cluster ?? "imported";
  const spec: ClusterSpecInput = {
    apiVersion: "chime-ha/v1",
    name: NAME.test(clusterName) ? clusterName : toName(clusterName),
    description: `imported from keepalived (${files.map((f) => basename(f.file)).join(", ")})`,
    policy: { heartbeatIntervalMs: heartbeat, leaseTtlMs: 3 * heartbeat, driftMarginMs: Math.round(heartbeat / 2), preempt },
    nodes: [
      ...servers.map((s) => ({ name: s.name, hostname: s.hostname, ip: s.ip!, role: "server" as const, priority: priorityOf.get(s.name)! })),
      ...computes.map(([name, ip]) => ({ name: toName(name), hostname: toName(name), ip, role: "compute" as const })),
    ],
    groups: specGroups as ClusterSpecInput["groups"],
  };
  const r = validateSpec(spec);
  return { spec, messages, problems: r.ok ? [] : r.problems };
}

function readInstance(conf: ConfFile, n: ConfNode, say: (f: ConfFile, line: number, text: string) => void): Instance {
  const name = n.args[0] ?? "";
  const inst: Instance = {
    file: conf.file,
    name,
    line: n.line,
    vrid: null,
    priority: null,
    advert: null,
    nopreempt: false,
    preemptDelay: null,
    unicastSrc: null,
    peers: [],
    vips: [],
    iface: null,
    scripts: [],
    processes: [],
    note: null,
  };
  // An exported file's `# group` comment sits above the group's vrrp_script, a few lines up.
  for (let l = n.line - 1; l > 0 && l >= n.line - 20; l--) {
    const c = conf.comments.get(l);
    const m = c ? GROUP_NOTE.exec(c) : null;
    if (m && m[1]!.replace(/[^A-Za-z0-9_]/g, "_") === name) {
      const ports = parsePorts(m[6]!);
      if (ports) inst.note = { name: m[1]!, service: m[2]!, mode: m[3]!, ports };
      break;
    }
  }
  for (const c of n.children ?? []) {
    const v = num(c.args[0]);
    switch (c.keyword) {
      case "state":
        if (c.args[0] === "MASTER") say(conf, c.line, `vrrp_instance ${name}: state MASTER not mapped; chime-ha grants the group to the best healthy node (priority decides)`);
        break;
      case "interface":
        inst.iface = c.args[0] ?? null;
        break;
      case "virtual_router_id":
        inst.vrid = v;
        break;
      case "priority":
        inst.priority = v;
        break;
      case "advert_int":
        inst.advert = v;
        break;
      case "nopreempt":
        inst.nopreempt = true;
        break;
      case "preempt_delay":
        inst.preemptDelay = v;
        break;
      case "preempt":
        break;
      case "unicast_src_ip":
        inst.unicastSrc = c.args[0] ?? null;
        break;
      case "unicast_peer":
        inst.peers = (c.children ?? []).map((p) => p.keyword).filter((p) => IPV4.test(p));
        break;
      case "virtual_ipaddress":
        for (const a of c.children ?? []) {
          const [addr, len] = a.keyword.split("/");
          if (!addr || !IPV4.test(addr)) {
            say(conf, a.line, `vrrp_instance ${name}: virtual_ipaddress ${a.keyword} is not an IPv4 address; not mapped`);
            continue;
          }
          const dev = a.args.indexOf("dev");
          // keepalived's default prefix is /32.
          inst.vips.push({ vip: addr, prefix: len ? Number(len) : 32, iface: dev >= 0 ? (a.args[dev + 1] ?? null) : null, line: a.line });
        }
        break;
      case "track_script":
        inst.scripts = (c.children ?? []).map((t) => t.keyword);
        break;
      case "track_process":
        inst.processes = (c.children ?? []).map((t) => t.keyword);
        break;
      case "version":
        break;
      case "authentication":
        say(conf, c.line, `vrrp_instance ${name}: authentication not mapped; chime-ha nodes authenticate with their own tokens`);
        break;
      case "track_interface":
        say(conf, c.line, `vrrp_instance ${name}: track_interface not mapped; a node whose link is down stops renewing its lease and loses the group`);
        break;
      case "notify":
      case "notify_master":
      case "notify_backup":
      case "notify_fault":
      case "notify_stop":
        say(conf, c.line, `vrrp_instance ${name}: ${c.keyword} not mapped; chime-ha reports every move as an event and alerts through /v1/webhooks`);
        break;
      default:
        if (c.keyword.startsWith("garp_") || c.keyword === "smtp_alert" || c.keyword === "dont_track_primary") continue;
        say(conf, c.line, `vrrp_instance ${name}: ${c.keyword} not mapped`);
    }
  }
  return inst;
}

function readVirtualServer(conf: ConfFile, n: ConfNode, say: (f: ConfFile, line: number, text: string) => void): VirtualServer | null {
  const [vip, port] = n.args;
  if (!vip || !IPV4.test(vip) || num(port) === null) {
    say(conf, n.line, `virtual_server ${n.args.join(" ")}: only 'virtual_server <IPv4> <port>' is mapped (not fwmark or group)`);
    return null;
  }
  const vs: VirtualServer = { file: conf.file, line: n.line, vip, port: num(port)!, algo: null, kind: null, protocol: "tcp", reals: [] };
  for (const c of n.children ?? []) {
    if (c.keyword === "lb_algo") vs.algo = c.args[0] ?? null;
    else if (c.keyword === "lb_kind") {
      vs.kind = c.args[0] ?? null;
      if (vs.kind === "TUN") say(conf, c.line, `virtual_server ${vip} ${port}: lb_kind TUN not mapped; chime-ha balances with NAT (port translation) or keeps the port`);
    } else if (c.keyword === "protocol") vs.protocol = c.args[0]?.toLowerCase() === "udp" ? "udp" : "tcp";
    else if (c.keyword === "real_server") {
      const [ip, rport] = c.args;
      let weight = 1;
      for (const r of c.children ?? []) {
        if (r.keyword === "weight") weight = num(r.args[0]) ?? 1;
        else if (["TCP_CHECK", "HTTP_GET", "SSL_GET", "MISC_CHECK"].includes(r.keyword)) continue;
        else say(conf, r.line, `real_server ${ip} ${rport}: ${r.keyword} not mapped`);
      }
      if (ip && IPV4.test(ip) && num(rport) !== null) vs.reals.push({ ip, port: num(rport)!, weight });
    } else if (c.keyword === "delay_loop") continue;
    else if (c.keyword === "persistence_timeout") say(conf, c.line, `virtual_server ${vip} ${port}: persistence_timeout not mapped; use lb scheduler sh (source hashing) for stickiness`);
    else say(conf, c.line, `virtual_server ${vip} ${port}: ${c.keyword} not mapped`);
  }
  return vs;
}

// ---------------------------------------------------------------- the command

const pairs = (v: string, prev: Record<string, string> = {}): Record<string, string> => {
  for (const part of v.split(",").map((x) => x.trim()).filter(Boolean)) {
    const [k, val] = part.split("=");
    if (!k || !val) throw new ImportError(`expected name=value, got '${part}'`);
    prev[k] = val;
  }
  return prev;
};

export function registerImport(program: Command): void {
  const imp = program.command("import").description("write a cluster spec from other tools' configuration");
  imp
    .command("keepalived")
    .description("a cluster spec from the keepalived.conf of each server node (one file per server); every construct that cannot be mapped is named with file and line")
    .argument("<files...>", "keepalived.conf of each server node (2 or 3)")
    .option("--computes <name=ip,...>", "compute nodes of the cluster (keepalived does not know them; at least one is needed)", (v: string, prev?: Record<string, string>) => pairs(v, prev))
    .option("--ip <name=ip,...>", "manage IP of a server whose file does not tell it", (v: string, prev?: Record<string, string>) => pairs(v, prev))
    .option("--ports <group=port+port,...>", "ports of a group the files do not tell (8801+8802)", (v: string, prev?: Record<string, string>) => pairs(v, prev))
    .option("--name <cluster>", "cluster name (default: from an exported file, else 'imported')")
    .option("-o, --output <file>", "write the spec here instead of standard output")
    .action((paths: string[], o: { computes?: Record<string, string>; ip?: Record<string, string>; ports?: Record<string, string>; name?: string; output?: string }) => {
      try {
        const files = paths.map((p) => {
          let text: string;
          try {
            text = readFileSync(p, "utf8");
          } catch (err) {
            throw new ImportError(`cannot read ${p}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
          }
          return parseConf(p, text);
        });
        const ports: Record<string, number[]> = {};
        for (const [g, list] of Object.entries(o.ports ?? {})) ports[g] = list.split("+").map(Number);
        const r = importKeepalived(files, { computes: o.computes, ips: o.ip, ports, name: o.name });
        for (const m of r.messages) process.stderr.write(`${m}\n`);
        const yaml = stringify(r.spec);
        if (o.output) writeFileSync(o.output, yaml);
        else process.stdout.write(yaml);
        if (r.problems.length) {
          process.stderr.write([`the spec is not valid yet: ${r.problems.length} problem(s)`, ...r.problems.map((p) => `  ${p.path}: ${p.message}`)].join("\n") + "\n");
          process.exitCode = 1;
        }
      } catch (err) {
        if (!(err instanceof ImportError)) throw err;
        process.stderr.write(err.message + "\n");
        process.exitCode = 1;
      }
    });
}
