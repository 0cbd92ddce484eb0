// Who may take a group and in which order (worker/engine/candidates.ts): a group that never had a
// holder waits, in words, for each member's first heartbeat and then its first probe result; once
// it had one, nothing is "being set up" any more. Candidates are ordered by the mode's own rule
// first (mysql-writer: most received wins), then priority, then spec order.
import { describe, expect, it } from "vitest";
import { candidates, waitingFor } from "../../worker/engine/candidates.js";
import { dataSpec, Driver, mysqlOk } from "./support/data-spec.js";
import { Shell, smallSpec } from "./support/small-spec.js";

const OK = { healthy: true, detail: "ok" };

describe("waiting for a new group's members", () => {
  it("names who has not sent a first heartbeat, then who has not sent a first probe result", () => {
    const sh = new Shell(smallSpec({ priorities: [110, 100, 90] }));
    const api = sh.state.persisted.spec.groups[0]!;
    const at = (now: number) => waitingFor(sh.state, api, now);
    expect(at(0)).toBe("the first heartbeat from server1, server2 and server3");
    sh.beat("server1", 100, { probes: {} });
    expect(at(100)).toBe("the first heartbeat from server2 and server3 and the first api probe result from server1");
    sh.beat("server2", 200, { probes: {} });
    expect(at(200)).toBe("the first heartbeat from server3 and the first api probe result from server1 and server2");
    sh.beat("server3", 300, { probes: {} });
    expect(at(300)).toBe("the first api probe result from server1, server2 and server3");
    // One member has reported: the group is judged, not waited for.
    sh.beat("server2", 400, { probes: { api: { healthy: false, detail: "refused" } } });
    expect(at(400)).toBeNull();
  });

  it("a group that had a holder is not being set up", () => {
    const sh = new Shell(smallSpec());
    sh.beat("server1", 0, { probes: { api: OK } });
    expect(sh.holder("api")).toBe("server1");
    const api = sh.state.persisted.spec.groups[0]!;
    sh.state.groups.api = { ...sh.state.groups.api!, holder: null, phase: "free" };
    sh.state.persisted.heard = [];
    expect(waitingFor(sh.state, api, 100)).toBeNull();
  });
});

describe("candidate order", () => {
  it("mysql-writer: the server that received most comes first, whatever its priority; equal positions go by priority", () => {
    const spec = dataSpec();
    const d = new Driver(dataSpec({ ...spec, groups: spec.groups.filter((g) => g.name === "mysql") }));
    const mysql = d.state.persisted.spec.groups[0]!;
    // In maintenance: nothing is granted, so both stay candidates for a first grant.
    d.run({ type: "maintenance", node: null, on: true, actor: "ops" }, 0);
    d.beat("server1", 0, { probes: { mysql: mysqlOk({ gtidIoPos: "0-1-40", gtidCurrentPos: "0-1-40" }) } });
    d.beat("server2", 0, { probes: { mysql: mysqlOk({ gtidIoPos: "0-1-50", gtidCurrentPos: "0-1-50" }) } });
    expect(candidates(d.state, mysql, 10)).toEqual(["server2", "server1"]);
    d.beat("server1", 20, { probes: { mysql: mysqlOk({ gtidIoPos: "0-1-50", gtidCurrentPos: "0-1-50" }) } });
    expect(candidates(d.state, mysql, 30)).toEqual(["server1", "server2"]);
    expect(candidates(d.state, mysql, 30, "server1")).toEqual(["server2"]);
  });
});
