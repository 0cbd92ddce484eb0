// Compute-node death as the operator sees it (worker/engine/compute.ts): every event of a death
// is critical (fencing, a failed fence, a suspect node, evacuating, a failed evacuation) except the
// accepted evacuation (a warning) and a re-issue (a warning), and all of them belong to one
// incident per node, `compute:<node>`, so an alert groups them.
import { describe, expect, it } from "vitest";
import { dataSpec, Driver, healthy } from "./support/data-spec.js";

const DEAD = 10_000;

function cluster(): Driver {
  const d = new Driver();
  for (const n of ["node1", "node2", "node3"]) d.beat(n, 0);
  d.beat("server1", 0, { probes: { "server-api": healthy } });
  d.beat("server2", 0, { probes: { "server-api": healthy } });
  return d;
}
function serversBeat(d: Driver, from: number, until: number): void {
  for (let t = from; t <= until; t += 1000) {
    d.beat("server1", t, { probes: { "server-api": healthy } });
    d.beat("server2", t, { probes: { "server-api": healthy } });
  }
}
const compute = (d: Driver) => d.effects.flatMap((e) => (e.type === "event" && e.kind.startsWith("compute.") ? [[e.kind, e.severity, e.node, e.incident] as const] : []));

describe("compute events: severity and incident", () => {
  it("fencing, a fence without a fence configured, a failed fence, evacuating, evacuated, a failed evacuation", () => {
    const d = cluster();
    serversBeat(d, 1000, DEAD);
    d.beat("server1", DEAD + 100, { operations: [{ id: "op-1-fence-node1", ok: false, detail: "ipmi down" }] });
    d.beat("server1", DEAD + 200, { operations: [{ id: "op-2-fence-node2", ok: true, detail: "" }] });
    const evac = d.desired("server1", DEAD + 200).operations.find((o) => o.kind === "evacuate")!;
    d.beat("server1", DEAD + 300, { operations: [{ id: evac.id, ok: false, detail: "http 500" }] });
    expect(compute(d).filter(([k]) => k !== "compute.no-fence")).toEqual([
      ["compute.fencing", "critical", "node1", "compute:node1"],
      ["compute.fencing", "critical", "node2", "compute:node2"],
      ["compute.fence-failed", "critical", "node3", "compute:node3"],
      ["compute.fence-failed", "critical", "node1", "compute:node1"],
      ["compute.evacuating", "critical", "node2", "compute:node2"],
      ["compute.evacuate-failed", "critical", "node2", "compute:node2"],
    ]);
    // An empty detail reads "ok".
    expect(d.events("compute.evacuating")[0]!.reason).toMatch(/^node2 fenced \(fence by server1: ok\); asking chime-server on server1 to evacuate its VMs \(idempotency key dc1\.data\/node2\/\d+\)$/);
  });

  it("an accepted evacuation is a warning of the same incident; an empty detail reads ok", () => {
    const d = cluster();
    serversBeat(d, 1000, DEAD);
    d.beat("server1", DEAD + 200, { operations: [{ id: "op-2-fence-node2", ok: true, detail: "webhook 200" }] });
    const evac = d.desired("server1", DEAD + 200).operations.find((o) => o.kind === "evacuate")!;
    d.beat("server1", DEAD + 300, { operations: [{ id: evac.id, ok: true, detail: "" }] });
    expect(d.events("compute.evacuated").map((e) => [e.severity, e.incident, e.reason])).toEqual([["warning", "compute:node2", "chime-server on server1 accepted the evacuation of node2 (ok)"]]);
  });

  it("a suspect node (no chime-server holder to fence from) is critical, and fenced once a holder appears", () => {
    const d = new Driver();
    d.beat("node1", 0);
    for (let t = 0; t <= DEAD; t += 1000) d.beat("server2", t, { probes: { "server-api": { healthy: false, detail: "down" } } });
    expect(d.events("compute.suspect").map((e) => [e.severity, e.node, e.incident])).toEqual([["critical", "node1", "compute:node1"]]);
  });

  it("a fence re-issued to a new chime-server holder is a warning of the node's incident; results from the old run still count", () => {
    const d = cluster();
    serversBeat(d, 1000, DEAD);
    // server1 stops; server2 takes chime-server and the fences are re-issued to it.
    for (let t = DEAD + 1000; t <= DEAD + 6000; t += 1000) d.beat("server2", t, { probes: { "server-api": healthy } });
    expect(d.holder("server-api")).toBe("server2");
    const reissued = d.events("compute.fencing").filter((e) => e.severity === "warning");
    expect(reissued.map((e) => [e.node, e.incident, e.reason])).toEqual([
      ["node1", "compute:node1", "server1 no longer holds chime-server; fence of node1 re-issued to server2"],
      ["node2", "compute:node2", "server1 no longer holds chime-server; fence of node2 re-issued to server2"],
    ]);
    // The first run on server1 reports success after all: node2 is fenced, evacuation follows.
    d.beat("server1", DEAD + 6500, { operations: [{ id: "op-2-fence-node2", ok: true, detail: "late" }] });
    expect(d.state.persisted.computes.node2!.phase).toBe("evacuating");
    // A failure of the old run does not count (the new run decides).
    d.beat("server1", DEAD + 6600, { operations: [{ id: "op-1-fence-node1", ok: false, detail: "late failure" }] });
    expect(d.state.persisted.computes.node1!.phase).toBe("fencing");
    // A success reported by a server that never ran it does not count.
    const n1 = d.state.persisted.computes.node1!;
    d.beat("server1", DEAD + 6700, { operations: [{ id: n1.operationId!, ok: true, detail: "forged" }] });
    expect(d.state.persisted.computes.node1!.phase).toBe("fencing");
  });

  it("no spec evacuation request: a fenced node is critical, to be moved by hand", () => {
    const base = dataSpec();
    const d = new Driver(dataSpec({ ...base, evacuation: undefined }));
    for (const n of ["node1", "node2", "node3"]) d.beat(n, 0);
    d.beat("server1", 0, { probes: { "server-api": healthy } });
    d.beat("server2", 0, { probes: { "server-api": healthy } });
    serversBeat(d, 1000, DEAD);
    d.beat("server1", DEAD + 200, { operations: [{ id: "op-2-fence-node2", ok: true, detail: "webhook 200" }] });
    expect(d.events("compute.fenced").map((e) => [e.severity, e.node, e.incident, e.reason])).toEqual([["critical", "node2", "compute:node2", "node2 fenced (fence by server1: webhook 200); no evacuation request in the spec: move its VMs by hand"]]);
  });
});
