// `chime-ha plan SPEC`: the HA guide's two tables (nodes; IP:port -> service) from any spec.
//
// Wording follows the guide (2.4 High Availability Setting), derived from the spec:
// - node label, or ServerNodeN / NodeN; description, or "server node N" / "computing nodeN";
// - a member is named after its node ("server1" -> "Server1");
// - a port whose label names the service itself (mysql, influxdb, minio, or no label):
//   "Server1's mysql's real endpoint" / "mysql's VIP endpoint";
// - a port label naming a part of the service (API, grpc, web UI): "Server1 API's real endpoint";
//   its VIP row is "Server API's VIP endpoint" for an active-standby group (the VIP stands for
//   whichever server holds it) and "web UI's VIP endpoint" for a load-balanced one (it stands
//   for the service as a whole).
import type { Command } from "commander";
import { type ClusterSpec, type GroupSpec, groupMembers } from "../../protocol/spec.js";
import { readSpecFile } from "./spec-file.js";
import { markdownTable } from "./table.js";

export interface PlanTables {
  nodes: { node: string; hostname: string; ip: string; description: string }[];
  endpoints: { endpoint: string; service: string; description: string }[];
}

const capitalize = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

function portWording(group: GroupSpec, label: string | undefined): { possessive: boolean; label: string } {
  const l = label ?? group.service;
  const names = new Set([group.service.toLowerCase(), group.name.toLowerCase()]);
  return { possessive: names.has(l.toLowerCase()), label: l };
}

export function planTables(spec: ClusterSpec): PlanTables {
  let servers = 0;
  let computes = 0;
  const nodes = spec.nodes.map((n) => {
    const index = n.role === "server" ? ++servers : ++computes;
    return {
      node: n.label ?? (n.role === "server" ? `ServerNode${index}` : `Node${index}`),
      hostname: n.hostname,
      ip: n.ip,
      description: n.description ?? (n.role === "server" ? `server node ${index}` : `computing node${index}`),
    };
  });
  const byName = new Map(spec.nodes.map((n) => [n.name, n]));
  const endpoints: PlanTables["endpoints"] = [];
  for (const g of spec.groups) {
    const members = groupMembers(spec, g).map((m) => byName.get(m)!);
    for (const p of g.ports) {
      const w = portWording(g, p.label);
      for (const m of members) {
        const who = capitalize(m.name);
        endpoints.push({
          endpoint: `${m.ip}:${p.realPort ?? p.port}`,
          service: g.service,
          description: w.possessive ? `${who}'s ${w.label}'s real endpoint` : `${who} ${w.label}'s real endpoint`,
        });
      }
      // "Server1", "Server2" -> "Server": what an active-standby VIP stands for.
      const role = capitalize(members[0]?.name.replace(/\d+$/, "") ?? g.service);
      const vipDescription = w.possessive || g.mode !== "active-standby" ? `${w.label}'s VIP endpoint` : `${role} ${w.label}'s VIP endpoint`;
      endpoints.push({ endpoint: `${g.vip}:${p.port}`, service: g.service, description: vipDescription });
    }
  }
  return { nodes, endpoints };
}

export function renderPlan(spec: ClusterSpec): string {
  const t = planTables(spec);
  return [
    "Plan for nodes and as well as their hostnames and IP addresses:",
    "",
    markdownTable(["Node", "Hostname", "Manage IP", "Description"], t.nodes.map((n) => [n.node, n.hostname, n.ip, n.description])),
    "",
    "Plan for IP addresses with ports, and services",
    "",
    markdownTable(["IP:Port", "Component/Service", "Description"], t.endpoints.map((e) => [e.endpoint, e.service, e.description])),
  ].join("\n");
}

export function registerPlan(program: Command): void {
  program
    .command("plan")
    .description("print the HA guide's two tables (nodes; IP:port and services) for a cluster spec")
    .argument("<spec>", "cluster spec file (YAML or JSON)")
    .option("--json", "print the tables as JSON")
    .action((file: string, opts: { json?: boolean }) => {
      const r = readSpecFile(file);
      if (!r.ok) {
        process.stderr.write([`${file}: invalid spec`, ...r.problems.map((p) => `  ${p.path}: ${p.message}`)].join("\n") + "\n");
        process.exitCode = 1;
        return;
      }
      process.stdout.write((opts.json ? JSON.stringify(planTables(r.spec), null, 2) : renderPlan(r.spec)) + "\n");
    });
}
