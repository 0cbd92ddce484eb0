// Compute nodes (worker/engine/compute.ts), beyond compute.test.ts: who runs the fence (the
// chime-server holder, only while it holds), what the operations carry, the exact reasons, and
// that an evacuation waiting for a chime-server holder starts once there is one.
import { describe, expect, it } from "vitest";
import type { Operation, ProbeReport } from "../../protocol/heartbeat.js";
import { boot } from "../../worker/engine/index.js";
import { dataSpec, Driver, healthy } from "./support/data-spec.js";

const DEAD = 10_000;
const API = { "server-api": healthy };
const DOWN: ProbeReport = { healthy: false, detail: "down" };

const ops = (d: Driver, node: string, t: number) => d.desired(node, t).operations.filter((o) => "target" in o) as (Operation & { target: string })[];
const reasons = (d: Driver, kind: string) => d.events(kind).map((e) => e.reason);

/** server1 holds chime-server; node1..3 beat once at 0; the servers beat every second up to `until`. */
function dead(until: number, spec = dataSpec()): Driver {
  const d = new Driver(spec);
  for (const n of ["node1", "node2", "node3"]) d.beat(n, 0);
  for (let t = 0; t <= until; t += 1000) {
    d.beat("server1", t, { probes: API });
    d.beat("server2", t, { probes: API });
  }
  return d;
}

describe("compute nodes", () => {
  it("an evacuation that waited for a chime-server holder starts once one holds it", () => {
    const d = new Driver();
    d.beat("node1", 0);
    for (let t = 0; t <= DEAD; t += 1000) d.beat("server2", t, { probes: { "server-api": DOWN } });
    expect(d.state.persisted.computes.node1!.phase).toBe("suspect");
    d.run({ type: "ack-fence", node: "node1", actor: "token:ops" }, DEAD + 100);
    expect(d.state.persisted.computes.node1).toMatchObject({ phase: "fenced", detail: "waiting for a chime-server holder to evacuate" });
    expect(reasons(d, "compute.fenced")).toEqual(["node1 fenced (acknowledged by token:ops); evacuation waits for a chime-server holder"]);
    d.beat("server2", DEAD + 1000, { probes: API });
    expect(d.holder("server-api")).toBe("server2");
    expect(d.state.persisted.computes.node1).toMatchObject({ phase: "evacuating", executor: "server2" });
    expect(ops(d, "server2", DEAD + 1000).map((o) => `${o.kind} ${o.target}`)).toEqual(["evacuate node1"]);
    expect(reasons(d, "compute.evacuating")).toEqual([`node1 was fenced while no server held chime-server; asking chime-server on server2 to evacuate its VMs (idempotency key ${d.state.persisted.computes.node1!.evacuationKey})`]);
  });

  it("without an evacuation request in the spec a fenced node stays fenced: its VMs are moved by hand", () => {
    const d = dead(DEAD, dataSpec({ evacuation: undefined }));
    d.beat("server1", DEAD + 100, { probes: API, operations: [{ id: "op-1-fence-node1", ok: true, detail: "" }] });
    expect(d.state.persisted.computes.node1).toMatchObject({ phase: "fenced", since: DEAD + 100, detail: "no evacuation request configured" });
    expect(reasons(d, "compute.fenced")).toEqual(["node1 fenced (fence by server1: ok); no evacuation request in the spec: move its VMs by hand"]);
    expect(d.events("compute.fenced")[0]).toMatchObject({ severity: "critical", node: "node1", incident: "compute:node1" });
    expect(ops(d, "server1", DEAD + 100)).toHaveLength(1); // node2's fence only
  });

  it("the fence and the evacuation carry what the spec says; placeholders are filled everywhere they appear", () => {
    const spec = dataSpec({
      evacuation: { url: "http://cs.local/v1/hosts/{hostname}/evacuate?ip={ip}&n={node}&again={node}", method: "PUT", body: '{"host":"{hostname}","h2":"{hostname}","ip":"{ip}","ip2":"{ip}"}' },
    });
    spec.nodes.find((n) => n.name === "node1")!.fence = { type: "ipmi", host: "10.0.0.101", user: "admin", password: "sealed:v1:abc" };
    spec.nodes.find((n) => n.name === "node2")!.fence = { type: "webhook", url: "http://fence.example/off", authorization: "Bearer t" };
    const d = dead(DEAD, spec);
    expect(ops(d, "server1", DEAD)).toEqual([
      { id: "op-1-fence-node1", requestedBy: "engine: node1 declared dead (fencing)", kind: "fence-ipmi", target: "node1", host: "10.0.0.101", user: "admin", password: "sealed:v1:abc" },
      { id: "op-2-fence-node2", requestedBy: "engine: node2 declared dead (fencing)", kind: "fence-webhook", target: "node2", url: "http://fence.example/off", authorization: "Bearer t" },
    ]);
    d.beat("server1", DEAD + 100, { probes: API, operations: [{ id: "op-1-fence-node1", ok: true, detail: "Chassis Power Control: Down/Off" }] });
    expect(ops(d, "server1", DEAD + 100).find((o) => o.kind === "evacuate")).toEqual({
      id: "op-3-evacuate-node1",
      requestedBy: "engine: node1 declared dead (evacuating)",
      kind: "evacuate",
      target: "node1",
      url: "http://cs.local/v1/hosts/node1.chime.com/evacuate?ip=192.168.231.101&n=node1&again=node1",
      method: "PUT",
      body: '{"host":"node1.chime.com","h2":"node1.chime.com","ip":"192.168.231.101","ip2":"192.168.231.101"}',
      idempotencyKey: "dc1.data/node1/1",
    });
    expect(reasons(d, "compute.evacuating")).toEqual(["node1 fenced (fence by server1: Chassis Power Control: Down/Off); asking chime-server on server1 to evacuate its VMs (idempotency key dc1.data/node1/1)"]);
    // The evacuation is asked only of the executor, and not once the spec no longer says how.
    expect(ops(d, "server2", DEAD + 100)).toEqual([]);
    d.run({ type: "spec", spec: dataSpec({ evacuation: undefined }), specVersion: 2, actor: "op" }, DEAD + 200);
    expect(ops(d, "server1", DEAD + 200).filter((o) => o.kind === "evacuate")).toEqual([]);
  });

  it("a failed evacuation is critical and final; its detail is kept", () => {
    const d = dead(DEAD);
    d.beat("server1", DEAD + 100, { probes: API, operations: [{ id: "op-2-fence-node2", ok: true, detail: "webhook 200" }] });
    d.beat("server1", DEAD + 200, { probes: API, operations: [{ id: "op-3-evacuate-node2", ok: false, detail: "http 500" }] });
    expect(d.state.persisted.computes.node2).toMatchObject({ phase: "evacuate-failed", since: DEAD + 200, detail: "http 500" });
    expect(d.events("compute.evacuate-failed").map((e) => [e.severity, e.node, e.incident, e.reason])).toEqual([
      ["critical", "node2", "compute:node2", "evacuating node2 through chime-server on server1 failed (http 500)"],
    ]);
    expect(ops(d, "server1", DEAD + 200).filter((o) => o.target === "node2")).toEqual([]);
    // An evacuation that worked with no detail reads "ok".
    const d2 = dead(DEAD);
    d2.beat("server1", DEAD + 100, { probes: API, operations: [{ id: "op-2-fence-node2", ok: true, detail: "" }] });
    d2.beat("server1", DEAD + 200, { probes: API, operations: [{ id: "op-3-evacuate-node2", ok: true, detail: "" }] });
    expect(reasons(d2, "compute.evacuated")).toEqual(["chime-server on server1 accepted the evacuation of node2 (ok)"]);
    expect(d2.events("compute.evacuated")[0]).toMatchObject({ severity: "warning", node: "node2", incident: "compute:node2" });
  });

  it("an evacuation whose executor loses chime-server is asked again of the new holder, under a new id", () => {
    const d = dead(DEAD);
    d.beat("server1", DEAD + 100, { probes: API, operations: [{ id: "op-2-fence-node2", ok: true, detail: "" }] });
    expect(d.state.persisted.computes.node2).toMatchObject({ phase: "evacuating", operationId: "op-3-evacuate-node2", executor: "server1" });
    // server1 dies after its beat at DEAD + 100: at DEAD + 3600 its lease is surely over and server2 takes chime-server.
    for (let t = DEAD + 1000; t <= DEAD + 3000; t += 1000) d.beat("server2", t, { probes: API });
    d.tick(DEAD + 3599);
    expect(d.holder("server-api")).toBe("server1");
    d.tick(DEAD + 3600);
    expect(d.holder("server-api")).toBe("server2");
    expect(d.state.persisted.computes.node2).toMatchObject({ phase: "evacuating", executor: "server2", since: DEAD + 3600 });
    const id = d.state.persisted.computes.node2!.operationId!;
    expect(id).toMatch(/^op-\d+-evacuate-node2$/);
    expect(id).not.toBe("op-3-evacuate-node2");
    expect(ops(d, "server2", DEAD + 3600).filter((o) => o.target === "node2").map((o) => [o.kind, o.id])).toEqual([["evacuate", id]]);
    expect(d.events("compute.evacuating").at(-1)).toMatchObject({ severity: "warning", reason: `server1 no longer holds chime-server; evacuate of node2 re-issued to server2 with the same idempotency key ${d.state.persisted.computes.node2!.evacuationKey}` });
  });

  it("a switchover of chime-server in progress runs no fence: the node is suspect until the new holder has it", () => {
    const d = new Driver();
    d.beat("node1", 0);
    for (let t = 0; t <= DEAD - 1000; t += 1000) {
      d.beat("server1", t, { probes: API });
      d.beat("server2", t, { probes: API });
    }
    d.run({ type: "switchover", group: "server-api", to: "server2", actor: "op" }, DEAD - 500);
    d.beat("server1", DEAD, { probes: API });
    expect(d.state.persisted.computes.node1).toMatchObject({ phase: "suspect", detail: "no chime-server holder to fence from" });
    expect(d.events("compute.suspect").map((e) => [e.severity, e.reason])).toEqual([["critical", "node1 silent for 10.0 s; no chime-server holder to run the fence yet"]]);
    d.beat("server1", DEAD + 100, { probes: API });
    expect(d.events("compute.suspect")).toHaveLength(1);
    d.beat("server1", DEAD + 200, { probes: API, released: [{ group: "server-api", epoch: 1 }] });
    expect(d.holder("server-api")).toBe("server2");
    expect(d.state.persisted.computes.node1).toMatchObject({ phase: "fencing", executor: "server2" });
  });

  it("the executor is the holder of the chime-server group, not of the first active-standby group", () => {
    const spec = dataSpec();
    spec.groups.unshift({ ...spec.groups[0]!, name: "other-api", service: "other", vip: "192.168.231.9" });
    const d = new Driver(spec);
    d.beat("node1", 0);
    for (let t = 0; t <= DEAD; t += 1000) {
      d.beat("server1", t, { probes: { "other-api": healthy, "server-api": DOWN } });
      d.beat("server2", t, { probes: { "other-api": healthy, "server-api": healthy } });
    }
    expect(d.holder("other-api")).toBe("server1");
    expect(d.holder("server-api")).toBe("server2");
    expect(d.state.persisted.computes.node1).toMatchObject({ phase: "fencing", executor: "server2" });
  });

  it("with no chime-server group, the first active-standby group's holder runs the fence", () => {
    const spec = dataSpec();
    spec.groups = spec.groups.map((g) => (g.name === "server-api" ? { ...g, service: "api" } : g));
    const d = new Driver(spec);
    d.beat("node1", 0);
    for (let t = 0; t <= DEAD; t += 1000) d.beat("server2", t, { probes: API });
    expect(d.state.persisted.computes.node1).toMatchObject({ phase: "fencing", executor: "server2" });
  });

  it("after a restart, silence counts from the boot and says so", () => {
    const d = dead(2000);
    d.state = boot(structuredClone(d.state.persisted), 5000);
    for (let t = 5000; t <= 5000 + DEAD; t += 1000) {
      d.beat("server1", t, { probes: API });
      d.beat("server2", t, { probes: API });
      if (t === 5000 + DEAD - 1000) expect(d.state.persisted.computes.node1!.phase).toBe("alive");
    }
    expect(reasons(d, "compute.fencing")[0]).toBe("node1 no heartbeat for 10.0 s since the control plane started; fencing it (ipmi) from server1");
  });

  it("no fencing while the cluster is in maintenance; it starts when maintenance ends", () => {
    const d = new Driver();
    d.beat("node1", 0);
    d.run({ type: "maintenance", node: null, on: true, actor: "op" }, 100);
    for (let t = 0; t <= DEAD + 2000; t += 1000) d.beat("server1", t, { probes: API });
    expect(d.state.persisted.computes.node1!.phase).toBe("alive");
    d.run({ type: "maintenance", node: null, on: false, actor: "op" }, DEAD + 2100);
    expect(d.state.persisted.computes.node1).toMatchObject({ phase: "fencing", since: DEAD + 2100 });
    expect(reasons(d, "compute.fencing")).toEqual(["node1 silent for 12.1 s; fencing it (ipmi) from server1"]);
  });

  it("acks: accepted while fencing (then evacuation), refused once fenced or evacuated", () => {
    const d = dead(DEAD);
    expect(d.state.persisted.computes.node1!.phase).toBe("fencing");
    d.run({ type: "ack-fence", node: "node1", actor: "token:ops" }, DEAD + 100);
    expect(d.state.persisted.computes.node1).toMatchObject({ phase: "evacuating", executor: "server1" });
    expect(d.events("compute.fence-acked").map((e) => [e.severity, e.node, e.actor])).toEqual([["warning", "node1", "token:ops"]]);
    d.run({ type: "ack-fence", node: "node1", actor: "token:ops" }, DEAD + 200);
    expect(d.lastRejected).toBe("node1 is evacuating; there is no fence to acknowledge");
    // node3 has no fence: fence-failed, and an ack starts the evacuation.
    d.run({ type: "ack-fence", node: "node3", actor: "token:ops" }, DEAD + 300);
    expect(d.state.persisted.computes.node3!.phase).toBe("evacuating");
  });

  it("a node back from the dead is alive again: resolved, with what it was", () => {
    const d = dead(DEAD);
    const r = d.beat("node1", DEAD + 500);
    expect(d.state.persisted.computes.node1).toEqual({ phase: "alive", since: DEAD + 500 });
    expect(r.effects.some((e) => e.type === "persist")).toBe(true);
    expect(d.events("compute.alive").map((e) => [e.severity, e.node, e.incident, e.resolves, e.reason])).toEqual([["info", "node1", "compute:node1", true, "node1 heartbeats again (was fencing)"]]);
    // A live node's heartbeat says nothing.
    d.beat("node1", DEAD + 600);
    expect(d.events("compute.alive")).toHaveLength(1);
  });
});
