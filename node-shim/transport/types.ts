// The seam between the shim and the control plane. A transport carries heartbeats (request ->
// reply, or how it failed) and pushes (desired state changed: heartbeat now; grants decided for
// this node). transport/http.ts: HTTP heartbeats with a WebSocket watch for pushes;
// transport/websocket.ts: heartbeats as messages on that socket, HTTP while it is down.
import type { DesiredState, HeartbeatReply, HeartbeatRequest, PushedGrantsMessage } from "../../protocol/heartbeat.js";
import type { FailureKind } from "../core/shim-core.js";

export type HeartbeatOutcome = { ok: true; reply: HeartbeatReply } | { ok: false; kind: FailureKind; detail: string };

export interface PushHandlers {
  /** The control plane's desired state for this node changed (it may only take away; grants come in replies). */
  desired(desired: DesiredState): void;
  /** Anything else worth a heartbeat now (connected, hello). */
  nudge(): void;
  /** Grants the control plane decided for this node, as a reply to one of its heartbeats (v3). */
  grants?(push: PushedGrantsMessage): void;
}

export interface ControlPlaneTransport {
  /** Send one heartbeat; resolves with the reply or the failure (never rejects). */
  heartbeat(req: HeartbeatRequest, timeoutMs: number): Promise<HeartbeatOutcome>;
  /** Start receiving pushes. */
  start(handlers: PushHandlers): void;
  stop(): Promise<void>;
  /** Whether the push channel is up (for the snapshot). */
  readonly pushConnected: boolean;
}

/**
 * Close a watch socket for good. Terminating one that is still connecting emits "error" ("closed
 * before the connection was established"): with its listeners gone that would be an uncaught
 * exception at shutdown, so one no-op listener stays.
 */
export function discardSocket(ws: { removeAllListeners(): unknown; on(event: "error", cb: () => void): unknown; terminate(): void } | null): void {
  if (!ws) return;
  ws.removeAllListeners();
  ws.on("error", () => {});
  ws.terminate();
}

/**
 * When the watch socket tries again, for both transports: exponential backoff with full jitter
 * (0.5 s doubling to 30 s), and one early try per outage once a heartbeat gets through over HTTP
 * (the network is back: pushed grants and desired state should be too, not after a backoff that
 * grew while it was down). A control plane that refuses the socket for another reason (an old
 * one) is not tried more than once early.
 */
export class WatchReconnect {
  private backoffMs = 500;
  private timer: NodeJS.Timeout | null = null;
  private earlyRetried = false;

  constructor(private readonly connect: () => void) {}

  /** Connected: the next outage starts from the shortest wait, with its early try. */
  connected(): void {
    this.backoffMs = 500;
    this.earlyRetried = false;
  }

  /** Lost or refused: connect again after the backoff; the wait chosen (for the log). */
  later(): number {
    const wait = Math.round(Math.random() * this.backoffMs);
    this.backoffMs = Math.min(30_000, this.backoffMs * 2);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.connect();
    }, wait);
    return wait;
  }

  /** A heartbeat got through while a try is pending: try now, once per outage. */
  reachableAgain(): void {
    if (!this.timer || this.earlyRetried) return;
    this.earlyRetried = true;
    this.cancel();
    this.connect();
  }

  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
