// Liveness changes become events once (node lost / back), and a lost node's healthy probes
// start outage windows. Pure.
import type { StepCtx } from "./context.js";
import { T } from "./lease-rules.js";
import { isAlive, secs } from "./liveness.js";

export function evaluateLiveness(ctx: StepCtx): void {
  const s = ctx.state;
  for (const n of s.persisted.spec.nodes) {
    const rt = s.nodes[n.name];
    if (!rt || rt.lastBeatAt === null || !rt.aliveReported) continue;
    if (!isAlive(s, n.name, ctx.now)) {
      rt.aliveReported = false;
      for (const name of Object.keys(rt.probes)) {
        if (rt.probes[name]!.healthy) rt.downSince[name] = rt.lastBeatAt;
        rt.probes[name] = { healthy: false, detail: "node not alive" };
        delete rt.healthySince[name];
      }
      ctx.event("node.lost", "critical", `${n.name} missed heartbeats for ${secs(ctx.now - rt.lastBeatAt)} (lease TTL ${secs(T(s))})`, { node: n.name, incident: `node:${n.name}` });
    }
  }
}

