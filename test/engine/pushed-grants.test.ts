// Grants decided outside a node's own heartbeat (worker/engine/step.ts): pushed at once on its
// socket as the reply to the last heartbeat received from it (its boot id and seq, so the shim
// counts the lease from when it sent that heartbeat), one push per node with all its new groups;
// renewals and the node being answered get their grants in the reply instead.
import { describe, expect, it } from "vitest";
import type { ProbeReport } from "../../protocol/heartbeat.js";
import { API_GROUP, Shell, smallSpec } from "./support/small-spec.js";

const OK: ProbeReport = { healthy: true, detail: "ok" };
const two = () => smallSpec({ groups: [API_GROUP, { ...API_GROUP, name: "api2", vip: "192.168.231.9", ports: [{ port: 8802 }], probe: { type: "tcp", port: 8802 } }] });
const pushes = (r: ReturnType<Shell["run"]>) => r.effects.flatMap((e) => (e.type === "push" ? [e] : []));

function both(sh: Shell, from: number, to: number): void {
  for (let t = from; t <= to; t += 1000) {
    sh.beat("server1", t, { bootId: "b1", probes: { api: OK, api2: OK } });
    sh.beat("server2", t, { bootId: "b2", probes: { api: OK, api2: OK } });
  }
}

describe("pushed grants", () => {
  it("a failover decided by an alarm is pushed to the new holder with its last boot id and seq, every group in one push", () => {
    const sh = new Shell(two());
    both(sh, 0, 2000);
    sh.beat("server2", 3000, { bootId: "b2", probes: { api: OK, api2: OK } });
    const seq = sh.state.nodes.server2!.seq;
    const r = sh.tick(5500);
    expect(pushes(r)).toEqual([
      { type: "push", node: "server1" },
      {
        type: "push",
        node: "server2",
        grants: {
          type: "grant",
          bootId: "b2",
          seq,
          grants: [
            { group: "api", epoch: 2, ttlMs: 3000 },
            { group: "api2", epoch: 2, ttlMs: 3000 },
          ],
        },
      },
      { type: "push", node: "node1" },
    ]);
    // The control plane counts the lease from the grant.
    expect(sh.state.groups.api!.leaseUntil).toBe(8500);
  });

  it("the node whose heartbeat is answered gets its grant in the reply, the others a push without grants", () => {
    const sh = new Shell(two());
    sh.beat("server2", 0, { bootId: "b2", probes: {} });
    const r = sh.beat("server1", 100, { bootId: "b1", probes: { api: OK, api2: OK } });
    expect(r.reply!.grants).toEqual([
      { group: "api", epoch: 1, ttlMs: 3000 },
      { group: "api2", epoch: 1, ttlMs: 3000 },
    ]);
    expect(pushes(r)).toEqual([
      { type: "push", node: "server2" },
      { type: "push", node: "node1" },
    ]);
  });

  it("a grant after a release reaches the new holder at once; a move that only starts (revoking) pushes no grant", () => {
    const sh = new Shell(two());
    both(sh, 0, 1000);
    const r1 = sh.run({ type: "switchover", group: "api", to: "server2", actor: "op" }, 1100);
    expect(pushes(r1)).toEqual([{ type: "push", node: "server1" }]);
    const r2 = sh.beat("server1", 1200, { bootId: "b1", probes: { api: OK, api2: OK }, released: [{ group: "api", epoch: 1 }] });
    expect(pushes(r2)).toEqual([
      { type: "push", node: "server2", grants: { type: "grant", bootId: "b2", seq: sh.state.nodes.server2!.seq, grants: [{ group: "api", epoch: 2, ttlMs: 3000 }] } },
      { type: "push", node: "node1" },
    ]);
    // server1 still renews api2 in its reply, and api is no longer its.
    expect(r2.reply!.grants).toEqual([{ group: "api2", epoch: 1, ttlMs: 3000 }]);
  });

  it("renewals are never pushed, and a revoked holder gets no renewal", () => {
    const sh = new Shell(two());
    both(sh, 0, 1000);
    const r = sh.beat("server1", 2000, { bootId: "b1", probes: { api: OK, api2: OK } });
    expect(pushes(r)).toEqual([]);
    expect(r.reply!.grants.map((g) => g.group)).toEqual(["api", "api2"]);
    expect(sh.state.groups.api!.leaseUntil).toBe(5000);
    sh.run({ type: "switchover", group: "api", to: "server2", actor: "op" }, 2100);
    const r2 = sh.beat("server1", 3000, { bootId: "b1", probes: { api: OK, api2: OK } });
    expect(r2.reply!.grants.map((g) => g.group)).toEqual(["api2"]);
    expect(sh.state.groups.api!.leaseUntil).toBe(5000);
    expect(sh.state.groups.api2!.leaseUntil).toBe(6000);
  });
});
