// Failsafe mode (after Patroni), the transport: signed promise requests and replies between the
// shims of one cluster. What to promise and what a promise means live in the pure core
// (core/promises.ts); this file carries the bytes: HMAC-SHA256 over the exact body (header
// x-chime-failsafe), a small HTTP server for requests from peers, and the client that asks every
// peer the control plane named. Peer addresses: the shim config may name a URL per peer; otherwise
// http://<the peer's IP from the desired state>:<this shim's listen port>. The listen address and
// the keys come from the config when it sets them, else from the desired state (this node's IP,
// port 7480; keys the control plane derives for the cluster): the listener starts once both are
// known, and they are kept on disk by the agent so a restart during an outage can answer at once.
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import http from "node:http";
import { PromiseReplyBody, type PromiseRequestBody, PromiseRequestBody as RequestSchema, replyConfirms } from "./core/promises.js";
import { httpRequest } from "./http-client.js";
import { log } from "./log.js";

/** The listen port when the config names none (every node of a cluster uses the same). */
export const DEFAULT_FAILSAFE_PORT = 7480;

export interface FailsafeConfig {
  listen?: string | undefined;
  /** Address overrides by peer name (the peer set itself comes from the control plane). */
  peers: Record<string, string>;
  secret?: string | undefined;
  secretFile?: string | undefined;
}

/** What the agent answers for requests from peers (after persisting when the promise changed). */
export type PromiseHandler = (req: PromiseRequestBody) => Promise<PromiseReplyBody>;

const HEADER = "x-chime-failsafe";
/** The group named in the listener's self-check (harmless even if a real group had that name: a node is never its own peer, so the request is refused before the group counts). */
const SELF_CHECK_GROUP = "chime-ha-self-check";
const MAX_BODY = 4096;

export class FailsafePeers {
  /** Signing keys, current first (the config's secret, or the control plane's keys). */
  private keys: string[] = [];
  private readonly fixedKey: boolean;
  private listenAt: string | null;
  private server: http.Server | null = null;
  private starting: Promise<void> | null = null;
  private retryAt = 0;
  private lastError: string | null = null;

  constructor(
    private readonly cfg: FailsafeConfig,
    private readonly cluster: string,
    private readonly node: string,
    private readonly handler: PromiseHandler,
    /** Wall clock (ms since the epoch) for request times; a parameter so tests can skew it. */
    private readonly wall: () => number = Date.now,
  ) {
    const secret = cfg.secret ?? (cfg.secretFile ? readFileSync(cfg.secretFile, "utf8") : undefined);
    this.fixedKey = secret !== undefined;
    if (secret !== undefined) this.keys = [secret.trim()];
    this.listenAt = cfg.listen ?? null;
  }

  /**
   * What the control plane says (every reply): this node's IP (the default listen address) and the
   * cluster's keys. The config's own listen address and secret win. True when something changed.
   */
  learn(ip: string | undefined, keys: readonly string[] | undefined): boolean {
    let changed = false;
    if (!this.cfg.listen && ip && this.listenAt !== `${ip}:${DEFAULT_FAILSAFE_PORT}`) {
      if (this.server) log("failsafe listen address changed; it applies after a restart", { listening: this.listenAt, spec: `${ip}:${DEFAULT_FAILSAFE_PORT}` });
      else {
        this.listenAt = `${ip}:${DEFAULT_FAILSAFE_PORT}`;
        changed = true;
      }
    }
    if (!this.fixedKey && keys?.length && keys.join(",") !== this.keys.join(",")) {
      this.keys = [...keys];
      changed = true;
    }
    return changed;
  }

  /** What learn() took, for the agent to keep on disk (restored with learn() after a restart). */
  learned(): { listen: string | null; keys: string[] } {
    return { listen: this.cfg.listen ? null : this.listenAt, keys: this.fixedKey ? [] : [...this.keys] };
  }

  /** Ready to answer and ask: it knows where to listen and has a key. */
  get ready(): boolean {
    return this.listenAt !== null && this.keys.length > 0;
  }

  /**
   * Requests are signed with the OLDEST key listed: during a rotation the control plane lists
   * [new, old] to every node within a heartbeat, so a node that has the pair still speaks the
   * key of a node that has only [old], and one that has only [new] speaks to nodes that have
   * the pair. Replies are signed with the key the request came with.
   */
  private sign(body: string, key = this.keys[this.keys.length - 1] ?? ""): string {
    return createHmac("sha256", key).update(body).digest("hex");
  }

  /** The key among ours that `mac` was made with, or null. */
  private verify(body: string, mac: string): string | null {
    const a = Buffer.from(mac, "utf8");
    return (
      this.keys.find((k) => {
        const b = Buffer.from(this.sign(body, k), "utf8");
        return a.length === b.length && timingSafeEqual(a, b);
      }) ?? null
    );
  }

  get port(): number {
    return this.listenAt ? Number(this.listenAt.slice(this.listenAt.lastIndexOf(":") + 1)) : DEFAULT_FAILSAFE_PORT;
  }

  /**
   * Start listening once ready (idempotent; a no-op until then). A failure (the address is not on
   * this host, the port is taken) is logged when it is new and tried again at most every 30 s.
   */
  async start(): Promise<void> {
    if (this.server || !this.ready || Date.now() < this.retryAt) return;
    this.starting ??= this.listen()
      .then(() => {
        this.lastError = null;
      })
      .catch((err: Error) => {
        this.retryAt = Date.now() + 30_000;
        if (err.message !== this.lastError) log("failsafe listener failed", { listen: this.listenAt, error: err.message });
        this.lastError = err.message;
      })
      .finally(() => (this.starting = null));
    return this.starting;
  }

  private async listen(): Promise<void> {
    const at = this.listenAt!;
    const host = at.slice(0, at.lastIndexOf(":"));
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on("data", (c: Buffer) => {
        size += c.length;
        if (size <= MAX_BODY) chunks.push(c);
      });
      req.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8");
        const key = size > MAX_BODY ? null : this.verify(body, String(req.headers[HEADER] ?? ""));
        const answer = (status: number, out: unknown) => {
          const text = JSON.stringify(out);
          res.writeHead(status, { "content-type": "application/json", [HEADER]: this.sign(text, key ?? undefined) });
          res.end(text);
        };
        if (key === null) return answer(403, { ok: false, reason: "bad signature" });
        if (req.url !== "/failsafe/v1") return answer(404, { ok: false, reason: "not found" });
        let json: unknown;
        try {
          json = JSON.parse(body);
        } catch {
          return answer(400, { ok: false, reason: "not JSON" });
        }
        const p = RequestSchema.safeParse(json);
        if (!p.success) return answer(400, { ok: false, reason: "bad request" });
        this.handler(p.data).then(
          (reply) => answer(200, reply),
          (err: Error) => answer(500, { ok: false, reason: `cannot answer: ${err.message}` }),
        );
      });
    });
    const server = this.server;
    try {
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(this.port, host, () => resolve());
      });
    } catch (err) {
      this.server = null;
      throw err;
    }
    log("failsafe listening", { listen: at, keys: this.fixedKey ? "config" : "control plane" });
    void this.selfCheck();
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (s) await new Promise((r) => s.close(() => r(undefined)));
  }

  /** Where `peer` listens: the config's URL, else its IP from the desired state and our port. */
  url(peer: string, ip: string | undefined): string | null {
    const u = this.cfg.peers[peer] ?? (ip ? `http://${ip}:${this.port}` : null);
    return u ? u.replace(/\/$/, "") : null;
  }

  /** One signed request to `url`: the peer's signed reply about it, or why there is none. */
  private async exchange(peer: string, url: string | null, kind: PromiseRequestBody["kind"], group: string, epoch: number, ttlMs: number, timeoutMs: number): Promise<{ req: PromiseRequestBody; reply: PromiseReplyBody } | { error: string }> {
    if (!url) return { error: `${peer}: no address` };
    if (!this.keys.length) return { error: `${peer}: no failsafe key yet (none in the config, none from the control plane)` };
    const req: PromiseRequestBody = { v: 1, kind, cluster: this.cluster, from: this.node, to: peer, group, epoch, ttlMs, nonce: randomBytes(12).toString("hex"), sentAt: Math.round(this.wall()) };
    const body = JSON.stringify(req);
    try {
      const r = await httpRequest(`${url}/failsafe/v1`, { method: "POST", headers: { "content-type": "application/json", [HEADER]: this.sign(body) }, body, signal: AbortSignal.timeout(timeoutMs) });
      if (r.status !== 200) return { error: `${peer}: ${r.status} ${r.text.slice(0, 100)}` };
      // Only the peer's signed word counts (a 200 from anything else is not a promise).
      const mac = r.headers[HEADER];
      if (typeof mac !== "string" || this.verify(r.text, mac) === null) return { error: `${peer}: reply not signed by a peer` };
      const reply = PromiseReplyBody.safeParse(JSON.parse(r.text));
      if (!reply.success) return { error: `${peer}: reply does not match the protocol` };
      return { req, reply: reply.data };
    } catch (err) {
      return { error: `${peer}: ${(err as Error).message}` };
    }
  }

  /** Null when `peer` said yes to the request; else why not. */
  private async send(peer: string, url: string | null, kind: PromiseRequestBody["kind"], group: string, epoch: number, ttlMs: number, timeoutMs: number): Promise<string | null> {
    const out = await this.exchange(peer, url, kind, group, epoch, ttlMs, timeoutMs);
    if ("error" in out) return out.error;
    if (!replyConfirms(out.reply, out.req)) return `${peer}: ${out.reply.ok ? "reply is not about this request" : out.reply.reason}`;
    return null;
  }

  /**
   * Once listening: one signed request to this node's own listener, answered (refused: a node is
   * not its own peer) and its signed reply checked. It proves the address, port and key work end
   * to end before a peer needs them, and it runs the request path once: the first handoff of a
   * process took 10-18 ms in the lab with that code cold, 2-5 ms warm.
   */
  private async selfCheck(): Promise<void> {
    const at = this.listenAt;
    if (!at) return;
    const started = performance.now();
    const out = await this.exchange(this.node, `http://${at}`, "release", SELF_CHECK_GROUP, 0, 1, 2000);
    const ms = Math.round(performance.now() - started);
    if ("error" in out) log("failsafe self-check failed: peers may not reach this node's promises and handoffs", { listen: at, error: out.error, ms });
    else log("failsafe self-check passed", { listen: at, ms });
  }

  /** Ask every peer to promise; true only if all of them did (and there is at least one). */
  async askAll(peers: { name: string; ip?: string }[], group: string, epoch: number, ttlMs: number, timeoutMs: number): Promise<boolean> {
    const answers = await Promise.all(peers.map((p) => this.send(p.name, this.url(p.name, p.ip), "promise", group, epoch, ttlMs, timeoutMs)));
    const refused = answers.filter((a): a is string => a !== null);
    if (refused.length) log("failsafe promise refused", { group, epoch, refused });
    return refused.length === 0 && peers.length > 0;
  }

  /**
   * Direct handoff: tell `peer` it may take `group` (released here at `epoch`, its VIP gone).
   * Null when it took it; else why not (the control plane moves the group then, as usual).
   */
  handOff(peer: { name: string; ip?: string }, group: string, epoch: number, ttlMs: number, timeoutMs: number): Promise<string | null> {
    return this.send(peer.name, this.url(peer.name, peer.ip), "handoff", group, epoch, ttlMs, timeoutMs);
  }

  /** Tell peers their promise for `group` is no longer needed (this node let it go). */
  releaseAll(peers: { name: string; ip?: string }[], group: string, epoch: number): void {
    for (const p of peers) void this.send(p.name, this.url(p.name, p.ip), "release", group, epoch, 1, 1000);
  }
}
