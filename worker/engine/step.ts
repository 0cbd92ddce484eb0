// The engine: step(state, input, now) -> { state, effects, reply? }. Pure: time comes in as
// `now`, everything that must happen goes out as effects. Every decision carries a reason.
// The parts: context.ts (what a step accumulates), lease-rules.ts, candidates.ts, transitions.ts,
// on-*.ts (one per kind of input), evaluate-*.ts (what follows at `now`), deadlines.ts.
import type { HeartbeatReply } from "../../protocol/heartbeat.js";
import { ackFence, evaluateComputes } from "./compute.js";
import { StepCtx } from "./context.js";
import { nextDeadline } from "./deadlines.js";
import { desiredFor, desiredKey } from "./desired.js";
import { evaluateGroups } from "./evaluate-groups.js";
import { evaluateLiveness } from "./evaluate-liveness.js";
import { T } from "./lease-rules.js";
import { onMaintenance, onSwitchover } from "./on-admin.js";
import { onHeartbeat } from "./on-heartbeat.js";
import { onSpec } from "./on-spec.js";
import { requestOperation } from "./operations.js";
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
      onSwitchover(ctx, input.group, input.to, input.actor);
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
  }
  evaluateLiveness(ctx);
  evaluateGroups(ctx);
  evaluateComputes(ctx);
  const s = ctx.state;
  let reply: HeartbeatReply | undefined;
  if (input.type === "heartbeat") {
    // Renewals: every grant that leaves in a reply at `now` holds the lease until now + T.
    const grants: HeartbeatReply["grants"] = [];
    for (const group of s.persisted.spec.groups) {
      const g = s.groups[group.name]!;
      if (g.holder === input.node && g.phase === "held") {
        g.leaseUntil = Math.max(g.leaseUntil ?? 0, now + T(s));
        grants.push({ group: group.name, epoch: g.epoch, ttlMs: T(s) });
      }
    }
    reply = { grants, desired: desiredFor(s, input.node, now) };
  }
  if (ctx.persistNeeded) ctx.effects.push({ type: "persist", state: s.persisted });
  const keys: Record<string, string> = {};
  for (const n of s.persisted.spec.nodes) {
    keys[n.name] = desiredKey(s, n.name, now);
    if (input.type === "heartbeat" && n.name === input.node) continue;
    if (before.get(n.name) !== keys[n.name]) ctx.effects.push({ type: "push", node: n.name });
  }
  s.desiredKeys = keys;
  ctx.effects.push({ type: "alarm", at: nextDeadline(s, now) });
  const out: StepResult = { state: s, effects: ctx.effects };
  if (reply) out.reply = reply;
  if (ctx.rejected !== undefined) out.rejected = ctx.rejected;
  return out;
}

export { boot, newPersistedState };
