// Apply failures the shims report (a director that cannot program IPVS, an `ip addr add` that
// fails): kept per node as the shim reports them; one still reported APPLY_PERSIST_MS after this
// control plane first saw it is persistent and becomes one event (said once, resolved when the
// shim stops reporting it). Status shows them. Pure.
import type { ApplyError } from "../../protocol/heartbeat.js";
import type { StepCtx } from "./context.js";
import { isoTime } from "./liveness.js";
import type { EngineState } from "./types.js";

/** Shorter failures are retries that worked out; longer ones need a person. */
export const APPLY_PERSIST_MS = 3000;

export const applyErrorKey = (e: Pick<ApplyError, "group" | "target">) => `${e.group ?? "-"}:${e.target}`;
const noteKey = (node: string, key: string) => `apply:${key}:${node}`;

/** One line: what failed, how, since when. */
export function describeApplyError(node: string, e: ApplyError): string {
  const what = e.group ? `${e.target} for ${e.group}` : e.target;
  const how = e.exitCode === null ? "could not run" : `exited ${e.exitCode}`;
  const tail = e.stderrTail.trim().split("\n").at(-1)?.trim();
  return `${node} cannot apply ${what}: \`${e.command}\` ${how}${tail ? ` (${tail})` : ""}, failing since ${isoTime(e.since)}`;
}

/** The persistent failures of `node` (seen for APPLY_PERSIST_MS or longer). */
export function persistentApplyErrors(s: EngineState, node: string, now: number): ApplyError[] {
  return Object.values(s.nodes[node]?.applyErrors ?? {})
    .filter((a) => now - a.firstSeenAt >= APPLY_PERSIST_MS)
    .map((a) => a.error);
}

export function onApplyErrors(ctx: StepCtx, node: string, reported: ApplyError[]): void {
  const rt = ctx.state.nodes[node];
  if (!rt) return;
  const now = ctx.now;
  const next: typeof rt.applyErrors = {};
  for (const e of reported) {
    const key = applyErrorKey(e);
    next[key] = { error: e, firstSeenAt: rt.applyErrors[key]?.firstSeenAt ?? now };
  }
  rt.applyErrors = next;
  // Ended: whatever this node no longer reports (also a note left from before a restart).
  for (const k of Object.keys(ctx.state.persisted.notes)) {
    if (!k.startsWith("apply:") || !k.endsWith(`:${node}`)) continue;
    const key = k.slice("apply:".length, -(node.length + 1));
    if (next[key]) continue;
    ctx.clearNote(k);
    const group = key.slice(0, key.indexOf(":"));
    const target = key.slice(key.indexOf(":") + 1);
    ctx.event("apply.recovered", "info", `${node} applies ${target}${group === "-" ? "" : ` for ${group}`} again`, {
      node,
      ...(group === "-" ? {} : { group }),
      incident: `apply:${key}:${node}`,
      resolves: true,
    });
  }
  for (const [key, a] of Object.entries(next)) {
    if (now - a.firstSeenAt < APPLY_PERSIST_MS) continue;
    const e = a.error;
    const holds = e.group !== undefined && ctx.state.groups[e.group]?.holder === node;
    ctx.note(noteKey(node, key), "apply.failed", holds ? "critical" : "warning", describeApplyError(node, e), {
      node,
      ...(e.group ? { group: e.group } : {}),
      identity: `${e.command}\n${e.exitCode}`,
      incident: `apply:${key}:${node}`,
    });
  }
}
