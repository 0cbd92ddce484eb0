// The shim core's failsafe side and its clocks (node-shim/core/shim-core.ts): when a holder asks
// its peers for promises (and when not), how long a promise keeps its lease, when a node refuses a
// grant because it promised, what survives a restart; and the instants the core gives its driver
// (kernel cut, next deadline, recheck clamps).
import { describe, expect, it } from "vitest";
import type { DesiredState } from "../../protocol/heartbeat.js";
import type { PromiseRequestBody } from "../../node-shim/core/promises.js";
import { ShimCore } from "../../node-shim/core/shim-core.js";
import { desired, grantReply, group, Harness } from "./shim-core-harness.js";

const WALL = 1_800_000_000_000;
const PEERS: DesiredState["peers"] = [
  { name: "server2", ip: "10.1.0.2", groups: ["api"] },
  { name: "server3", ip: "10.1.0.3", groups: ["web"] },
];
const fs = (over: Partial<DesiredState> = {}) => ({ failsafe: true, peers: PEERS, ...over });

const preq = (over: Partial<PromiseRequestBody> = {}): PromiseRequestBody => ({ v: 1, kind: "promise", cluster: "dc1", from: "server2", to: "server1", group: "api", epoch: 3, ttlMs: 3000, nonce: `n-${Math.random()}`, sentAt: WALL, ...over });
const clocks = (now: number) => ({ now, wall: WALL + now, boot: { id: "boot-host", ms: 500_000 + now } });

describe("shim core: failsafe, the holder's side", () => {
  it("the control plane unreachable (or failing with a 5xx): each held group asks its own peers for a TTL, waiting at most 1 s", () => {
    const h = new Harness({ failsafe: true });
    h.beat(grantReply(group(), fs()), 1000, 1050);
    for (const kind of ["unreachable", "server-error"] as const) {
      const acts = h.core.onFailure(kind, 2000);
      expect(acts.filter((a) => a.type === "ask-promises")).toEqual([{ type: "ask-promises", group: "api", epoch: 1, ttlMs: 3000, timeoutMs: 1000, peers: ["server2"] }]);
    }
    // A heartbeat interval under a second bounds the wait instead.
    const h2 = new Harness({ failsafe: true });
    h2.beat(grantReply(group(), fs({ heartbeatIntervalMs: 400 })), 1000, 1050);
    expect(h2.core.onFailure("unreachable", 2000).find((a) => a.type === "ask-promises")).toMatchObject({ timeoutMs: 400 });
  });

  it("no promises asked on a refusal (4xx) or a bad reply, without failsafe on both sides, or while leaving", () => {
    const on = new Harness({ failsafe: true });
    on.beat(grantReply(group(), fs()), 1000, 1050);
    expect(on.core.onFailure("refused", 2000).map((a) => a.type)).not.toContain("ask-promises");
    expect(on.core.onFailure("bad-reply", 2000).map((a) => a.type)).not.toContain("ask-promises");
    const nodeOff = new Harness({ failsafe: false });
    nodeOff.beat(grantReply(group(), fs()), 1000, 1050);
    expect(nodeOff.core.onFailure("unreachable", 2000).map((a) => a.type)).not.toContain("ask-promises");
    const specOff = new Harness({ failsafe: true });
    specOff.beat(grantReply(group(), fs({ failsafe: false })), 1000, 1050);
    expect(specOff.core.onFailure("unreachable", 2000).map((a) => a.type)).not.toContain("ask-promises");
    on.run(on.core.stop(true, 2100), 2100);
    expect(on.core.onFailure("unreachable", 2200).map((a) => a.type)).not.toContain("ask-promises");
  });

  it("every peer promised: the lease is kept one TTL from the asking, minus the margin; logged once per outage", () => {
    const h = new Harness({ failsafe: true });
    h.beat(grantReply(group(), fs()), 1000, 1050); // until 3800
    h.run(h.core.onFailure("unreachable", 2000), 2000);
    h.run(h.core.onPromised("api", 1, 3000, 2000, 2100), 2100);
    expect(h.core.leases.valid("api", 2100)?.validUntil).toBe(4800);
    h.run(h.core.onPromised("api", 1, 3000, 3000, 3100), 3100);
    expect(h.core.leases.valid("api", 3100)?.validUntil).toBe(5800);
    expect(h.logs.filter((l) => l.msg.startsWith("failsafe: control plane unreachable"))).toEqual([{ msg: "failsafe: control plane unreachable, keeping group on peers' promises", fields: { group: "api", epoch: 1 } }]);
    // The control plane answers again: said once.
    h.beat(grantReply(group(), fs()), 4000, 4050);
    h.beat(grantReply(group(), fs()), 4100, 4150);
    expect(h.logs.filter((l) => l.msg === "failsafe over: control plane answers again")).toEqual([{ msg: "failsafe over: control plane answers again", fields: { groups: ["api"] } }]);
  });

  it("promises that come back too late (lease over), for another epoch, or while leaving keep nothing", () => {
    const h = new Harness({ failsafe: true });
    h.beat(grantReply(group(), fs()), 1000, 1050); // until 3800
    expect(h.core.onPromised("api", 2, 3000, 2000, 2100)).toEqual([]);
    expect(h.core.leases.valid("api", 2100)?.validUntil).toBe(3800);
    expect(h.core.onPromised("api", 1, 3000, 2000, 3800)).toEqual([]);
    expect(h.core.leases.valid("api", 3800)).toBeNull();
    const l = new Harness({ failsafe: true });
    l.beat(grantReply(group(), fs()), 1000, 1050);
    l.core.stop(false, 1100);
    expect(l.core.onPromised("api", 1, 3000, 2000, 2100)).toEqual([]);
  });
});

describe("shim core: failsafe, the promiser's side", () => {
  it("answers a peer's request with the spec's TTL and margin, persisting before the reply; then refuses the grant it promised away", () => {
    const h = new Harness({ failsafe: true, cluster: "dc1" });
    h.beat({ grants: [], desired: desired([group({ role: "standby", holder: "server2", epoch: 3 })], fs()) }, 1000, 1050);
    const r = h.core.promiseRequest(preq(), clocks(1100));
    expect(r).toEqual({ reply: expect.objectContaining({ ok: true, reason: "promised", from: "server1", to: "server2" }), persist: true });
    expect(h.logs).toContainEqual({ msg: "failsafe promise given", fields: { group: "api", holder: "server2", epoch: 3, ttlMs: 3000 } });
    // Promised from 1100 for 3000 + the spec's drift margin 500.
    expect(h.core.promisedTo("api", 4599)).toBe("server2");
    const acts = h.beat({ grants: [{ group: "api", epoch: 4, ttlMs: 3000 }], desired: desired([group({ epoch: 4 })], fs()) }, 2000, 2050);
    expect(h.core.holding(2050)).toEqual([]);
    expect(h.logs.filter((l) => l.msg === "grant refused: failsafe promise")).toEqual([{ msg: "grant refused: failsafe promise", fields: { group: "api", epoch: 4, promisedTo: "server2" } }]);
    expect(h.core.request({}, 2100).refused).toEqual([{ group: "api", epoch: 4, promisedTo: "server2" }]);
    expect(h.types(acts)).toContain("reconcile");
    // Refused again on the next reply: reported, not logged again.
    h.beat({ grants: [{ group: "api", epoch: 4, ttlMs: 3000 }], desired: desired([group({ epoch: 4 })], fs()) }, 2200, 2250);
    expect(h.logs.filter((l) => l.msg === "grant refused: failsafe promise")).toHaveLength(1);
    // Once the promise is over, the grant is taken and nothing is refused any more.
    h.beat({ grants: [{ group: "api", epoch: 4, ttlMs: 3000 }], desired: desired([group({ epoch: 4 })], fs()) }, 4600, 4650);
    expect(h.core.promisedTo("api", 4600)).toBeNull();
    expect(h.core.holding(4650).map((g) => g.epoch)).toEqual([4]);
    expect(h.core.request({}, 4700).refused).toEqual([]);
  });

  it("refuses while holding the group, or for a sender that is not a peer, and says why in the log", () => {
    const h = new Harness({ failsafe: true, cluster: "dc1" });
    h.beat(grantReply(group({ epoch: 3 }), fs()), 1000, 1050);
    const r = h.core.promiseRequest(preq(), clocks(1100));
    expect(r).toEqual({ reply: expect.objectContaining({ ok: false, reason: "server1 holds api" }), persist: false });
    expect(h.logs).toContainEqual({ msg: "failsafe promise refused", fields: { group: "api", to: "server2", reason: "server1 holds api" } });
    // Peers are every listed server, whatever group they share.
    expect(h.core.promiseRequest(preq({ from: "server3", group: "web" }), clocks(1100)).reply.ok).toBe(true);
    expect(h.core.promiseRequest(preq({ from: "server4", group: "web" }), clocks(1100)).reply.reason).toBe("server4 is not a peer server of server1 (per the control plane)");
    // Not holding any more (the lease ran out at 3800): it may promise.
    expect(h.core.promiseRequest(preq(), clocks(3800)).reply.ok).toBe(true);
    // Its own listener's self-check (from itself) is refused too, and not logged as a refusal:
    // the self-check logs its own outcome.
    const before = h.logs.length;
    const self = h.core.promiseRequest(preq({ kind: "release", from: "server1", group: "chime-ha-self-check" }), clocks(3900));
    expect(self.reply).toMatchObject({ ok: false, reason: "server1 is not a peer server of server1 (per the control plane)" });
    expect(h.logs.slice(before)).toEqual([]);
  });

  it("a release from the holder ends the promise (persisted), logged as such", () => {
    const h = new Harness({ failsafe: true, cluster: "dc1" });
    h.beat({ grants: [], desired: desired([group({ role: "standby", holder: "server2", epoch: 3 })], fs()) }, 1000, 1050);
    h.core.promiseRequest(preq(), clocks(1100));
    expect(h.core.promiseRequest(preq({ kind: "release" }), clocks(1200))).toEqual({ reply: expect.objectContaining({ ok: true, reason: "promise ended" }), persist: true });
    expect(h.logs).toContainEqual({ msg: "failsafe promise released", fields: { group: "api", holder: "server2", epoch: 3, ttlMs: 3000 } });
    expect(h.core.promisedTo("api", 1200)).toBeNull();
  });

  it("durable state: promises on both clocks, peers, TTL, margin and the groups held; a restarted node honours it before the control plane speaks", () => {
    const h = new Harness({ failsafe: true, cluster: "dc1" });
    h.beat(grantReply(group({ name: "web", vip: "10.0.0.20", epoch: 2 }), fs()), 1000, 1050);
    h.core.promiseRequest(preq(), clocks(1100));
    const st = h.core.durableState(clocks(1200));
    expect(st).toEqual({
      v: 1,
      promises: [{ group: "api", holder: "server2", epoch: 3, untilWall: WALL + 4600, boot: { id: "boot-host", until: 504_600 } }],
      peers: ["server2", "server3"],
      leaseTtlMs: 3000,
      driftMarginMs: 500,
      held: [group({ name: "web", vip: "10.0.0.20", epoch: 2 })],
    });
    // A new process (its own monotonic clock from 0), same host boot, 300 ms later.
    const c = new ShimCore({ node: "server1", cluster: "dc1", bootId: "boot-b", localLeaseMarginMs: 200, failsafe: true });
    const later = { now: 0, wall: WALL + 1500, boot: { id: "boot-host", ms: 501_500 } };
    expect(c.durableState(later)).toEqual({ v: 1, promises: [], peers: [], leaseTtlMs: 0, driftMarginMs: 0, held: [] });
    c.load(st, later);
    expect(c.promisedTo("api", 3099)).toBe("server2");
    expect(c.promisedTo("api", 3100)).toBeNull();
    expect(c.durableState(later)).toMatchObject({ peers: ["server2", "server3"], leaseTtlMs: 3000, driftMarginMs: 500 });
    // It answers requests with the stored peers, TTL and margin.
    const r = c.promiseRequest(preq({ from: "server3", group: "db" }), later);
    expect(r.reply).toMatchObject({ ok: true, reason: "promised" });
    expect(c.promisedTo("db", 3499)).toBe("server3");
    expect(c.promisedTo("db", 3500)).toBeNull();
    expect(c.promiseRequest(preq({ from: "server3", group: "db2", ttlMs: 3001 }), later).reply.reason).toBe("ttl 3001 ms is longer than the spec's lease TTL 3000 ms");
    // Asked to keep a group before any word from the control plane: the stored peers are asked.
    expect(c.onFailure("unreachable", 10)).toEqual([{ type: "reconcile" }]);
  });

  it("a node that never heard of a TTL promises nothing (TTL 0)", () => {
    const c = new ShimCore({ node: "server1", cluster: "dc1", bootId: "b", localLeaseMarginMs: 200, failsafe: true });
    expect(c.promiseRequest(preq(), clocks(0)).reply.ok).toBe(false);
  });
});

describe("shim core: instants for the driver", () => {
  it("kernelCutMs: how much earlier the kernel element ends than the local lease (254 ms of kernel slack and 1 % clock drift over 2 TTL + margin, less the margins)", () => {
    const mk = (margin: number, d: Partial<DesiredState> | null) => {
      const h = new Harness({ localLeaseMarginMs: margin });
      if (d) h.beat({ grants: [], desired: desired([], d) }, 0, 1);
      return h.core.kernelCutMs();
    };
    expect(mk(200, null)).toBe(254);
    expect(mk(0, { driftMarginMs: undefined })).toBe(254 + 60);
    expect(mk(0, { driftMarginMs: 100 })).toBe(254 + 61 - 100);
    expect(mk(50, { driftMarginMs: 100, leaseTtlMs: 10_000 })).toBe(254 + 201 - 150);
    expect(mk(200, { driftMarginMs: 500 })).toBe(0);
  });

  it("the kernel element ends kernelCutMs() before the local lease; none is asked for once that is past", () => {
    const h = new Harness({ localLeaseMarginMs: 0 });
    h.beat(grantReply(group(), { driftMarginMs: 100 }), 1000, 1050); // lease until 4000, cut 215
    expect(h.ops.find((o) => o.kind === "lease")).toEqual({ kind: "lease", entries: [{ vip: "10.0.0.10", until: 3785 }] });
    expect(h.core.recheck({ kind: "lease", entries: [{ vip: "10.0.0.10", until: 9999 }] }, 3784)).toEqual({ kind: "lease", entries: [{ vip: "10.0.0.10", until: 3785 }] });
    expect(h.core.recheck({ kind: "lease", entries: [{ vip: "10.0.0.10", until: 3000 }] }, 2000)).toEqual({ kind: "lease", entries: [{ vip: "10.0.0.10", until: 3000 }] });
    expect(h.core.recheck({ kind: "lease", entries: [{ vip: "10.0.0.10", until: 3785 }] }, 3785)).toBeNull();
    // Still held (until 4000), yet nothing is served once the kernel element is over.
    expect(h.core.holds("api", 3900)).toBe(true);
  });

  it("recheck: a renewal keeps only the VIPs still held, an address only on the interface it is wanted on; other operations pass", () => {
    const h = new Harness();
    h.beat(grantReply(group()), 1000, 1050); // until 3800
    const ref = { vip: "10.0.0.10", prefix: 24, iface: "eth0" };
    expect(h.core.recheck({ kind: "lease", entries: [{ vip: "10.0.0.99", until: 3000 }, { vip: "10.0.0.10", until: 3000 }] }, 2000)).toEqual({ kind: "lease", entries: [{ vip: "10.0.0.10", until: 3000 }] });
    expect(h.core.recheck({ kind: "addr-add", ref, until: 9000 }, 2000)).toEqual({ kind: "addr-add", ref, until: 3800 });
    expect(h.core.recheck({ kind: "addr-add", ref, until: 2500 }, 2000)).toEqual({ kind: "addr-add", ref, until: 2500 });
    expect(h.core.recheck({ kind: "addr-add", ref: { ...ref, iface: "eth9" }, until: 3000 }, 2000)).toBeNull();
    expect(h.core.recheck({ kind: "addr-add", ref: { ...ref, prefix: 32 }, until: 3000 }, 2000)).toBeNull();
    expect(h.core.recheck({ kind: "addr-add", ref, until: 3000 }, 3800)).toBeNull();
    expect(h.core.recheck({ kind: "unlease", vips: ["10.0.0.10"] }, 2000)).toEqual({ kind: "unlease", vips: ["10.0.0.10"] });
    expect(h.core.recheck({ kind: "read", ifaces: ["eth0"] }, 2000)).toEqual({ kind: "read", ifaces: ["eth0"] });
  });

  it("nextDeadline: the lease end, the next resync, a promise's end, the instant a lost VIP turns inert, the next reannouncement", () => {
    const h = new Harness({ failsafe: true, cluster: "dc1", reannounceMs: 700, resyncMs: 60_000 });
    expect(h.core.nextDeadline(0)).toBeNull();
    h.beat(grantReply(group(), fs()), 1000, 1050); // lease until 3800, announced at 1050
    expect(h.core.nextDeadline(1050)).toBe(1750);
    const h2 = new Harness({ failsafe: true, cluster: "dc1", resyncMs: 60_000 });
    h2.beat(grantReply(group(), fs()), 1000, 1050);
    expect(h2.core.nextDeadline(1050)).toBe(3800);
    // A promise given that ends before.
    h2.core.promiseRequest(preq({ group: "web", from: "server3", ttlMs: 1000 }), clocks(1060)); // until 2560
    expect(h2.core.nextDeadline(1060)).toBe(2560);
    // A lost VIP whose removal fails: its fence waits for it to turn inert by time (3800 - 0 cut + 254).
    const h3 = new Harness({ resyncMs: 60_000 });
    h3.beat(grantReply(group()), 1000, 1050);
    h3.failing.add("unlease");
    h3.tick(3800);
    // The retry of the failed unlease (100 ms) comes first.
    expect(h3.core.nextDeadline(3800)).toBe(3900);
    h3.tick(3900); // fails again: next retry at 4100
    expect(h3.core.nextDeadline(3900)).toBe(4054);
    expect(h3.types(h3.tick(4053))).not.toContain("fence");
    const f = h3.tick(4054);
    expect(h3.types(f)).toContain("fence");
  });

  it("a resync every resyncMs (default 5 s) repairs an address removed behind the core's back", () => {
    const h = new Harness();
    h.beat(grantReply(group()), 1000, 1050);
    for (let t = 2000; t <= 5000; t += 1000) h.beat(grantReply(group()), t, t + 50);
    const before = h.ops.filter((o) => o.kind === "read").length;
    h.addrs.clear();
    // Read back at 1050 + 5000.
    expect(h.core.nextDeadline(5050)).toBe(6050);
    const acts = h.tick(6050);
    expect(h.ops.filter((o) => o.kind === "read").length).toBe(before + 1);
    // Read back, found missing, put up again and announced (it is news again).
    expect(h.types(acts).filter((t) => t.startsWith("kernel") || t === "announce")).toEqual(["kernel:read", "kernel:addr-add", "announce"]);
    expect(h.addrs.size).toBe(1);
  });

  it("the interface override puts every VIP on one interface, and it is read back even without groups", () => {
    const h = new Harness({ iface: "bond0" });
    h.beat(grantReply(group()), 1000, 1050);
    expect(h.ops.find((o) => o.kind === "read")).toEqual({ kind: "read", ifaces: ["bond0"] });
    expect(h.ops.find((o) => o.kind === "addr-add")).toEqual({ kind: "addr-add", ref: { vip: "10.0.0.10", prefix: 24, iface: "bond0" }, until: 3800 });
    const two = new Harness({ iface: "bond0" });
    two.beat({ grants: [], desired: desired([group({ role: "standby", interface: "eth1" }), group({ name: "web", vip: "10.0.0.20", interface: "eth0", role: "standby" })]) }, 0, 10);
    expect(two.ops.find((o) => o.kind === "read")).toEqual({ kind: "read", ifaces: ["bond0"] });
    const per = new Harness();
    per.beat({ grants: [], desired: desired([group({ role: "standby", interface: "eth1" }), group({ name: "web", vip: "10.0.0.20", interface: "eth0", role: "standby" }), group({ name: "db", vip: "10.0.0.30", interface: "eth1", role: "standby" })]) }, 0, 10);
    expect(per.ops.find((o) => o.kind === "read")).toEqual({ kind: "read", ifaces: ["eth0", "eth1"] });
  });
});

describe("shim core: shadow groups and idle nodes", () => {
  it("a shadow group is held without touching the kernel: served at once, released at once", () => {
    const h = new Harness();
    const acts = h.beat(grantReply(group({ shadow: true })), 1000, 1050);
    expect(h.ops).toEqual([]);
    expect(h.types(acts)).toEqual(["sync-probes", "reconcile", "run-operations", "persist"]);
    expect(h.core.served(1050)).toEqual(["api@1"]);
    expect(h.core.holds("api", 1050)).toBe(true);
    h.beat({ grants: [], desired: desired([group({ shadow: true, role: "release" })]) }, 2000, 2050);
    expect(h.core.request({}, 2100).released).toEqual([{ group: "api", epoch: 1 }]);
    expect(h.ops).toEqual([]);
  });

  it("an ordinary group is served only once its VIP is up in the kernel", () => {
    const h = new Harness();
    h.failing.add("addr-add");
    h.beat(grantReply(group()), 1000, 1050);
    expect(h.core.holds("api", 1050)).toBe(true);
    expect(h.core.served(1050)).toEqual([]);
    const req = h.core.request({}, 1100, WALL);
    expect(req.applyErrors).toEqual([{ group: "api", target: "vip", command: "cmd addr-add", exitCode: 1, stderrTail: "addr-add failed", since: WALL - 50 }]);
  });

  it("a node that knows no group of its own touches nothing in the kernel, even after its first reply", () => {
    const h = new Harness();
    h.beat({ grants: [], desired: desired([]) }, 0, 10);
    expect(h.core.onFailure("unreachable", 100)).toEqual([]);
    h.tick(20_000);
    expect(h.ops).toEqual([]);
    // The first failure before any reply: reconcile once (nothing from an earlier run can be adopted).
    const f = new Harness();
    expect(f.core.onFailure("unreachable", 0)).toEqual([{ type: "reconcile" }]);
    expect(f.core.onFailure("unreachable", 10)).toEqual([]);
  });
});

describe("shim core: bounds and details of what it reports", () => {
  it("remembers the send times of its last 64 heartbeats for pushed grants, no more", () => {
    const h = new Harness();
    h.beat({ grants: [], desired: desired([group({ role: "standby", holder: "server2" })]) }, 0, 5);
    // seq 0 was that heartbeat; 64 more: seq 1..64 (the oldest, seq 0, is forgotten).
    for (let i = 1; i <= 64; i++) h.core.request({}, i * 10);
    const push = (seq: number) => ({ type: "grant" as const, bootId: "boot-a", seq, grants: [{ group: "api", epoch: 2, ttlMs: 3000 }], desired: desired([group({ epoch: 2 })]) });
    expect(h.core.onPushedGrants(push(0), 700)).toEqual([{ type: "heartbeat-now" }]);
    expect(h.logs).toContainEqual({ msg: "pushed grant ignored", fields: { bootId: "boot-a", seq: 0, why: "heartbeat not remembered" } });
    h.run(h.core.onPushedGrants(push(1), 700), 700);
    // Counted from seq 1's send time, 10.
    expect(h.core.leases.valid("api", 700)).toEqual({ group: "api", epoch: 2, validUntil: 10 + 3000 - 200 });
    h.core.onPushedGrants({ ...push(64), bootId: "boot-z" }, 710);
    expect(h.logs).toContainEqual({ msg: "pushed grant ignored", fields: { bootId: "boot-z", seq: 64, why: "another boot" } });
  });

  it("apply errors: the command's first 500 characters, stderr's last 500, since on the wall clock; at most 32", () => {
    const h = new Harness();
    h.beat(grantReply(group()), 1000, 1050);
    const op = { kind: "addr-add" as const, ref: { vip: "10.0.0.10", prefix: 24, iface: "eth0" }, until: 3000 };
    const detail = "a".repeat(100) + "b".repeat(500);
    h.core.kernelDone(op, { ok: false, detail, command: "c".repeat(600), exitCode: null }, 1100);
    const [e] = h.core.request({}, 1500, WALL).applyErrors!;
    expect(e).toEqual({ group: "api", target: "vip", command: "c".repeat(500), exitCode: null, stderrTail: "b".repeat(500), since: WALL - 400 });
    // A failure older than the wall clock's start is dated 0, never negative; one without a VIP names no group.
    const early = new Harness();
    early.core.kernelDone({ kind: "setup" }, { ok: false, detail: "x", command: "nft", exitCode: 1 }, 0);
    expect(early.core.request({}, 5000, 1000.4).applyErrors).toEqual([{ target: "vip", command: "nft", exitCode: 1, stderrTail: "x", since: 0 }]);
    expect(early.core.request({}, 5000, 9000.6).applyErrors![0]!.since).toBe(4001);
    // Unreleased details are cut to 500 characters too.
    const acts = h.core.onPush(desired([group({ role: "release" })]), 1300);
    const unlease = acts.find((a) => a.type === "kernel");
    expect(unlease).toEqual({ type: "kernel", op: { kind: "unlease", vips: ["10.0.0.10"] } });
    if (unlease?.type === "kernel") h.core.kernelDone(unlease.op, { ok: false, detail: "d".repeat(700), command: "nft", exitCode: 1 }, 1310);
    expect(h.core.request({}, 1400).unreleased).toEqual([{ group: "api", epoch: 1, detail: "d".repeat(500) }]);
  });

  it("a renewal that reached the kernel too late, or an operation no longer wanted, is not logged as a failure", () => {
    const h = new Harness();
    h.beat(grantReply(group()), 1000, 1050);
    const op = { kind: "lease" as const, entries: [{ vip: "10.0.0.10", until: 3800 }] };
    h.core.kernelDone(op, { ok: false, detail: "late", command: "nft", exitCode: 1, stale: true }, 1100);
    h.core.kernelDone(op, { ok: false, detail: "gone", command: "nft", exitCode: null, aborted: true }, 1100);
    expect(h.logs.filter((l) => l.msg === "kernel operation failed")).toEqual([]);
    h.core.kernelDone(op, { ok: false, detail: "bad", command: "nft", exitCode: 1 }, 1100);
    expect(h.logs.filter((l) => l.msg === "kernel operation failed")).toEqual([{ msg: "kernel operation failed", fields: { op: "lease", detail: "bad", command: "nft" } }]);
  });

  it("letting go of a group tells its own peers their promises are no longer needed", () => {
    const h = new Harness({ failsafe: true, cluster: "dc1" });
    h.beat(grantReply(group({ epoch: 6 }), fs()), 1000, 1050);
    const acts = h.beat({ grants: [], desired: desired([group({ epoch: 6, role: "release" })], fs()) }, 2000, 2050);
    expect(acts.filter((a) => a.type === "release-promises")).toEqual([{ type: "release-promises", group: "api", epoch: 6, peers: ["server2"] }]);
  });

  it("fenceDone for a group whose fence is not running changes nothing", () => {
    const h = new Harness();
    h.beat(grantReply(group()), 1000, 1050);
    expect(h.core.fenceDone("api", 1100).map((a) => a.type)).not.toContain("heartbeat-now");
    expect(h.core.holds("api", 1100)).toBe(true);
  });
});
