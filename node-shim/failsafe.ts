// Failsafe mode (after Patroni), the transport: when the control plane cannot be reached, a holder
// may keep a group past its lease only while EVERY peer server has promised not to take it. This
// file carries the signed requests between shims; what to promise and what a promise means live
// in the pure core (core/shim-core.ts): a promise counts on the peer from when it RECEIVED the
// request, the holder's extension from when it SENT it (minus its lease margin), so the holder
// always lets go first, as with leases.
import { createHmac, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import http from "node:http";
import { z } from "zod";
import type { PromiseAnswer } from "./core/shim-core.js";
import { log } from "./log.js";
import { httpRequest } from "./http-client.js";

export interface FailsafeConfig {
  listen: string;
  peers: Record<string, string>;
  secret?: string | undefined;
  secretFile?: string | undefined;
}

const PromiseRequest = z.strictObject({ cluster: z.string(), from: z.string(), group: z.string(), epoch: z.number().int(), ttlMs: z.number().int().min(1).max(600_000) });
const ReleaseRequest = z.strictObject({ cluster: z.string(), from: z.string(), group: z.string() });
const HEADER = "x-chime-failsafe";

/** What the core decides for requests from peers. */
export interface PromiseHandler {
  promise(from: string, group: string, epoch: number, ttlMs: number): PromiseAnswer;
  release(from: string, group: string): void;
}

export class FailsafePeers {
  private readonly secret: string;
  private server: http.Server | null = null;

  constructor(
    private readonly cfg: FailsafeConfig,
    private readonly cluster: string,
    private readonly node: string,
    private readonly handler: PromiseHandler,
  ) {
    this.secret = (cfg.secret ?? readFileSync(cfg.secretFile!, "utf8")).trim();
  }

  private sign(body: string): string {
    return createHmac("sha256", this.secret).update(body).digest("hex");
  }

  async start(): Promise<void> {
    const i = this.cfg.listen.lastIndexOf(":");
    const host = this.cfg.listen.slice(0, i);
    const port = Number(this.cfg.listen.slice(i + 1));
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on("data", (c: Buffer) => {
        size += c.length;
        if (size <= 4096) chunks.push(c);
      });
      req.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8");
        const answer = (status: number, out: unknown) => {
          res.writeHead(status, { "content-type": "application/json" });
          res.end(JSON.stringify(out));
        };
        const mac = Buffer.from(String(req.headers[HEADER] ?? ""), "utf8");
        const want = Buffer.from(this.sign(body), "utf8");
        if (size > 4096 || mac.length !== want.length || !timingSafeEqual(mac, want)) return answer(403, { ok: false, reason: "bad signature" });
        let json: unknown;
        try {
          json = JSON.parse(body);
        } catch {
          return answer(400, { ok: false, reason: "not JSON" });
        }
        if (req.url === "/failsafe/promise") {
          const p = PromiseRequest.safeParse(json);
          if (!p.success || p.data.cluster !== this.cluster) return answer(400, { ok: false, reason: "bad request" });
          const a = this.handler.promise(p.data.from, p.data.group, p.data.epoch, p.data.ttlMs);
          return answer(a.status, { ok: a.ok, reason: a.reason });
        }
        if (req.url === "/failsafe/release") {
          const r = ReleaseRequest.safeParse(json);
          if (!r.success || r.data.cluster !== this.cluster) return answer(400, { ok: false, reason: "bad request" });
          this.handler.release(r.data.from, r.data.group);
          return answer(200, { ok: true });
        }
        answer(404, { ok: false });
      });
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once("error", reject);
      this.server!.listen(port, host, () => resolve());
    });
    log("failsafe listening", { listen: this.cfg.listen, peers: Object.keys(this.cfg.peers) });
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (s) await new Promise((r) => s.close(() => r(undefined)));
  }

  /** Ask every peer to promise; true only if all of them did. */
  async askAll(group: string, epoch: number, ttlMs: number, timeoutMs: number): Promise<boolean> {
    const body = JSON.stringify({ cluster: this.cluster, from: this.node, group, epoch, ttlMs });
    const answers = await Promise.all(
      Object.entries(this.cfg.peers).map(async ([peer, url]) => {
        try {
          const r = await httpRequest(`${url.replace(/\/$/, "")}/failsafe/promise`, {
            method: "POST",
            headers: { "content-type": "application/json", [HEADER]: this.sign(body) },
            body,
            signal: AbortSignal.timeout(timeoutMs),
          });
          return r.status === 200 ? null : `${peer}: ${r.status} ${r.text.slice(0, 100)}`;
        } catch (err) {
          return `${peer}: ${(err as Error).message}`;
        }
      }),
    );
    const refused = answers.filter((a): a is string => a !== null);
    if (refused.length) log("failsafe promise refused", { group, epoch, refused });
    return refused.length === 0 && Object.keys(this.cfg.peers).length > 0;
  }

  /** Tell peers their promise for `group` is no longer needed (this node let it go). */
  releaseAll(group: string): void {
    const body = JSON.stringify({ cluster: this.cluster, from: this.node, group });
    for (const url of Object.values(this.cfg.peers)) {
      void httpRequest(`${url.replace(/\/$/, "")}/failsafe/release`, {
        method: "POST",
        headers: { "content-type": "application/json", [HEADER]: this.sign(body) },
        body,
        signal: AbortSignal.timeout(1000),
      }).catch(() => undefined);
    }
  }
}
