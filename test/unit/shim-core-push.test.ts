// The shim core's side of pushed grants (control plane v3): a grant pushed the moment it is
// decided counts from when the shim SENT the heartbeat it answers (never from its arrival), only
// for this boot and a heartbeat it remembers; and a grant for an epoch this node already released
// is a late message (a push overtaken by an HTTP reply), never a lease.
import { describe, expect, it } from "vitest";
import type { DesiredGroup, DesiredState, PushedGrantsMessage } from "../../protocol/heartbeat.js";
import { ShimCore } from "../../node-shim/core/shim-core.js";

const group = (role: DesiredGroup["role"], epoch: number, shadow = false): DesiredGroup => ({
  name: "server-api",
  mode: "active-standby",
  vip: "192.168.231.10",
  prefix: 24,
  interface: "eth0",
  ports: [{ port: 8801, protocol: "tcp" }],
  probe: { type: "tcp", port: 8801, intervalMs: 1000, timeoutMs: 800, fall: 2, rise: 2 },
  member: true,
  role,
  epoch,
  holder: role === "standby" ? "server1" : "server2",
  ...(shadow ? { shadow: true } : {}),
});
const desired = (g: DesiredGroup): DesiredState => ({ cluster: "dc1.x", node: "server2", specVersion: 1, heartbeatIntervalMs: 1000, leaseTtlMs: 3000, maintenance: false, groups: [g], operations: [], failsafe: false });
const push = (seq: number, epoch: number, bootId = "boot-a"): PushedGrantsMessage => ({ type: "grant", bootId, seq, grants: [{ group: "server-api", epoch, ttlMs: 3000 }], desired: desired(group("holder", epoch)) });

function core() {
  const c = new ShimCore({ node: "server2", bootId: "boot-a", localLeaseMarginMs: 200, failsafe: false });
  // One standby heartbeat answered, one more sent (seq 1) and not answered yet.
  const r0 = c.request({}, 0);
  c.onReply(r0, { grants: [], desired: desired(group("standby", 1)) }, 0, 20);
  c.request({}, 1000);
  return c;
}

describe("shim core: pushed grants", () => {
  it("a pushed grant counts from when the heartbeat it answers was sent, not from its arrival", () => {
    const c = core();
    const actions = c.onPushedGrants(push(1, 2), 1400);
    expect(actions.map((a) => a.type)).toContain("reconcile");
    // Sent at 1000: valid until 1000 + 3000 - 200, whatever the push's delay.
    expect(c.leases.valid("server-api", 1400)).toEqual({ group: "server-api", epoch: 2, validUntil: 3800 });
    expect(c.holding(1400).map((g) => g.name)).toEqual(["server-api"]);
    expect(c.leases.valid("server-api", 3800)).toBeNull();
  });

  it("ignores a push for another boot of this shim, or for a heartbeat it does not remember; asks for a heartbeat instead", () => {
    const c = core();
    expect(c.onPushedGrants(push(1, 2, "boot-old"), 1400)).toEqual([{ type: "heartbeat-now" }]);
    expect(c.onPushedGrants(push(77, 2), 1400)).toEqual([{ type: "heartbeat-now" }]);
    expect(c.leases.valid("server-api", 1400)).toBeNull();
  });

  it("never takes a grant for an epoch it released: a push overtaken by the reply that released it", () => {
    const c = core();
    c.onPushedGrants(push(1, 2), 1400);
    // The control plane revokes epoch 2 (switchover); the node releases it and says so.
    const r2 = c.request({}, 2000);
    c.onReply(r2, { grants: [], desired: desired(group("release", 2)) }, 2000, 2010);
    expect(c.leases.valid("server-api", 2010)).toBeNull();
    // A late copy of the epoch-2 grant arrives (it travelled another way than the release).
    c.onPushedGrants(push(2, 2), 2050);
    expect(c.leases.valid("server-api", 2050)).toBeNull();
    // A later epoch is a new grant and is taken (once the fence of the released epoch has run:
    // never a promotion while the demotion is still under way).
    c.fenceDone("server-api", 2055);
    c.onPushedGrants(push(2, 3), 2060);
    expect(c.leases.valid("server-api", 2060)?.epoch).toBe(3);
  });
});
