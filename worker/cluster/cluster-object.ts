// One Durable Object per cluster: a thin shell around the pure engine. It loads the persisted
// state once, feeds inputs (heartbeats, alarm ticks, admin operations), and performs the engine's
// effects: persist (before any reply or push leaves), events (D1), pushes (hibernatable WebSocket
// watch per node) and one alarm at the engine's next deadline.
import { DurableObject } from "cloudflare:workers";
import { drizzle } from "drizzle-orm/d1";
import { type HeartbeatReply, HeartbeatRequest, type WatchMessage } from "../../protocol/heartbeat.js";
import type { ClusterSpec } from "../../protocol/spec.js";
import { enqueueEvents } from "../alerts/consumer.js";
import type { AlertEvent } from "../alerts/types.js";
import { events } from "../db/schema.js";
import { boot, desiredFor, newPersistedState, statusView, step } from "../engine/index.js";
import type { EngineEffect, EngineInput, EngineState, StepResult } from "../engine/types.js";
import type { Env } from "../env.js";
import { constantTimeEqual } from "../http/tokens.js";
import { issuesToErrors } from "../http/validation.js";
import { protocolRefusal, replyFor } from "./protocol.js";
import { type Meta, migrateStored, newMeta, stamp } from "./state-schema.js";

const STATE_KEY = "state";
const META_KEY = "meta";

export type HeartbeatOutcome =
  | { ok: true; reply: HeartbeatReply }
  | { ok: false; status: 400 | 401 | 403 | 404; detail: string; errors?: { path: string; message: string }[] };

export type AdminOutcome = { ok: true; detail: string; decisions: string[] } | { ok: false; status: 404 | 409; detail: string };

export interface StorageCounters {
  /** storage.put of the engine snapshot (transitions only). */
  statePuts: number;
  /** setAlarm/deleteAlarm calls. */
  alarmWrites: number;
  heartbeats: number;
}

export class ClusterObject extends DurableObject<Env> {
  private engine: EngineState | null = null;
  private meta: Meta | null = null;
  /** The alarm time we last set (memory), so a renewal that moves the deadline later costs no write. */
  private alarmAt: number | null = null;
  private counters: StorageCounters = { statePuts: 0, alarmWrites: 0, heartbeats: 0 };

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      const [persisted, meta, alarm] = await Promise.all([ctx.storage.get(STATE_KEY), ctx.storage.get(META_KEY), ctx.storage.getAlarm()]);
      this.alarmAt = alarm;
      if (persisted && meta) {
        // State written by an older Worker version is migrated once, before anything is served.
        const m = migrateStored(persisted, meta);
        if (m.migrated) {
          await ctx.storage.put({ [STATE_KEY]: m.state, [META_KEY]: m.meta });
          console.log(JSON.stringify({ msg: "cluster state migrated", cluster: m.state.clusterId, from: m.from, to: m.state.schemaVersion }));
        }
        this.meta = m.meta;
        this.engine = boot(m.state, Date.now());
      }
    });
  }

  /** Create the cluster's state (idempotent for the same spec version). */
  async init(clusterId: string, siteId: string, spec: ClusterSpec, specVersion: number, nodeTokenHashes: Record<string, string>): Promise<void> {
    if (this.engine) return;
    const persisted = stamp(newPersistedState(clusterId, spec, specVersion));
    const meta = newMeta(siteId, nodeTokenHashes);
    await this.ctx.storage.put({ [STATE_KEY]: persisted, [META_KEY]: meta });
    this.counters.statePuts++;
    this.meta = meta;
    this.engine = boot(persisted, Date.now());
    await this.arm(Date.now() + spec.policy.leaseTtlMs + spec.policy.driftMarginMs);
  }

  /** The token is checked first, then the body (untrusted input, parsed with zod here). */
  async heartbeat(node: string, tokenHash: string, body: unknown): Promise<HeartbeatOutcome> {
    // Unknown cluster, unknown node and wrong token look the same: a caller without the right
    // token learns nothing about what exists.
    if (!this.engine || !this.tokenValid(node, tokenHash)) {
      return { ok: false, status: 403, detail: `not a valid token for node '${node}' of this cluster` };
    }
    const parsed = HeartbeatRequest.safeParse(body);
    if (!parsed.success) {
      return { ok: false, status: 400, detail: "the body does not match the heartbeat schema", errors: issuesToErrors(parsed.error.issues) };
    }
    const request = parsed.data;
    const protocol = request.protocol ?? 1;
    const refused = protocolRefusal(protocol);
    if (refused) return { ok: false, status: 400, detail: refused, errors: [{ path: "protocol", message: refused }] };
    this.counters.heartbeats++;
    const result = await this.run({ type: "heartbeat", node, request });
    if (!result.reply) throw new Error("engine returned no reply to a heartbeat");
    return { ok: true, reply: replyFor(protocol, result.reply) };
  }

  async admin(input: Extract<EngineInput, { type: "switchover" | "maintenance" | "ack-fence" | "run-operation" }>): Promise<AdminOutcome> {
    if (!this.engine) return { ok: false, status: 404, detail: "no such cluster" };
    const result = await this.run(input);
    if (result.rejected) return { ok: false, status: 409, detail: result.rejected };
    const decisions = result.effects.filter((e): e is Extract<EngineEffect, { type: "event" }> => e.type === "event").map((e) => e.reason);
    return { ok: true, detail: decisions[0] ?? "no change needed", decisions };
  }

  async updateSpec(spec: ClusterSpec, specVersion: number, actor: string, nodeTokenHashes: Record<string, string>, previousTokens: Meta["previousTokens"] = {}): Promise<void> {
    if (!this.engine || !this.meta) throw new Error("cluster not initialised");
    this.meta = { ...this.meta, nodeTokenHashes, previousTokens };
    await this.ctx.storage.put(META_KEY, this.meta);
    await this.run({ type: "spec", spec, specVersion, actor });
  }

  /**
   * A node's new token. With `graceUntil` the token it replaces stays valid until then (rotation
   * with overlap: the node keeps heartbeating until it has the new one); without, it ends now.
   */
  async setNodeToken(node: string, hash: string, graceUntil: number | null = null): Promise<void> {
    if (!this.meta) throw new Error("cluster not initialised");
    const previousTokens = { ...this.meta.previousTokens };
    const old = this.meta.nodeTokenHashes[node];
    if (graceUntil !== null && old !== undefined) previousTokens[node] = { hash: old, until: graceUntil };
    else delete previousTokens[node];
    this.meta = { ...this.meta, nodeTokenHashes: { ...this.meta.nodeTokenHashes, [node]: hash }, previousTokens };
    await this.ctx.storage.put(META_KEY, this.meta);
    // Without a grace period the old token's watch sockets end now (with one, at their next reconnect).
    if (graceUntil === null) for (const ws of this.ctx.getWebSockets(node)) ws.close(4001, "token rotated");
  }

  /** Revoke one token of a node (the current one or the one still in its grace period). */
  async revokeNodeToken(node: string, hash: string): Promise<void> {
    if (!this.meta) throw new Error("cluster not initialised");
    const previousTokens = { ...this.meta.previousTokens };
    const nodeTokenHashes = { ...this.meta.nodeTokenHashes };
    if (previousTokens[node]?.hash === hash) delete previousTokens[node];
    // The current one is replaced by a hash nobody has.
    if (nodeTokenHashes[node] === hash) nodeTokenHashes[node] = `revoked:${hash}`;
    this.meta = { ...this.meta, nodeTokenHashes, previousTokens };
    await this.ctx.storage.put(META_KEY, this.meta);
    for (const ws of this.ctx.getWebSockets(node)) ws.close(4001, "token revoked");
  }

  /** The node's current token, or its previous one within the rotation's grace period. */
  private tokenValid(node: string, hash: string): boolean {
    const m = this.meta;
    if (!m) return false;
    const current = m.nodeTokenHashes[node];
    if (current !== undefined && constantTimeEqual(current, hash)) return true;
    const prev = m.previousTokens[node];
    return prev !== undefined && Date.now() < prev.until && constantTimeEqual(prev.hash, hash);
  }

  async status(): Promise<(ReturnType<typeof statusView> & { storage: StorageCounters }) | null> {
    if (!this.engine) return null;
    return { ...statusView(this.engine, Date.now()), storage: { ...this.counters } };
  }

  async destroy(): Promise<void> {
    for (const ws of this.ctx.getWebSockets()) ws.close(4004, "cluster deleted");
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
    this.engine = null;
    this.meta = null;
    this.alarmAt = null;
  }

  /** Alarms are at-least-once: a tick is idempotent, and an early one just re-arms. */
  override async alarm(): Promise<void> {
    this.alarmAt = null;
    if (!this.engine) return;
    await this.run({ type: "tick" });
    if (this.alarmAt === null) {
      // The engine wants no deadline now; keep a slow safety tick so nothing is ever forgotten.
      const p = this.engine.persisted.spec.policy;
      await this.arm(Date.now() + p.leaseTtlMs + p.driftMarginMs);
    }
  }

  /** WebSocket watch: GET .../watch with the node's token; the Worker forwards the upgrade here. */
  override async fetch(request: Request): Promise<Response> {
    const node = request.headers.get("x-chime-node") ?? "";
    const hash = request.headers.get("x-chime-token-hash") ?? "";
    if (!this.engine || !this.tokenValid(node, hash)) {
      return new Response(`not a valid token for node '${node}' of this cluster`, { status: 403 });
    }
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") return new Response("expected a WebSocket upgrade", { status: 426 });
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    this.ctx.acceptWebSocket(server, [node]);
    const hello: WatchMessage = { type: "hello", node, specVersion: this.engine.persisted.specVersion };
    server.send(JSON.stringify(hello));
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    // The watch is one-way; answer a text "ping" so clients can check liveness cheaply.
    if (message === "ping") ws.send("pong");
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, "closing");
    } catch {
      // already closed
    }
  }

  private async run(input: EngineInput): Promise<StepResult> {
    if (!this.engine) throw new Error("cluster not initialised");
    const now = Date.now();
    const result = step(this.engine, input, now);
    this.engine = result.state;
    await this.perform(result.effects, now);
    return result;
  }

  private async perform(effects: EngineEffect[], now: number): Promise<void> {
    const eventRows: (typeof events.$inferInsert)[] = [];
    /** Incident hints per row (not stored in D1), for alert grouping. */
    const hints: { incident?: string; resolves?: boolean }[] = [];
    const pushTo = new Set<string>();
    let alarm: number | null | undefined;
    for (const e of effects) {
      switch (e.type) {
        case "persist":
          // Awaited before the reply: the output gate would hold it anyway, but be explicit.
          await this.ctx.storage.put(STATE_KEY, stamp(e.state));
          this.counters.statePuts++;
          break;
        case "event":
          eventRows.push({
            at: now,
            siteId: this.meta?.siteId ?? null,
            clusterId: this.engine?.persisted.clusterId ?? null,
            kind: e.kind,
            severity: e.severity,
            group: e.group ?? null,
            node: e.node ?? null,
            epoch: e.epoch ?? null,
            reason: e.reason,
            actor: e.actor,
          });
          hints.push({ ...(e.incident !== undefined ? { incident: e.incident } : {}), ...(e.resolves !== undefined ? { resolves: e.resolves } : {}) });
          break;
        case "push":
          pushTo.add(e.node);
          break;
        case "alarm":
          alarm = e.at;
          break;
      }
    }
    if (alarm !== undefined) await this.arm(alarm);
    if (this.engine) {
      for (const node of pushTo) {
        const sockets = this.ctx.getWebSockets(node);
        if (sockets.length === 0) continue;
        const msg: WatchMessage = { type: "desired", desired: desiredFor(this.engine, node, now) };
        const text = JSON.stringify(msg);
        for (const ws of sockets) {
          try {
            ws.send(text);
          } catch {
            // A dead socket is the client's to reconnect; the next heartbeat carries the same state.
          }
        }
      }
    }
    if (eventRows.length > 0) this.ctx.waitUntil(this.writeEvents(eventRows, hints));
  }

  /** Events go to D1, then (with their D1 ids) to the alerts queue for routing. */
  private async writeEvents(rows: (typeof events.$inferInsert)[], hints: { incident?: string; resolves?: boolean }[]): Promise<void> {
    const alerts: AlertEvent[] = [];
    try {
      // D1 limits bound parameters per statement; 11 columns x 8 rows stays well under it.
      const db = drizzle(this.env.DB);
      for (let i = 0; i < rows.length; i += 8) {
        const ids = await db.insert(events).values(rows.slice(i, i + 8)).returning({ id: events.id }).all();
        ids.forEach(({ id }, j) => {
          const r = rows[i + j]!;
          alerts.push({
            id,
            at: r.at,
            siteId: r.siteId ?? null,
            clusterId: r.clusterId ?? null,
            kind: r.kind,
            severity: r.severity,
            group: r.group ?? null,
            node: r.node ?? null,
            epoch: r.epoch ?? null,
            reason: r.reason,
            actor: r.actor,
            ...hints[i + j],
          });
        });
      }
    } catch (err) {
      console.error(JSON.stringify({ msg: "event write failed", error: String(err), rows: rows.length }));
    }
    if (alerts.length === 0 || !this.env.ALERTS) return;
    try {
      await enqueueEvents(this.env, alerts);
    } catch (err) {
      console.error(JSON.stringify({ msg: "alert enqueue failed", error: String(err), events: alerts.length }));
    }
  }

  /**
   * Keep one alarm at the engine's next deadline. Moving it LATER costs nothing (an early alarm
   * just ticks and re-arms), so a plain renewal never writes; moving it earlier or clearing does.
   */
  private async arm(at: number | null): Promise<void> {
    if (at === null) return;
    if (this.alarmAt !== null && this.alarmAt <= at) return;
    this.alarmAt = at;
    this.counters.alarmWrites++;
    await this.ctx.storage.setAlarm(at);
  }
}
