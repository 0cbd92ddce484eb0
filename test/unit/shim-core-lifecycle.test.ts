// The shim core (node-shim/core/shim-core.ts) through a whole lease: granted, put up in the kernel,
// announced, renewed, lost (expired, told to release, moved on, removed from the spec, stopping),
// fenced, verified gone and reported; and what each heartbeat says on the way. Exact instants:
// lease ends are send time + TTL - the local margin (200 ms here), and the kernel's lease element
// ends `kernelCutMs()` earlier.
import { describe, expect, it } from "vitest";
import { SHIM_VERSION, ShimCore } from "../../node-shim/core/shim-core.js";
import { desired, grantReply, group, Harness } from "./shim-core-harness.js";

const REF = { vip: "10.0.0.10", prefix: 24, iface: "eth0" };

describe("shim core: taking a group", () => {
  it("a grant in the reply to a heartbeat sent at 1000 (TTL 3 s, margin 200 ms) holds until 3800; the VIP is leased before it is configured, then announced", () => {
    const h = new Harness();
    const acts = h.beat(grantReply(group()), 1000, 1050);
    expect(h.core.leases.valid("api", 1050)).toEqual({ group: "api", epoch: 1, validUntil: 3800 });
    expect(h.ops).toEqual([
      { kind: "setup" },
      { kind: "manage", vips: ["10.0.0.10"] },
      { kind: "read", ifaces: ["eth0"] },
      { kind: "lease", entries: [{ vip: "10.0.0.10", until: 3800 }] },
      { kind: "addr-add", ref: REF, until: 3800 },
    ]);
    expect(h.types(acts).filter((t) => !t.startsWith("kernel"))).toEqual(["sync-probes", "reconcile", "run-operations", "persist", "reconcile", "announce"]);
    expect(acts.find((a) => a.type === "announce")).toEqual({ type: "announce", ref: REF });
    expect(h.logs.filter((l) => l.msg === "lease granted")).toEqual([{ msg: "lease granted", fields: { group: "api", epoch: 1 } }]);
    expect(h.core.holding(1050).map((g) => g.name)).toEqual(["api"]);
    expect(h.core.holds("api", 3799)).toBe(true);
    expect(h.core.holds("api", 3800)).toBe(false);
    expect(h.core.served(1050)).toEqual(["api@1"]);
  });

  it("a renewal of the same epoch is not logged as a new grant, and the VIP is not announced again before the reannounce interval", () => {
    const h = new Harness();
    h.beat(grantReply(group()), 1000, 1050);
    const acts = h.beat(grantReply(group()), 2000, 2050);
    expect(h.core.leases.valid("api", 2050)?.validUntil).toBe(4800);
    expect(h.logs.filter((l) => l.msg === "lease granted")).toHaveLength(1);
    expect(h.types(acts)).not.toContain("announce");
    expect(h.types(acts)).not.toContain("persist");
    // The element is renewed; the address's lifetime (put up at 1050 for a lease to 3800: 3 s + 1,
    // to 5050) would end within 0.5 s of 4800, so it is renewed too (not announced: not news).
    expect(h.ops.slice(5)).toEqual([
      { kind: "lease", entries: [{ vip: "10.0.0.10", until: 4800 }] },
      { kind: "addr-add", ref: REF, until: 4800 },
    ]);
    // Reannounced 10 s after the first announcement (the lease kept renewed meanwhile).
    for (let t = 3000; t <= 11_000; t += 1000) expect(h.types(h.beat(grantReply(group()), t, t + 40))).not.toContain("announce");
    expect(h.core.nextDeadline(11_040)).toBe(11_050);
    expect(h.types(h.tick(11_049))).not.toContain("announce");
    expect(h.tick(11_050).filter((a) => a.type === "announce")).toEqual([{ type: "announce", ref: REF }]);
  });

  it("a standby, a member told to release, or a group without a grant takes nothing", () => {
    const h = new Harness();
    h.beat({ grants: [{ group: "api", epoch: 1, ttlMs: 3000 }], desired: desired([group({ role: "standby", holder: "server2" })]) }, 0, 10);
    h.beat({ grants: [{ group: "web", epoch: 1, ttlMs: 3000 }], desired: desired([group()]) }, 100, 110);
    expect(h.core.leases.valid("api", 110)).toBeNull();
    expect(h.core.holding(110)).toEqual([]);
    expect(h.ops.map((o) => o.kind)).toEqual(["setup", "manage", "read"]);
  });

  it("a grant whose lease would already be over on arrival is not taken", () => {
    const h = new Harness();
    // Sent at 0, TTL 3000, margin 200: over at 2800; the reply comes at 2800.
    h.beat(grantReply(group()), 0, 2800);
    expect(h.core.holding(2800)).toEqual([]);
    expect(h.logs.map((l) => l.msg)).not.toContain("lease granted");
  });

  it("desired state older than an epoch already seen is ignored for that group, the rest is taken", () => {
    const h = new Harness();
    h.beat(grantReply(group({ epoch: 5 })), 0, 10);
    const web = group({ name: "web", vip: "10.0.0.20", role: "standby", holder: "server2", epoch: 2 });
    // A reordered reply: api at epoch 4 (older), web new.
    h.beat({ grants: [{ group: "api", epoch: 4, ttlMs: 3000 }], desired: desired([group({ epoch: 4, role: "standby", holder: "server2" }), web]) }, 500, 520);
    expect(h.logs).toContainEqual({ msg: "stale desired state ignored", fields: { group: "api", epoch: 4, seen: 5 } });
    expect(h.core.desired?.groups.map((g) => [g.name, g.role, g.epoch])).toEqual([
      ["api", "holder", 5],
      ["web", "standby", 2],
    ]);
    // Still held at epoch 5 (the stale standby did not make it let go).
    expect(h.core.leases.valid("api", 520)).toEqual({ group: "api", epoch: 5, validUntil: 2800 });
    expect(h.core.groupInfo("web")?.vip).toBe("10.0.0.20");
  });

  it("a grant at an epoch older than one seen is ignored (and logged)", () => {
    const h = new Harness();
    h.beat(grantReply(group({ epoch: 5 })), 0, 10);
    h.beat({ grants: [{ group: "api", epoch: 3, ttlMs: 3000 }], desired: desired([group({ epoch: 5 })]) }, 1000, 1010);
    expect(h.logs).toContainEqual({ msg: "stale grant ignored", fields: { group: "api", epoch: 3, seen: 5 } });
    expect(h.core.leases.valid("api", 1010)?.validUntil).toBe(2800);
  });
});

describe("shim core: letting go", () => {
  it("a lease that runs out: at its end the element goes, then the address, then the fence runs; nothing is reported as released", () => {
    const h = new Harness();
    h.beat(grantReply(group()), 1000, 1050);
    expect(h.core.nextDeadline(1050)).toBe(3800);
    expect(h.tick(3799).filter((a) => a.type === "reconcile")).toEqual([]);
    const acts = h.tick(3800);
    expect(h.logs).toContainEqual({ msg: "lease expired", fields: { group: "api", epoch: 1, lastReplyAgoMs: 2750 } });
    expect(h.core.holding(3800)).toEqual([]);
    // The element ended by itself 254 ms after 3800: at 3800 it may still pass traffic, so it is removed first.
    expect(h.types(acts)).toEqual(["reconcile", "kernel:unlease", "persist", "reconcile", "kernel:addr-del", "fence", "release-promises", "reconcile", "kernel:read"]);
    expect(acts.find((a) => a.type === "fence")).toEqual({ type: "fence", group: group(), why: "lease expired" });
    expect(acts.find((a) => a.type === "release-promises")).toEqual({ type: "release-promises", group: "api", epoch: 1, peers: [] });
    expect(h.core.request({}, 3900).released).toEqual([]);
    expect(h.core.releasesSettled()).toBe(true);
    expect(h.addrs.size).toBe(0);
  });

  it("told to release: drops the lease at once, and reports `released` only once the VIP is gone and fenced", () => {
    const h = new Harness();
    h.autoFence = false;
    h.beat(grantReply(group()), 1000, 1050);
    const acts = h.beat({ grants: [], desired: desired([group({ role: "release" })]) }, 2000, 2050);
    expect(h.logs).toContainEqual({ msg: "releasing group", fields: { group: "api", epoch: 1, why: "control plane asked" } });
    expect(h.core.holding(2050)).toEqual([]);
    expect(acts.find((a) => a.type === "fence")).toEqual({ type: "fence", group: group({ role: "release" }), why: "control plane asked" });
    expect(h.core.releasesSettled()).toBe(false);
    expect(h.core.request({}, 2100).released).toEqual([]);
    const after = h.run(h.core.fenceDone("api", 2200), 2200);
    expect(h.types(after)).toEqual(["heartbeat-now"]);
    expect(h.logs).toContainEqual({ msg: "released", fields: { group: "api", epoch: 1, why: "control plane asked" } });
    expect(h.core.releasesSettled()).toBe(true);
    const req = h.core.request({}, 2300);
    expect(req.released).toEqual([{ group: "api", epoch: 1 }]);
    // Reported until a reply to a request that carried it.
    expect(h.core.request({}, 2400).released).toEqual([{ group: "api", epoch: 1 }]);
    h.run(h.core.onReply(req, { grants: [], desired: desired([group({ role: "release" })]) }, 2300, 2350), 2350);
    expect(h.core.request({}, 2500).released).toEqual([]);
  });

  it("a grant of the epoch it released is never taken again (a reply to a request sent before the release)", () => {
    const h = new Harness();
    h.beat(grantReply(group()), 1000, 1050);
    h.beat({ grants: [], desired: desired([group({ role: "release" })]) }, 2000, 2050);
    h.beat(grantReply(group()), 1900, 2060);
    expect(h.core.holding(2060)).toEqual([]);
    h.beat(grantReply(group({ epoch: 2 })), 2100, 2150);
    expect(h.core.leases.valid("api", 2150)).toEqual({ group: "api", epoch: 2, validUntil: 4900 });
  });

  it("while the fence of a loss is still running, a new grant is not taken", () => {
    const h = new Harness();
    h.autoFence = false;
    h.beat(grantReply(group()), 1000, 1050);
    h.tick(3800);
    h.beat(grantReply(group({ epoch: 2 })), 3900, 3950);
    expect(h.core.holding(3950)).toEqual([]);
    h.run(h.core.fenceDone("api", 4000), 4000);
    h.beat(grantReply(group({ epoch: 2 })), 4100, 4150);
    expect(h.core.holding(4150).map((g) => g.epoch)).toEqual([2]);
  });

  it("the group moved on to another holder at a newer epoch: let go and report; a standby of the same epoch changes nothing", () => {
    const h = new Harness();
    h.beat(grantReply(group({ epoch: 3 })), 1000, 1050);
    h.beat({ grants: [], desired: desired([group({ epoch: 3, role: "standby", holder: "server2" })]) }, 1500, 1550);
    expect(h.core.holding(1550).map((g) => g.name)).toEqual([]);
    // (The desired state says standby: nothing is carried, but the lease is kept at epoch 3.)
    expect(h.core.leases.valid("api", 1550)?.epoch).toBe(3);
    h.beat({ grants: [], desired: desired([group({ epoch: 4, role: "standby", holder: "server2" })]) }, 2000, 2050);
    expect(h.logs).toContainEqual({ msg: "releasing group", fields: { group: "api", epoch: 3, why: "group moved to server2 at epoch 4" } });
    expect(h.core.leases.valid("api", 2050)).toBeNull();
    expect(h.core.request({}, 2100).released).toEqual([{ group: "api", epoch: 3 }]);
  });

  it("a group removed from the spec is let go without a report, its VIP still removed and fenced", () => {
    const h = new Harness();
    h.beat(grantReply(group()), 1000, 1050);
    const acts = h.beat({ grants: [], desired: desired([]) }, 2000, 2050);
    expect(h.logs).toContainEqual({ msg: "releasing group", fields: { group: "api", epoch: 1, why: "group left the desired state" } });
    expect(h.types(acts)).toContain("fence");
    expect(h.addrs.size).toBe(0);
    expect(h.core.request({}, 2100).released).toEqual([]);
    expect(h.core.knownGroups().map((g) => g.name)).toEqual(["api"]);
    expect(h.core.groupInfo("api")?.vip).toBe("10.0.0.10");
    expect(h.core.groupInfo("nope")).toBeNull();
  });

  it("a VIP that cannot be removed is reported as unreleased with the failure, and counts as settled", () => {
    const h = new Harness();
    h.beat(grantReply(group()), 1000, 1050);
    h.failing.add("unlease");
    h.beat({ grants: [], desired: desired([group({ role: "release" })]) }, 2000, 2050);
    expect(h.core.releasesSettled()).toBe(true);
    const req = h.core.request({}, 2100, 1_800_000_000_000);
    expect(req.unreleased).toEqual([{ group: "api", epoch: 1, detail: "unlease failed" }]);
    expect(req.released).toEqual([]);
    expect(req.applyErrors).toEqual([{ group: "api", target: "vip", command: "cmd unlease", exitCode: 1, stderrTail: "unlease failed", since: 1_800_000_000_000 - 50 }]);
    expect(h.logs).toContainEqual({ msg: "kernel operation failed", fields: { op: "unlease", detail: "unlease failed", command: "cmd unlease" } });
    // Without the wall clock, no apply errors are sent.
    expect(h.core.request({}, 2100).applyErrors).toBeUndefined();
  });

  it("a restarted shim that cannot set up its tables says `unreleased`, never `released`, until it has read back and removed what the last process left", () => {
    // The process before this one left the VIP up (address and lease element); this one is
    // granted the group again, cannot run nft, and is told to release. Its planner knows nothing
    // of the kernel yet: calling the VIP gone then would let the control plane grant it elsewhere
    // while the old element still passes traffic (property-test seed 98214457).
    const h = new Harness({ bootId: "boot-b" });
    h.addrs.set("eth0/10.0.0.10/24", REF);
    h.failing.add("setup");
    h.beat(grantReply(group()), 1000, 1050);
    h.beat({ grants: [], desired: desired([group({ role: "release" })]) }, 2000, 2050);
    h.tick(2500);
    expect(h.core.releasesSettled()).toBe(true);
    const req = h.core.request({}, 2600);
    expect(req.released).toEqual([]);
    expect(req.unreleased).toEqual([{ group: "api", epoch: 1, detail: "setup failed" }]);
    expect(h.types(h.actions)).not.toContain("fence");
    // nft works again: set up, read back (the old address is found), unleased, deleted, verified.
    h.failing.clear();
    h.tick(5000);
    expect(h.ops.slice(-6).map((o) => o.kind)).toEqual(["setup", "manage", "read", "unlease", "addr-del", "read"]);
    expect(h.addrs.size).toBe(0);
    expect(h.core.request({}, 5100).released).toEqual([{ group: "api", epoch: 1 }]);
  });

  it("pushed desired state can only take away: a release at the held epoch or newer lets go at once; an older one does nothing", () => {
    const h = new Harness();
    h.beat(grantReply(group({ epoch: 2 })), 1000, 1050);
    expect(h.types(h.run(h.core.onPush(desired([group({ epoch: 1, role: "release" })]), 1100), 1100))[0]).toBe("heartbeat-now");
    expect(h.core.holds("api", 1100)).toBe(true);
    h.run(h.core.onPush(desired([group({ epoch: 2, role: "standby" })]), 1150), 1150);
    expect(h.core.holds("api", 1150)).toBe(true);
    h.run(h.core.onPush(desired([group({ epoch: 2, role: "release" })]), 1200), 1200);
    expect(h.core.leases.valid("api", 1200)).toBeNull();
    expect(h.core.request({}, 1300).released).toEqual([{ group: "api", epoch: 2 }]);
  });
});

describe("shim core: stopping", () => {
  it("stop with release (SIGTERM): lets go of everything, says it is leaving, takes no grant after", () => {
    const h = new Harness();
    h.beat(grantReply(group()), 1000, 1050);
    const acts = h.run(h.core.stop(true, 1100), 1100);
    expect(h.core.stopping).toBe(true);
    expect(h.logs).toContainEqual({ msg: "releasing group", fields: { group: "api", epoch: 1, why: "shutdown" } });
    expect(h.types(acts)).toContain("heartbeat-now");
    expect(h.addrs.size).toBe(0);
    const req = h.core.request({}, 1200);
    expect(req.leaving).toBe(true);
    expect(req.released).toEqual([{ group: "api", epoch: 1 }]);
    h.beat(grantReply(group({ epoch: 2 })), 1300, 1350);
    expect(h.core.leases.valid("api", 1350)).toBeNull();
  });

  it("stop without release: nothing is touched in the kernel, the leases are simply forgotten", () => {
    const h = new Harness();
    h.beat(grantReply(group()), 1000, 1050);
    const n = h.ops.length;
    expect(h.core.stop(false, 1100)).toEqual([]);
    expect(h.core.leases.valid("api", 1100)).toBeNull();
    expect(h.ops.length).toBe(n);
    expect(h.addrs.size).toBe(1);
  });

  it("a heartbeat's final reply only settles what was reported", () => {
    const h = new Harness();
    h.beat(grantReply(group()), 1000, 1050);
    h.run(h.core.stop(true, 1100), 1100);
    const req = h.core.request({}, 1200);
    expect(h.core.onReply(req, grantReply(group({ epoch: 2 })), 1200, 1250, true)).toEqual([]);
    expect(h.core.request({}, 1300).released).toEqual([]);
    expect(h.core.lastReplyAt).toBe(1250);
  });
});

describe("shim core: heartbeats", () => {
  it("each request carries the boot, a rising seq, the rounded send time, what is held, and the shim version", () => {
    const c = new ShimCore({ node: "server1", bootId: "boot-x", localLeaseMarginMs: 200, failsafe: false });
    const r0 = c.request({ api: { ok: true } as never }, 12.6);
    expect(r0).toEqual({ bootId: "boot-x", seq: 0, sentMs: 13, probes: { api: { ok: true } }, holding: [], released: [], operations: [], unreleased: [], refused: [], leaving: false, shimVersion: SHIM_VERSION });
    expect(c.request({}, 20).seq).toBe(1);
    expect(c.request({}, -5).sentMs).toBe(0);
    expect(c.node).toBe("server1");
    expect(c.stopping).toBe(false);
  });

  it("operation results are sent until a reply to a request carrying them", () => {
    const h = new Harness();
    expect(h.core.operationFinished({ id: "op-1", ok: true, detail: "" })).toEqual([{ type: "heartbeat-now" }]);
    h.core.operationFinished({ id: "op-2", ok: false, detail: "x" });
    const req = h.core.request({}, 100);
    expect(req.operations.map((o) => o.id)).toEqual(["op-1", "op-2"]);
    h.core.operationFinished({ id: "op-3", ok: true, detail: "" });
    h.run(h.core.onReply(req, { grants: [], desired: desired([]) }, 100, 150), 150);
    expect(h.core.request({}, 200).operations.map((o) => o.id)).toEqual(["op-3"]);
  });

  it("a held lease is reported with its epoch while valid", () => {
    const h = new Harness();
    h.beat(grantReply(group({ epoch: 7 })), 1000, 1050);
    expect(h.core.request({}, 3799).holding).toEqual([{ group: "api", epoch: 7 }]);
    expect(h.core.request({}, 3800).holding).toEqual([]);
  });
});
