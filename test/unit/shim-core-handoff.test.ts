// Direct handoff in the shim core (node-shim/core/shim-core.ts): the holder whose own probe fails
// lets go and, once its VIP is verified gone, hands the group to the server the control plane
// named; that server takes it at epoch + 1 only under its own naming, with the lease the naming's
// heartbeat gives, and never keeps it on promises before a grant confirms it.
import { describe, expect, it } from "vitest";
import type { PromiseRequestBody } from "../../node-shim/core/promises.js";
import type { HeartbeatReply } from "../../protocol/heartbeat.js";
import { desired, grantReply, group, Harness } from "./shim-core-harness.js";

const WALL = 1_800_000_000_000;
const PEERS = [
  { name: "server1", ip: "10.1.0.1", groups: ["api"] },
  { name: "server3", ip: "10.1.0.3", groups: ["api"] },
];
const clocks = (now: number) => ({ now, wall: WALL + now, boot: { id: "boot-host", ms: 500_000 + now } });
let n = 0;
const handoff = (over: Partial<PromiseRequestBody> = {}): PromiseRequestBody => ({ v: 1, kind: "handoff", cluster: "dc1", from: "server1", to: "server2", group: "api", epoch: 4, ttlMs: 3000, nonce: `nonce-${++n}`, sentAt: WALL + 2000, ...over });

/** server2, standing by for api (epoch 4, held by server1), named to take it; its probe passes. */
function named(sentAt = 1000, now = 1050, healthy = true): Harness {
  const h = new Harness({ node: "server2", cluster: "dc1" });
  h.run(h.core.probeChanged("api", healthy, now), now);
  const reply: HeartbeatReply = { grants: [], desired: desired([group({ role: "standby", epoch: 4, holder: "server1", handoffFrom: "server1" })], { node: "server2", peers: PEERS, failsafe: true }) };
  h.beat(reply, sentAt, now);
  return h;
}

describe("shim core: direct handoff, the holder's side", () => {
  it("its own probe failing, a holder named a server lets go and hands the group over once the VIP is gone", () => {
    const h = new Harness({ cluster: "dc1" });
    h.run(h.core.probeChanged("api", true, 900), 900);
    h.beat(grantReply(group({ epoch: 4, handoffTo: "server2" })), 1000, 1050);
    expect(h.addrs.size).toBe(1);
    const acts = h.run(h.core.probeChanged("api", false, 2000), 2000);
    expect(h.addrs.size).toBe(0);
    // The handoff leaves only after the address is gone (and fenced), with the release report.
    const types = h.types(acts);
    expect(types.indexOf("hand-off")).toBeGreaterThan(types.lastIndexOf("kernel:addr-del"));
    expect(types.indexOf("hand-off")).toBeGreaterThan(types.indexOf("fence"));
    // The kernel's first operation is the first action; the control plane hears of it with the release report.
    expect(types[0]).toBe("kernel:unlease");
    expect(types.indexOf("heartbeat-now")).toBeGreaterThan(types.indexOf("hand-off"));
    expect(acts.find((a) => a.type === "hand-off")).toEqual({ type: "hand-off", group: "api", epoch: 4, to: "server2" });
    expect(h.core.request({}, 2100).released).toEqual([{ group: "api", epoch: 4, handedTo: "server2" }]);
    expect(h.logs.find((l) => l.msg === "releasing group")?.fields).toMatchObject({ why: "its probe failed: handing it straight to server2" });
    // Never again at that epoch: a late renewal is not taken.
    h.beat(grantReply(group({ epoch: 4, handoffTo: "server2" })), 1900, 2200);
    expect(h.core.holds("api", 2200)).toBe(false);
  });

  it("without a server named (or healthy again, or not the holder) nothing moves: the control plane decides", () => {
    const h = new Harness({ cluster: "dc1" });
    h.beat(grantReply(group({ epoch: 4 })), 1000, 1050);
    // The control plane hears of the probe at once and decides.
    expect(h.run(h.core.probeChanged("api", false, 2000), 2000)).toEqual([{ type: "heartbeat-now" }]);
    expect(h.core.holds("api", 2000)).toBe(true);
    const h2 = new Harness({ cluster: "dc1" });
    h2.beat(grantReply(group({ epoch: 4, handoffTo: "server2" })), 1000, 1050);
    expect(h2.run(h2.core.probeChanged("api", true, 2000), 2000)).toEqual([{ type: "heartbeat-now" }]);
    expect(h2.core.holds("api", 2000)).toBe(true);
    // A stopping holder hands nothing over (it releases to the control plane).
    h2.run(h2.core.stop(true, 2100), 2100);
    expect(h2.types(h2.run(h2.core.probeChanged("api", false, 2200), 2200))).not.toContain("hand-off");
  });

  it("a release the control plane asked for is reported without handedTo: it was handed to nobody", () => {
    const h = new Harness({ cluster: "dc1" });
    h.beat(grantReply(group({ epoch: 4, handoffTo: "server2" })), 1000, 1050);
    h.beat({ grants: [], desired: desired([group({ epoch: 4, role: "release", handoffTo: "server2" })]) }, 1100, 1150);
    expect(h.core.request({}, 1200).released).toEqual([{ group: "api", epoch: 4 }]);
    expect(h.actions.map((a) => a.type)).not.toContain("hand-off");
  });
});

describe("shim core: direct handoff, the named server's side", () => {
  it("takes the group at epoch + 1 with the lease its naming gives (from the naming heartbeat's send time)", () => {
    const h = named(1000, 1050);
    const { reply, actions } = h.core.handoffRequest(handoff(), clocks(2000));
    expect(reply).toMatchObject({ kind: "reply", ok: true, from: "server2", to: "server1", group: "api", epoch: 4, reason: "taken" });
    // The kernel first; the control plane hears of it once the VIP is up (the reconcile that the
    // address asks for ends with the heartbeat), not from a heartbeat in the way of the takeover.
    expect(h.types(actions)[0]).toBe("kernel:lease");
    expect(h.types(actions)).not.toContain("heartbeat-now");
    const after = h.run(actions, 2000);
    expect(h.types(after)).toContain("reconcile");
    expect(h.addrs.size).toBe(1);
    const lease = h.core.leases.valid("api", 2000)!;
    expect(lease.epoch).toBe(5);
    // sent at 1000 + TTL 3000 - local margin 200
    expect(lease.validUntil).toBe(3800);
    expect(h.core.request({}, 2100).holding).toEqual([{ group: "api", epoch: 5 }]);
    expect(h.logs.find((l) => l.msg === "took group by direct handoff")?.fields).toEqual({ group: "api", from: "server1", epoch: 5 });
    // The lease ends when the naming's does: nothing renews it but a grant.
    h.tick(3800);
    expect(h.core.holds("api", 3800)).toBe(false);
    expect(h.addrs.size).toBe(0);
  });

  it("a reply to a heartbeat sent before the handoff does not take it back; a grant at epoch + 1 renews it", () => {
    const h = named(1000, 1050);
    h.run(h.core.handoffRequest(handoff(), clocks(2000)).actions, 2000);
    // The old view (standby at epoch 4) is stale now.
    h.beat({ grants: [], desired: desired([group({ role: "standby", epoch: 4, holder: "server1", handoffFrom: "server1" })], { node: "server2" }) }, 1900, 2100);
    expect(h.core.holds("api", 2100)).toBe(true);
    h.beat(grantReply(group({ epoch: 5, holder: "server2" }), { node: "server2" }), 2200, 2250);
    expect(h.core.leases.valid("api", 2250)!.validUntil).toBe(2200 + 3000 - 200);
  });

  it("not kept on promises until a grant confirms it (the control plane may not know it has it)", () => {
    const h = new Harness({ node: "server2", cluster: "dc1", failsafe: true });
    h.run(h.core.probeChanged("api", true, 1000), 1000);
    h.beat({ grants: [], desired: desired([group({ role: "standby", epoch: 4, holder: "server1", handoffFrom: "server1" })], { node: "server2", peers: PEERS, failsafe: true }) }, 1000, 1050);
    h.run(h.core.handoffRequest(handoff(), clocks(2000)).actions, 2000);
    expect(h.core.onFailure("unreachable", 2100).map((a) => a.type)).not.toContain("ask-promises");
    h.beat(grantReply(group({ epoch: 5, holder: "server2" }), { node: "server2", peers: PEERS, failsafe: true }), 2200, 2250);
    expect(h.core.onFailure("unreachable", 2300).filter((a) => a.type === "ask-promises")).toHaveLength(1);
  });

  const refusals: [string, (h: Harness) => PromiseRequestBody | null, RegExp, { sentAt?: number; healthy?: boolean; at?: number }?][] = [
    ["from another holder", () => handoff({ from: "server3" }), /not named to take api from server3 at epoch 4/],
    ["at another epoch", () => handoff({ epoch: 3 }), /not named to take api from server1 at epoch 3/],
    ["for another cluster", () => handoff({ cluster: "dc2" }), /wrong cluster/],
    ["addressed to another server", () => handoff({ to: "server3" }), /addressed to server3/],
    ["while its own probe fails", () => handoff(), /own probe for api is not passing/, { healthy: false }],
    ["under a naming whose lease is over", () => handoff(), /naming is too old/, { at: 3800 }],
    ["of another kind (a promise request sent to it)", () => handoff({ kind: "promise" }), /not a handoff: promise/],
    ["while it promised the group to another holder", (h) => {
      // server3 asked first (the control plane unreachable for it): server2 promised api to it.
      const asked = h.core.promiseRequest(handoff({ kind: "promise", from: "server3", ttlMs: 1000 }), clocks(1900));
      expect(asked.reply.ok).toBe(true);
      return handoff();
    }, /server2 promised api to server3/],
    ["sent twice (replayed)", (h) => {
      const req = handoff();
      h.core.handoffRequest({ ...req, group: "other" }, clocks(2000));
      return { ...req };
    }, /replayed/],
  ];
  for (const [what, make, why, o] of refusals) {
    it(`refuses a handoff ${what}`, () => {
      const h = named(o?.sentAt ?? 1000, 1050, o?.healthy ?? true);
      const req = make(h)!;
      const at = o?.at ?? 2000;
      const { reply, actions } = h.core.handoffRequest(req, clocks(at));
      expect(reply.ok).toBe(false);
      expect(reply.reason).toMatch(why);
      expect(actions).toEqual([]);
      expect(h.core.holds("api", at)).toBe(false);
    });
  }

  it("a naming withdrawn by a newer reply, or never given, takes nothing", () => {
    const h = named(1000, 1050);
    h.beat({ grants: [], desired: desired([group({ role: "standby", epoch: 4, holder: "server1" })], { node: "server2", peers: PEERS }) }, 1100, 1150);
    expect(h.core.handoffRequest(handoff(), clocks(2000)).reply.reason).toMatch(/not named/);
    const fresh = new Harness({ node: "server2", cluster: "dc1" });
    fresh.run(fresh.core.probeChanged("api", true, 1000), 1000);
    expect(fresh.core.handoffRequest(handoff(), clocks(2000)).reply.reason).toMatch(/not a peer server of server2/);
  });

  it("a stopping server, or one that released the next epoch already, refuses", () => {
    const h = named(1000, 1050);
    h.run(h.core.stop(true, 1500), 1500);
    expect(h.core.handoffRequest(handoff(), clocks(2000)).reply.reason).toMatch(/stopping/);
  });
});
