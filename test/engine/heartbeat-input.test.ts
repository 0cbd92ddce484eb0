// A node's heartbeat (worker/engine/on-heartbeat.ts, evaluate-liveness.ts): restarts and returns
// are said once, probe changes are events after the first report, outage windows start when the
// last success was (the report dates it) or when a lost node was last heard, releases count only at
// the holder's current epoch.
import { describe, expect, it } from "vitest";
import type { ProbeReport } from "../../protocol/heartbeat.js";
import { isoTime } from "../../worker/engine/liveness.js";
import { Shell, smallSpec } from "./support/small-spec.js";

const OK: ProbeReport = { healthy: true, detail: "ok" };
const DOWN: ProbeReport = { healthy: false, detail: "http 503" };
const influx = { name: "influxdb", service: "influxdb", mode: "influxdb-read" as const, vip: "192.168.231.40", ports: [{ port: 8086 }], probe: { type: "influxdb" as const } };

describe("heartbeat input", () => {
  it("the first heartbeat ever is persisted (the node is set up); later ones are not", () => {
    const sh = new Shell(smallSpec());
    const r1 = sh.beat("server2", 0, { probes: {} });
    expect(sh.persistsOf(r1).map((p) => p.heard)).toEqual([["server2"]]);
    const r2 = sh.beat("server2", 1000, { probes: {} });
    expect(sh.persistsOf(r2)).toEqual([]);
    sh.beat("server1", 1000, { probes: {} });
    expect(sh.state.persisted.heard).toEqual(["server2", "server1"]);
    // A heartbeat from a node not in the spec changes nothing.
    const r3 = sh.beat("ghost", 1100, { probes: { api: OK } });
    expect(sh.persistsOf(r3)).toEqual([]);
    expect(sh.state.persisted.heard).toEqual(["server2", "server1"]);
    expect(sh.state.nodes.ghost).toBeUndefined();
  });

  it("a shim restart (new boot id) is one warning; the same boot id says nothing", () => {
    const sh = new Shell(smallSpec());
    sh.beat("server1", 0, { bootId: "a", probes: { api: OK } });
    sh.beat("server1", 1000, { bootId: "a", probes: { api: OK } });
    expect(sh.events("node.restarted")).toEqual([]);
    sh.beat("server1", 2000, { bootId: "b", probes: { api: OK } });
    expect(sh.events("node.restarted").map((e) => [e.severity, e.node, e.reason])).toEqual([["warning", "server1", "server1's shim restarted (new boot id)"]]);
    expect(sh.state.nodes.server1).toMatchObject({ bootId: "b", lastBeatAt: 2000 });
  });

  it("a node lost and back: 'lost' (critical) after T, 'back' (resolves) with the silence, once each", () => {
    const sh = new Shell(smallSpec());
    sh.beat("server1", 0, { probes: { api: OK } });
    sh.tick(3000);
    sh.tick(3001);
    sh.tick(4000);
    sh.beat("server1", 4500, { probes: { api: OK } });
    sh.beat("server1", 5500, { probes: { api: OK } });
    expect(sh.events("node.lost").map((e) => [e.severity, e.node, e.incident, e.reason])).toEqual([["critical", "server1", "node:server1", "server1 missed heartbeats for 3.0 s (lease TTL 3.0 s)"]]);
    expect(sh.events("node.back").map((e) => [e.severity, e.node, e.incident, e.resolves, e.reason])).toEqual([["info", "server1", "node:server1", true, "server1 is sending heartbeats again after 4.5 s"]]);
  });

  it("a lost node's probes read 'node not alive' until it reports again", () => {
    const sh = new Shell(smallSpec());
    sh.beat("server1", 0, { probes: { api: OK } });
    sh.tick(3001);
    expect(sh.state.nodes.server1!.probes).toEqual({ api: { healthy: false, detail: "node not alive" } });
    sh.beat("server1", 4000, { probes: { api: OK } });
    expect(sh.state.nodes.server1!.probes).toEqual({ api: OK });
  });

  it("probe changes after the first report are events (failed: warning; recovered: info, resolves)", () => {
    const sh = new Shell(smallSpec());
    sh.beat("server1", 0, { probes: { api: DOWN } }); // the first report says nothing by itself
    sh.beat("server1", 1000, { probes: { api: OK } });
    sh.beat("server1", 2000, { probes: { api: OK } });
    sh.beat("server1", 3000, { probes: { api: DOWN } });
    sh.beat("server1", 4000, { probes: { api: DOWN } });
    sh.beat("server1", 5000, { probes: { api: { healthy: true, detail: "http 200" } } });
    // Probes of something that is not a group are kept, but not announced.
    sh.beat("server1", 6000, { probes: { api: OK, "chime-agent": DOWN } });
    sh.beat("server1", 7000, { probes: { api: OK, "chime-agent": OK } });
    expect(sh.events().filter((e) => e.kind.startsWith("probe.")).map((e) => [e.kind, e.severity, e.group, e.node, e.incident, e.resolves, e.reason])).toEqual([
      ["probe.recovered", "info", "api", "server1", "probe:api:server1", true, "server1's probe for api is healthy again (ok)"],
      ["probe.failed", "warning", "api", "server1", "probe:api:server1", undefined, "server1's probe for api is failing (http 503)"],
      ["probe.recovered", "info", "api", "server1", "probe:api:server1", true, "server1's probe for api is healthy again (http 200)"],
    ]);
    expect(sh.state.nodes.server1!.probes["chime-agent"]).toEqual(OK);
  });

  it("an outage window starts at the last success the failing report dates, not at its receipt, and only once", () => {
    const sh = new Shell(smallSpec({ groups: [influx] }));
    const t0 = Date.UTC(2026, 10, 30, 12);
    sh.beat("server1", t0, { probes: { influxdb: OK } });
    sh.beat("server2", t0, { probes: { influxdb: OK } });
    sh.beat("server2", t0 + 1000, { probes: { influxdb: { healthy: false, detail: "down", downForMs: 400 } } });
    sh.beat("server2", t0 + 2000, { probes: { influxdb: { healthy: false, detail: "down", downForMs: 1400 } } });
    sh.beat("server2", t0 + 3000, { probes: { influxdb: { healthy: false, detail: "down" } } });
    sh.beat("server2", t0 + 5000, { probes: { influxdb: OK } });
    expect(sh.events("influxdb.outage-window").map((e) => e.reason)).toEqual([
      `influxdb on server2 missed writes from ${isoTime(t0 + 600)} to ${isoTime(t0 + 5000)} (4.4 s); copying it back from a healthy peer`,
    ]);
    expect(isoTime(t0 + 600)).toBe("2026-11-30T12:00:00.600Z");
    expect(sh.state.nodes.server2!.downSince).toEqual({});
    expect(sh.state.nodes.server2!.healthySince).toEqual({ influxdb: t0 + 5000 });
  });

  it("a node lost with a healthy instance: the window starts at its last heartbeat; one already failing keeps its earlier start", () => {
    const sh = new Shell(smallSpec({ groups: [influx] }));
    sh.beat("server1", 0, { probes: { influxdb: OK } });
    sh.beat("server2", 0, { probes: { influxdb: OK } });
    sh.beat("server2", 1000, { probes: { influxdb: OK } });
    sh.beat("server1", 1000, { probes: { influxdb: { healthy: false, detail: "down", downForMs: 100 } } });
    // Both nodes fall silent after 1000 and are lost at 4001.
    sh.tick(4001);
    expect(sh.state.nodes.server2!.downSince).toEqual({ influxdb: 1000 });
    expect(sh.state.nodes.server1!.downSince).toEqual({ influxdb: 900 });
    expect(sh.state.nodes.server2!.healthySince).toEqual({});
    sh.beat("server1", 9000, { probes: { influxdb: OK } });
    sh.beat("server2", 9000, { probes: { influxdb: OK } });
    expect(sh.events("influxdb.outage-window").map((e) => [e.node, e.incident])).toEqual([
      ["server1", "influxdb-gap:influxdb:server1:900"],
      ["server2", "influxdb-gap:influxdb:server2:1000"],
    ]);
  });

  it("a release of a group the node does not hold, or of another group, frees nothing", () => {
    const sh = new Shell(smallSpec());
    sh.beat("server1", 0, { probes: { api: OK } });
    sh.beat("server2", 0, { probes: { api: OK } });
    sh.beat("server2", 100, { probes: { api: OK }, released: [{ group: "api", epoch: 1 }, { group: "nosuch", epoch: 1 }] });
    expect(sh.state.groups.api).toMatchObject({ holder: "server1", epoch: 1, phase: "held" });
    sh.beat("server1", 200, { probes: { api: OK }, released: [{ group: "api", epoch: 2 }] });
    expect(sh.state.groups.api).toMatchObject({ holder: "server1", epoch: 1, phase: "held" });
    expect(sh.events("group.released")).toEqual([]);
    // A release at the current epoch by the holder frees it and it goes to the best candidate.
    sh.beat("server1", 300, { probes: { api: OK }, released: [{ group: "api", epoch: 1 }] });
    expect(sh.events("group.released").map((e) => [e.severity, e.group, e.node, e.epoch, e.reason])).toEqual([["info", "api", "server1", 1, "server1 released api at epoch 1"]]);
  });
});
