// Failsafe promises, pure (after Patroni's failsafe mode). When the control plane cannot be
// reached, a holder keeps a group one TTL at a time only while EVERY other server of the cluster
// has promised not to take it. This file decides what to promise and checks what comes back; the
// signatures (HMAC over the exact bytes) are the transport's (failsafe.ts).
//
// - A promise counts on the promiser from when it RECEIVED the request, for ttl + the control
//   plane's drift margin; the holder's extension counts from when it SENT the request, minus its
//   lease margin. So the holder always lets go first, as with leases.
// - Requests and replies name cluster, sender, addressee, group, epoch, a nonce and the sender's
//   wall-clock time: a request is accepted once (nonce), only within TIME_WINDOW_MS of its time,
//   only from a server the control plane listed as a peer, only for a TTL up to the spec's.
// - Promises given survive a restart of the promiser (persisted before the answer leaves).
import { z } from "zod";
import { Name } from "../../protocol/spec.js";

/** Requests older or newer than this (sender's wall clock vs ours) are refused: replays and wild clocks. */
export const TIME_WINDOW_MS = 10_000;

export const PromiseRequestBody = z.strictObject({
  v: z.literal(1),
  /** `handoff`: the holder dropped the group's VIP and hands it to the addressee (direct handoff, shim-core.ts). */
  kind: z.enum(["promise", "release", "handoff"]),
  cluster: z.string().min(1).max(200),
  from: Name,
  to: Name,
  group: Name,
  epoch: z.number().int().min(0),
  ttlMs: z.number().int().min(1).max(600_000),
  nonce: z.string().min(8).max(64),
  /** Sender's wall clock (ms since the epoch) when it sent the request. */
  sentAt: z.number().int().min(0),
});
export type PromiseRequestBody = z.infer<typeof PromiseRequestBody>;

export const PromiseReplyBody = z.strictObject({
  v: z.literal(1),
  kind: z.literal("reply"),
  cluster: z.string(),
  from: Name,
  to: Name,
  group: Name,
  epoch: z.number().int().min(0),
  nonce: z.string(),
  ok: z.boolean(),
  reason: z.string().max(300),
});
export type PromiseReplyBody = z.infer<typeof PromiseReplyBody>;

export interface GivenPromise {
  group: string;
  holder: string;
  epoch: number;
  /** Local monotonic expiry. */
  until: number;
}

/**
 * As written to disk: the expiry on the host's boot clock (CLOCK_MONOTONIC, unaffected by wall
 * clock steps, valid while the host has not rebooted) and on the wall clock (after a reboot).
 */
export interface StoredPromise {
  group: string;
  holder: string;
  epoch: number;
  untilWall: number;
  boot: { id: string; until: number };
}

/** Now on the three clocks the book deals with. */
export interface Clocks {
  /** The process's monotonic clock (the core's `now`). */
  now: number;
  wall: number;
  /** The host's boot clock and boot id. */
  boot: { id: string; ms: number };
}

export interface PromiseContext {
  self: string;
  cluster: string;
  /** The servers the control plane listed as this node's peers (a request from anyone else is refused). */
  peers: string[];
  /** The spec's lease TTL: no promise for longer. */
  maxTtlMs: number;
  /** The spec's drift margin: a promise lasts this much longer than asked, as the control plane waits. */
  marginMs: number;
  /** Whether this node holds a valid lease for the group (then it cannot promise). */
  holds(group: string): boolean;
}

export class PromiseBook {
  private readonly given = new Map<string, GivenPromise>();
  /** Nonces seen, with the wall-clock time after which they cannot be replayed anyway. */
  private readonly nonces = new Map<string, number>();

  /** Answer a request (already authenticated by its signature). `changed`: persist before replying. */
  answer(req: PromiseRequestBody, ctx: PromiseContext, now: number, wallNow: number): { reply: PromiseReplyBody; changed: boolean } {
    const reply = (ok: boolean, reason: string): PromiseReplyBody => replyTo(req, ctx.self, ctx.cluster, ok, reason);
    const why = this.admit(req, ctx, wallNow);
    if (why) return { reply: reply(false, why), changed: false };
    if (req.kind === "handoff") return { reply: reply(false, "a handoff is not a promise request"), changed: false };
    if (req.kind === "release") {
      const p = this.given.get(req.group);
      if (p && p.holder === req.from) {
        this.given.delete(req.group);
        return { reply: reply(true, "promise ended"), changed: true };
      }
      return { reply: reply(true, "no promise to end"), changed: false };
    }
    if (ctx.holds(req.group)) return { reply: reply(false, `${ctx.self} holds ${req.group}`), changed: false };
    const prev = this.given.get(req.group);
    if (prev && prev.holder !== req.from && prev.until > now) return { reply: reply(false, `${ctx.self} promised ${req.group} to ${prev.holder}`), changed: false };
    const until = now + req.ttlMs + ctx.marginMs;
    this.given.set(req.group, { group: req.group, holder: req.from, epoch: req.epoch, until: prev && prev.holder === req.from ? Math.max(prev.until, until) : until });
    return { reply: reply(true, "promised"), changed: true };
  }

  /** Whether a request may be looked at (cluster, addressee, peer, time, replay); a request admitted is never admitted again. */
  admit(req: PromiseRequestBody, ctx: Pick<PromiseContext, "self" | "cluster" | "peers" | "maxTtlMs">, wallNow: number): string | null {
    const why = this.refusal(req, ctx, wallNow);
    if (why === null) this.nonces.set(req.nonce, req.sentAt + TIME_WINDOW_MS);
    return why;
  }

  private refusal(req: PromiseRequestBody, ctx: Pick<PromiseContext, "self" | "cluster" | "peers" | "maxTtlMs">, wallNow: number): string | null {
    if (req.cluster !== ctx.cluster) return `wrong cluster '${req.cluster}'`;
    if (req.to !== ctx.self) return `addressed to ${req.to}, not ${ctx.self}`;
    if (!ctx.peers.includes(req.from)) return `${req.from} is not a peer server of ${ctx.self} (per the control plane)`;
    if (Math.abs(wallNow - req.sentAt) > TIME_WINDOW_MS) return `request time ${req.sentAt} is more than ${TIME_WINDOW_MS} ms from ${ctx.self}'s clock`;
    for (const [n, exp] of this.nonces) if (exp < wallNow - TIME_WINDOW_MS) this.nonces.delete(n);
    if (this.nonces.has(req.nonce)) return "replayed request (nonce already seen)";
    if (req.kind === "promise" && req.ttlMs > ctx.maxTtlMs) return `ttl ${req.ttlMs} ms is longer than the spec's lease TTL ${ctx.maxTtlMs} ms`;
    return null;
  }

  /** The holder this node promised `group` to, while that promise lasts. */
  promisedTo(group: string, now: number): string | null {
    const p = this.given.get(group);
    if (!p) return null;
    if (p.until <= now) {
      this.given.delete(group);
      return null;
    }
    return p.holder;
  }

  /** Earliest promise end (a refused grant may be accepted from then on). */
  nextExpiry(): number | null {
    let next: number | null = null;
    for (const p of this.given.values()) if (next === null || p.until < next) next = p.until;
    return next;
  }

  stored(c: Clocks): StoredPromise[] {
    return [...this.given.values()]
      .filter((p) => p.until > c.now)
      .map((p) => ({ group: p.group, holder: p.holder, epoch: p.epoch, untilWall: c.wall + (p.until - c.now), boot: { id: c.boot.id, until: c.boot.ms + (p.until - c.now) } }));
  }

  /**
   * Promises from before a restart are honoured until their end: on the boot clock when the host
   * has not rebooted since (immune to wall-clock steps), else on the wall clock.
   */
  load(stored: StoredPromise[], c: Clocks): void {
    for (const p of stored) {
      const left = p.boot.id === c.boot.id ? p.boot.until - c.boot.ms : p.untilWall - c.wall;
      if (left > 0) this.given.set(p.group, { group: p.group, holder: p.holder, epoch: p.epoch, until: c.now + left });
    }
  }
}

export function replyTo(req: PromiseRequestBody, self: string, cluster: string, ok: boolean, reason: string): PromiseReplyBody {
  return { v: 1, kind: "reply", cluster, from: self, to: req.from, group: req.group, epoch: req.epoch, nonce: req.nonce, ok, reason };
}

/** The holder's check of a peer's signed reply: the one it asked, about what it asked. */
export function replyConfirms(reply: PromiseReplyBody, req: PromiseRequestBody): boolean {
  return reply.ok && reply.cluster === req.cluster && reply.from === req.to && reply.to === req.from && reply.group === req.group && reply.epoch === req.epoch && reply.nonce === req.nonce;
}
