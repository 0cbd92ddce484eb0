// Compute-node death in the pure engine: silent for deadAfter -> fence (IPMI or webhook) run by the
// chime-server holder -> only after a successful fence or an operator's ack -> evacuation request.
import { describe, expect, it } from "vitest";
import type { Operation } from "../../protocol/heartbeat.js";
import { Driver, healthy } from "./support/data-spec.js";

const DEAD = 10_000;

/** server1 holds chime-server; node1..3 heartbeat once at t=0 and then go silent. */
function cluster(): Driver {
  const d = new Driver();
  for (const n of ["node1", "node2", "node3"]) d.beat(n, 0);
  d.beat("server1", 0, { probes: { "server-api": healthy } });
  d.beat("server2", 0, { probes: { "server-api": healthy } });
  expect(d.holder("server-api")).toBe("server1");
  return d;
}

/** Keep both servers alive up to `until` (every second). */
function serversBeat(d: Driver, from: number, until: number, extra: (node: string, t: number) => object = () => ({})): void {
  for (let t = from; t <= until; t += 1000) {
    d.beat("server1", t, { probes: { "server-api": healthy }, ...extra("server1", t) });
    d.beat("server2", t, { probes: { "server-api": healthy }, ...extra("server2", t) });
  }
}

/** Compute operations (fence / evacuate) the engine wants `node` to run at `t`. */
const ops = (d: Driver, node: string, t: number) => d.desired(node, t).operations.filter((o) => "target" in o) as (Operation & { target: string })[];

describe("compute fencing and evacuation", () => {
  it("a node silent for deadAfter is fenced by the chime-server holder with the exact IPMI / webhook operation", () => {
    const d = cluster();
    serversBeat(d, 1000, DEAD - 1000);
    expect(ops(d, "server1", DEAD - 1000)).toEqual([]);
    serversBeat(d, DEAD, DEAD);
    const o = ops(d, "server1", DEAD);
    expect(o).toEqual([
      { id: "op-1-fence-node1", kind: "fence-ipmi", target: "node1", host: "10.0.0.101", user: "admin", passwordEnv: "IPMI_NODE1" },
      { id: "op-2-fence-node2", kind: "fence-webhook", target: "node2", url: "http://fence.example/off" },
    ]);
    expect(ops(d, "server2", DEAD)).toEqual([]);
    // node3 has no fence: never evacuated automatically.
    expect(d.state.persisted.computes.node3!.phase).toBe("fence-failed");
    expect(d.events("compute.fence-failed").find((e) => e.node === "node3")!.reason).toContain("no fence is configured, so its VMs are NOT evacuated");
    expect(d.events("compute.fencing").find((e) => e.node === "node1")!.reason).toBe("node1 silent for 10.0 s; fencing it (ipmi) from server1");
  });

  it("a failed fence never leads to evacuation; an operator's ack does", () => {
    const d = cluster();
    serversBeat(d, 1000, DEAD);
    d.beat("server1", DEAD + 500, { operations: [{ id: "op-1-fence-node1", ok: false, detail: "ipmitool exited 1: Unable to establish IPMI v2 / RMCP+ session" }] });
    expect(d.state.persisted.computes.node1!.phase).toBe("fence-failed");
    serversBeat(d, DEAD + 1000, DEAD + 30_000);
    expect(ops(d, "server1", DEAD + 30_000).filter((o) => o.kind === "evacuate" && o.target === "node1")).toEqual([]);
    expect(d.events("compute.fence-failed").find((e) => e.node === "node1")!.reason).toContain("its VMs are NOT evacuated until it is fenced or an operator acks the fence");
    // A result from a server that was not asked is ignored.
    d.beat("server2", DEAD + 30_100, { operations: [{ id: "op-1-fence-node1", ok: true, detail: "forged" }] });
    expect(d.state.persisted.computes.node1!.phase).toBe("fence-failed");

    d.run({ type: "ack-fence", node: "node1", actor: "operator:alice" }, DEAD + 31_000);
    expect(d.state.persisted.computes.node1!.phase).toBe("evacuating");
    const ev = ops(d, "server1", DEAD + 31_000).find((o) => o.kind === "evacuate" && o.target === "node1");
    expect(ev).toEqual({
      id: expect.stringMatching(/^op-\d+-evacuate-node1$/),
      kind: "evacuate",
      target: "node1",
      url: "http://chime-server.local:8801/v1/hosts/evacuate",
      method: "POST",
      body: '{"host":"node1.chime.com","ip":"192.168.231.101","node":"node1"}',
    });
    expect(d.events("compute.fence-acked")[0]!.reason).toBe("operator:alice acknowledged that node1 is fenced");
  });

  it("a successful fence leads to exactly one evacuation; its result ends the incident", () => {
    const d = cluster();
    serversBeat(d, 1000, DEAD);
    d.beat("server1", DEAD + 200, { operations: [{ id: "op-2-fence-node2", ok: true, detail: "webhook 200" }] });
    expect(d.state.persisted.computes.node2!.phase).toBe("evacuating");
    const evac = ops(d, "server1", DEAD + 200).filter((o) => o.kind === "evacuate");
    expect(evac.map((o) => o.target)).toEqual(["node2"]);
    d.beat("server1", DEAD + 900, { operations: [{ id: evac[0]!.id, ok: true, detail: "http 202" }] });
    expect(d.state.persisted.computes.node2!.phase).toBe("evacuated");
    expect(ops(d, "server1", DEAD + 900).filter((o) => o.target === "node2")).toEqual([]);
    expect(d.events("compute.evacuated")[0]!.reason).toBe("chime-server on server1 accepted the evacuation of node2 (http 202)");
  });

  it("an ack is refused for a node that is alive or already evacuating", () => {
    const d = cluster();
    d.run({ type: "ack-fence", node: "node1", actor: "op" }, 500);
    expect(d.lastRejected).toBe("node1 is alive; there is no fence to acknowledge");
    d.run({ type: "ack-fence", node: "server1", actor: "op" }, 500);
    expect(d.lastRejected).toBe("server1 is not a compute node");
  });

  it("without a chime-server holder the node is only suspect; the fence starts once there is one", () => {
    const d = new Driver();
    d.beat("node1", 0);
    d.beat("server2", 0);
    for (let t = 1000; t <= DEAD; t += 1000) d.beat("server2", t);
    expect(d.state.persisted.computes.node1!.phase).toBe("suspect");
    d.beat("server2", DEAD + 1000, { probes: { "server-api": healthy } });
    expect(d.holder("server-api")).toBe("server2");
    expect(d.state.persisted.computes.node1!.phase).toBe("fencing");
    expect(ops(d, "server2", DEAD + 1000).map((o) => o.kind)).toContain("fence-ipmi");
  });

  it("when the executor loses chime-server mid-fence, the new holder runs the fence again under a new id", () => {
    const d = cluster();
    serversBeat(d, 1000, DEAD);
    expect(d.state.persisted.computes.node1!.executor).toBe("server1");
    // server1 dies; its lease ends and server2 takes chime-server.
    for (let t = DEAD + 1000; t <= DEAD + 6000; t += 1000) d.beat("server2", t, { probes: { "server-api": healthy } });
    expect(d.holder("server-api")).toBe("server2");
    const c = d.state.persisted.computes.node1!;
    expect(c.executor).toBe("server2");
    expect(c.operationId).not.toBe("op-1-fence-node1");
    expect(ops(d, "server2", DEAD + 6000).find((o) => o.target === "node1")!.id).toBe(c.operationId);
    // The old id's late result changes nothing.
    d.beat("server1", DEAD + 6100, { operations: [{ id: "op-1-fence-node1", ok: true, detail: "late" }] });
    expect(d.state.persisted.computes.node1!.phase).toBe("fencing");
  });

  it("a node that heartbeats again is alive; its fence operation is withdrawn", () => {
    const d = cluster();
    serversBeat(d, 1000, DEAD);
    expect(ops(d, "server1", DEAD).some((o) => o.target === "node1")).toBe(true);
    d.beat("node1", DEAD + 100);
    expect(d.state.persisted.computes.node1!.phase).toBe("alive");
    expect(ops(d, "server1", DEAD + 100).some((o) => o.target === "node1")).toBe(false);
  });
});
