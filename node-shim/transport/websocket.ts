// Heartbeats as messages on the node's watch WebSocket (GET .../watch): one connection carries
// heartbeats, their replies (correlated by seq), desired-state pushes and pushed grants. A message
// costs the control plane a twentieth of an HTTP heartbeat (README, "Cost"). While the socket is
// down, or when the control plane does not answer heartbeats on it (an older one), heartbeats go
// as HTTP POSTs: the lease rule depends only on when each heartbeat was sent, so switching
// between the two never loses a lease.
import WebSocket from "ws";
import { type HeartbeatRequest, PROTOCOL_VERSION, WatchMessage } from "../../protocol/heartbeat.js";
import { log } from "../log.js";
import { HttpTransport, type HttpTransportOptions } from "./http.js";
import { type ControlPlaneTransport, discardSocket, type HeartbeatOutcome, type PushHandlers, WatchReconnect } from "./types.js";

interface Waiting {
  resolve: (o: HeartbeatOutcome) => void;
  timer: NodeJS.Timeout;
}

export class WebSocketTransport implements ControlPlaneTransport {
  private ws: WebSocket | null = null;
  private open = false;
  /** Heartbeats on this connection are answered (false after an unanswered one: HTTP until reconnect). */
  private answers = true;
  private readonly reconnect = new WatchReconnect(() => this.connect());
  private stopped = true;
  private handlers: PushHandlers | null = null;
  private readonly waiting = new Map<number, Waiting>();
  /** HTTP heartbeats while the socket is down (its own watch is never started). */
  private readonly http: HttpTransport;
  /** How the last heartbeat went (for logs: a switch is logged once). */
  private via: "socket" | "http" | null = null;

  constructor(private readonly opts: HttpTransportOptions) {
    this.http = new HttpTransport(opts);
  }

  private get token(): string {
    return typeof this.opts.token === "function" ? this.opts.token() : this.opts.token;
  }

  get pushConnected(): boolean {
    return this.open;
  }

  async heartbeat(req: HeartbeatRequest, timeoutMs: number): Promise<HeartbeatOutcome> {
    const ws = this.ws;
    if (!ws || !this.open || !this.answers) {
      this.switched("http");
      const out = await this.http.heartbeat(req, timeoutMs);
      if (out.ok && !this.stopped) this.reconnect.reachableAgain();
      return out;
    }
    this.switched("socket");
    const outcome = new Promise<HeartbeatOutcome>((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(req.seq);
        // A socket that takes heartbeats but never answers (a control plane from before socket
        // heartbeats, or a half-dead connection): HTTP until the next connection.
        this.answers = false;
        resolve({ ok: false, kind: "unreachable", detail: `no reply on the socket within ${timeoutMs} ms` });
        log("no reply to a heartbeat on the socket: HTTP until it reconnects", { seq: req.seq });
        ws.terminate();
      }, timeoutMs);
      this.waiting.set(req.seq, { resolve, timer });
    });
    try {
      ws.send(JSON.stringify({ type: "heartbeat", request: { protocol: PROTOCOL_VERSION, ...req } }));
    } catch (err) {
      this.settle(req.seq, { ok: false, kind: "unreachable", detail: `socket send failed: ${(err as Error).message}` });
    }
    return outcome;
  }

  start(handlers: PushHandlers): void {
    this.handlers = handlers;
    this.stopped = false;
    this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.reconnect.cancel();
    discardSocket(this.ws);
    this.ws = null;
    this.open = false;
    this.failAll("transport stopped");
  }

  private switched(via: "socket" | "http"): void {
    if (this.via !== null && this.via !== via) log("heartbeats now over " + (via === "socket" ? "the watch socket" : "HTTP"), {});
    this.via = via;
  }

  private settle(seq: number, outcome: HeartbeatOutcome): void {
    const w = this.waiting.get(seq);
    if (!w) return;
    clearTimeout(w.timer);
    this.waiting.delete(seq);
    w.resolve(outcome);
  }

  private failAll(why: string): void {
    for (const seq of [...this.waiting.keys()]) this.settle(seq, { ok: false, kind: "unreachable", detail: why });
  }

  private connect(): void {
    if (this.stopped) return;
    const url = `${this.opts.controlPlaneUrl.replace(/\/$/, "").replace(/^http/, "ws")}/v1/clusters/${encodeURIComponent(this.opts.cluster)}/nodes/${encodeURIComponent(this.opts.node)}/watch`;
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${this.token}` }, handshakeTimeout: 5000 });
    this.ws = ws;
    ws.on("open", () => {
      this.open = true;
      this.answers = true;
      this.reconnect.connected();
      log("watch connected", { heartbeats: "socket" });
    });
    ws.on("message", (data) => {
      let json: unknown;
      try {
        json = JSON.parse(String(data));
      } catch {
        return;
      }
      const parsed = WatchMessage.safeParse(json);
      if (!parsed.success) return;
      const m = parsed.data;
      switch (m.type) {
        case "reply":
          this.settle(m.seq, { ok: true, reply: m.reply });
          break;
        case "refused":
          if (m.seq !== null) this.settle(m.seq, { ok: false, kind: m.status >= 500 ? "server-error" : "refused", detail: `heartbeat refused: ${m.status} ${m.detail}` });
          break;
        case "desired":
          this.handlers?.desired(m.desired);
          break;
        case "grant":
          if (this.handlers?.grants) this.handlers.grants(m);
          else this.handlers?.nudge();
          break;
        case "hello":
          this.handlers?.nudge();
          break;
      }
    });
    const retry = (why: string) => {
      if (this.stopped || this.ws !== ws) return;
      this.ws = null;
      this.open = false;
      // Heartbeats waiting on this connection get no reply now: the next ones go over HTTP.
      this.failAll(`watch socket closed: ${why}`);
      log("watch disconnected", { why, retryInMs: this.reconnect.later() });
    };
    ws.on("close", (code) => retry(`closed ${code}`));
    ws.on("error", (err) => {
      ws.terminate();
      retry(err.message);
    });
  }
}
