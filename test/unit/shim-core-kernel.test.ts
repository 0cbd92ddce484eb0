// The kernel planner (node-shim/core/kernel.ts), pure: in which order a node's VIP is put under the
// lease filter, leased, configured, renewed, taken away and verified gone; when a VIP is inert (no
// lease element can let traffic through) and when it is effective; how failures are retried
// (100 ms, doubling, at most 2 s) and reported.
import { describe, expect, it } from "vitest";
import { FRESH_MS, KERNEL_LATE_MS, KERNEL_SLACK_MS, type KernelOp, KernelPlanner, type KernelResult, lifetimeSeconds, type PlanInput, refKey, type VipRef, type Wanted } from "../../node-shim/core/kernel.js";

const A: VipRef = { vip: "10.0.0.10", prefix: 24, iface: "eth0" };
const B: VipRef = { vip: "10.0.0.20", prefix: 24, iface: "eth1" };
const OK: KernelResult = { ok: true };
const FAIL = (detail = "boom", extra: Partial<Extract<KernelResult, { ok: false }>> = {}): KernelResult => ({ ok: false, detail, command: "nft -f -", exitCode: 1, ...extra });

const want = (...ws: [VipRef, number][]): Map<string, Wanted> => new Map(ws.map(([ref, until]) => [ref.vip, { ref, group: `g-${ref.vip}`, until }]));

const input = (now: number, over: Partial<PlanInput> = {}): PlanInput => ({
  now,
  wanted: new Map(),
  known: [A],
  ifaces: ["eth0"],
  removalsAllowed: true,
  resyncMs: 5000,
  ...over,
});

/** Run the planner's operations with `result` until it has nothing left (bounded); returns them. */
function drain(k: KernelPlanner, p: PlanInput, result: (op: KernelOp) => KernelResult = () => OK): KernelOp[] {
  const ops: KernelOp[] = [];
  for (let i = 0; i < 20; i++) {
    const op = k.next(p);
    if (!op) return ops;
    ops.push(op);
    k.done(op, result(op), p.now);
  }
  throw new Error(`planner never settles: ${JSON.stringify(ops)}`);
}

/** A planner set up, managing A, with nothing found in the kernel. */
function ready(now = 0, over: Partial<PlanInput> = {}): KernelPlanner {
  const k = new KernelPlanner();
  drain(k, input(now, over), (op) => (op.kind === "read" ? { ok: true, addrs: [] } : OK));
  return k;
}

describe("kernel planner: constants and lifetimes", () => {
  it("a renewal counts 250 ms late at most, plus one 4 ms jiffy of kernel lateness", () => {
    expect([FRESH_MS, KERNEL_LATE_MS, KERNEL_SLACK_MS]).toEqual([250, 4, 254]);
  });
  it("an address lives the lease's whole seconds rounded up, plus one (at least two seconds)", () => {
    expect(lifetimeSeconds(3000, 0)).toBe(4);
    expect(lifetimeSeconds(3001, 0)).toBe(5);
    expect(lifetimeSeconds(2500, 1000)).toBe(3);
    expect(lifetimeSeconds(100, 0)).toBe(2);
    expect(lifetimeSeconds(0, 5000)).toBe(2);
  });
  it("refKey names interface, address and prefix", () => expect(refKey(A)).toBe("eth0/10.0.0.10/24"));
});

describe("kernel planner: taking a VIP", () => {
  it("sets up, puts every known VIP under the filter, reads back, then leases before configuring the address", () => {
    const k = new KernelPlanner();
    expect(k.empty).toBe(true);
    const p = input(0, { known: [B, A], wanted: want([A, 2800]), ifaces: ["eth0", "eth1"] });
    const ops = drain(k, p, (op) => (op.kind === "read" ? { ok: true, addrs: [] } : OK));
    expect(ops).toEqual([
      { kind: "setup" },
      { kind: "manage", vips: ["10.0.0.10", "10.0.0.20"] },
      { kind: "read", ifaces: ["eth0", "eth1"] },
      { kind: "lease", entries: [{ vip: "10.0.0.10", until: 2800 }] },
      { kind: "addr-add", ref: A, until: 2800 },
    ]);
    expect(k.effective(A.vip, 0)).toBe(true);
    expect(k.effective(A.vip, 2799)).toBe(true);
    expect(k.effective(A.vip, 2800)).toBe(false);
    expect(k.configured()).toEqual([A]);
    expect(k.empty).toBe(false);
    expect(k.inert(A.vip, 0)).toBe(false);
    // Inert by time alone 254 ms after the element's end (the kernel may be that late).
    expect(k.inertAt(A.vip)).toBe(2800 + 254);
    expect(k.inert(A.vip, 3053)).toBe(false);
    expect(k.inert(A.vip, 3054)).toBe(true);
    expect(k.inertAt(B.vip)).toBeNull();
    expect(k.inert(B.vip, 0)).toBe(true);
  });

  it("one operation at a time: nothing new while one is in flight", () => {
    const k = new KernelPlanner();
    const op = k.next(input(0));
    expect(op).toEqual({ kind: "setup" });
    expect(k.busy).toBe(true);
    expect(k.next(input(0))).toBeNull();
    expect(k.nextDue(0, 5000)).toBeNull();
    k.done(op!, OK, 0);
    expect(k.busy).toBe(false);
    expect(k.next(input(0))).toEqual({ kind: "manage", vips: ["10.0.0.10"] });
  });

  it("leases every wanted VIP in one operation, sorted; a VIP not under the filter yet is managed first", () => {
    const k = ready();
    const p = input(10, { known: [A], wanted: want([B, 900], [A, 800]), ifaces: ["eth0", "eth1"] });
    expect(k.next(p)).toEqual({ kind: "manage", vips: ["10.0.0.20"] });
    k.done({ kind: "manage", vips: ["10.0.0.20"] }, OK, 10);
    expect(k.next(p)).toEqual({ kind: "lease", entries: [{ vip: "10.0.0.10", until: 800 }, { vip: "10.0.0.20", until: 900 }] });
  });

  it("renews the lease element when the lease moves on, and the address's lifetime only once the lease is within 0.5 s of it", () => {
    const k = ready();
    drain(k, input(0, { wanted: want([A, 2800]) })); // address lifetime: 0 + 3 s + 1 s = 4000
    expect(drain(k, input(100, { wanted: want([A, 2800]) }))).toEqual([]);
    // Lease to 3499: lifetime end 4000 >= 3499 + 500; only the element is renewed.
    expect(drain(k, input(1000, { wanted: want([A, 3499]) }))).toEqual([{ kind: "lease", entries: [{ vip: A.vip, until: 3499 }] }]);
    // Lease to 3501: 4000 < 4001, the address is re-added (new lifetime from now).
    expect(drain(k, input(1100, { wanted: want([A, 3501]) }))).toEqual([{ kind: "lease", entries: [{ vip: A.vip, until: 3501 }] }, { kind: "addr-add", ref: A, until: 3501 }]);
    // A shorter "until" never asks the kernel for anything.
    expect(drain(k, input(1200, { wanted: want([A, 3000]) }))).toEqual([]);
  });

  it("never configures the address for a lease element that has already ended", () => {
    const k = ready();
    const op = k.next(input(0, { wanted: want([A, 500]) }));
    expect(op?.kind).toBe("lease");
    k.done(op!, OK, 0);
    // The acknowledgement came, but by 500 the element is over: no address.
    expect(k.next(input(500, { wanted: want([A, 500]), resyncMs: 1e9 }))).toBeNull();
    expect(k.next(input(499, { wanted: want([A, 500]), resyncMs: 1e9 }))).toEqual({ kind: "addr-add", ref: A, until: 500 });
  });
});

describe("kernel planner: letting go", () => {
  it("lease element first (inert at once), then the address, verified by reading back before it counts as gone", () => {
    const k = ready();
    drain(k, input(0, { wanted: want([A, 2800]) }));
    expect(k.gone(A.vip, 10)).toBe(false);
    const p = input(10);
    expect(k.next(p)).toEqual({ kind: "unlease", vips: [A.vip] });
    k.done({ kind: "unlease", vips: [A.vip] }, OK, 10);
    expect(k.inert(A.vip, 10)).toBe(true);
    expect(k.effective(A.vip, 10)).toBe(false);
    expect(k.gone(A.vip, 10)).toBe(false); // the address is still configured
    expect(k.next(p)).toEqual({ kind: "addr-del", ref: A });
    k.done({ kind: "addr-del", ref: A }, OK, 10);
    expect(k.gone(A.vip, 10)).toBe(false); // deleted, not yet read back
    expect(k.configured()).toEqual([]);
    expect(k.next(p)).toEqual({ kind: "read", ifaces: ["eth0"] });
    k.done({ kind: "read", ifaces: ["eth0"] }, { ok: true, addrs: [] }, 20);
    expect(k.gone(A.vip, 20)).toBe(true);
    expect(k.empty).toBe(true);
    expect(k.next(input(20))).toBeNull();
  });

  it("nothing is removed before the first word from the control plane (adoption after a restart)", () => {
    const k = new KernelPlanner();
    const p = input(0, { removalsAllowed: false });
    const ops = drain(k, p, (op) => (op.kind === "read" ? { ok: true, addrs: [A] } : OK));
    expect(ops.map((o) => o.kind)).toEqual(["setup", "manage", "read"]);
    // Found, maybe leased by an earlier process: not inert, not gone, not effective, configured.
    expect(k.inert(A.vip, 0)).toBe(false);
    expect(k.inertAt(A.vip)).toBeNull();
    expect(k.effective(A.vip, 0)).toBe(false);
    expect(k.configured()).toEqual([A]);
    // Once removals are allowed: unlease (the unknown element), then the address.
    expect(drain(k, input(0), (op) => (op.kind === "read" ? { ok: true, addrs: [] } : OK))).toEqual([{ kind: "unlease", vips: [A.vip] }, { kind: "addr-del", ref: A }, { kind: "read", ifaces: ["eth0"] }]);
    expect(k.gone(A.vip, 0)).toBe(true);
  });

  it("an adopted address that is wanted is leased and kept, not re-added until its lifetime is unknown", () => {
    const k = new KernelPlanner();
    const ops = drain(k, input(0, { wanted: want([A, 2800]) }), (op) => (op.kind === "read" ? { ok: true, addrs: [A] } : OK));
    // Its lifetime is unknown (-Infinity): the address is re-added to set one.
    expect(ops.map((o) => o.kind)).toEqual(["setup", "manage", "read", "lease", "addr-add"]);
  });

  it("a lease element that has timed out by itself (254 ms after its end) needs no unlease", () => {
    const k = ready();
    drain(k, input(0, { wanted: want([A, 1000]) }));
    // At 1253 it may still pass traffic: unleased.
    const k2 = ready();
    drain(k2, input(0, { wanted: want([A, 1000]) }));
    expect(k2.next(input(1253))).toEqual({ kind: "unlease", vips: [A.vip] });
    // At 1254 it cannot: straight to the address, and the element is forgotten.
    expect(k.next(input(1254))).toEqual({ kind: "addr-del", ref: A });
    expect(k.inertAt(A.vip)).toBeNull();
  });

  it("unleases one VIP per operation, in address order", () => {
    const k = ready(0, { known: [A, B], ifaces: ["eth0", "eth1"] });
    drain(k, input(0, { known: [A, B], wanted: want([B, 2000], [A, 2000]), ifaces: ["eth0", "eth1"] }));
    const p = input(10, { known: [A, B], ifaces: ["eth0", "eth1"] });
    expect(k.next(p)).toEqual({ kind: "unlease", vips: [A.vip] });
    k.done({ kind: "unlease", vips: [A.vip] }, OK, 10);
    expect(k.next(p)).toEqual({ kind: "unlease", vips: [B.vip] });
  });

  it("the address moved to another interface: the old one is deleted while the new one is kept", () => {
    const k = ready(0, { ifaces: ["eth0", "eth1"] });
    drain(k, input(0, { wanted: want([A, 2800]), ifaces: ["eth0", "eth1"] }));
    const A1: VipRef = { ...A, iface: "eth1" };
    const ops = drain(k, input(10, { known: [A1], wanted: want([A1, 2800]), ifaces: ["eth0", "eth1"] }), (op) => (op.kind === "read" ? { ok: true, addrs: [A1] } : OK));
    // The delete is read back before the new address goes up.
    expect(ops).toEqual([{ kind: "addr-del", ref: A }, { kind: "read", ifaces: ["eth0", "eth1"] }, { kind: "addr-add", ref: A1, until: 2800 }]);
    expect(k.configured()).toEqual([A1]);
  });

  it("an address deleted yet found again on reading back is a failure, retried with backoff, and keeps the VIP from being gone", () => {
    const k = ready();
    drain(k, input(0, { wanted: want([A, 2800]) }));
    const p = input(10);
    k.done(k.next(p)!, OK, 10); // unlease
    k.done(k.next(p)!, OK, 10); // addr-del
    const read = k.next(p)!;
    expect(read.kind).toBe("read");
    k.done(read, { ok: true, addrs: [A] }, 20);
    expect(k.gone(A.vip, 20)).toBe(false);
    expect(k.removalFailure(A.vip)).toEqual({ vip: A.vip, detail: "10.0.0.10 still on eth0 after ip addr del", command: "ip addr del 10.0.0.10/24 dev eth0", exitCode: 0, since: 20 });
    expect(k.configured()).toEqual([A]);
    // Retried 100 ms later.
    expect(k.next(input(119, { resyncMs: 1e9 }))).toBeNull();
    expect(k.nextDue(20, 1e9)).toBe(120);
    expect(k.next(input(120))).toEqual({ kind: "addr-del", ref: A });
    k.done({ kind: "addr-del", ref: A }, OK, 120);
    k.done(k.next(input(120))!, { ok: true, addrs: [] }, 130);
    expect(k.removalFailure(A.vip)).toBeNull();
    expect(k.failures.size).toBe(0);
    expect(k.gone(A.vip, 130)).toBe(true);
  });

  it("a read of other interfaces says nothing about this one's addresses", () => {
    const k = ready();
    drain(k, input(0, { wanted: want([A, 2800]) }));
    k.done({ kind: "read", ifaces: ["eth1"] }, { ok: true, addrs: [] }, 10);
    expect(k.configured()).toEqual([A]);
    expect(k.effective(A.vip, 10)).toBe(true);
  });
});

describe("kernel planner: failures and retries", () => {
  it("a failing operation is retried after 100, 200, 400 ... ms, at most 2 s apart; the failure keeps its first time", () => {
    const k = new KernelPlanner();
    let now = 0;
    const gaps: number[] = [];
    for (let i = 0; i < 7; i++) {
      const op = k.next(input(now));
      expect(op).toEqual({ kind: "setup" });
      k.done(op!, FAIL("no nft"), now);
      const due = k.nextDue(now, 5000)!;
      gaps.push(due - now);
      expect(k.next(input(due - 1))).toBeNull();
      now = due;
    }
    expect(gaps).toEqual([100, 200, 400, 800, 1600, 2000, 2000]);
    expect([...k.failures.entries()]).toEqual([["setup", { vip: null, detail: "no nft", command: "nft -f -", exitCode: 1, since: 0 }]]);
    k.done(k.next(input(now))!, OK, now);
    expect(k.failures.size).toBe(0);
    // The backoff starts again at 100 ms after a success.
    const m = k.next(input(now))!;
    k.done(m, FAIL(), now);
    expect(k.nextDue(now, 5000)).toBe(now + 100);
  });

  it("a failed lease, manage or unlease means the tables may be gone: set up again before anything else", () => {
    for (const failing of ["lease", "manage", "unlease"] as const) {
      const k = ready();
      drain(k, input(0, { wanted: want([A, 2800]) }));
      const p = failing === "unlease" ? input(10) : input(10, { wanted: want([A, 5000]) });
      if (failing === "manage") {
        const op = k.next(input(10, { known: [A, B], ifaces: ["eth0", "eth1"] }))!;
        expect(op.kind).toBe("manage");
        k.done(op, FAIL(), 10);
      } else {
        const op = k.next(p)!;
        expect(op.kind).toBe(failing);
        k.done(op, FAIL("table gone"), 10);
      }
      expect(k.next(input(10))).toEqual({ kind: "setup" });
      k.done({ kind: "setup" }, OK, 10);
      // Once the failed operation's 100 ms backoff is over: every VIP is put under the filter again first.
      expect(k.next(input(110))).toEqual({ kind: "manage", vips: [A.vip] });
    }
  });

  it("a failed address operation does not redo the setup; it is reported for the VIP", () => {
    const k = ready();
    k.done(k.next(input(0, { wanted: want([A, 2800]) }))!, OK, 0); // lease
    const add = k.next(input(0, { wanted: want([A, 2800]) }))!;
    expect(add.kind).toBe("addr-add");
    k.done(add, FAIL("RTNETLINK answers: File exists", { command: "ip addr add 10.0.0.10/24 dev eth0", exitCode: 2 }), 5);
    expect(k.failures.get(`addr-add:${refKey(A)}`)).toEqual({ vip: A.vip, detail: "RTNETLINK answers: File exists", command: "ip addr add 10.0.0.10/24 dev eth0", exitCode: 2, since: 5 });
    expect(k.removalFailure(A.vip)).toBeNull();
    expect(k.next(input(104, { wanted: want([A, 2800]) }))).toBeNull();
    expect(k.next(input(105, { wanted: want([A, 2800]) }))).toEqual({ kind: "addr-add", ref: A, until: 2800 });
  });

  it("failures name their VIP: the first of a lease operation's entries, an unlease's VIP", () => {
    const k = ready(0, { known: [A, B], ifaces: ["eth0", "eth1"] });
    const lease = k.next(input(0, { known: [A, B], wanted: want([B, 900], [A, 800]) }))!;
    k.done(lease, FAIL(), 0);
    expect(k.failures.get("lease")?.vip).toBe(A.vip);
    const k2 = ready();
    drain(k2, input(0, { wanted: want([A, 2800]) }));
    const ul = k2.next(input(10))!;
    k2.done(ul, FAIL("unlease failed"), 10);
    expect(k2.failures.get(`unlease:${A.vip}`)?.vip).toBe(A.vip);
    expect(k2.removalFailure(A.vip)?.detail).toBe("unlease failed");
  });

  it("a renewal refused as stale (reached the kernel too late) is retried at once, three times; the fourth is a failure", () => {
    const k = ready();
    const p = input(0, { wanted: want([A, 2800]) });
    for (let i = 0; i < 3; i++) {
      const op = k.next(p)!;
      expect(op.kind).toBe("lease");
      k.done(op, FAIL("too late", { stale: true }), 0);
      expect(k.failures.size).toBe(0);
    }
    k.done(k.next(p)!, FAIL("too late", { stale: true }), 0);
    expect(k.failures.get("lease")?.detail).toBe("too late");
    // A success resets the count of stales.
    const k2 = ready();
    for (let i = 0; i < 3; i++) k2.done(k2.next(p)!, FAIL("too late", { stale: true }), 0);
    k2.done(k2.next(p)!, OK, 0); // lease ok
    k2.done(k2.next(p)!, OK, 0); // addr-add ok
    const renew = input(100, { wanted: want([A, 2900]) });
    for (let i = 0; i < 3; i++) {
      k2.done(k2.next(renew)!, FAIL("too late", { stale: true }), 100);
      expect(k2.failures.size).toBe(0);
    }
  });

  it("an operation aborted (no longer wanted when it would have run) is neither a failure nor a success", () => {
    const k = ready();
    const op = k.next(input(0, { wanted: want([A, 2800]) }))!;
    k.done(op, FAIL("not run", { aborted: true }), 0);
    expect(k.failures.size).toBe(0);
    expect(k.busy).toBe(false);
    expect(k.inert(A.vip, 0)).toBe(true);
    expect(k.next(input(0, { wanted: want([A, 2800]) }))).toEqual(op);
  });
});

describe("kernel planner: resync", () => {
  it("reads the addresses back every resync interval after the last read, and says when", () => {
    const k = ready(1000);
    expect(k.nextDue(1000, 5000)).toBe(6000);
    expect(k.next(input(5999))).toBeNull();
    expect(k.next(input(6000))).toEqual({ kind: "read", ifaces: ["eth0"] });
    k.done({ kind: "read", ifaces: ["eth0"] }, { ok: true, addrs: [] }, 6100);
    expect(k.nextDue(6100, 5000)).toBe(11_100);
    // Due now or past: nothing in the future to wait for.
    expect(k.nextDue(11_100, 5000)).toBeNull();
    // Never read: no resync time.
    expect(new KernelPlanner().nextDue(0, 5000)).toBeNull();
  });

  it("nextDue() is the earliest of the resync and the retries due later", () => {
    const k = ready(0);
    k.done(k.next(input(0, { wanted: want([A, 2800]) }))!, FAIL(), 1000); // lease retry at 1100
    expect(k.nextDue(1000, 5000)).toBe(1100);
    expect(k.nextDue(1000, 50)).toBe(1100);
    expect(k.nextDue(1100, 50_000)).toBe(50_000);
  });
});

describe("kernel planner: one VIP's state says nothing about another's", () => {
  /** A and B both known; A leased and configured, B as `b` says. */
  function two(b: "leased" | "nothing") {
    const p = (now: number, wanted: Map<string, Wanted>) => input(now, { known: [A, B], ifaces: ["eth0", "eth1"], wanted });
    const k = new KernelPlanner();
    drain(k, p(0, want([A, 2800])), (op) => (op.kind === "read" ? { ok: true, addrs: [] } : OK));
    if (b === "leased") {
      const op = k.next(p(10, want([A, 2800], [B, 2800])))!;
      expect(op).toEqual({ kind: "lease", entries: [{ vip: B.vip, until: 2800 }] });
      k.done(op, OK, 10);
    }
    return { k, p };
  }

  it("effective needs the VIP's own address: B leased with only A's address up is not effective", () => {
    const { k } = two("leased");
    expect(k.effective(A.vip, 20)).toBe(true);
    expect(k.effective(B.vip, 20)).toBe(false);
    expect(k.inert(B.vip, 20)).toBe(false);
    // Leased but no address: not gone (its element may pass traffic), and something is in the kernel.
    expect(k.gone(B.vip, 20)).toBe(false);
  });

  it("gone looks at the VIP's own addresses: B never configured is gone while A's address is up", () => {
    const { k } = two("nothing");
    expect(k.gone(B.vip, 20)).toBe(true);
    expect(k.gone(A.vip, 20)).toBe(false);
  });

  it("a removal failure is the failing VIP's only", () => {
    const { k, p } = two("nothing");
    const ul = k.next(p(30, new Map()))!;
    expect(ul).toEqual({ kind: "unlease", vips: [A.vip] });
    k.done(ul, FAIL("unlease failed"), 30);
    expect(k.removalFailure(A.vip)?.detail).toBe("unlease failed");
    expect(k.removalFailure(B.vip)).toBeNull();
  });
});

describe("kernel planner: more of what it holds and when", () => {
  it("not empty while a lease element alone, or an address alone, may be in the kernel", () => {
    const k = ready();
    const lease = k.next(input(0, { wanted: want([A, 2800]) }))!;
    k.done(lease, OK, 0);
    expect(k.empty).toBe(false); // element, no address yet
    k.done(k.next(input(0, { wanted: want([A, 2800]) }))!, OK, 0); // address
    k.done(k.next(input(10))!, OK, 10); // unlease
    expect(k.empty).toBe(false); // address, no element
  });

  it("an address found that belongs to no known VIP is put under the filter, then removed", () => {
    const k = new KernelPlanner();
    const ops = drain(k, input(1000, { known: [A], ifaces: ["eth0"] }), (op) => (op.kind === "read" && !k.configured().length ? { ok: true, addrs: [{ ...B, iface: "eth0" }] } : op.kind === "read" ? { ok: true, addrs: [] } : OK));
    expect(ops.slice(0, 4)).toEqual([{ kind: "setup" }, { kind: "manage", vips: [A.vip] }, { kind: "read", ifaces: ["eth0"] }, { kind: "manage", vips: [B.vip] }]);
    expect(ops.slice(4)).toEqual([{ kind: "unlease", vips: [B.vip] }, { kind: "addr-del", ref: { ...B, iface: "eth0" } }, { kind: "read", ifaces: ["eth0"] }]);
  });

  it("before the first read-back nothing is inert or gone, and a failing setup is every VIP's removal failure", () => {
    const k = new KernelPlanner();
    const setup = k.next(input(0))!;
    expect(setup).toEqual({ kind: "setup" });
    k.done(setup, FAIL("nft: no such table"), 0);
    // An earlier process may have left A (or anything) up: nothing is known to be absent.
    expect(k.inert(A.vip, 1_000_000)).toBe(false);
    expect(k.gone(B.vip, 1_000_000)).toBe(false);
    expect(k.removalFailure(A.vip)?.detail).toBe("nft: no such table");
    expect(drain(k, input(200), (op) => (op.kind === "read" ? { ok: true, addrs: [] } : OK)).map((o) => o.kind)).toEqual(["setup", "manage", "read"]);
    expect(k.gone(A.vip, 200)).toBe(true);
    expect(k.removalFailure(A.vip)).toBeNull();
  });

  it("a failing manage or read is every VIP's removal failure too, until it succeeds", () => {
    const k = new KernelPlanner();
    const results: Record<string, KernelResult[]> = { setup: [OK, OK], manage: [FAIL("manage failed"), OK], read: [FAIL("read failed"), { ok: true, addrs: [] }] };
    const step = (now: number) => {
      const op = k.next(input(now))!;
      k.done(op, results[op.kind]!.shift()!, now);
      return op.kind;
    };
    expect([step(0), step(0)]).toEqual(["setup", "manage"]);
    expect(k.removalFailure(A.vip)?.detail).toBe("manage failed");
    expect([step(200), step(200), step(200)]).toEqual(["setup", "manage", "read"]);
    expect(k.removalFailure(A.vip)?.detail).toBe("read failed");
    expect(step(400)).toBe("read");
    expect(k.removalFailure(A.vip)).toBeNull();
  });

  it("an adopted address's lease element is unknown: not inert at any time until it is removed", () => {
    const k = new KernelPlanner();
    drain(k, input(1000, { removalsAllowed: false }), (op) => (op.kind === "read" ? { ok: true, addrs: [A] } : OK));
    expect(k.inert(A.vip, 1000)).toBe(false);
    expect(k.inert(A.vip, 1_000_000)).toBe(false);
  });

  it("unleases in address order whatever order the elements were leased in", () => {
    const k = ready(0, { known: [A, B], ifaces: ["eth0", "eth1"] });
    const p = (wanted: Map<string, Wanted>) => input(0, { known: [A, B], ifaces: ["eth0", "eth1"], wanted });
    drain(k, p(want([B, 2000])));
    drain(k, p(want([B, 2000], [A, 2000])));
    expect(k.next(p(new Map()))).toEqual({ kind: "unlease", vips: [A.vip] });
  });

  it("an address deleted and not yet read back is not deleted again while the read-back fails", () => {
    const k = ready();
    drain(k, input(0, { wanted: want([A, 2800]) }));
    k.done(k.next(input(10))!, OK, 10); // unlease
    const del = k.next(input(10))!;
    expect(del).toEqual({ kind: "addr-del", ref: A });
    k.done(del, OK, 10);
    const read = k.next(input(10))!;
    expect(read.kind).toBe("read");
    k.done(read, FAIL("ip failed"), 10);
    expect(k.next(input(50))).toBeNull();
    expect(k.next(input(110))).toEqual({ kind: "read", ifaces: ["eth0"] });
  });

  it("a VIP wanted again after its address was deleted (not yet read back) gets its address again", () => {
    const k = ready();
    drain(k, input(0, { wanted: want([A, 2800]) })); // address lifetime to 4000
    k.done(k.next(input(10))!, OK, 10); // unlease
    k.done(k.next(input(10))!, OK, 10); // addr-del
    k.done(k.next(input(10))!, FAIL("ip failed"), 10); // read-back fails: retry at 110
    const p = input(20, { wanted: want([A, 3000]) });
    expect(k.next(p)).toEqual({ kind: "lease", entries: [{ vip: A.vip, until: 3000 }] });
    k.done({ kind: "lease", entries: [{ vip: A.vip, until: 3000 }] }, OK, 20);
    expect(k.next(p)).toEqual({ kind: "addr-add", ref: A, until: 3000 });
  });

  it("no address for a VIP whose lease element could not be set", () => {
    const k = ready();
    const p = (now: number) => input(now, { wanted: want([A, 2800]) });
    k.done(k.next(p(0))!, FAIL("nft failed"), 0); // lease: retry at 100
    k.done(k.next(p(0))!, OK, 0); // setup again
    k.done(k.next(p(0))!, OK, 0); // manage again
    expect(k.next(p(50))).toBeNull();
    expect(k.next(p(100))).toEqual({ kind: "lease", entries: [{ vip: A.vip, until: 2800 }] });
  });

  it("the address's lifetime is renewed only once it ends less than 0.5 s after the lease (equal is enough)", () => {
    const k = ready();
    drain(k, input(0, { wanted: want([A, 2800]) })); // lifetime end 4000
    expect(drain(k, input(1000, { wanted: want([A, 3500]) }))).toEqual([{ kind: "lease", entries: [{ vip: A.vip, until: 3500 }] }]);
  });

  it("a failed manage, read or lease waits for its backoff; so does a failed resync", () => {
    const m = ready();
    const two = input(10, { known: [A, B], ifaces: ["eth0", "eth1"] });
    k2done(m, m.next(two)!, FAIL(), 10); // manage B fails: retry at 110
    m.done(m.next(two)!, OK, 10); // setup
    expect(m.next({ ...two, now: 50 })?.kind).not.toBe("manage");
    const r = new KernelPlanner();
    r.done(r.next(input(0))!, OK, 0);
    r.done(r.next(input(0))!, OK, 0);
    const read = r.next(input(0))!;
    expect(read.kind).toBe("read");
    r.done(read, FAIL(), 0);
    expect(r.next(input(99))).toBeNull();
    expect(r.next(input(100))?.kind).toBe("read");
    // A resync read that fails is retried after its backoff, not at once.
    const s = ready(0);
    const rs = s.next(input(5000))!;
    expect(rs.kind).toBe("read");
    s.done(rs, FAIL(), 5000);
    expect(s.next(input(5050))).toBeNull();
    expect(s.next(input(5100))?.kind).toBe("read");
  });

  it("a failed address delete is a removal failure of that VIP, retried after 100 ms; a delete that succeeded counts only once read back", () => {
    const k = ready();
    drain(k, input(0, { wanted: want([A, 2800]) }));
    k.done(k.next(input(10))!, OK, 10); // unlease
    const del = k.next(input(10))!;
    k.done(del, FAIL("Cannot assign requested address", { command: "ip addr del", exitCode: 2 }), 10);
    expect(k.removalFailure(A.vip)).toEqual({ vip: A.vip, detail: "Cannot assign requested address", command: "ip addr del", exitCode: 2, since: 10 });
    expect(k.next(input(109))).toBeNull();
    expect(k.next(input(110))).toEqual({ kind: "addr-del", ref: A });
    k.done({ kind: "addr-del", ref: A }, OK, 110);
    // Succeeded, not yet verified: the failure stands until the read-back.
    expect(k.removalFailure(A.vip)?.detail).toBe("Cannot assign requested address");
    k.done(k.next(input(110))!, { ok: true, addrs: [] }, 120);
    expect(k.removalFailure(A.vip)).toBeNull();
  });

  it("after a delete is verified, a later delete failure backs off from 100 ms again", () => {
    const k = ready();
    const release = (t: number, foundAgain: boolean) => {
      k.done(k.next(input(t))!, OK, t); // unlease
      k.done(k.next(input(t))!, OK, t); // addr-del
      k.done(k.next(input(t))!, { ok: true, addrs: foundAgain ? [A] : [] }, t);
    };
    drain(k, input(0, { wanted: want([A, 2800]) }));
    release(10, true); // found again: retry at 110
    k.done(k.next(input(110))!, OK, 110); // addr-del
    k.done(k.next(input(110))!, { ok: true, addrs: [A] }, 110); // found again: backoff 200
    expect(k.nextDue(110, 1e9)).toBe(310);
    k.done(k.next(input(310))!, OK, 310);
    k.done(k.next(input(310))!, { ok: true, addrs: [] }, 310); // verified gone
    drain(k, input(400, { wanted: want([A, 3200]) }));
    release(500, true);
    expect(k.nextDue(500, 1e9)).toBe(600);
  });

  it("reading back an address that is there as it should be is no failure", () => {
    const k = ready();
    drain(k, input(0, { wanted: want([A, 2800]) }));
    k.done({ kind: "read", ifaces: ["eth0"] }, { ok: true, addrs: [A] }, 100);
    expect(k.failures.size).toBe(0);
    expect(k.effective(A.vip, 100)).toBe(true);
  });

  it("nextDue: nothing while an operation is in flight, and a retry already due is not in the future", () => {
    const k = ready(0);
    k.done(k.next(input(0, { wanted: want([A, 2800]) }))!, FAIL(), 0); // lease retry at 100
    expect(k.nextDue(0, 5000)).toBe(100);
    expect(k.nextDue(150, 5000)).toBe(5000);
    k.next(input(150));
    expect(k.busy).toBe(true);
    expect(k.nextDue(150, 5000)).toBeNull();
  });
});

function k2done(k: KernelPlanner, op: KernelOp, r: KernelResult, now: number): void {
  expect(op.kind).toBe("manage");
  k.done(op, r, now);
}

describe("kernel planner: last details", () => {
  it("a VIP whose address on the old interface was deleted (not yet read back) and not yet added on the new one is not effective", () => {
    const k = ready(0, { ifaces: ["eth0", "eth1"] });
    drain(k, input(0, { wanted: want([A, 2800]), ifaces: ["eth0", "eth1"] }));
    const A1: VipRef = { ...A, iface: "eth1" };
    const p = input(10, { known: [A1], wanted: want([A1, 2800]), ifaces: ["eth0", "eth1"] });
    const del = k.next(p)!;
    expect(del).toEqual({ kind: "addr-del", ref: A });
    k.done(del, OK, 10);
    expect(k.effective(A.vip, 10)).toBe(false);
  });

  it("nextDue is the earliest of several retries, whatever order they failed in", () => {
    const k = ready(0, { known: [A, B], ifaces: ["eth0", "eth1"] });
    const p = (now: number, wanted: Map<string, Wanted>) => input(now, { known: [A, B], ifaces: ["eth0", "eth1"], wanted, resyncMs: 1e9 });
    drain(k, p(0, want([A, 2800], [B, 2800])));
    k.done(k.next(p(10, new Map()))!, FAIL(), 10); // unlease A: retry at 110
    k.done(k.next(p(20, new Map()))!, OK, 20); // setup again
    k.done(k.next(p(20, new Map()))!, OK, 20); // manage again
    const ub = k.next(p(50, new Map()))!;
    expect(ub).toEqual({ kind: "unlease", vips: [B.vip] });
    k.done(ub, FAIL(), 50); // retry at 150
    expect(k.nextDue(60, 1e9)).toBe(110);
  });

  it("a read that returns no address list finds nothing", () => {
    const k = new KernelPlanner();
    drain(k, input(0), () => OK);
    expect(k.configured()).toEqual([]);
    expect(k.empty).toBe(true);
  });
});
