// Changes of hands (worker/engine/transitions.ts): every grant, free and health move is persisted
// in the step that makes it (what a restarted Durable Object knows), with the right severity and
// reason; plain renewals write nothing.
import { describe, expect, it } from "vitest";
import type { ProbeReport } from "../../protocol/heartbeat.js";
import { Shell, smallSpec } from "./support/small-spec.js";

const OK: ProbeReport = { healthy: true, detail: "ok" };
const DOWN: ProbeReport = { healthy: false, detail: "http 503" };

/** server1 and server2 beat every second from `from` to `to` with these probes. */
function both(sh: Shell, from: number, to: number, p1: ProbeReport = OK, p2: ProbeReport = OK): void {
  for (let t = from; t <= to; t += 1000) {
    sh.beat("server1", t, { probes: { api: p1 } });
    sh.beat("server2", t, { probes: { api: p2 } });
  }
}

describe("transitions", () => {
  it("the first grant is persisted in its step and is 'info'; renewals persist nothing", () => {
    const sh = new Shell(smallSpec());
    const r = sh.beat("server1", 0, { probes: { api: OK } });
    expect(sh.persistsOf(r).map((p) => p.groups.api)).toEqual([{ holder: "server1", epoch: 1, lastAutoFailoverAt: null, holderBoot: "boot-server1" }]);
    expect(sh.events("group.granted").map((e) => [e.severity, e.group, e.node, e.epoch, e.incident, e.reason])).toEqual([
      ["info", "api", "server1", 1, "group:api", "api has no holder yet; granting api epoch 1 to server1 (priority 110, healthy)"],
    ]);
    sh.beat("server2", 0, { probes: { api: OK } });
    for (let t = 1000; t <= 5000; t += 1000) {
      expect(sh.persistsOf(sh.beat("server1", t, { probes: { api: OK } }))).toEqual([]);
      expect(sh.persistsOf(sh.beat("server2", t, { probes: { api: OK } }))).toEqual([]);
    }
  });

  it("a failover after lease expiry is one persisted step with the new holder, the new epoch and the time of the automatic move; 'warning'", () => {
    const sh = new Shell(smallSpec());
    both(sh, 0, 2000);
    for (let t = 3000; t <= 5000; t += 1000) sh.beat("server2", t, { probes: { api: OK } });
    const r = sh.tick(5500);
    expect(sh.persistsOf(r).map((p) => p.groups.api)).toEqual([{ holder: "server2", epoch: 2, lastAutoFailoverAt: 5500, holderBoot: "boot-server2", lapsedHolder: "server1" }]);
    expect(sh.events("group.granted").at(-1)).toMatchObject({ severity: "warning", node: "server2", epoch: 2 });
  });

  it("a group nobody can take is persisted free: after a restart the first server back gets it at once, without waiting out the grace", () => {
    const sh = new Shell(smallSpec());
    both(sh, 0, 2000);
    const r = sh.tick(5500);
    expect(sh.persistsOf(r).map((p) => p.groups.api)).toEqual([{ holder: null, epoch: 1, lastAutoFailoverAt: null, lapsedHolder: "server1", lastHolder: "server1" }]);
    expect(sh.events("group.lost").map((e) => [e.severity, e.node, e.epoch, e.reason])).toEqual([["critical", "server1", 1, "server1 lease expired 3.5 s after its last heartbeat; api has no holder"]]);
    sh.restart(10_000);
    sh.beat("server2", 10_100, { probes: { api: OK } });
    expect(sh.holder("api")).toBe("server2");
    expect(sh.state.groups.api!.epoch).toBe(2);
  });

  it("a health move starts the hold-down when it starts: remembered across a restart before the release arrives", () => {
    const sh = new Shell(smallSpec());
    both(sh, 0, 20_000);
    const r = sh.beat("server1", 21_000, { probes: { api: DOWN } });
    // The move is persisted when it starts (no new holder or epoch yet).
    expect(sh.persistsOf(r).map((p) => p.groups.api)).toEqual([{ holder: "server1", epoch: 1, lastAutoFailoverAt: 21_000, holderBoot: "boot-server1" }]);
    expect(sh.events("group.revoking").map((e) => [e.severity, e.node, e.epoch, e.actor, e.reason])).toEqual([
      ["warning", "server1", 1, "engine", "server1's probe for api is failing (http 503); revoking api epoch 1 from server1 for server2"],
    ]);
    sh.restart(21_100);
    sh.beat("server2", 21_150, { probes: { api: OK } });
    sh.beat("server1", 21_200, { probes: { api: DOWN }, released: [{ group: "api", epoch: 1 }] });
    expect(sh.holder("api")).toBe("server2");
    both(sh, 22_000, 24_000);
    // server2 fails 4 s after the move began: the hold-down (10 s) counts from 21 000.
    sh.beat("server1", 25_000, { probes: { api: OK } });
    sh.beat("server2", 25_000, { probes: { api: DOWN } });
    expect(sh.holder("api")).toBe("server2");
    expect(sh.state.groups.api!.phase).toBe("held");
    expect(sh.events("group.hold-down").map((e) => e.reason)).toEqual(["server2's probe for api is failing (http 503); api would move to server1 but failed over 4.0 s ago: holding down 6.0 s more"]);
  });

  it("an operator's switchover is 'info' and names the operator; the planned grant starts no hold-down", () => {
    const sh = new Shell(smallSpec());
    both(sh, 0, 1000);
    const r = sh.run({ type: "switchover", group: "api", to: "server2", actor: "token:alice" }, 1100);
    expect(sh.persistsOf(r)).toEqual([]);
    expect(sh.events("group.revoking").map((e) => [e.severity, e.actor, e.node, e.incident, e.reason])).toEqual([
      ["info", "token:alice", "server1", "group:api", "switchover requested by token:alice; revoking api epoch 1 from server1 for server2"],
    ]);
    const r2 = sh.beat("server1", 1200, { probes: { api: OK }, released: [{ group: "api", epoch: 1 }] });
    expect(sh.persistsOf(r2).map((p) => p.groups.api)).toEqual([{ holder: "server2", epoch: 2, lastAutoFailoverAt: null, holderBoot: "boot-server2" }]);
    expect(sh.events("group.granted").at(-1)).toMatchObject({ severity: "info", reason: "server1 released api; granting api epoch 2 to server2 (priority 100, healthy)" });
    expect(sh.events("group.released").map((e) => [e.severity, e.node, e.epoch, e.reason])).toEqual([["info", "server1", 1, "server1 released api at epoch 1 (switchover requested by token:alice)"]]);
  });
});
