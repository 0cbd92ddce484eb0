// One Durable Object per cluster: a thin shell around the pure engine. It loads the persisted
// state once, feeds inputs (heartbeats, alarm ticks, admin operations), and performs the engine's
// effects: persist (before any reply or push leaves), events (D1), pushes (hibernatable WebSocket
// watch per node) and one alarm where the engine's alarm policy wants it (engine/deadlines.ts).
//
// Heartbeats arrive as RPC calls from the Worker's HTTP route or as messages on the node's
// hibernatable watch socket (webSocketMessage), answered on the same socket with the request's
// `seq`. Between messages the object keeps no timer, no pending fetch and no waitUntil (event rows
// are the only background work, and only on transitions), so it stays hibernation-eligible and
// is not billed for duration while idle.
import { DurableObject } from "cloudflare:workers";
import { drizzle } from "drizzle-orm/d1";
import { type DesiredState, type HeartbeatReply, HeartbeatRequest, OLDEST_PROTOCOL_VERSION, type PushedGrants, SocketHeartbeat, type WatchMessage } from "../../protocol/heartbeat.js";
import type { LimitsReport } from "../../protocol/limits.js";
import type { ClusterSpec } from "../../protocol/spec.js";
import { enqueueEvents } from "../alerts/consumer.js";
import type { AlertEvent } from "../alerts/types.js";
import { events } from "../db/schema.js";
import { boot, desiredFor, newPersistedState, SHADOW_MATCH_MS, type ShadowGroupReport, shadowReport, statusView, step } from "../engine/index.js";
import type { ClusterAvailability, GroupAvailabilitySummary } from "../../protocol/availability.js";
import { type LedgerMonth, memoryMonths, monthBefore, monthOf, monthsBetween, RETENTION_MONTHS } from "../engine/ledger.js";
import { clusterReport, clusterSummary, type LedgerView, monthsNeeded } from "../engine/report.js";
import type { EngineEffect, EngineInput, EngineState, StepResult } from "../engine/types.js";
import type { Env } from "../env.js";
import { constantTimeEqual } from "../http/tokens.js";
import { issuesToErrors } from "../http/validation.js";
import { desiredFor as desiredForVersion, protocolRefusal, replyFor } from "./protocol.js";
import { type Meta, migrateStored, newMeta, stamp } from "./state-schema.js";
import { openOperations, resealSpec, specEnvelopes } from "../secrets/spec-secrets.js";
import { derivedSecrets } from "../secrets/keyring.js";
import { appendAudit, sealAudit } from "../audit/log.js";

const STATE_KEY = "state";
const META_KEY = "meta";
/** One key per month of the availability ledger (engine/ledger.ts), kept for RETENTION_MONTHS. */
const ledgerKey = (month: string) => `ledger:${month}`;

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

/**
 * Every billable unit this object causes, counted where it happens (memory only: they restart
 * with the object). `npm run bench:cost` prices them (test/bench/prices.ts).
 */
export interface UsageCounters {
  /** RPC method calls from the Worker (each one Durable Object request). */
  rpcCalls: number;
  /** fetch() calls: WebSocket upgrades (each one Durable Object request). */
  fetches: number;
  /** Incoming WebSocket messages that reached webSocketMessage (billed 20:1). */
  wsMessagesIn: number;
  /** Outgoing WebSocket messages (not billed). */
  wsMessagesOut: number;
  /** alarm() invocations (each one Durable Object request). */
  alarms: number;
  /** Storage rows written: state/meta puts, one per key, and every setAlarm/deleteAlarm. */
  rowsWritten: number;
  /** Event rows inserted into D1. */
  d1RowsWritten: number;
  /** Alert messages sent to the queue (3 queue operations each: write, read, delete). */
  queueMessages: number;
  heartbeatsHttp: number;
  heartbeatsSocket: number;
}

/** What the object keeps with each accepted watch socket (survives hibernation). */
interface SocketAttachment {
  node: string;
  tokenHash: string;
}

export class ClusterObject extends DurableObject<Env> {
  private engine: EngineState | null = null;
  private meta: Meta | null = null;
  /** The alarm time we last set (memory), so a renewal that moves the deadline later costs no write. */
  private alarmAt: number | null = null;
  /** The newest ledger month this incarnation wrote: a newer one prunes months past retention. */
  private ledgerMonth: string | null = null;
  private counters: StorageCounters = { statePuts: 0, alarmWrites: 0, heartbeats: 0 };
  /** The protocol version each node's shim last spoke (pushes are shaped for it; unknown: the oldest). */
  private protocolOf = new Map<string, number>();
  /** This cluster's failsafe keys, derived once per incarnation (withFailsafeKeys). */
  private failsafeKeys: Promise<string[]> | null = null;
  private usage: UsageCounters = { rpcCalls: 0, fetches: 0, wsMessagesIn: 0, wsMessagesOut: 0, alarms: 0, rowsWritten: 0, d1RowsWritten: 0, queueMessages: 0, heartbeatsHttp: 0, heartbeatsSocket: 0 };

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      const [persisted, meta, alarm] = await Promise.all([ctx.storage.get(STATE_KEY), ctx.storage.get(META_KEY), ctx.storage.getAlarm()]);
      this.alarmAt = alarm;
      // Answered by the runtime itself: no wake-up, no duration, no request.
      ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
      if (persisted && meta) {
        // State written by an older Worker version is migrated once, before anything is served.
        const m = migrateStored(persisted, meta);
        if (m.migrated) {
          await ctx.storage.put({ [STATE_KEY]: m.state, [META_KEY]: m.meta });
          this.usage.rowsWritten += 2;
          console.log(JSON.stringify({ msg: "cluster state migrated", cluster: m.state.clusterId, from: m.from, to: m.state.schemaVersion }));
        }
        this.meta = m.meta;
        const now = Date.now();
        this.engine = boot(m.state, now, await this.loadMonths(this.bootMonths(m.state.ledger, now)));
      }
    });
  }

  /** The ledger months an engine needs in memory: the last 30 days, and back to each open interval's start. */
  private bootMonths(ledger: EngineState["persisted"]["ledger"] | undefined, now: number): string[] {
    const need = new Set(memoryMonths(now));
    const oldest = monthBefore(monthOf(now), RETENTION_MONTHS - 1);
    for (const led of Object.values(ledger ?? {})) for (const m of monthsBetween(led.open.start, now)) if (m >= oldest) need.add(m);
    return [...need].sort();
  }

  private async loadMonths(months: string[]): Promise<LedgerMonth[]> {
    if (months.length === 0) return [];
    const got = await this.ctx.storage.get<LedgerMonth>(months.map(ledgerKey));
    return [...got.values()];
  }

  /** Create the cluster's state (idempotent for the same spec version). */
  async init(clusterId: string, siteId: string, spec: ClusterSpec, specVersion: number, nodeTokenHashes: Record<string, string>, actor?: string): Promise<void> {
    this.usage.rpcCalls++;
    if (this.engine) return;
    const persisted = stamp(newPersistedState(clusterId, spec, specVersion, actor));
    const meta = newMeta(siteId, nodeTokenHashes);
    await this.ctx.storage.put({ [STATE_KEY]: persisted, [META_KEY]: meta });
    this.counters.statePuts++;
    this.usage.rowsWritten += 2;
    this.meta = meta;
    this.engine = boot(persisted, Date.now());
    await this.arm(Date.now() + spec.policy.leaseTtlMs + spec.policy.driftMarginMs);
  }

  /** A heartbeat from the Worker's HTTP route. */
  async heartbeat(node: string, tokenHash: string, body: unknown): Promise<HeartbeatOutcome> {
    this.usage.rpcCalls++;
    const out = await this.takeHeartbeat(node, tokenHash, body);
    if (out.ok) this.usage.heartbeatsHttp++;
    return out;
  }

  /** The token is checked first, then the body (untrusted input, parsed with zod here). */
  private async takeHeartbeat(node: string, tokenHash: string, body: unknown): Promise<HeartbeatOutcome> {
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
    this.protocolOf.set(node, protocol);
    const result = await this.run({ type: "heartbeat", node, request });
    if (!result.reply) throw new Error("engine returned no reply to a heartbeat");
    return { ok: true, reply: replyFor(protocol, await this.withCredentials(result.reply)) };
  }

  async admin(input: Extract<EngineInput, { type: "switchover" | "maintenance" | "ack-fence" | "run-operation" | "drill" }>): Promise<AdminOutcome> {
    this.usage.rpcCalls++;
    if (!this.engine) return { ok: false, status: 404, detail: "no such cluster" };
    const result = await this.run(input);
    if (result.rejected) return { ok: false, status: 409, detail: result.rejected };
    const decisions = result.effects.filter((e): e is Extract<EngineEffect, { type: "event" }> => e.type === "event").map((e) => e.reason);
    return { ok: true, detail: decisions[0] ?? "no change needed", decisions };
  }

  async updateSpec(spec: ClusterSpec, specVersion: number, actor: string, nodeTokenHashes: Record<string, string>, previousTokens: Meta["previousTokens"] = {}): Promise<void> {
    this.usage.rpcCalls++;
    if (!this.engine || !this.meta) throw new Error("cluster not initialised");
    this.meta = { ...this.meta, nodeTokenHashes, previousTokens };
    await this.ctx.storage.put(META_KEY, this.meta);
    this.usage.rowsWritten++;
    await this.run({ type: "spec", spec, specVersion, actor });
  }

  /**
   * A node's new token. With `graceUntil` the token it replaces stays valid until then (rotation
   * with overlap: the node keeps heartbeating until it has the new one); without, it ends now.
   */
  async setNodeToken(node: string, hash: string, graceUntil: number | null = null): Promise<void> {
    this.usage.rpcCalls++;
    if (!this.meta) throw new Error("cluster not initialised");
    const previousTokens = { ...this.meta.previousTokens };
    const old = this.meta.nodeTokenHashes[node];
    if (graceUntil !== null && old !== undefined) previousTokens[node] = { hash: old, until: graceUntil };
    else delete previousTokens[node];
    this.meta = { ...this.meta, nodeTokenHashes: { ...this.meta.nodeTokenHashes, [node]: hash }, previousTokens };
    await this.ctx.storage.put(META_KEY, this.meta);
    this.usage.rowsWritten++;
    // Without a grace period the old token's watch sockets end now (with one, at their next reconnect).
    if (graceUntil === null) for (const ws of this.ctx.getWebSockets(node)) ws.close(4001, "token rotated");
  }

  /** Revoke one token of a node (the current one or the one still in its grace period). */
  async revokeNodeToken(node: string, hash: string): Promise<void> {
    this.usage.rpcCalls++;
    if (!this.meta) throw new Error("cluster not initialised");
    const previousTokens = { ...this.meta.previousTokens };
    const nodeTokenHashes = { ...this.meta.nodeTokenHashes };
    if (previousTokens[node]?.hash === hash) delete previousTokens[node];
    // The current one is replaced by a hash nobody has.
    if (nodeTokenHashes[node] === hash) nodeTokenHashes[node] = `revoked:${hash}`;
    this.meta = { ...this.meta, nodeTokenHashes, previousTokens };
    await this.ctx.storage.put(META_KEY, this.meta);
    this.usage.rowsWritten++;
    for (const ws of this.ctx.getWebSockets(node)) ws.close(4001, "token revoked");
  }

  /** Fence credentials in the reply opened for the node that runs the fence (stored sealed); failsafe keys added. */
  private async withCredentials(reply: HeartbeatReply): Promise<HeartbeatReply> {
    const desired = await this.withFailsafeKeys(reply.desired);
    const ops = desired.operations;
    if (!ops.some((o) => "password" in o || "authorization" in o)) return desired === reply.desired ? reply : { ...reply, desired };
    return { ...reply, desired: { ...desired, operations: await openOperations(this.env, this.engine!.persisted.clusterId, ops) } };
  }

  /**
   * While failsafe is on, the keys this cluster's shims sign promise requests with: derived from
   * CHIME_SECRET_KEYS (nothing stored; the same in every isolate; a rotation lists the new key
   * first and the old one after it). None without keys configured: then the shims need a secret
   * in their config for failsafe.
   */
  private async withFailsafeKeys(d: DesiredState): Promise<DesiredState> {
    if (!d.failsafe) return d;
    this.failsafeKeys ??= derivedSecrets(this.env, `chime-ha failsafe v1\n${d.cluster}`).catch(() => []);
    const keys = (await this.failsafeKeys).slice(0, 4);
    return keys.length ? { ...d, failsafeKeys: keys } : d;
  }

  /** Key rotation: re-seal the spec's credentials under the current key (no engine decision changes). */
  async resealSecrets(): Promise<{ envelopes: string[] }> {
    if (!this.engine) return { envelopes: [] };
    const p = this.engine.persisted;
    const spec = await resealSpec(this.env, p.clusterId, p.spec);
    this.engine = { ...this.engine, persisted: { ...p, spec } };
    await this.ctx.storage.put(STATE_KEY, stamp(this.engine.persisted));
    return { envelopes: specEnvelopes(spec) };
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

  private ledgerView(months: LedgerMonth[], now: number): LedgerView {
    const p = this.engine!.persisted;
    const byMonth: LedgerView["months"] = {};
    for (const m of months) byMonth[m.month] = m;
    // What memory holds is what storage holds (written together), without the read.
    Object.assign(byMonth, this.engine!.ledger.months);
    return { spec: p.spec, ledger: p.ledger, drills: p.drills, months: byMonth, now };
  }

  /** The availability ledger over [from, to] per group (months beyond memory read from storage). */
  async availability(from: number, to: number): Promise<Omit<ClusterAvailability, "cluster" | "site"> | null> {
    this.usage.rpcCalls++;
    if (!this.engine) return null;
    const now = Date.now();
    const inMemory = this.engine.ledger.months;
    const months = await this.loadMonths(monthsNeeded(from, to).filter((m) => !(m in inMemory)));
    const { cluster: _c, site: _s, ...report } = clusterReport(this.ledgerView(months, now), this.engine.persisted.clusterId, "", from, to);
    return report;
  }

  /** This month and the last 30 days per group, from memory (fleet roll-up, metrics). */
  async availabilitySummary(): Promise<GroupAvailabilitySummary[] | null> {
    this.usage.rpcCalls++;
    if (!this.engine) return null;
    return clusterSummary(this.ledgerView([], Date.now()));
  }

  async status(): Promise<(ReturnType<typeof statusView> & { storage: StorageCounters; usage: UsageCounters; alarmAt: number | null }) | null> {
    this.usage.rpcCalls++;
    if (!this.engine) return null;
    return { ...statusView(this.engine, Date.now()), storage: { ...this.counters }, usage: { ...this.usage }, alarmAt: this.alarmAt };
  }

  /** Each node's local limits as it last reported them (the API checks a spec change against them). */
  async nodeLimits(): Promise<Record<string, LimitsReport>> {
    this.usage.rpcCalls++;
    return this.engine?.persisted.limits ?? {};
  }

  /** Shadow mode's ledger, judged now. */
  async shadow(): Promise<{ matchWindowMs: number; groups: ShadowGroupReport[] } | null> {
    this.usage.rpcCalls++;
    if (!this.engine) return null;
    return { matchWindowMs: SHADOW_MATCH_MS, groups: shadowReport(this.engine, Date.now()) };
  }

  async destroy(): Promise<void> {
    this.usage.rpcCalls++;
    for (const ws of this.ctx.getWebSockets()) ws.close(4004, "cluster deleted");
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
    this.usage.rowsWritten++;
    this.engine = null;
    this.meta = null;
    this.alarmAt = null;
  }

  /** Alarms are at-least-once: a tick is idempotent, and an early one just re-arms. */
  override async alarm(): Promise<void> {
    this.usage.alarms++;
    this.alarmAt = null;
    if (!this.engine) return;
    // The engine always asks for an alarm (at the latest its silence backstop), so one is re-armed.
    await this.run({ type: "tick" });
  }

  /** WebSocket watch: GET .../watch with the node's token; the Worker forwards the upgrade here. */
  override async fetch(request: Request): Promise<Response> {
    this.usage.fetches++;
    const node = request.headers.get("x-chime-node") ?? "";
    const hash = request.headers.get("x-chime-token-hash") ?? "";
    if (!this.engine || !this.tokenValid(node, hash)) {
      return new Response(`not a valid token for node '${node}' of this cluster`, { status: 403 });
    }
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") return new Response("expected a WebSocket upgrade", { status: 426 });
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    this.ctx.acceptWebSocket(server, [node]);
    const attachment: SocketAttachment = { node, tokenHash: hash };
    server.serializeAttachment(attachment);
    this.send(server, { type: "hello", node, specVersion: this.engine.persisted.specVersion });
    return new Response(null, { status: 101, webSocket: client });
  }

  /**
   * A heartbeat on the node's watch socket: the same checks and engine step as the HTTP route,
   * answered on the socket with the request's seq. The token was checked at the upgrade and is
   * checked again (a rotation without grace, or a revocation, also closes the socket).
   */
  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    this.usage.wsMessagesIn++;
    const who = ws.deserializeAttachment() as SocketAttachment | null;
    let body: unknown;
    try {
      body = typeof message === "string" ? JSON.parse(message) : undefined;
    } catch {
      body = undefined;
    }
    const envelope = SocketHeartbeat.safeParse(body);
    if (!who || !envelope.success) {
      this.send(ws, { type: "refused", seq: null, status: 400, detail: 'expected {"type":"heartbeat","request":{...}} as a JSON text message' });
      return;
    }
    const seq = (envelope.data.request as { seq?: unknown } | null)?.seq;
    const seqOf = typeof seq === "number" && Number.isInteger(seq) && seq >= 0 ? seq : null;
    const out = await this.takeHeartbeat(who.node, who.tokenHash, envelope.data.request);
    if (out.ok) {
      this.usage.heartbeatsSocket++;
      this.send(ws, { type: "reply", seq: seqOf ?? 0, reply: out.reply });
      return;
    }
    this.send(ws, { type: "refused", seq: seqOf, status: out.status, detail: out.detail, ...(out.errors ? { errors: out.errors } : {}) });
    if (out.status === 403) ws.close(4003, "not a valid token for this node");
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
    const grantsTo = new Map<string, PushedGrants>();
    let alarm: number | undefined;
    // Ledger months changed in this step go with its snapshot, in one atomic put.
    const months = effects.flatMap((e) => (e.type === "ledger" ? e.months : []));
    for (const e of effects) {
      switch (e.type) {
        case "persist": {
          // Awaited before the reply: the output gate would hold it anyway, but be explicit.
          const entries: Record<string, unknown> = { [STATE_KEY]: stamp(e.state) };
          for (const m of months) entries[ledgerKey(m.month)] = m;
          await this.ctx.storage.put(entries);
          this.counters.statePuts++;
          this.usage.rowsWritten += 1 + months.length;
          if (months.length) await this.pruneLedger(months);
          break;
        }
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
          if (e.grants) grantsTo.set(e.node, e.grants);
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
        // With grants, one message: the node may take the group at once (its old holder's lease is surely over).
        // Pushed grants are v3; an older shim would not take them (nor should it, for shadow groups).
        const version = this.protocolOf.get(node) ?? OLDEST_PROTOCOL_VERSION;
        const grants = version >= 3 ? grantsTo.get(node) : undefined;
        // A push never carries operations, so no credential, sealed or not, goes out unasked.
        const state = { ...desiredForVersion(version, await this.withFailsafeKeys(desiredFor(this.engine, node, now))), operations: [] };
        for (const ws of sockets) this.send(ws, grants ? { ...grants, desired: state } : { type: "desired", desired: state });
      }
    }
    if (eventRows.length > 0) this.ctx.waitUntil(this.writeEvents(eventRows, hints));
  }

  /** A month written for the first time in this incarnation: drop months past retention (13). */
  private async pruneLedger(written: LedgerMonth[]): Promise<void> {
    const newest = written.map((m) => m.month).sort().at(-1)!;
    if (this.ledgerMonth !== null && newest <= this.ledgerMonth) return;
    this.ledgerMonth = newest;
    const keep = ledgerKey(monthBefore(newest, RETENTION_MONTHS - 1));
    const old = [...(await this.ctx.storage.list({ prefix: "ledger:", end: keep })).keys()];
    if (old.length === 0) return;
    await this.ctx.storage.delete(old);
    this.usage.rowsWritten += old.length;
  }

  private send(ws: WebSocket, msg: WatchMessage): void {
    try {
      ws.send(JSON.stringify(msg));
      this.usage.wsMessagesOut++;
    } catch {
      // A dead socket is the client's to reconnect; the next heartbeat carries the same state.
    }
  }

  /** Events go to D1, then (with their D1 ids) to the alerts queue for routing. */
  private async writeEvents(rows: (typeof events.$inferInsert)[], hints: { incident?: string; resolves?: boolean }[]): Promise<void> {
    const alerts: AlertEvent[] = [];
    try {
      // D1 limits bound parameters per statement; 11 columns x 8 rows stays well under it.
      const db = drizzle(this.env.DB);
      for (let i = 0; i < rows.length; i += 8) {
        const ids = await db.insert(events).values(rows.slice(i, i + 8)).returning({ id: events.id }).all();
        this.usage.d1RowsWritten += ids.length;
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
    await this.audit(rows);
    if (alerts.length === 0 || !this.env.ALERTS) return;
    try {
      await enqueueEvents(this.env, alerts);
      this.usage.queueMessages += alerts.length;
    } catch (err) {
      console.error(JSON.stringify({ msg: "alert enqueue failed", error: String(err), events: alerts.length }));
    }
  }

  /** Every decision is also an audit row (worker/audit/), sealed into the chain right away. */
  private async audit(rows: (typeof events.$inferInsert)[]): Promise<void> {
    try {
      await appendAudit(
        this.env.DB,
        rows.map((r) => ({ at: r.at ?? Date.now(), source: "decision" as const, actor: r.actor, action: r.kind, target: [r.clusterId, r.group && `group ${r.group}`, r.node && `node ${r.node}`].filter(Boolean).join(" "), status: null, detail: r.reason })),
      );
      this.usage.d1RowsWritten += rows.length;
      await sealAudit(this.env.DB);
    } catch (err) {
      console.error(JSON.stringify({ msg: "audit write failed", error: String(err), rows: rows.length }));
    }
  }

  /**
   * Keep one alarm, never later than the engine asks. An armed alarm is never moved later (an
   * early alarm just ticks and re-arms), so only an earlier deadline costs a write.
   */
  private async arm(at: number): Promise<void> {
    if (this.alarmAt !== null && this.alarmAt <= at) return;
    this.alarmAt = at;
    this.counters.alarmWrites++;
    this.usage.rowsWritten++;
    await this.ctx.storage.setAlarm(at);
  }
}
