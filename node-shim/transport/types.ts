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
