// Failsafe mode (after Patroni), the transport: signed promise requests and replies between the
// shims of one cluster. What to promise and what a promise means live in the pure core
// (core/promises.ts); this file carries the bytes: HMAC-SHA256 over the exact body (header
// x-chime-failsafe), a small HTTP server for requests from peers, and the client that asks every
// peer the control plane named. Peer addresses: the shim config may name a URL per peer; otherwise
// http://<the peer's IP from the desired state>:<this shim's listen port>.
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import http from "node:http";
import { PromiseReplyBody, type PromiseRequestBody, PromiseRequestBody as RequestSchema, replyConfirms } from "./core/promises.js";
import { httpRequest } from "./http-client.js";
import { log } from "./log.js";

export interface FailsafeConfig {
  listen: string;
  /** Address overrides by peer name (the peer set itself comes from the control plane). */
  peers: Record<string, string>;
  secret?: string | undefined;
  secretFile?: string | undefined;
}

/** What the agent answers for requests from peers (after persisting when the promise changed). */
export type PromiseHandler = (req: PromiseRequestBody) => Promise<PromiseReplyBody>;

const HEADER = "x-chime-failsafe";
const MAX_BODY = 4096;

export class FailsafePeers {
  private readonly secret: string;
  private server: http.Server | null = null;

  constructor(
    private readonly cfg: FailsafeConfig,
    private readonly cluster: string,
    private readonly node: string,
    private readonly handler: PromiseHandler,
    /** Wall clock (ms since the epoch) for request times; a parameter so tests can skew it. */
    private readonly wall: () => number = Date.now,
  ) {
    this.secret = (cfg.secret ?? readFileSync(cfg.secretFile!, "utf8")).trim();
  }

  private sign(body: string): string {
    return createHmac("sha256", this.secret).update(body).digest("hex");
  }

  private verify(body: string, mac: string): boolean {
    const a = Buffer.from(mac, "utf8");
    const b = Buffer.from(this.sign(body), "utf8");
    return a.length === b.length && timingSafeEqual(a, b);
  }

  get port(): number {
    return Number(this.cfg.listen.slice(this.cfg.listen.lastIndexOf(":") + 1));
  }

  async start(): Promise<void> {
    const i = this.cfg.listen.lastIndexOf(":");
    const host = this.cfg.listen.slice(0, i);
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on("data", (c: Buffer) => {
        size += c.length;
        if (size <= MAX_BODY) chunks.push(c);
      });
      req.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8");
        const answer = (status: number, out: unknown) => {
          const text = JSON.stringify(out);
          res.writeHead(status, { "content-type": "application/json", [HEADER]: this.sign(text) });
          res.end(text);
        };
        if (size > MAX_BODY || !this.verify(body, String(req.headers[HEADER] ?? ""))) return answer(403, { ok: false, reason: "bad signature" });
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
    await new Promise<void>((resolve, reject) => {
      this.server!.once("error", reject);
      this.server!.listen(this.port, host, () => resolve());
    });
    log("failsafe listening", { listen: this.cfg.listen });
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

  private async send(peer: string, url: string | null, kind: "promise" | "release", group: string, epoch: number, ttlMs: number, timeoutMs: number): Promise<string | null> {
    if (!url) return `${peer}: no address`;
    const req: PromiseRequestBody = { v: 1, kind, cluster: this.cluster, from: this.node, to: peer, group, epoch, ttlMs, nonce: randomBytes(12).toString("hex"), sentAt: Math.round(this.wall()) };
    const body = JSON.stringify(req);
    try {
      const r = await httpRequest(`${url}/failsafe/v1`, { method: "POST", headers: { "content-type": "application/json", [HEADER]: this.sign(body) }, body, signal: AbortSignal.timeout(timeoutMs) });
      if (r.status !== 200) return `${peer}: ${r.status} ${r.text.slice(0, 100)}`;
      // Only the peer's signed word counts (a 200 from anything else is not a promise).
      const mac = r.headers[HEADER];
      if (typeof mac !== "string" || !this.verify(r.text, mac)) return `${peer}: reply not signed by a peer`;
      const reply = PromiseReplyBody.safeParse(JSON.parse(r.text));
      if (!reply.success) return `${peer}: reply does not match the protocol`;
      if (!replyConfirms(reply.data, req)) return `${peer}: ${reply.data.ok ? "reply is not about this request" : reply.data.reason}`;
      return null;
    } catch (err) {
      return `${peer}: ${(err as Error).message}`;
    }
  }

  /** Ask every peer to promise; true only if all of them did (and there is at least one). */
  async askAll(peers: { name: string; ip?: string }[], group: string, epoch: number, ttlMs: number, timeoutMs: number): Promise<boolean> {
    const answers = await Promise.all(peers.map((p) => this.send(p.name, this.url(p.name, p.ip), "promise", group, epoch, ttlMs, timeoutMs)));
    const refused = answers.filter((a): a is string => a !== null);
    if (refused.length) log("failsafe promise refused", { group, epoch, refused });
    return refused.length === 0 && peers.length > 0;
  }

  /** Tell peers their promise for `group` is no longer needed (this node let it go). */
  releaseAll(peers: { name: string; ip?: string }[], group: string, epoch: number): void {
    for (const p of peers) void this.send(p.name, this.url(p.name, p.ip), "release", group, epoch, 1, 1000);
  }
}
