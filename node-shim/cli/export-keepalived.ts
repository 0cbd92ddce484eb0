// `chime-ha export keepalived SPEC --node NAME`: the keepalived.conf that node would run for the
// same spec (a migration aid both ways, and the configuration the lab compares chime-ha against).
//
// Mapping:
// - every group the node is a member of -> one vrrp_instance (VRRP for the VIP) with a
//   vrrp_script built from the group's probe (interval/timeout in whole seconds, as keepalived
//   wants them; fall/rise as is), and, for a group with a `process` name, a vrrp_track_process:
//   keepalived learns of the process's death at once from the kernel's process connector;
// - preempt off (chime-ha's default) -> both sides `state BACKUP` + `nopreempt`; preempt on ->
//   `preempt_delay` from the spec's delay;
// - active-active-lb -> additionally a virtual_server (IPVS, NAT when the real port differs),
//   unless --no-virtual-server (kernels without IPVS, or VRRP-only comparisons).
// VRRPv2 adverts are whole seconds, so advert_int defaults to the heartbeat interval rounded up;
// with --vrrp-version 3 adverts may be fractional (centiseconds) and default to the interval itself.
//
// The header comments (`# keepalived.conf for ...`, `# group ...`) carry what keepalived has no
// keyword for (the node's hostname, each group's service, mode and ports), so that
// `chime-ha import keepalived` gives back the same spec: export -> import -> export is exact.
import type { Command } from "commander";
import { type ClusterSpec, type GroupSpec, groupMembers, type PortSpec, type ProbeSpec } from "../../protocol/spec.js";
import { readSpecFile } from "./spec-file.js";

export interface KeepalivedOptions {
  node: string;
  /** Interface for every VIP (else each group's interface). */
  iface?: string;
  /** VRRP version: 2 (default, whole-second adverts) or 3 (centisecond adverts). */
  vrrpVersion?: 2 | 3;
  /** VRRP advert interval in seconds (default: the heartbeat interval; rounded up to whole seconds for VRRPv2). */
  advertInt?: number;
  /** virtual_router_id of the first group; the next groups count up from it. */
  vridBase?: number;
  /** Leave out virtual_server blocks (VRRP + vrrp_script only). */
  virtualServers?: boolean;
  /** Track each group's `process` with vrrp_track_process (default true). */
  trackProcess?: boolean;
  /** Unicast VRRP to the other members instead of multicast. */
  unicast?: boolean;
  /** Address the probes use for local services. */
  probeHost?: string;
  /** Label suffix of the VIP on the interface (`eth0:ka`). */
  label?: string;
}

export class ExportError extends Error {}

export const ident = (name: string) => name.replace(/[^A-Za-z0-9_]/g, "_");
const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));
const quoteArg = (a: string) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "")}'`);
/** Seconds as keepalived prints them: no trailing zeros (0.3, 1, 2.5). */
const secondsText = (s: number) => String(Number(s.toFixed(2)));

/** One port as the `# group` comment writes it: `8801`, `80->8033`, `53/udp`. */
export const portText = (p: PortSpec) => `${p.port}${p.realPort !== undefined && p.realPort !== p.port ? `->${p.realPort}` : ""}${p.protocol === "udp" ? "/udp" : ""}`;

/** The check command keepalived runs for a probe (absolute paths: enable_script_security wants them). */
export function probeScript(probe: ProbeSpec, host: string): string {
  const t = seconds(probe.timeoutMs);
  switch (probe.type) {
    case "tcp":
      return `/usr/bin/timeout ${t} /bin/bash -c '</dev/tcp/${host}/${probe.port}'`;
    case "http": {
      const url = `${probe.scheme}://${host}:${probe.port}${probe.path}`;
      // curl -f fails on >= 400; exact expectStatus/bodyMatch are chime-ha-only refinements.
      return `/usr/bin/curl -fsS -o /dev/null -m ${t} ${url}`;
    }
    case "exec":
      return `/usr/bin/timeout ${t} ${probe.command.map(quoteArg).join(" ")}`;
    case "mysql":
      return `/usr/bin/mysqladmin --connect-timeout=${t} -h ${host} -P ${probe.port} ping`;
    case "influxdb":
      return `/usr/bin/curl -fsS -o /dev/null -m ${t} http://${host}:${probe.port}/ping`;
    case "minio":
      return `/usr/bin/curl -fsS -o /dev/null -m ${t} ${probe.scheme}://${host}:${probe.port}/minio/health/cluster`;
  }
}

/** The advert interval in seconds for this spec and version, checked against what keepalived accepts. */
export function advertInterval(spec: ClusterSpec, version: 2 | 3, given?: number): number {
  if (version === 2) {
    const advert = given ?? seconds(spec.policy.heartbeatIntervalMs);
    if (!Number.isInteger(advert) || advert < 1 || advert > 255) throw new ExportError(`--advert-int: VRRPv2 adverts are whole seconds 1-255, got ${advert} (use --vrrp-version 3 for fractions)`);
    return advert;
  }
  const advert = given ?? Math.max(0.01, Math.round(spec.policy.heartbeatIntervalMs / 10) / 100);
  if (!(advert >= 0.01 && advert <= 40.95) || Math.abs(advert * 100 - Math.round(advert * 100)) > 1e-9) {
    throw new ExportError(`--advert-int: VRRPv3 adverts are 0.01-40.95 s in steps of 0.01 s, got ${advert}`);
  }
  return advert;
}

export function exportKeepalived(spec: ClusterSpec, opts: KeepalivedOptions): string {
  const node = spec.nodes.find((n) => n.name === opts.node);
  if (!node) throw new ExportError(`--node: no node '${opts.node}' in cluster ${spec.name} (nodes: ${spec.nodes.map((n) => n.name).join(", ")})`);
  if (node.role !== "server") throw new ExportError(`--node: '${opts.node}' is a ${node.role} node; keepalived runs on server nodes`);
  const vridBase = opts.vridBase ?? 51;
  if (vridBase < 1 || vridBase + spec.groups.length - 1 > 255) throw new ExportError(`--vrid-base: ${vridBase} + ${spec.groups.length} groups leaves the VRRP range 1-255`);
  const version = opts.vrrpVersion ?? 2;
  if (version !== 2 && version !== 3) throw new ExportError(`--vrrp-version: 2 or 3, got ${String(version)}`);
  const advert = advertInterval(spec, version, opts.advertInt);
  const host = opts.probeHost ?? "127.0.0.1";
  const label = opts.label ?? "ka";
  const byName = new Map(spec.nodes.map((n) => [n.name, n]));
  const out: string[] = [
    `# keepalived.conf for ${node.name} (${node.hostname}, ${node.ip}) of cluster ${spec.name}.`,
    "# Generated by `chime-ha export keepalived`; VRRP + vrrp_script per group, from the same spec.",
    "global_defs {",
    `  router_id ${ident(node.name)}`,
    ...(version === 3 ? ["  vrrp_version 3"] : []),
    "  enable_script_security",
    "  script_user root",
    "}",
    "",
  ];
  const groups = spec.groups.map((g, i) => ({ g, vrid: vridBase + i })).filter(({ g }) => groupMembers(spec, g).includes(node.name));
  for (const { g, vrid } of groups) {
    const check = `chk_${ident(g.name)}`;
    const track = opts.trackProcess !== false && g.process !== undefined ? `trk_${ident(g.name)}` : null;
    out.push(
      `# group ${g.name}: ${g.service} (${g.mode}), VIP ${g.vip}/${g.prefix}, ports ${g.ports.map(portText).join(", ")}`,
      `vrrp_script ${check} {`,
      `  script "${probeScript(g.probe, host)}"`,
      `  interval ${seconds(g.probe.intervalMs)}`,
      `  timeout ${seconds(g.probe.timeoutMs)}`,
      `  fall ${g.probe.fall}`,
      `  rise ${g.probe.rise}`,
      "}",
      "",
    );
    if (track) {
      out.push(
        // Process gone -> FAULT at once (weight 0): the master resigns with a priority-0 advert.
        `vrrp_track_process ${track} {`,
        `  process ${g.process}`,
        "  quorum 1",
        "  weight 0",
        "}",
        "",
      );
    }
    const iface = opts.iface ?? g.interface;
    const peers = groupMembers(spec, g)
      .filter((m) => m !== node.name)
      .map((m) => byName.get(m)!.ip);
    out.push(
      `vrrp_instance ${ident(g.name)} {`,
      // BACKUP on every node: with nopreempt the first to come up takes the VIP and keeps it.
      "  state BACKUP",
      `  interface ${iface}`,
      `  virtual_router_id ${vrid}`,
      `  priority ${Math.max(1, Math.min(254, node.priority))}`,
      `  advert_int ${secondsText(advert)}`,
      ...(spec.policy.preempt.enabled ? [`  preempt_delay ${Math.min(1000, Math.round(spec.policy.preempt.delayMs / 1000))}`] : ["  nopreempt"]),
      ...(opts.unicast ? [`  unicast_src_ip ${node.ip}`, "  unicast_peer {", ...peers.map((p) => `    ${p}`), "  }"] : []),
      "  virtual_ipaddress {",
      `    ${g.vip}/${g.prefix} dev ${iface} label ${iface}:${label}`,
      "  }",
      "  track_script {",
      `    ${check}`,
      "  }",
      ...(track ? ["  track_process {", `    ${track}`, "  }"] : []),
      "}",
      "",
    );
    if (g.mode === "active-active-lb" && opts.virtualServers !== false) out.push(...virtualServer(spec, g), "");
  }
  if (groups.length === 0) out.push(`# ${node.name} is a member of no group: nothing for keepalived to do.`);
  return out.join("\n");
}

function virtualServer(spec: ClusterSpec, g: GroupSpec): string[] {
  const lines: string[] = [];
  const byName = new Map(spec.nodes.map((n) => [n.name, n]));
  for (const p of g.ports) {
    const real = p.realPort ?? p.port;
    lines.push(
      `virtual_server ${g.vip} ${p.port} {`,
      `  delay_loop ${seconds(g.probe.intervalMs)}`,
      `  lb_algo ${g.lb?.scheduler ?? "wrr"}`,
      // Port translation (80 -> 8033) needs NAT; DR cannot change the port.
      `  lb_kind ${real !== p.port ? "NAT" : "DR"}`,
      `  protocol ${p.protocol.toUpperCase()}`,
    );
    for (const m of groupMembers(spec, g)) {
      const n = byName.get(m)!;
      lines.push(
        `  real_server ${n.ip} ${real} {`,
        `    weight ${g.lb?.weights[m] ?? 1}`,
        `    TCP_CHECK {`,
        `      connect_port ${real}`,
        `      connect_timeout ${seconds(g.probe.timeoutMs)}`,
        `    }`,
        "  }",
      );
    }
    lines.push("}");
  }
  return lines;
}

export function registerExport(program: Command): void {
  const exp = program.command("export").description("write configuration for other tools from a cluster spec");
  exp
    .command("keepalived")
    .description("keepalived.conf for one server node of SPEC (VRRP + vrrp_script per group, vrrp_track_process for groups with a process name; virtual_server for load-balanced groups)")
    .argument("<spec>", "cluster spec file")
    .requiredOption("--node <name>", "server node to write the config for")
    .option("--interface <iface>", "interface for every VIP (default: each group's interface)")
    .option("--vrrp-version <n>", "VRRP version 2 (whole-second adverts) or 3 (adverts in steps of 0.01 s)", "2")
    .option("--advert-int <seconds>", "VRRP advert interval, fractional with --vrrp-version 3 (default: the heartbeat interval; rounded up to whole seconds for VRRPv2)")
    .option("--vrid-base <n>", "virtual_router_id of the first group", "51")
    .option("--no-virtual-server", "leave out IPVS virtual_server blocks (VRRP only)")
    .option("--no-track-process", "no vrrp_track_process for groups with a process name (vrrp_script checks only)")
    .option("--unicast", "unicast VRRP to the other members instead of multicast")
    .action((file: string, o: { node: string; interface?: string; vrrpVersion: string; advertInt?: string; vridBase: string; virtualServer: boolean; trackProcess: boolean; unicast?: boolean }) => {
      const r = readSpecFile(file);
      if (!r.ok) {
        process.stderr.write([`${file}: ${r.problems.length} problem(s)`, ...r.problems.map((p) => `  ${p.path}: ${p.message}`)].join("\n") + "\n");
        process.exitCode = 1;
        return;
      }
      try {
        const version = Number(o.vrrpVersion);
        if (version !== 2 && version !== 3) throw new ExportError(`--vrrp-version: 2 or 3, got ${o.vrrpVersion}`);
        const text = exportKeepalived(r.spec, {
          node: o.node,
          iface: o.interface,
          vrrpVersion: version,
          advertInt: o.advertInt === undefined ? undefined : Number(o.advertInt),
          vridBase: Number(o.vridBase),
          virtualServers: o.virtualServer,
          trackProcess: o.trackProcess,
          unicast: o.unicast === true,
        });
        process.stdout.write(text + "\n");
      } catch (err) {
        if (!(err instanceof ExportError)) throw err;
        process.stderr.write(err.message + "\n");
        process.exitCode = 1;
      }
    });
}
