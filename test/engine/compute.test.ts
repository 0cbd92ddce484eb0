// Compute-node death in the pure engine: silent for deadAfter -> fence (IPMI or webhook) run by the
// chime-server holder -> only after a successful fence or an operator's ack -> evacuation request.
import { describe, expect, it } from "vitest";
import type { Operation } from "../../protocol/heartbeat.js";
import { dataSpec, Driver, healthy } from "./support/data-spec.js";

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
      { id: "op-1-fence-node1", requestedBy: "engine: node1 declared dead (fencing)", kind: "fence-ipmi", target: "node1", host: "10.0.0.101", user: "admin", passwordEnv: "IPMI_NODE1" },
      { id: "op-2-fence-node2", requestedBy: "engine: node2 declared dead (fencing)", kind: "fence-webhook", target: "node2", url: "http://fence.example/off" },
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
      requestedBy: "engine: node1 declared dead (evacuating)",
      kind: "evacuate",
      target: "node1",
      url: "http://chime-server.local:8801/v1/hosts/evacuate",
      method: "POST",
      body: '{"host":"node1.chime.com","ip":"192.168.231.101","node":"node1"}',
      idempotencyKey: expect.stringMatching(/^dc1\.data\/node1\/\d+$/),
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
    // A late failure from the old run changes nothing; a late success means the node is fenced:
    // the re-issued fence is withdrawn and the evacuation starts.
    d.beat("server1", DEAD + 6100, { operations: [{ id: "op-1-fence-node1", ok: false, detail: "late failure" }] });
    expect(d.state.persisted.computes.node1!.phase).toBe("fencing");
    d.beat("server1", DEAD + 6200, { operations: [{ id: "op-1-fence-node1", ok: true, detail: "late" }] });
    expect(d.state.persisted.computes.node1!.phase).toBe("evacuating");
    expect(ops(d, "server2", DEAD + 6200).filter((o) => o.target === "node1").map((o) => o.kind)).toEqual(["evacuate"]);
    // A result for an id nobody was given is ignored.
    d.beat("server1", DEAD + 6300, { operations: [{ id: "op-99-evacuate-node1", ok: true, detail: "forged" }] });
    expect(d.state.persisted.computes.node1!.phase).toBe("evacuating");
  });

  it("a node that heartbeats again is alive; its fence operation is withdrawn", () => {
    const d = cluster();
    serversBeat(d, 1000, DEAD);
    expect(ops(d, "server1", DEAD).some((o) => o.target === "node1")).toBe(true);
    d.beat("node1", DEAD + 100);
    expect(d.state.persisted.computes.node1!.phase).toBe("alive");
    expect(ops(d, "server1", DEAD + 100).some((o) => o.target === "node1")).toBe(false);
  });

  it("an evacuation keeps one idempotency key across an executor failover; completed once, never re-issued", () => {
    const d = cluster();
    serversBeat(d, 1000, DEAD);
    d.beat("server1", DEAD + 200, { operations: [{ id: "op-2-fence-node2", ok: true, detail: "webhook 200" }] });
    const first = ops(d, "server1", DEAD + 200).find((o) => o.kind === "evacuate" && o.target === "node2")! as Extract<Operation, { kind: "evacuate" }>;
    expect(first.idempotencyKey).toMatch(/^dc1\.data\/node2\/\d+$/);
    expect(d.events("compute.evacuating").at(-1)!.reason).toContain(`(idempotency key ${first.idempotencyKey})`);
    // server1 dies with the request in flight; server2 takes chime-server and asks again, same key.
    for (let t = DEAD + 1000; t <= DEAD + 6000; t += 1000) d.beat("server2", t, { probes: { "server-api": healthy } });
    expect(d.holder("server-api")).toBe("server2");
    const again = ops(d, "server2", DEAD + 6000).find((o) => o.kind === "evacuate" && o.target === "node2")! as Extract<Operation, { kind: "evacuate" }>;
    expect(again.id).not.toBe(first.id);
    expect(again.idempotencyKey).toBe(first.idempotencyKey);
    expect(d.events("compute.evacuating").at(-1)!.reason).toBe(`server1 no longer holds chime-server; evacuate of node2 re-issued to server2 with the same idempotency key ${first.idempotencyKey}`);
    // server1's request had gone through: its late success completes the evacuation; nothing is re-issued.
    d.beat("server1", DEAD + 6100, { operations: [{ id: first.id, ok: true, detail: "http 202" }] });
    expect(d.state.persisted.computes.node2!.phase).toBe("evacuated");
    serversBeat(d, DEAD + 7000, DEAD + 20_000);
    expect(ops(d, "server2", DEAD + 20_000).filter((o) => o.target === "node2")).toEqual([]);
    expect(ops(d, "server1", DEAD + 20_000).filter((o) => o.target === "node2")).toEqual([]);
    // A new death of the same node is a new evacuation with a new key.
    d.beat("node2", DEAD + 21_000);
    serversBeat(d, DEAD + 22_000, DEAD + 32_000);
    const c = d.state.persisted.computes.node2!;
    expect(c.phase).toBe("fencing");
    d.beat(c.executor!, DEAD + 32_100, { operations: [{ id: c.operationId!, ok: true, detail: "webhook 200" }] });
    const next = ops(d, c.executor!, DEAD + 32_100).find((o) => o.kind === "evacuate" && o.target === "node2")! as Extract<Operation, { kind: "evacuate" }>;
    expect(next.idempotencyKey).not.toBe(first.idempotencyKey);
  });

  it("the key reaches the body template too", () => {
    const d = new Driver(dataSpec({ evacuation: { url: "http://cs.local/evacuate", method: "POST", body: '{"host":"{hostname}","requestId":"{idempotencyKey}"}' } }));
    for (const n of ["node1", "node2", "node3"]) d.beat(n, 0);
    serversBeat(d, 0, DEAD);
    d.beat("server1", DEAD + 100, { operations: [{ id: "op-2-fence-node2", ok: true, detail: "ok" }] });
    const ev = ops(d, "server1", DEAD + 100).find((o) => o.kind === "evacuate")! as Extract<Operation, { kind: "evacuate" }>;
    expect(JSON.parse(ev.body)).toEqual({ host: "node2.chime.com", requestId: ev.idempotencyKey });
  });
});

describe("chime-agent down versus host down", () => {
  const agentDown = { healthy: false, detail: "exec exited 3: failed" };
  it("chime-agent down on a host that still heartbeats: a warning, never a fence; the host going silent is fenced", () => {
    const d = cluster();
    // node1's host answers (its shim heartbeats) but chime-agent is down, for far longer than deadAfter.
    for (let t = 1000; t <= 3 * DEAD; t += 1000) {
      d.beat("node1", t, { probes: { "chime-agent": agentDown } });
      d.beat("node3", t);
      d.beat("server1", t, { probes: { "server-api": healthy } });
      d.beat("server2", t, { probes: { "server-api": healthy } });
    }
    expect(d.state.persisted.computes.node1!.phase).toBe("alive");
    expect(ops(d, "server1", 3 * DEAD).filter((o) => o.target === "node1")).toEqual([]);
    const warn = d.events("compute.agent-down");
    expect(warn).toHaveLength(1);
    expect(warn[0]).toMatchObject({ severity: "warning", node: "node1" });
    expect(warn[0]!.reason).toBe("node1's chime-agent is down (exec exited 3: failed) but the host answers: not fencing it; its VMs keep running, unmanaged until chime-agent is back");
    // chime-agent comes back: resolved.
    d.beat("node1", 3 * DEAD + 500, { probes: { "chime-agent": healthy } });
    expect(d.events("compute.agent-down").at(-1)).toMatchObject({ severity: "info", resolves: true });
    // Now the host stops answering: after deadAfter it is fenced.
    serversBeat(d, 3 * DEAD + 1000, 4 * DEAD + 1000);
    expect(d.state.persisted.computes.node1!.phase).toBe("fencing");
    expect(ops(d, "server1", 4 * DEAD + 1000).find((o) => o.target === "node1")!.kind).toBe("fence-ipmi");
  });
});
