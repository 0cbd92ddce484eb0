// Local limits as the control plane sees them (protocol/limits.ts): what each node reported it
// allows (kept, persisted when it changes, so the API can refuse a spec change no member would
// accept even while the nodes are silent), and what each node refused. A refusal is said once as
// a critical event and resolved when the node stops reporting it; a node that refuses a group, or
// whose reported limits do not allow its VIP, is no candidate for it. Pure.
import { describeRefusal, type LimitRefusal, type LimitsReport, vipRefusal } from "../../protocol/limits.js";
import { type ClusterSpec, groupMembers, type GroupSpec } from "../../protocol/spec.js";
import type { StepCtx } from "./context.js";
import { isShadowGroup } from "./shadow.js";
import type { EngineState } from "./types.js";

/** Refusals about a group's own desired state (the rest are one-shot operations). */
const GROUP_KINDS = new Set<LimitRefusal["kind"]>(["vip", "interface", "lb-port", "lb-real-server"]);

const refusalKey = (r: LimitRefusal) => `${r.group ?? r.operation ?? "-"}/${r.kind}`;
/** Ends in the node's name, so the note carries over a spec change while the node stays (on-spec.ts). */
const noteKey = (node: string, key: string) => `refuse:${key}:${node}`;

export function onLimits(ctx: StepCtx, node: string, report: LimitsReport | undefined, refusals: LimitRefusal[]): void {
  const s = ctx.state;
  const rt = s.nodes[node];
  if (!rt) return;
  const p = s.persisted;
  // Written only when it changes: a steady heartbeat costs no write.
  if (report !== undefined && JSON.stringify(p.limits?.[node]) !== JSON.stringify(report)) {
    const first = p.limits?.[node] === undefined;
    p.limits = { ...p.limits, [node]: report };
    ctx.persistNeeded = true;
    ctx.event("node.limits", "info", `${node} ${first ? "reports" : "changed"} its local limits: ${describeLimits(report)}`, { node });
  }
  rt.limitRefusals = refusals;
  const current = new Map(refusals.map((r) => [noteKey(node, refusalKey(r)), r]));
  for (const k of Object.keys(p.notes)) {
    if (!k.startsWith("refuse:") || !k.endsWith(`:${node}`) || current.has(k)) continue;
    ctx.clearNote(k);
    const scope = k.slice("refuse:".length, -(node.length + 1));
    const [of = "-", kind = ""] = scope.split("/");
    const isGroup = s.persisted.spec.groups.some((g) => g.name === of);
    ctx.event("limits.refusal-ended", "info", `${node} no longer refuses the ${kind} ${isGroup ? `of ${of}` : `(operation ${of})`}`, {
      node,
      ...(isGroup ? { group: of } : {}),
      incident: k,
      resolves: true,
    });
  }
  for (const [k, r] of current) {
    ctx.note(k, "limits.refused", "critical", describeRefusal(node, r), { node, ...(r.group ? { group: r.group } : {}), identity: `${r.what}\n${r.limit}`, incident: k });
  }
}

export function describeLimits(r: LimitsReport): string {
  if (!r.restricted) return "none set (it applies whatever it is sent)";
  const ifaces = r.interfaceOverride ? `interface ${r.interfaceOverride} (its config puts every VIP there)` : `interfaces ${r.interfaces.join(", ") || "none"}`;
  if (!r.vipCidrs.length) return "no VIPs at all";
  return `VIPs in ${r.vipCidrs.join(", ")} (prefix /${r.minPrefixLength} or longer) on ${ifaces}`;
}

/** The interface a node puts `group`'s VIP on: its config's override, else the spec's. */
const ifaceOn = (r: LimitsReport, group: GroupSpec) => r.interfaceOverride ?? group.interface;

/**
 * Why `node` will not hold `group`: it reported refusing the group, or its reported limits do not
 * allow the group's VIP (a spec change the node has not answered yet). Null when neither.
 */
export function limitsHold(s: EngineState, group: GroupSpec, node: string): string | null {
  if (isShadowGroup(s.persisted.spec, group)) return null; // shadow groups apply nothing
  const refused = s.nodes[node]?.limitRefusals.find((r) => r.group === group.name && GROUP_KINDS.has(r.kind));
  if (refused) return describeRefusal(node, refused);
  const report = s.persisted.limits?.[node];
  const r = report && vipRefusal(report, group.vip, group.prefix, ifaceOn(report, group));
  return r ? describeRefusal(node, { ...r, group: group.name }) : null;
}

/** A VIP a spec change would put where no member of its group allows it. */
export interface SpecLimitProblem {
  /** Index of the group in the new spec. */
  group: number;
  field: "vip" | "interface";
  message: string;
}

/**
 * What the control plane refuses at the API before a new spec reaches any node: a group whose
 * VIP, prefix, interface or members changed, when every member reported its limits and none of
 * them allows the VIP there. A member that never reported (a shim older than limits, a node not
 * set up yet) might allow anything: such a group is let through and the nodes judge it
 * themselves. Groups left as they were are not judged again (a node's limits narrowed later is
 * that node's refusal, not a reason to block unrelated edits).
 */
export function specLimitProblems(old: ClusterSpec, next: ClusterSpec, limits: Record<string, LimitsReport>): SpecLimitProblem[] {
  const out: SpecLimitProblem[] = [];
  next.groups.forEach((group, i) => {
    if (isShadowGroup(next, group)) return;
    const before = old.groups.find((g) => g.name === group.name);
    const members = groupMembers(next, group);
    if (before && before.vip === group.vip && before.prefix === group.prefix && before.interface === group.interface && JSON.stringify(groupMembers(old, before)) === JSON.stringify(members)) return;
    const reports = members.map((m) => [m, limits[m]] as const);
    if (reports.some(([, r]) => r === undefined)) return;
    const why = reports.map(([m, r]) => [m, vipRefusal(r!, group.vip, group.prefix, ifaceOn(r!, group))] as const);
    if (why.some(([, r]) => r === null)) return;
    const field = why.every(([, r]) => r!.kind === "interface") ? "interface" : "vip";
    out.push({
      group: i,
      field,
      message: `no member of ${group.name} allows VIP ${group.vip}/${group.prefix} on ${group.interface}: ${why.map(([m, r]) => `${m}: ${r!.what} is outside ${r!.limit}`).join("; ")}`,
    });
  });
  return out;
}
