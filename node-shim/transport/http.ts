// Heartbeats as HTTP POSTs to the control plane; pushes over the WebSocket watch
// (GET .../watch), reconnected with capped exponential backoff and full jitter.
import WebSocket from "ws";
import { HeartbeatReply, type HeartbeatRequest, PROTOCOL_VERSION, WatchMessage } from "../../protocol/heartbeat.js";
import { HttpError, type HttpResponse, httpRequest } from "../http-client.js";
import { log } from "../log.js";
import { type ControlPlaneTransport, discardSocket, type HeartbeatOutcome, type PushHandlers, WatchReconnect } from "./types.js";

export interface HttpTransportOptions {
  controlPlaneUrl: string;
  cluster: string;
  node: string;
  /** The node token, or a function giving the current one (re-read after a rotation). */
  token: string | (() => string);
}

export class HttpTransport implements ControlPlaneTransport {
  private ws: WebSocket | null = null;
  private readonly reconnect = new WatchReconnect(() => this.connectWatch());
  private stopped = true;
  private handlers: PushHandlers | null = null;
  /** Heartbeat protocol spoken; drops to 1 once if the control plane predates versioning. */
  private protocol = PROTOCOL_VERSION;

  constructor(private readonly opts: HttpTransportOptions) {}

  private get token(): string {
    return typeof this.opts.token === "function" ? this.opts.token() : this.opts.token;
  }

  private get base(): string {
    return `${this.opts.controlPlaneUrl.replace(/\/$/, "")}/v1/clusters/${encodeURIComponent(this.opts.cluster)}/nodes/${encodeURIComponent(this.opts.node)}`;
  }

  get pushConnected(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  async heartbeat(req: HeartbeatRequest, timeoutMs: number): Promise<HeartbeatOutcome> {
    let res: HttpResponse;
    try {
      res = await httpRequest(`${this.base}/heartbeat`, {
        method: "POST",
        headers: { authorization: `Bearer ${this.token}`, "content-type": "application/json" },
        body: JSON.stringify(this.protocol > 1 ? { protocol: this.protocol, ...req } : req),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      const why = err instanceof HttpError ? (err.code === "aborted" ? `no reply within ${timeoutMs} ms` : err.code) : (err as Error).message;
      return { ok: false, kind: "unreachable", detail: `control plane unreachable: ${why}` };
    }
    if (res.status === 400 && this.protocol > 1 && /Unrecognized key.{0,8}protocol/.test(res.text)) {
      // A control plane from before protocol versions (strict schema): speak v1 to it. The
      // documented order is control plane first; this keeps a shims-first upgrade safe too.
      log("control plane predates protocol versions: speaking v1", { was: this.protocol });
      this.protocol = 1;
      return this.heartbeat(req, timeoutMs);
    }
    if (res.status < 200 || res.status > 299) {
      return { ok: false, kind: res.status >= 500 ? "server-error" : "refused", detail: `heartbeat refused: ${res.status} ${res.text.slice(0, 300)}` };
    }
    let json: unknown;
    try {
      json = JSON.parse(res.text);
    } catch {
      return { ok: false, kind: "bad-reply", detail: "heartbeat reply is not JSON" };
    }
    const parsed = HeartbeatReply.safeParse(json);
    if (!parsed.success) return { ok: false, kind: "bad-reply", detail: `heartbeat reply does not match the protocol: ${parsed.error.message.slice(0, 300)}` };
    if (!this.stopped) this.reconnect.reachableAgain();
    return { ok: true, reply: parsed.data };
  }

  start(handlers: PushHandlers): void {
    this.handlers = handlers;
    this.stopped = false;
    this.connectWatch();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.reconnect.cancel();
    discardSocket(this.ws);
    this.ws = null;
  }

  private connectWatch(): void {
    if (this.stopped) return;
    const url = `${this.base.replace(/^http/, "ws")}/watch`;
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${this.token}` }, handshakeTimeout: 5000 });
    this.ws = ws;
    ws.on("open", () => {
      this.reconnect.connected();
      log("watch connected", {});
    });
    ws.on("message", (data) => {
      const parsed = WatchMessage.safeParse(safeJson(String(data)));
      if (!parsed.success) return;
      if (parsed.data.type === "desired") this.handlers?.desired(parsed.data.desired);
      else if (parsed.data.type === "grant" && this.handlers?.grants) this.handlers.grants(parsed.data);
      else this.handlers?.nudge();
    });
    const retry = (why: string) => {
      if (this.stopped || this.ws !== ws) return;
      this.ws = null;
      log("watch disconnected", { why, retryInMs: this.reconnect.later() });
    };
    ws.on("close", (code) => retry(`closed ${code}`));
    ws.on("error", (err) => {
      ws.terminate();
      retry(err.message);
    });
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
