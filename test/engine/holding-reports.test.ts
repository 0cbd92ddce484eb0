// What a heartbeat says about leases and the node itself (worker/engine/on-heartbeat.ts): a node
// that still holds an epoch the control plane moved past is critical, unless the current holder
// refused the grant on its failsafe promise (then it is told to release); `unreleased` makes the
// holder's group wait out its lease; a refusal is said once; `leaving` and coming back are one
// event each; a release counts only from the process that holds the lease; a repeated heartbeat
// (same seq) is not an old one.
import { describe, expect, it } from "vitest";
import type { EngineEffect } from "../../worker/engine/index.js";
import { Shell, smallSpec } from "./support/small-spec.js";

const OK = { healthy: true, detail: "ok" };
const three = () => smallSpec({ priorities: [110, 100, 90] });
const events = (effects: EngineEffect[], kind: string) => effects.flatMap((e) => (e.type === "event" && e.kind === kind ? [e] : []));

function held(): Shell {
  const sh = new Shell(three());
  for (const n of ["server1", "server2", "server3"]) sh.beat(n, 0, { probes: { api: OK } });
  expect(sh.holder("api")).toBe("server1");
  return sh;
}

/** server1 held api at epoch 1 and went silent after 1000; server2 has it at epoch 2 from 4500. */
function movedOn(): Shell {
  const sh = held();
  sh.beat("server1", 1000, { probes: { api: OK }, holding: [{ group: "api", epoch: 1 }] });
  for (let t = 1500; t <= 4500; t += 500) for (const n of ["server2", "server3"]) sh.beat(n, t, { probes: { api: OK } });
  expect([sh.holder("api"), sh.state.groups.api!.epoch]).toEqual(["server2", 2]);
  return sh;
}

describe("holding reports", () => {
  it("a node that still holds an epoch moved past: one critical note naming who has the group now, cleared when it stops", () => {
    const sh = movedOn();
    const r = sh.beat("server1", 4700, { probes: { api: OK }, holding: [{ group: "api", epoch: 1 }] });
    expect(events(r.effects, "group.stale-holder")).toEqual([
      { type: "event", kind: "group.stale-holder", severity: "critical", reason: "server1 says it still holds api at epoch 1, but epoch 2 belongs to server2", actor: "engine", group: "api", node: "server1" },
    ]);
    expect(Object.keys(sh.state.persisted.notes)).toContain("stale-holder:api:server1");
    expect(events(sh.beat("server1", 4800, { probes: { api: OK }, holding: [{ group: "api", epoch: 1 }] }).effects, "group.stale-holder")).toEqual([]);
    sh.beat("server1", 4900, { probes: { api: OK }, holding: [] });
    expect(Object.keys(sh.state.persisted.notes)).not.toContain("stale-holder:api:server1");
    // The holder reporting its own epoch, or a node reporting a newer one, is nothing to say.
    const own = sh.beat("server2", 5000, { probes: { api: OK }, holding: [{ group: "api", epoch: 2 }] });
    const newer = sh.beat("server3", 5000, { probes: { api: OK }, holding: [{ group: "api", epoch: 3 }] });
    expect([...events(own.effects, "group.stale-holder"), ...events(newer.effects, "group.stale-holder")]).toEqual([]);
    // Another node claiming the current epoch has not been moved past either.
    expect(events(sh.beat("server3", 5100, { probes: { api: OK }, holding: [{ group: "api", epoch: 2 }] }).effects, "group.stale-holder")).toEqual([]);
  });

  it("kept on a promise: the holder refused the grant because it promised the old holder; said once, as information", () => {
    const sh = movedOn();
    const refused = sh.beat("server2", 4600, { probes: { api: OK }, holding: [], refused: [{ group: "api", epoch: 2, promisedTo: "server1" }] });
    expect(events(refused.effects, "group.refused")).toEqual([
      { type: "event", kind: "group.refused", severity: "warning", reason: "server2 refused api epoch 2: it promised server1 (failsafe) not to take it while the control plane could not reach server1", actor: "engine", group: "api", node: "server2", epoch: 2 },
    ]);
    // The same refusal again is no news; a refusal for another node's promise is.
    expect(events(sh.beat("server2", 4650, { probes: { api: OK }, refused: [{ group: "api", epoch: 2, promisedTo: "server1" }] }).effects, "group.refused")).toEqual([]);
    const r = sh.beat("server1", 4700, { probes: { api: OK }, holding: [{ group: "api", epoch: 1 }] });
    expect(events(r.effects, "group.stale-holder")).toEqual([]);
    expect(events(r.effects, "group.kept-on-promise")).toEqual([
      { type: "event", kind: "group.kept-on-promise", severity: "info", reason: "server1 kept api at epoch 1 on server2's failsafe promise while it could not reach the control plane; it is told to release now", actor: "engine", group: "api", node: "server1" },
    ]);
    // A promise to someone else does not cover server3's claim.
    const other = sh.beat("server3", 4700, { probes: { api: OK }, holding: [{ group: "api", epoch: 1 }] });
    expect(events(other.effects, "group.stale-holder").map((e) => e.reason)).toEqual(["server3 says it still holds api at epoch 1, but epoch 2 belongs to server2"]);
  });

  it("a refusal no longer reported and reported again is said again", () => {
    const sh = movedOn();
    const refusal = { group: "api", epoch: 2, promisedTo: "server1" };
    expect(events(sh.beat("server2", 4600, { probes: { api: OK }, refused: [refusal] }).effects, "group.refused")).toHaveLength(1);
    sh.beat("server2", 4700, { probes: { api: OK }, refused: [] });
    expect(events(sh.beat("server2", 4800, { probes: { api: OK }, refused: [refusal] }).effects, "group.refused")).toHaveLength(1);
    expect(events(sh.beat("server2", 4900, { probes: { api: OK }, refused: [refusal, { ...refusal, promisedTo: "server3" }] }).effects, "group.refused").map((e) => e.reason)).toEqual([
      "server2 refused api epoch 2: it promised server3 (failsafe) not to take it while the control plane could not reach server3",
    ]);
  });

  it("unreleased: the holder cannot remove its VIP; no more renewals, the lease runs out, said once per epoch", () => {
    const sh = held();
    // Another epoch: not about this lease.
    sh.beat("server1", 500, { probes: { api: OK }, unreleased: [{ group: "api", epoch: 7, detail: "ip: RTNETLINK answers: Operation not permitted" }] });
    expect(sh.state.groups.api!.phase).toBe("held");
    expect(Object.keys(sh.state.persisted.notes).filter((k) => k.startsWith("unreleased:"))).toEqual([]);
    const r = sh.beat("server1", 1000, { probes: { api: OK }, unreleased: [{ group: "api", epoch: 1, detail: "ip: RTNETLINK answers: Operation not permitted" }] });
    expect(sh.state.groups.api).toMatchObject({ holder: "server1", phase: "revoking", revokeTo: null, revokeReason: "server1 is letting go of it", revokeAt: 1000 });
    expect(events(r.effects, "group.unreleased")).toEqual([
      {
        type: "event",
        kind: "group.unreleased",
        severity: "critical",
        reason: "server1 cannot remove the VIP of api (epoch 1): ip: RTNETLINK answers: Operation not permitted; waiting out its lease before api goes elsewhere",
        actor: "engine",
        group: "api",
        node: "server1",
      },
    ]);
    expect(sh.state.persisted.notes["unreleased:api:server1"]).toBe("1");
    // Still stuck: the revoke keeps its time; once it can, the note clears.
    sh.beat("server1", 1500, { probes: { api: OK }, unreleased: [{ group: "api", epoch: 1, detail: "again" }] });
    expect(sh.state.groups.api!.revokeAt).toBe(1000);
    sh.beat("server1", 1600, { probes: { api: OK } });
    expect(Object.keys(sh.state.persisted.notes)).not.toContain("unreleased:api:server1");
  });

  it("a release counts only from the shim process that holds the lease", () => {
    const sh = held();
    // An old process on its way out (it never adopts the lease) says it released: not this lease.
    sh.beat("server1", 500, { bootId: "old", leaving: true, probes: { api: OK }, released: [{ group: "api", epoch: 1 }] });
    expect(sh.holder("api")).toBe("server1");
    expect(sh.state.groups.api!.holderBoot).toBe("boot-server1");
    // The holding process lets go (the stop above set the group moving): now it counts.
    const r = sh.beat("server1", 600, { probes: { api: OK }, released: [{ group: "api", epoch: 1 }] });
    expect(events(r.effects, "group.released").map((e) => e.reason)).toEqual(["server1 released api at epoch 1 (server1 is stopping (a candidate again when it says it is back))"]);
  });

  it("stopping and coming back are one event each, only when it changes", () => {
    const sh = held();
    const stop = sh.beat("server2", 500, { probes: { api: OK }, leaving: true });
    expect(events(stop.effects, "node.leaving")).toEqual([
      { type: "event", kind: "node.leaving", severity: "info", reason: "server2 is stopping: it hands over what it holds and is not a candidate until it says it is back", actor: "engine", node: "server2", incident: "leaving:server2" },
    ]);
    expect(events(sh.beat("server2", 600, { probes: { api: OK }, leaving: true }).effects, "node.leaving")).toEqual([]);
    const back = sh.beat("server2", 700, { probes: { api: OK } });
    expect(events(back.effects, "node.back")).toEqual([{ type: "event", kind: "node.back", severity: "info", reason: "server2 is back: a candidate again", actor: "engine", node: "server2", incident: "leaving:server2", resolves: true }]);
    expect(events(sh.beat("server2", 800, { probes: { api: OK } }).effects, "node.back")).toEqual([]);
  });

  it("a probe's first report is no recovery; a failing probe that passes again is", () => {
    const sh = held();
    expect(sh.effects.filter((e) => e.type === "event" && e.kind === "probe.recovered")).toEqual([]);
    sh.beat("server2", 500, { probes: { api: { healthy: false, detail: "refused" } } });
    const r = sh.beat("server2", 600, { probes: { api: OK } });
    expect(events(r.effects, "probe.recovered").map((e) => [e.reason, e.incident])).toEqual([["server2's probe for api is healthy again (ok)", "probe:api:server2"]]);
  });

  it("a heartbeat repeated with the same seq is taken (only an older seq of the same process is out of date)", () => {
    const sh = held();
    sh.beat("server2", 500, { bootId: "b", seq: 5, probes: { api: OK } });
    sh.beat("server2", 600, { bootId: "b", seq: 5, probes: { api: { healthy: false, detail: "refused" } } });
    expect(sh.state.nodes.server2!.lastBeatAt).toBe(600);
    expect(sh.state.nodes.server2!.probes.api!.healthy).toBe(false);
    sh.beat("server2", 700, { bootId: "b", seq: 4, probes: { api: OK } });
    expect(sh.state.nodes.server2!.lastBeatAt).toBe(600);
  });
});
