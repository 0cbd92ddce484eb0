// The readable parts of an alert: a title (what happened, where) and what to do about it. The
// "why" is always the engine's own reason string from the event.
import type { Alert } from "./types.js";

type Phase = Alert["phase"];

const ACTIONS: Record<string, string> = {
  "node.lost": "Check the node: power, network, and the chime-ha-shim service (journalctl -u chime-ha-shim). Its groups fail over by themselves.",
  "node.back": "Nothing to do; confirm the node's services are healthy in `chime-ha status`.",
  "node.restarted": "The shim restarted; check its log for the cause if this repeats.",
  "group.lost": "No node can hold this VIP: check the probes on every member (`chime-ha status`), then the services behind them.",
  "group.revoking": "The VIP is moving; watch `chime-ha status` until a new holder has it.",
  "group.granted": "The VIP has a holder again; find out why the previous one failed before it is needed again.",
  "group.no-candidate": "No member can take this VIP: bring a member's service back (its probe must pass) or end its maintenance.",
  "group.frozen": "Cluster maintenance holds this decision back; end maintenance to let the group fail over.",
  "group.released": "The holder gave the VIP up; a new holder is chosen next.",
  "cluster.spec": "A new spec version is live; check `chime-ha status` that groups settled as planned.",
  "compute.fence-acked": "Evacuation may now proceed; make sure the node really is powered off.",
  "probe.failed": "Check the service behind this probe on that node; the VIP moves away if it keeps failing.",
  "probe.recovered": "Nothing to do; the service is healthy again.",
  "cluster.maintenance": "Automatic failover is frozen while maintenance is on; turn it off when the work is done.",
  "node.maintenance": "The node takes no groups while in maintenance; turn it off when the work is done.",
  "compute.suspect": "A compute node is silent; start a chime-server holder so it can be fenced, or check it by hand.",
  "compute.fencing": "Fencing is running; if it fails, power the node off by hand and ack the fence through the API.",
  "compute.fence-failed": "Power the node off by hand (IPMI or at the rack), then `chime-ha ack-fence CLUSTER NODE` so its VMs are evacuated.",
  "compute.fenced": "Make sure its VMs are running elsewhere.",
  "compute.evacuating": "Watch the evacuation in chime-server; VMs come up on the remaining compute nodes.",
  "compute.evacuated": "Check that every VM of that node runs elsewhere, then repair the node.",
  "compute.evacuate-failed": "Evacuate the node's VMs by hand in chime-server.",
  "compute.alive": "Nothing to do; the compute node heartbeats again.",
  "influxdb.outage-window": "Copy the window to the instance: `chime-ha operation backfill CLUSTER --group GROUP --node NODE --database DB --start ... --end ...`.",
  "group.waiting": "A group that never had a holder: install and start chime-ha-shim on its members (see examples/shim.yaml). Otherwise a candidate is catching up or due to report again and the group moves by itself; if this lasts, check replication on the candidate.",
  "compute.no-fence": "Add a fence (IPMI or webhook) to the node in the spec, or be ready to power it off by hand and `chime-ha ack-fence` when it dies.",
  "apply.failed": "Fix what the command's error says on that node (a missing kernel module or tool, permissions); `chime-ha status` shows the command and its error.",
  "apply.recovered": "Nothing to do; the node applies its changes again.",
  "influxdb.backfill-started": "Nothing to do: the returning instance copies what it missed from its peer and stays out of the read VIP until it has it.",
  "influxdb.backfill-progress": "Nothing to do unless a run keeps failing: check the peer's and the instance's influxd logs.",
  "influxdb.backfill-finished": "Nothing to do: the instance has every point it missed again.",
  "influxdb.backfill-failed": "Copy the window by hand once a healthy peer is up: `chime-ha operation backfill CLUSTER --group GROUP --node NODE --database DB --start ... --end ...`.",
  "compute.agent-down": "Restart chime-agent on the node (systemctl restart chime-agent); its VMs keep running, but chime-server cannot manage them until it is back. The node is not fenced while its host answers.",
  "group.promotion-refused": "The standby may lack writes the old writer acknowledged: bring the old writer back (it takes the group again with everything it had), or accept the loss with a switchover with acceptDataLoss to the standby.",
  "mysql.semi-sync-off": "The writer acknowledges commits that no standby has: check the standby's replication (SHOW SLAVE STATUS, its IO thread) and the network between the servers.",
  "mysql.errant-transactions": "A server has transactions the writer never had: inspect them (mysqlbinlog), then rebuild that server from the writer or re-apply them there by hand; it is not promoted meanwhile.",
  "mysql.config-drift": "Set the server back to the recommended settings (README, Data services) and restart it if the setting is not dynamic.",
  "mysql.two-writers": "Two servers accept writes: set read_only=1 on the one that is not the holder at once and check its shim and lease.",
  "mysql.data-loss-accepted": "An operator promoted a server that may lack acknowledged writes: reconcile what the old writer had (its errant transactions are reported when it returns).",
  "mysql.possible-loss-promotion": "The policy promoted a server that may lack acknowledged writes: reconcile what the old writer had when it returns.",
  "sla.burn": "The group is spending its error budget fast: find why it is down (`chime-ha status`, the group's events), then see what is left with `chime-ha report CLUSTER`.",
  "sla.burn-stopped": "Nothing to do now; `chime-ha report CLUSTER` shows how much of the budget the outage took.",
  "drill.passed": "Nothing to do: failover works. The figures are in `chime-ha report CLUSTER`.",
  "drill.refused": "The drill did not run: fix what the reason names (an unhealthy member, maintenance, hold-down); it is tried again while its window lasts, or ask for one with POST /v1/clusters/:id/drills.",
  "drill.failed": "Failover did not complete as planned: check the target node and the group's events before a real failure needs it.",
};

export function actionFor(kind: string, phase: Phase): string {
  if (phase === "test") return "Nothing to do: this is a test message sent from the chime-ha API.";
  if (phase === "resolved") return "Nothing to do: the incident cleared by itself. Review its cause when convenient.";
  return ACTIONS[kind] ?? "Check `chime-ha status` and the cluster's events for details.";
}

export function titleFor(a: Pick<Alert, "phase" | "kind" | "cluster" | "group" | "node" | "severity">): string {
  const where = [a.cluster, a.group ? `group ${a.group}` : null, a.node ? `node ${a.node}` : null].filter(Boolean).join(" / ") || "chime-ha";
  const what = a.kind.replace(/[.-]/g, " ");
  const head = a.phase === "resolved" ? "RESOLVED" : a.phase === "test" ? "TEST" : a.phase === "update" ? `UPDATE ${a.severity.toUpperCase()}` : a.severity.toUpperCase();
  return `[${head}] ${what} on ${where}`;
}

/** A few plain lines shared by every format: where, why, what to do. */
export function lines(a: Alert): { label: string; value: string }[] {
  const where = [a.site ? `site ${a.site}` : null, a.cluster ? `cluster ${a.cluster}` : null, a.group ? `group ${a.group}` : null, a.node ? `node ${a.node}` : null, a.epoch !== null ? `epoch ${a.epoch}` : null]
    .filter(Boolean)
    .join(", ");
  const out = [
    { label: "Where", value: where || "-" },
    { label: "Why", value: a.reason },
    { label: "What to do", value: a.action },
  ];
  if (a.phase === "resolved" && a.updates > 0) out.push({ label: "Updates folded", value: String(a.updates) });
  out.push({ label: "When", value: new Date(a.at).toISOString() });
  return out;
}

export const COLORS = { critical: 0xd00000, warning: 0xf2a900, info: 0x2b7de9, resolved: 0x2eb67d } as const;
export function colorOf(a: Alert): number {
  return a.phase === "resolved" ? COLORS.resolved : COLORS[a.severity];
}
export const hex = (n: number) => n.toString(16).padStart(6, "0");
