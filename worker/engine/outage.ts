// A control-plane outage as a node saw it (heartbeat `outage`): the control plane cannot record
// its own absence, so each shim says, with the first heartbeat that gets through, from when to
// when it could not reach the control plane and what it held meanwhile. Recorded once per outage
// and node: a warning when a group was lost during it (its lease ended and the VIP went), else
// info. Pure.
import type { OutageReport } from "../../protocol/heartbeat.js";
import type { StepCtx } from "./context.js";
import { isoTime, secs } from "./liveness.js";

export function onOutage(ctx: StepCtx, node: string, bootId: string, outage: OutageReport | undefined): void {
  const rt = ctx.state.nodes[node];
  if (!rt || !outage) return;
  const id = `${bootId}:${outage.id}`;
  if (rt.outageSeen === id) return; // a later report of an outage already recorded (its reply was lost)
  rt.outageSeen = id;
  const from = ctx.now - outage.fromAgoMs;
  const kept = outage.held.filter((h) => h.lostAgoMs === undefined);
  const lost = outage.held.filter((h) => h.lostAgoMs !== undefined);
  const held = [
    ...kept.map((h) => `${h.group} (epoch ${h.epoch}${h.keptOnPromises ? ", kept on its peers' failsafe promises" : ""})`),
    ...lost.map((h) => `${h.group} (epoch ${h.epoch}) until ${isoTime(ctx.now - h.lostAgoMs!)}, when its lease ended and the VIP went`),
  ];
  const meanwhile = held.length ? `it held ${held.join(", ")}` : "it held no group";
  ctx.event(
    "node.control-plane-outage",
    lost.length ? "warning" : "info",
    `${node} could not reach the control plane from ${isoTime(from)} to ${isoTime(ctx.now)} (${secs(ctx.now - from)}; ${outage.failures} heartbeats failed, the last: ${outage.lastError}); meanwhile ${meanwhile}`,
    { node },
  );
}
