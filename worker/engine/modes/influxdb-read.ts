// influxdb-read: both instances take dual writes; reads go to the VIP on a healthy instance.
// When an instance comes back, the window it missed is recorded (and can be backfilled).
import { isoTime as iso } from "../liveness.js";
import type { ModeRules } from "./types.js";

export const influxdbRead: ModeRules = {
  ineligible: () => null,
  onHealthChange({ group, node, healthy, since, now }) {
    if (!healthy || since === null) return [];
    return [
      {
        type: "event",
        kind: "influxdb.outage-window",
        severity: "warning",
        group: group.name,
        node,
        actor: "engine",
        incident: `influxdb-gap:${group.name}:${node}:${since}`,
        reason: `influxdb on ${node} missed writes from ${iso(since)} to ${iso(now)} (${((now - since) / 1000).toFixed(1)} s); backfill it from the healthy peer`,
      },
    ];
  },
};
