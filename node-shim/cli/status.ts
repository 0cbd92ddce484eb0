// `chime-ha status [CLUSTER]`: without a cluster, a fleet summary (one line per cluster and the
// problems of all); with one, its groups (holder, epoch, lease left, state) and nodes, and below
// them why every group that is not held by a fit holder is not, and what is wrong with each node.
// --watch redraws; --json prints what the API said.
import type { Command } from "commander";
import type { ClusterStatus, GroupStatus, NodeStatus } from "../../protocol/status.js";
import { ClusterStatus as ClusterStatusSchema } from "../../protocol/status.js";
import { ApiClient, clusterPath, NetworkError } from "./client.js";
import { resolveConnection } from "./contexts.js";
import { type Colour, colourEnabled, interruptSignal, note, oneLine, out, painter, parseDuration, sleep } from "./output.js";
import { duration, textTable } from "./table.js";

export interface ClusterStatusView {
  cluster: string;
  site: string;
  status: ClusterStatus;
}

type Paint = (c: Colour, text: string) => string;

export async function fetchStatus(client: ApiClient, cluster?: string): Promise<ClusterStatusView[]> {
  const wanted = cluster === undefined ? await client.clusters() : [await client.resolveCluster(cluster)];
  // At most 8 requests at a time: a large fleet should not spend a token's rate-limit burst at once.
  const views: ClusterStatusView[] = new Array(wanted.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < wanted.length; i = next++) {
      const c = wanted[i]!;
      views[i] = { cluster: c.id, site: c.site, status: await client.get(`${clusterPath(c.id)}/status`, ClusterStatusSchema) };
    }
  };
  await Promise.all(Array.from({ length: Math.min(8, wanted.length) }, worker));
  return views;
}

const HEALTH_COLOUR: Record<string, Colour> = { ok: "green", waiting: "cyan", moving: "yellow", degraded: "yellow", down: "red" };

/** A group's state word, for status from a control plane that does not send one. */
function healthOf(g: GroupStatus): string {
  return g.health ?? (g.phase === "revoking" ? "moving" : g.holder ? "ok" : "down");
}

function nodeState(n: NodeStatus): string {
  if (n.heard === false) return "waiting";
  if (n.maintenance) return "maint";
  if (n.computePhase && n.computePhase !== "alive") return n.computePhase.split(" ")[0]!;
  if (!n.alive) return "down";
  if (Object.values(n.probes).some((p) => !p.healthy) || (n.applyErrors?.length ?? 0) > 0) return "degraded";
  return "ok";
}

const NODE_COLOUR: Record<string, Colour> = { ok: "green", waiting: "cyan", maint: "yellow", degraded: "yellow", down: "red" };

export interface Problem {
  /** Group or node name. */
  what: string;
  text: string;
  /** Only waiting for setup (first heartbeats): not a failure. */
  waiting: boolean;
}

/** Everything not fine in one cluster, one line each: groups first, then nodes. */
export function problemsOf(s: ClusterStatus): Problem[] {
  const out: Problem[] = [];
  if (s.maintenance) out.push({ what: "cluster", text: "maintenance on: automatic failover is frozen", waiting: false });
  if (s.restartGraceLeftMs > 0) out.push({ what: "cluster", text: `control plane restarted: grants wait ${duration(s.restartGraceLeftMs)} more`, waiting: true });
  for (const g of s.groups) {
    const h = healthOf(g);
    if (h === "ok") continue;
    const why = g.reason ?? (g.holder ? `held by ${g.holder} (${g.phase})` : "no holder");
    out.push({ what: g.name, text: why.startsWith(h) ? why : `${h}: ${why}`, waiting: h === "waiting" });
  }
  for (const n of s.nodes) {
    if (n.heard === false) {
      out.push({ what: n.name, text: "waiting for its first heartbeat (is its shim installed and running?)", waiting: true });
      continue;
    }
    if (!n.alive) out.push({ what: n.name, text: `not alive: ${n.lastHeartbeatAgoMs === null ? "no heartbeat since the control plane started" : `last heartbeat ${duration(n.lastHeartbeatAgoMs)} ago`}`, waiting: false });
    if (n.maintenance) out.push({ what: n.name, text: "in maintenance: takes no groups", waiting: false });
    if (n.computePhase && n.computePhase !== "alive") out.push({ what: n.name, text: n.computePhase, waiting: false });
    if (n.alive) for (const [probe, p] of Object.entries(n.probes)) if (!p.healthy) out.push({ what: n.name, text: `${probe} probe failing: ${p.detail || "no detail"}`, waiting: false });
    for (const e of n.applyErrors ?? []) {
      const tail = e.stderrTail.trim().split("\n").at(-1)?.trim();
      out.push({
        what: n.name,
        text: `cannot apply ${e.target}${e.group ? ` for ${e.group}` : ""}: \`${e.command}\` ${e.exitCode === null ? "could not run" : `exited ${e.exitCode}`}${tail ? ` (${tail})` : ""} since ${new Date(e.since).toISOString()}`,
        waiting: false,
      });
    }
  }
  return out;
}

export function renderCluster(v: ClusterStatusView, paint: Paint): string {
  const s = v.status;
  const flags = [s.maintenance ? paint("yellow", "MAINTENANCE (automatic failover frozen)") : "", s.restartGraceLeftMs > 0 ? `restart grace ${duration(s.restartGraceLeftMs)}` : ""].filter(Boolean);
  const lines = [paint("bold", `cluster ${v.cluster}`) + ` (site ${v.site}, spec v${s.specVersion})${flags.length ? `  ${flags.join(", ")}` : ""}`];
  const lb = s.groups.some((g) => g.realServers !== undefined);
  lines.push(
    textTable(
      ["GROUP", "MODE", "VIP", "HOLDER", "EPOCH", "LEASE", "STATE", ...(lb ? ["REAL SERVERS"] : [])],
      s.groups.map((g) => {
        const h = healthOf(g);
        return [
          g.name,
          g.mode,
          g.vip,
          g.holder ?? "-",
          String(g.epoch),
          duration(g.leaseLeftMs),
          paint(HEALTH_COLOUR[h] ?? "yellow", g.phase === "revoking" && g.revokeTo ? `${h} -> ${g.revokeTo}` : h),
          ...(lb ? [g.realServers ? g.realServers.map((r) => r.split(" ")[0]).join(",") || "(none)" : ""] : []),
        ];
      }),
    ),
    "",
    textTable(
      ["NODE", "ROLE", "STATE", "LAST BEAT", "PROBES"],
      s.nodes.map((n) => {
        const st = nodeState(n);
        return [
          n.name,
          n.role,
          paint(NODE_COLOUR[st] ?? "red", st),
          n.lastHeartbeatAgoMs === null ? (n.heard === false ? "never" : "-") : `${duration(n.lastHeartbeatAgoMs)} ago`,
          Object.entries(n.probes)
            .map(([k, p]) => `${k} ${p.healthy ? "ok" : paint("red", "FAIL")}`)
            .join(", ") || "-",
        ];
      }),
    ),
  );
  const problems = problemsOf(s);
  if (problems.length > 0) {
    lines.push("", "Why:");
    const w = Math.max(...problems.map((p) => p.what.length));
    for (const p of problems) lines.push(`  ${p.what.padEnd(w)}  ${p.waiting ? p.text : paint(p.text.startsWith("down") ? "red" : "yellow", p.text)}`);
  }
  return lines.join("\n");
}

export function renderFleet(views: ClusterStatusView[], paint: Paint): string {
  if (views.length === 0) return "no clusters yet (create one: chime-ha apply -f SPEC --site SITE)";
  const rows = views.map((v) => {
    const s = v.status;
    const problems = problemsOf(s);
    const ok = s.groups.filter((g) => healthOf(g) === "ok").length;
    const alive = s.nodes.filter((n) => n.alive).length;
    const real = problems.filter((p) => !p.waiting).length;
    const state = s.maintenance
      ? paint("yellow", "MAINTENANCE")
      : real > 0
        ? paint("red", `${real} problem${real === 1 ? "" : "s"}`)
        : problems.length > 0
          ? paint("cyan", "waiting for first heartbeats")
          : paint("green", "ok");
    return [v.cluster, v.site, `v${s.specVersion}`, `${ok}/${s.groups.length} ok`, `${alive}/${s.nodes.length} alive`, state];
  });
  const lines = [textTable(["CLUSTER", "SITE", "SPEC", "GROUPS", "NODES", "STATE"], rows)];
  const all = views.flatMap((v) => problemsOf(v.status).filter((p) => !p.waiting).map((p) => ({ ...p, cluster: v.cluster })));
  if (all.length > 0) {
    lines.push("", "Why:");
    lines.push(textTable(["CLUSTER", "WHAT", "PROBLEM"], all.map((p) => [p.cluster, p.what, paint("yellow", p.text)])).split("\n").slice(1).map((l) => `  ${l}`).join("\n"));
  }
  return lines.join("\n");
}

export function renderStatus(views: ClusterStatusView[], single: boolean, paint: Paint): string {
  return single ? views.map((v) => renderCluster(v, paint)).join("\n\n") : renderFleet(views, paint);
}

export function registerStatus(program: Command): void {
  program
    .command("status")
    .description("without a cluster: one line per cluster and every problem; with one: groups, nodes, and why anything is not fine")
    .argument("[cluster]", "cluster id (site.name) or name")
    .option("--json", "print the status as the API gave it")
    .option("-w, --watch", "redraw until Ctrl-C")
    .option("--interval <duration>", "redraw interval with --watch", "2s")
    .action(async (cluster: string | undefined, o: { json?: boolean; watch?: boolean; interval: string }) => {
      const client = new ApiClient(resolveConnection(program.opts()));
      const paint = painter(colourEnabled());
      const render = async () => {
        const views = await fetchStatus(client, cluster);
        return o.json ? JSON.stringify(cluster === undefined ? views : views[0], null, 2) : renderStatus(views, cluster !== undefined, paint);
      };
      if (!o.watch) return out(await render());
      const every = parseDuration(o.interval, "--interval");
      const signal = interruptSignal();
      const tty = process.stdout.isTTY === true;
      let failures = 0;
      let asked = 0;
      while (!signal.aborted) {
        let text: string;
        try {
          text = await render();
          failures = 0;
          asked = 0;
        } catch (err) {
          if (!(err instanceof NetworkError)) throw err;
          failures++;
          asked = err.retryAfterMs ?? 0;
          text = `${oneLine(err.message)} (retrying)`;
        }
        const stamp = `every ${duration(every)}, ${new Date().toISOString().slice(11, 19)} UTC — Ctrl-C to stop`;
        // A terminal gets the screen redrawn; a pipe gets one block per round.
        if (tty) process.stdout.write(`\x1b[H\x1b[2J${text}\n\n${paint("grey", stamp)}\n`);
        else out(`${text}\n--- ${stamp}`);
        await sleep(Math.max(asked, failures > 0 ? Math.min(10_000, every * 2 ** (failures - 1)) : every), signal);
      }
      if (tty) note("");
    });
}
