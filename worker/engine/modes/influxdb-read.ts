// influxdb-read: both instances take dual writes; reads go to the VIP on a healthy instance.
// When an instance comes back, the window it missed is recorded as an event and (by default,
// `influxdb.autoBackfill`) copied back from a healthy peer in bounded runs; until that finished
// the instance stays out of the read VIP while a complete peer can serve
// (`influxdb.holdReadVipUntilBackfilled`).
import { groupMembers } from "../../../protocol/spec.js";
import { isAlive, isoTime as iso } from "../liveness.js";
import { backfillPending, startAutoBackfill } from "../operations.js";
import type { ModeRules } from "./types.js";

export const influxdbRead: ModeRules = {
  ineligible: () => null,
  onHealthChange({ group, node, healthy, since, now, ctx }) {
    if (!healthy || since === null) return [];
    const incident = `influxdb-gap:${group.name}:${node}:${since}`;
    const effects = [
      {
        type: "event" as const,
        kind: "influxdb.outage-window",
        severity: "warning" as const,
        group: group.name,
        node,
        actor: "engine",
        incident,
        reason: `influxdb on ${node} missed writes from ${iso(since)} to ${iso(now)} (${((now - since) / 1000).toFixed(1)} s); ${(group.influxdb?.autoBackfill ?? true) ? "copying it back from a healthy peer" : "backfill it from the healthy peer"}`,
      },
    ];
    if (ctx && (group.influxdb?.autoBackfill ?? true)) {
      ctx.effects.push(...effects);
      startAutoBackfill(ctx, group, node, since, now, incident);
      return [];
    }
    return effects;
  },
  hold(s, group, node, now) {
    if (!(group.influxdb?.holdReadVipUntilBackfilled ?? true)) return null;
    const b = backfillPending(s, group.name, node);
    if (!b?.backfill) return null;
    // Incomplete data beats no reads: hold it back only while a complete peer can serve.
    const other = groupMembers(s.persisted.spec, group).some((m) => m !== node && isAlive(s, m, now) && s.nodes[m]?.probes[group.name]?.healthy === true && backfillPending(s, group.name, m) === null);
    if (!other) return null;
    return { kind: "wait", reason: `still copying what it missed (${iso(b.backfill.windowStartMs)} .. ${iso(b.backfill.windowEndMs)}, run ${b.backfill.run}); kept out of the read VIP until then` };
  },
};
