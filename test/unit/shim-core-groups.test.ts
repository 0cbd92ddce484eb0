// The shim core (node-shim/core/shim-core.ts) with more than one group, and the details the
// lifecycle tests leave open: each group judged by its own entry, shadow groups never in the
// kernel, what is reported as released or unreleased (only what the control plane asked for),
// when a VIP is announced, fenced and reported, and what is logged once.
import { describe, expect, it } from "vitest";
import type { DesiredGroup } from "../../protocol/heartbeat.js";
import { ShimCore } from "../../node-shim/core/shim-core.js";
import { desired, grantReply, group, Harness } from "./shim-core-harness.js";

const WEB = (over: Partial<DesiredGroup> = {}) => group({ name: "web", vip: "10.0.0.20", interface: "eth1", ...over });
const both = (api: Partial<DesiredGroup>, web: Partial<DesiredGroup>, grants: [string, number][]) => ({ grants: grants.map(([g, epoch]) => ({ group: g, epoch, ttlMs: 3000 })), desired: desired([group(api), WEB(web)]) });
const WALL = 1_800_000_000_000;

describe("shim core: several groups", () => {
  it("each grant is judged by its own group's role; holds() names the group", () => {
    const h = new Harness();
    // web is listed first and is ours to hold; api is a standby here.
    h.beat({ grants: [{ group: "api", epoch: 1, ttlMs: 3000 }, { group: "web", epoch: 1, ttlMs: 3000 }], desired: desired([WEB(), group({ role: "standby", holder: "server2" })]) }, 0, 10);
    expect(h.core.holding(10).map((g) => g.name)).toEqual(["web"]);
    expect(h.core.holds("web", 10)).toBe(true);
    expect(h.core.holds("api", 10)).toBe(false);
    expect(h.core.leases.valid("api", 10)).toBeNull();
  });

  it("each held lease is let go by its own group's entry: web told to release, api kept", () => {
    const h = new Harness();
    h.beat(both({}, {}, [["api", 1], ["web", 1]]), 0, 10);
    h.beat(both({}, { role: "release" }, [["api", 1]]), 1000, 1010);
    expect(h.core.holding(1010).map((g) => g.name)).toEqual(["api"]);
    expect(h.logs.filter((l) => l.msg === "releasing group").map((l) => l.fields)).toEqual([{ group: "web", epoch: 1, why: "control plane asked" }]);
  });

  it("a desired holder at a newer epoch without its grant yet does not make the node let go of its lease", () => {
    const h = new Harness();
    h.beat(grantReply(group()), 0, 10);
    h.beat({ grants: [], desired: desired([group({ epoch: 2 })]) }, 1000, 1010);
    expect(h.core.leases.valid("api", 1010)?.epoch).toBe(1);
    expect(h.logs.map((l) => l.msg)).not.toContain("releasing group");
  });

  it("a second VIP appearing is announced at once, though another is already configured", () => {
    const h = new Harness();
    h.beat(grantReply(group()), 0, 10);
    const acts = h.beat(both({}, {}, [["api", 1], ["web", 1]]), 1000, 1010);
    expect(acts.filter((a) => a.type === "announce")).toEqual([{ type: "announce", ref: { vip: "10.0.0.20", prefix: 24, iface: "eth1" } }]);
  });

  it("a VIP put up again after it was let go is announced at once, while another VIP stays up", () => {
    const h = new Harness();
    h.beat(both({}, {}, [["api", 1], ["web", 1]]), 0, 10);
    h.beat(both({ role: "release" }, {}, [["web", 1]]), 1000, 1010);
    expect(h.addrs.has("eth0/10.0.0.10/24")).toBe(false);
    const acts = h.beat(both({ epoch: 2 }, {}, [["api", 2], ["web", 1]]), 2000, 2010);
    expect(acts.filter((a) => a.type === "announce")).toEqual([{ type: "announce", ref: { vip: "10.0.0.10", prefix: 24, iface: "eth0" } }]);
  });

  it("a group that left the desired state (not released on request) may be granted again at the same epoch", () => {
    const h = new Harness();
    h.beat(grantReply(group()), 0, 10);
    h.beat({ grants: [], desired: desired([]) }, 1000, 1010);
    expect(h.core.holding(1010)).toEqual([]);
    h.beat(grantReply(group()), 2000, 2010);
    expect(h.core.leases.valid("api", 2010)).toEqual({ group: "api", epoch: 1, validUntil: 4800 });
  });

  it("a shadow group held beside an ordinary one never reaches the kernel", () => {
    const h = new Harness();
    h.beat(both({}, { shadow: true }, [["api", 1], ["web", 1]]), 0, 10);
    expect(h.core.holding(10).map((g) => g.name)).toEqual(["api", "web"]);
    expect(h.ops.filter((o) => o.kind === "lease")).toEqual([{ kind: "lease", entries: [{ vip: "10.0.0.10", until: 2800 }] }]);
    expect(h.ops.filter((o) => o.kind === "addr-add").map((o) => (o.kind === "addr-add" ? o.ref.vip : ""))).toEqual(["10.0.0.10"]);
    expect(h.ops.find((o) => o.kind === "read")).toEqual({ kind: "read", ifaces: ["eth0"] });
    expect(h.core.served(10)).toEqual(["api@1", "web@1"]);
  });

  it("a shadow group let go is neither fenced nor removed; released only when the control plane asked", () => {
    const h = new Harness();
    h.beat(grantReply(group({ shadow: true })), 0, 10);
    const acts = h.beat({ grants: [], desired: desired([group({ shadow: true, role: "release" })]) }, 1000, 1010);
    expect(acts.map((a) => a.type)).not.toContain("fence");
    expect(acts.map((a) => a.type)).not.toContain("release-promises");
    expect(h.core.request({}, 1100).released).toEqual([{ group: "api", epoch: 1 }]);
    // Expired rather than released: nothing to report.
    const e = new Harness();
    e.beat(grantReply(group({ shadow: true })), 0, 10);
    expect(e.tick(2800).map((a) => a.type)).not.toContain("fence");
    expect(e.core.request({}, 2900).released).toEqual([]);
  });

  it("refused grants of two promised groups are each logged once", () => {
    const h = new Harness({ failsafe: true, cluster: "dc1" });
    const peers = [{ name: "server2", ip: "10.1.0.2", groups: ["api", "web"] }];
    const st = { failsafe: true, peers };
    h.beat({ grants: [], desired: desired([group({ role: "standby", holder: "server2" }), WEB({ role: "standby", holder: "server2" })], st) }, 0, 10);
    for (const g of ["api", "web"]) h.core.promiseRequest({ v: 1, kind: "promise", cluster: "dc1", from: "server2", to: "server1", group: g, epoch: 1, ttlMs: 3000, nonce: `nonce-${g}-1`, sentAt: WALL }, { now: 20, wall: WALL, boot: { id: "b", ms: 0 } });
    h.beat({ grants: [{ group: "api", epoch: 2, ttlMs: 3000 }], desired: desired([group({ epoch: 2 }), WEB({ role: "standby", holder: "server2" })], st) }, 100, 110);
    h.beat({ grants: [{ group: "api", epoch: 2, ttlMs: 3000 }, { group: "web", epoch: 2, ttlMs: 3000 }], desired: desired([group({ epoch: 2 }), WEB({ epoch: 2 })], st) }, 200, 210);
    expect(h.logs.filter((l) => l.msg === "grant refused: failsafe promise").map((l) => l.fields!.group)).toEqual(["api", "web"]);
    expect(h.core.request({}, 300).refused!.map((r) => r.group)).toEqual(["api", "web"]);
  });
});

describe("shim core: what is reported as released", () => {
  it("a reply settles only the releases its request carried, group and epoch", () => {
    const h = new Harness();
    h.beat(both({}, {}, [["api", 1], ["web", 1]]), 0, 10);
    h.beat(both({ role: "release" }, {}, [["web", 1]]), 1000, 1010);
    const req = h.core.request({}, 1100);
    expect(req.released).toEqual([{ group: "api", epoch: 1 }]);
    // web is released too, pushed over the socket (no request carries it yet).
    h.run(h.core.onPush(desired([group({ role: "release" }), WEB({ role: "release" })]), 1200), 1200);
    expect(h.core.request({}, 1300).released).toEqual([
      { group: "api", epoch: 1 },
      { group: "web", epoch: 1 },
    ]);
    // The reply to the first request settles api only.
    h.run(h.core.onReply(req, { grants: [], desired: desired([group({ role: "release" }), WEB({ role: "release" })]) }, 1100, 1400), 1400);
    expect(h.core.request({}, 1500).released).toEqual([{ group: "web", epoch: 1 }]);
    // A request that carried web at another epoch does not settle it.
    h.run(h.core.onReply({ released: [{ group: "web", epoch: 2 }], operations: [] }, { grants: [], desired: desired([group({ role: "release" }), WEB({ role: "release" })]) }, 1500, 1600), 1600);
    expect(h.core.request({}, 1700).released).toEqual([{ group: "web", epoch: 1 }]);
  });

  it("a lease that ran out is no release: not reported, not unreleased even when its VIP cannot be removed", () => {
    const h = new Harness();
    h.beat(grantReply(group()), 0, 10);
    h.failing.add("unlease");
    h.tick(2800);
    const req = h.core.request({}, 2900);
    expect(req.released).toEqual([]);
    expect(req.unreleased).toEqual([]);
    // The same epoch granted again after it ran out (never released) is taken.
    h.failing.clear();
    h.beat(grantReply(group()), 3000, 3010);
    expect(h.core.leases.valid("api", 3010)).toEqual({ group: "api", epoch: 1, validUntil: 5800 });
  });

  it("released waits for the address to be verified gone, even after the fence; a failing delete says unreleased", () => {
    const h = new Harness();
    h.beat(grantReply(group()), 0, 10);
    h.failing.add("addr-del");
    const acts = h.beat({ grants: [], desired: desired([group({ role: "release" })]) }, 1000, 1010);
    expect(acts.map((a) => a.type)).toContain("fence");
    expect(h.core.request({}, 1100).released).toEqual([]);
    expect(h.core.request({}, 1100).unreleased).toEqual([{ group: "api", epoch: 1, detail: "addr-del failed" }]);
    expect(h.core.releasesSettled()).toBe(true);
    // No reannouncement of a VIP being let go, however long it stays configured.
    expect(h.tick(20_000).map((a) => a.type)).not.toContain("announce");
    h.failing.clear();
    h.tick(30_000);
    expect(h.core.request({}, 30_100).released).toEqual([{ group: "api", epoch: 1 }]);
    expect(h.core.request({}, 30_100).unreleased).toEqual([]);
  });

  it("a fenceDone before the fence was asked for does not count: the fence still runs once the VIP is inert", () => {
    const h = new Harness();
    h.autoFence = false;
    h.beat(grantReply(group()), 0, 10);
    h.failing.add("unlease");
    h.beat({ grants: [], desired: desired([group({ role: "release" })]) }, 1000, 1010);
    h.run(h.core.fenceDone("api", 1020), 1020);
    h.failing.clear();
    const acts = h.tick(1200);
    expect(acts.filter((a) => a.type === "fence")).toHaveLength(1);
    expect(h.core.request({}, 1300).released).toEqual([]);
  });

  it("after a release with a failing unlease the deadline is never in the past once the fence has run", () => {
    const h = new Harness({ resyncMs: 60_000 });
    h.beat(grantReply(group()), 0, 10);
    h.failing.add("unlease");
    h.failing.add("addr-del");
    h.beat({ grants: [], desired: desired([group({ role: "release" })]) }, 1000, 1010);
    // Inert by time at 2800 + 254: the fence runs then; the address stays (its delete fails).
    const acts = h.tick(3054);
    expect(acts.map((a) => a.type)).toContain("fence");
    for (const t of [3054, 3100, 3500]) {
      const next = h.core.nextDeadline(t);
      expect(next === null || next > t).toBe(true);
    }
  });
});

describe("shim core: logs and small details", () => {
  it("a normal reply logs neither stale state nor a stale grant; a new epoch while holding an older one is a new grant", () => {
    const h = new Harness();
    h.beat(grantReply(group()), 0, 10);
    h.beat(grantReply(group({ epoch: 2 })), 1000, 1010);
    expect(h.logs.map((l) => l.msg).filter((m) => m.startsWith("stale"))).toEqual([]);
    expect(h.logs.filter((l) => l.msg === "lease granted").map((l) => l.fields)).toEqual([
      { group: "api", epoch: 1 },
      { group: "api", epoch: 2 },
    ]);
  });

  it("the failsafe log comes with the first promise kept", () => {
    const h = new Harness({ failsafe: true });
    h.beat(grantReply(group(), { failsafe: true, peers: [{ name: "server2", ip: "10.1.0.2", groups: ["api"] }] }), 1000, 1050);
    h.run(h.core.onPromised("api", 1, 3000, 2000, 2100), 2100);
    expect(h.logs.at(-1)).toEqual({ msg: "failsafe: control plane unreachable, keeping group on peers' promises", fields: { group: "api", epoch: 1 } });
  });

  it("a release pushed over the socket is logged as asked by the control plane", () => {
    const h = new Harness();
    h.beat(grantReply(group()), 0, 10);
    h.run(h.core.onPush(desired([group({ role: "release" })]), 100), 100);
    expect(h.logs).toContainEqual({ msg: "releasing group", fields: { group: "api", epoch: 1, why: "control plane asked" } });
  });

  it("a release of a promise that was never given is answered, not logged as a refusal", () => {
    const h = new Harness({ failsafe: true, cluster: "dc1" });
    h.beat({ grants: [], desired: desired([group({ role: "standby", holder: "server2" })], { failsafe: true, peers: [{ name: "server2", ip: "10.1.0.2", groups: ["api"] }] }) }, 0, 10);
    const r = h.core.promiseRequest({ v: 1, kind: "release", cluster: "dc1", from: "server2", to: "server1", group: "api", epoch: 1, ttlMs: 3000, nonce: "nonce-rel-1", sentAt: WALL }, { now: 20, wall: WALL, boot: { id: "b", ms: 0 } });
    expect(r).toEqual({ reply: expect.objectContaining({ ok: true, reason: "no promise to end" }), persist: false });
    expect(h.logs.map((l) => l.msg).filter((m) => m.startsWith("failsafe promise"))).toEqual([]);
  });

  it("without a cluster id the node answers for cluster '' (and refuses any named one)", () => {
    const c = new ShimCore({ node: "server1", bootId: "b", localLeaseMarginMs: 200, failsafe: true });
    const r = c.promiseRequest({ v: 1, kind: "promise", cluster: "dc1", from: "server2", to: "server1", group: "api", epoch: 1, ttlMs: 3000, nonce: "nonce-cl-1", sentAt: WALL }, { now: 0, wall: WALL, boot: { id: "b", ms: 0 } });
    expect(r.reply).toMatchObject({ ok: false, cluster: "", reason: "wrong cluster 'dc1'" });
  });

  it("a fresh core knows no group, serves nothing, holds nothing", () => {
    const c = new ShimCore({ node: "server1", bootId: "b", localLeaseMarginMs: 200, failsafe: false });
    expect(c.knownGroups()).toEqual([]);
    expect(c.served(0)).toEqual([]);
    expect(c.holding(0)).toEqual([]);
    expect(c.groupInfo("api")).toBeNull();
  });

  it("at most 32 apply errors go in a heartbeat", () => {
    const groups = Array.from({ length: 34 }, (_, i) => group({ name: `g${i}`, vip: `10.0.1.${i + 1}` }));
    const h = new Harness();
    h.failing.add("addr-add");
    h.beat({ grants: groups.map((g) => ({ group: g.name, epoch: 1, ttlMs: 3000 })), desired: desired(groups) }, 0, 10);
    expect(h.core.kernel.failures.size).toBe(34);
    expect(h.core.request({}, 100, WALL).applyErrors).toHaveLength(32);
  });
});

describe("shim core: a few more exact statements", () => {
  it("a reply to a request that carried two releases settles both", () => {
    const h = new Harness();
    h.beat(both({}, {}, [["api", 1], ["web", 1]]), 0, 10);
    h.run(h.core.onPush(desired([group({ role: "release" }), WEB({ role: "release" })]), 100), 100);
    const req = h.core.request({}, 200);
    expect(req.released).toEqual([
      { group: "api", epoch: 1 },
      { group: "web", epoch: 1 },
    ]);
    h.run(h.core.onReply(req, { grants: [], desired: desired([group({ role: "release" }), WEB({ role: "release" })]) }, 200, 250), 250);
    expect(h.core.request({}, 300).released).toEqual([]);
  });

  it("a VIP moving to another interface is announced on the new one only, never on the old", () => {
    const h = new Harness({ reannounceMs: 100 });
    h.beat(grantReply(group()), 0, 10);
    const acts = h.beat(grantReply(group({ interface: "eth1" })), 1000, 1010);
    const announced = acts.flatMap((a) => (a.type === "announce" ? [a.ref.iface] : []));
    expect(announced).toEqual(["eth1"]);
  });

  it("each heartbeat after the first reply says which spec version its peer list is from; none before", () => {
    const h = new Harness();
    expect("peersOf" in h.core.request({}, 0)).toBe(false);
    h.beat({ grants: [], desired: desired([group({ role: "standby", holder: "server2" })], { specVersion: 7 }) }, 10, 20);
    expect(h.core.request({}, 30).peersOf).toBe(7);
  });
});
