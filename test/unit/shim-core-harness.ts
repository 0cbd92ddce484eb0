// A small driver for the shim core in unit tests: carries out its kernel operations on a model of
// the kernel that always succeeds (or fails as told), records every action, and runs fence hooks
// at once unless told to hold them. Time is whatever the test says.
import type { DesiredGroup, DesiredState, HeartbeatReply } from "../../protocol/heartbeat.js";
import { type KernelOp, type KernelResult, refKey, type VipRef } from "../../node-shim/core/kernel.js";
import { type CoreAction, type CoreOptions, ShimCore } from "../../node-shim/core/shim-core.js";

export const group = (over: Partial<DesiredGroup> = {}): DesiredGroup => ({
  name: "api",
  mode: "active-standby",
  vip: "10.0.0.10",
  prefix: 24,
  interface: "eth0",
  ports: [{ port: 8801, protocol: "tcp" }],
  probe: { type: "tcp", port: 8801, intervalMs: 1000, timeoutMs: 800, fall: 2, rise: 2 },
  member: true,
  role: "holder",
  epoch: 1,
  holder: "server1",
  ...over,
});

export const desired = (groups: DesiredGroup[], over: Partial<DesiredState> = {}): DesiredState => ({
  cluster: "dc1",
  node: "server1",
  specVersion: 1,
  heartbeatIntervalMs: 1000,
  leaseTtlMs: 3000,
  maintenance: false,
  groups,
  operations: [],
  failsafe: false,
  driftMarginMs: 500,
  ...over,
});

export class Harness {
  readonly core: ShimCore;
  /** Addresses the modelled kernel has (refKey). */
  readonly addrs = new Map<string, VipRef>();
  readonly actions: CoreAction[] = [];
  readonly ops: KernelOp[] = [];
  readonly logs: { msg: string; fields?: Record<string, unknown> }[] = [];
  /** Run fence hooks at once (else they wait for fenceDone()). */
  autoFence = true;
  /** Make kernel operations of these kinds fail. */
  failing = new Set<KernelOp["kind"]>();

  constructor(opts: Partial<CoreOptions> = {}) {
    this.core = new ShimCore({ node: "server1", bootId: "boot-a", localLeaseMarginMs: 200, failsafe: false, log: (msg, fields) => this.logs.push({ msg, ...(fields ? { fields } : {}) }), ...opts });
  }

  /** Carry out `actions` (and whatever follows from them) at `now`; returns them all. */
  run(actions: CoreAction[], now: number): CoreAction[] {
    const out: CoreAction[] = [];
    const queue = [...actions];
    for (let i = 0; queue.length; i++) {
      if (i > 200) throw new Error("the core never settles");
      const a = queue.shift()!;
      out.push(a);
      this.actions.push(a);
      if (a.type === "kernel") {
        this.ops.push(a.op);
        queue.push(...this.core.kernelDone(a.op, this.exec(a.op, now), now));
      } else if (a.type === "fence" && this.autoFence) {
        queue.push(...this.core.fenceDone(a.group.name, now));
      }
    }
    return out;
  }

  private exec(op: KernelOp, now: number): KernelResult {
    const cur = this.core.recheck(op, now);
    if (!cur) return { ok: false, aborted: true, detail: "not wanted", command: op.kind, exitCode: null };
    if (this.failing.has(op.kind)) return { ok: false, detail: `${op.kind} failed`, command: `cmd ${op.kind}`, exitCode: 1 };
    if (cur.kind === "addr-add") this.addrs.set(refKey(cur.ref), cur.ref);
    if (cur.kind === "addr-del") this.addrs.delete(refKey(cur.ref));
    if (cur.kind === "read") return { ok: true, addrs: [...this.addrs.values()].filter((r) => cur.ifaces.includes(r.iface)) };
    return { ok: true };
  }

  /** One heartbeat sent at `sentAt`, answered at `now` with `reply`. */
  beat(reply: HeartbeatReply, sentAt: number, now: number): CoreAction[] {
    const req = this.core.request({}, sentAt);
    return this.run(this.core.onReply(req, reply, sentAt, now), now);
  }

  tick(now: number): CoreAction[] {
    return this.run(this.core.tick(now), now);
  }

  types(actions: CoreAction[]): string[] {
    return actions.map((a) => (a.type === "kernel" ? `kernel:${a.op.kind}` : a.type));
  }
}

/** A reply granting `g` (holder) for `ttlMs`. */
export const grantReply = (g: DesiredGroup, over: Partial<DesiredState> = {}, ttlMs = 3000): HeartbeatReply => ({ grants: [{ group: g.name, epoch: g.epoch, ttlMs }], desired: desired([g], over) });
