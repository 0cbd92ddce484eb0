// Mode rules (worker/engine/modes/): minio's own reasons beyond the probe's health, the director's
// pool (who is in it, with which weight, which balancer by default), influxdb's outage window.
import { describe, expect, it } from "vitest";
import type { ProbeReport } from "../../protocol/heartbeat.js";
import { desiredFor, whyNotCandidate } from "../../worker/engine/index.js";
import { Shell, smallSpec } from "./support/small-spec.js";

const OK: ProbeReport = { healthy: true, detail: "ok" };
const minioGroup = { name: "minio", service: "minio", mode: "minio" as const, vip: "192.168.231.50", ports: [{ port: 9000 }], probe: { type: "minio" as const } };
const portal = { name: "portal", service: "chime-portal", mode: "active-active-lb" as const, vip: "192.168.231.20", ports: [{ port: 80, realPort: 8033 }], probe: { type: "tcp" as const, port: 8033 } };
const influx = { name: "influxdb", service: "influxdb", mode: "influxdb-read" as const, vip: "192.168.231.40", ports: [{ port: 8086 }], probe: { type: "influxdb" as const } };

describe("minio", () => {
  it("a healthy probe is not enough: the node must be live and its cluster must have write quorum", () => {
    const sh = new Shell(smallSpec({ groups: [minioGroup] }));
    const g = sh.state.persisted.spec.groups[0]!;
    const why = (minio: ProbeReport["minio"]) => {
      sh.beat("server2", 0, { probes: { minio: { healthy: true, detail: "ok", ...(minio ? { minio } : {}) } } });
      return whyNotCandidate(sh.state, g, "server2", 0);
    };
    sh.beat("server1", 0, { probes: {} });
    expect(why(undefined)).toBe("server2: no minio report");
    expect(why({ live: false, writeQuorum: true, readQuorum: true })).toBe("server2: minio not live");
    expect(why({ live: true, writeQuorum: false, readQuorum: true })).toBe("server2: minio cluster has no write quorum");
    expect(why({ live: true, writeQuorum: true, readQuorum: false })).toBeNull();
  });
});

describe("active-active-lb", () => {
  it("the director balances over its members by weight (0 leaves one out); defaults nftables and wrr; standbys get no pool", () => {
    const sh = new Shell(smallSpec({ priorities: [110, 100, 100], groups: [{ ...portal, lb: { weights: { server2: 5, server3: 0 } } }] }));
    for (const n of ["server1", "server2", "server3"]) sh.beat(n, 0, { probes: { portal: OK } });
    expect(desiredFor(sh.state, "server1", 100).groups[0]!.lb).toEqual({
      backend: "nftables",
      scheduler: "wrr",
      realServers: [
        { node: "server1", ip: "192.168.231.11", weight: 1 },
        { node: "server2", ip: "192.168.231.12", weight: 5 },
      ],
    });
    expect(desiredFor(sh.state, "server2", 100).groups[0]!.lb).toBeUndefined();
  });

  it("only live, healthy members not in maintenance are in the pool", () => {
    const sh = new Shell(smallSpec({ priorities: [110, 100, 100], groups: [portal] }));
    for (const n of ["server1", "server2", "server3"]) sh.beat(n, 0, { probes: { portal: OK } });
    const pool = (now: number) => desiredFor(sh.state, "server1", now).groups[0]!.lb!.realServers.map((r) => r.node);
    expect(pool(100)).toEqual(["server1", "server2", "server3"]);
    sh.run({ type: "maintenance", node: "server3", on: true, actor: "op" }, 200);
    expect(pool(200)).toEqual(["server1", "server2"]);
    sh.beat("server2", 300, { probes: { portal: { healthy: false, detail: "http 502" } } });
    expect(pool(300)).toEqual(["server1"]);
    sh.run({ type: "maintenance", node: "server3", on: false, actor: "op" }, 400);
    // server3 last beat at 0: alive up to 3000, out of the pool after.
    sh.beat("server1", 3000, { probes: { portal: OK } });
    expect(pool(3000)).toEqual(["server1", "server3"]);
    sh.beat("server1", 3001, { probes: { portal: OK } });
    expect(pool(3001)).toEqual(["server1"]);
  });

  it("the spec's balancer and scheduler are passed on", () => {
    const sh = new Shell(smallSpec({ groups: [{ ...portal, lb: { backend: "ipvs", scheduler: "sh" } }] }));
    sh.beat("server1", 0, { probes: { portal: OK } });
    expect(desiredFor(sh.state, "server1", 0).groups[0]!.lb).toMatchObject({ backend: "ipvs", scheduler: "sh" });
  });
});

describe("influxdb-read", () => {
  it("the outage window is a warning from the engine; an instance healthy from its first report has none", () => {
    const sh = new Shell(smallSpec({ groups: [influx] }));
    sh.beat("server1", 0, { probes: { influxdb: OK } });
    sh.beat("server2", 0, { probes: { influxdb: { healthy: false, detail: "down", downForMs: 0 } } });
    sh.beat("server2", 2250, { probes: { influxdb: OK } });
    expect(sh.events("influxdb.outage-window").map((e) => [e.severity, e.actor, e.group, e.node, e.incident, e.reason])).toEqual([
      ["warning", "engine", "influxdb", "server2", "influxdb-gap:influxdb:server2:0", "influxdb on server2 missed writes from 1970-01-01T00:00:00.000Z to 1970-01-01T00:00:02.250Z (2.3 s); copying it back from a healthy peer"],
    ]);
    sh.beat("server2", 3000, { probes: { influxdb: OK } });
    expect(sh.events("influxdb.outage-window")).toHaveLength(1);
  });
});
