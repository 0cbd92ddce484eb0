// Every effect a step returns is a real effect (an object with a type), and every event is also a
// decision carrying exactly the group, node and epoch it names (worker/engine/context.ts); limit
// reports that change are written; a refusal of a group ends as the group's, in a spec of several.
import { describe, expect, it } from "vitest";
import { dataSpec, down, Driver, healthy } from "./support/data-spec.js";
import { API_GROUP, Shell, smallSpec } from "./support/small-spec.js";

const OK = { healthy: true, detail: "ok" };
const wellFormed = (effects: unknown[]) => effects.every((e) => typeof e === "object" && e !== null && typeof (e as { type?: unknown }).type === "string");

describe("effects and decisions", () => {
  it("every effect of a step is an object with a type, whatever the step did", () => {
    const d = new Driver(dataSpec());
    const steps = [
      d.tick(0),
      d.beat("server1", 0, { probes: { influxdb: healthy, "server-api": healthy } }),
      d.beat("server2", 0, { probes: { influxdb: healthy, "server-api": healthy } }),
      d.beat("server1", 1000, { probes: { influxdb: down, "server-api": healthy } }),
      d.beat("server1", 2000, { probes: { influxdb: healthy, "server-api": healthy } }),
      d.run({ type: "maintenance", node: null, on: true, actor: "op" }, 2500),
    ];
    for (const r of steps) expect(wellFormed(r.effects)).toBe(true);
  });

  it("a grant's decision carries its group, node and epoch; a cluster-wide one none of them", () => {
    const sh = new Shell(smallSpec());
    sh.beat("server1", 0, { probes: { api: OK } });
    sh.beat("server2", 0, { probes: { api: OK } });
    expect(sh.state.decisions.find((x) => x.kind === "group.granted")).toStrictEqual({ at: 0, kind: "group.granted", reason: expect.any(String), group: "api", node: "server1", epoch: 1 });
    sh.run({ type: "maintenance", node: null, on: true, actor: "op" }, 100);
    expect(sh.state.decisions.at(-1)).toStrictEqual({ at: 100, kind: "cluster.maintenance", reason: "maintenance on (by op): automatic decisions frozen" });
  });
});

describe("limits, once more", () => {
  it("a changed limits report is written even when nothing else changes", () => {
    const sh = new Shell(smallSpec());
    const lan = { restricted: true, vipCidrs: ["192.168.231.0/25"], minPrefixLength: 24, interfaces: ["eth0"] };
    for (let t = 0; t <= 3000; t += 1000) sh.beat("server1", t, { probes: { api: OK }, limits: lan });
    expect(sh.persistsOf(sh.beat("server1", 4000, { probes: { api: OK }, limits: lan }))).toEqual([]);
    expect(sh.persistsOf(sh.beat("server1", 5000, { probes: { api: OK }, limits: { ...lan, interfaces: ["eth0", "eth1"] } }))).toHaveLength(1);
  });

  it("a refusal of the second group of the spec ends as that group's", () => {
    const sh = new Shell(smallSpec({ groups: [API_GROUP, { ...API_GROUP, name: "web", vip: "192.168.231.9", ports: [{ port: 8802 }], probe: { type: "tcp", port: 8802 } }] }));
    const r = { group: "web", kind: "vip" as const, what: "VIP 192.168.231.9/24", limit: "limits.vip.cidrs: 10.0.0.0/8", since: 1 };
    sh.beat("server1", 0, { probes: { api: OK, web: OK }, limitRefusals: [r] });
    sh.beat("server1", 1000, { probes: { api: OK, web: OK }, limitRefusals: [] });
    expect(sh.events("limits.refusal-ended").map((e) => [e.group, e.reason])).toEqual([["web", "server1 no longer refuses the vip of web"]]);
  });
});
