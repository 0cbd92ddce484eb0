// The engine: step(state, input, now) -> { state, effects, reply? }. Pure: time comes in as
// `now`, everything that must happen goes out as effects. Every decision carries a reason.
// The parts: context.ts (what a step accumulates), lease-rules.ts, candidates.ts, transitions.ts,
// on-*.ts (one per kind of input), evaluate-*.ts (what follows at `now`), deadlines.ts.
import type { HeartbeatReply, PushedGrants } from "../../protocol/heartbeat.js";
import { ackFence, evaluateComputes } from "./compute.js";
import { StepCtx } from "./context.js";
import { nextAlarm } from "./deadlines.js";
import { desiredFor, desiredKey } from "./desired.js";
import { evaluateDrills, onDrill } from "./drills.js";
import { evaluateGroups } from "./evaluate-groups.js";
import { recordHandoffs } from "./handoff.js";
import { evaluateLiveness } from "./evaluate-liveness.js";
import { T } from "./lease-rules.js";
import { recordLedger } from "./ledger.js";
import { onMaintenance, onSwitchover } from "./on-admin.js";
import { onHeartbeat } from "./on-heartbeat.js";
import { onSpec } from "./on-spec.js";
import { chimeMoves, observe } from "./shadow.js";
import { requestOperation } from "./operations.js";
import { evaluateBurn } from "./sla.js";
import { setPersistedGroup } from "./transitions.js";
import { boot, cloneState, newPersistedState } from "./state.js";
import type { EngineInput, EngineState, StepResult } from "./types.js";

export function step(state: EngineState, input: EngineInput, now: number): StepResult {
  // What each node was last told (cached from the previous step; computed after a boot).
  const before = new Map(state.persisted.spec.nodes.map((n) => [n.name, state.desiredKeys[n.name] ?? desiredKey(state, n.name, now)]));
  const ctx = new StepCtx(cloneState(state), now);
  switch (input.type) {
    case "heartbeat":
      onHeartbeat(ctx, input.node, input.request);
      break;
    case "tick":
      break;
    case "switchover":
      onSwitchover(ctx, input.group, input.to, input.actor, input.acceptDataLoss ?? false);
      break;
    case "maintenance":
      onMaintenance(ctx, input.node, input.on, input.actor);
      break;
    case "spec":
      onSpec(ctx, input);
      break;
    case "ack-fence":
      ackFence(ctx, input.node, input.actor);
      break;
    case "run-operation":
      requestOperation(ctx, input.request, input.actor);
      break;
    case "drill":
      onDrill(ctx, input.group, input.actor, input.returnAfterMs);
      break;
  }
  evaluateLiveness(ctx);
  evaluateGroups(ctx);
  evaluateComputes(ctx);
  evaluateDrills(ctx);
  // Shadow mode: the incumbent's VIPs as this node reports them, then chime-ha's own moves.
  // (Not from a heartbeat that is no news: an older report must not overwrite a newer one.)
  if (input.type === "heartbeat" && !ctx.staleHeartbeat && !ctx.heldUpHeartbeat) observe(ctx, input.node, input.request.observed ?? []);
  chimeMoves(ctx, state);
  // Availability: the ledger notes what changed (transitions only), then burn-rate alerts.
  recordLedger(ctx);
  evaluateBurn(ctx);
  const s = ctx.state;
  let reply: HeartbeatReply | undefined;
  if (input.type === "heartbeat") {
    // Renewals: every grant that leaves in a reply at `now` holds the lease until now + T.
    const grants: HeartbeatReply["grants"] = [];
    for (const group of s.persisted.spec.groups) {
      const g = s.groups[group.name]!;
      if (g.holder === input.node && g.phase === "held" && !ctx.staleHeartbeat) {
        if (g.holderBoot !== input.request.bootId && !(input.request.leaving ?? false)) {
          // This process adopts the lease (a restarted shim): from now on only it may release.
          // (A stopping process never adopts: its late heartbeat must not take the group back.)
          g.holderBoot = input.request.bootId;
          setPersistedGroup(ctx, group.name, g);
        }
        g.leaseUntil = Math.max(g.leaseUntil ?? 0, now + T(s));
        grants.push({ group: group.name, epoch: g.epoch, ttlMs: T(s) });
      }
    }
    // Direct handoff: what this reply names the node for is recorded before it leaves (a stale
    // heartbeat's reply too: its desired state names as well).
    recordHandoffs(s, input.node, now);
    reply = { grants, desired: desiredFor(s, input.node, now) };
  }
  if (ctx.persistNeeded) ctx.effects.push({ type: "persist", state: s.persisted });
  const keys: Record<string, string> = {};
  const pushed = pushedGrants(state, s, input.type === "heartbeat" ? input.node : null);
  // Pushed grants count as a reply to one of the node's heartbeats: their desired state names too.
  for (const node of pushed.keys()) recordHandoffs(s, node, now);
  for (const n of s.persisted.spec.nodes) {
    keys[n.name] = desiredKey(s, n.name, now);
    if (input.type === "heartbeat" && n.name === input.node) continue;
    if (before.get(n.name) !== keys[n.name]) {
      const grants = pushed.get(n.name);
      ctx.effects.push(grants ? { type: "push", node: n.name, grants } : { type: "push", node: n.name });
    }
  }
  s.desiredKeys = keys;
  ctx.effects.push({ type: "alarm", at: nextAlarm(s, now) });
  const out: StepResult = { state: s, effects: ctx.effects };
  if (reply) out.reply = reply;
  if (ctx.rejected !== undefined) out.rejected = ctx.rejected;
  return out;
}

/**
 * Groups granted in this step to a node other than the one whose heartbeat is being answered:
 * they go out at once on its socket, as a reply to the last heartbeat received from it (its
 * lease then counts from when it sent that heartbeat; ours from now, which is later).
 */
function pushedGrants(before: EngineState, s: EngineState, answering: string | null): Map<string, PushedGrants> {
  const out = new Map<string, PushedGrants>();
  for (const group of s.persisted.spec.groups) {
    const g = s.groups[group.name]!;
    const was = before.groups[group.name];
    if (g.holder === null || g.holder === answering || g.phase !== "held" || (was && was.epoch === g.epoch)) continue;
    const rt = s.nodes[g.holder];
    if (!rt || rt.bootId === null || rt.lastBeatAt === null) continue;
    const entry = out.get(g.holder) ?? { type: "grant" as const, bootId: rt.bootId, seq: rt.seq, grants: [] };
    entry.grants.push({ group: group.name, epoch: g.epoch, ttlMs: T(s) });
    out.set(g.holder, entry);
  }
  return out;
}

export { boot, newPersistedState };
