// The watch socket after an outage: its reconnect backoff grows while the network is down (up to
// 30 s), so when a heartbeat gets through over HTTP again the socket is tried at once instead of
// after the grown backoff: pushed grants and desired state resume with the network (a planned
// switchover right after a link flap waited for the new holder's next heartbeat). One early try
// per outage: a control plane that refuses the socket for another reason is not hammered.
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { Socket } from "node:net";
import { afterEach, beforeEach, expect, it, vi } from "vitest";
import { WebSocketServer } from "ws";
import type { HeartbeatRequest } from "../../protocol/heartbeat.js";
import { setLogSink } from "../../node-shim/log.js";
import { HttpTransport } from "../../node-shim/transport/http.js";
import { WebSocketTransport } from "../../node-shim/transport/websocket.js";
import { desired } from "./shim-core-harness.js";

let server: Server;
let wss: WebSocketServer;
let port = 0;
let refuseSocket = true;
let upgrades = 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeEach(async () => {
  refuseSocket = true;
  upgrades = 0;
  setLogSink(() => undefined);
  // Backoff waits without jitter: 500 ms, then 1000 ms, ...
  vi.spyOn(Math, "random").mockReturnValue(1);
  wss = new WebSocketServer({ noServer: true });
  server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ grants: [], desired: desired([]) }));
    });
  });
  server.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => {
    upgrades++;
    if (refuseSocket) {
      socket.end("HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n");
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => ws.on("error", () => undefined));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const a = server.address();
  port = typeof a === "object" && a ? a.port : 0;
});

afterEach(async () => {
  vi.restoreAllMocks();
  setLogSink(null);
  for (const c of wss.clients) c.terminate();
  wss.close();
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

const beat = (seq: number): HeartbeatRequest => ({ bootId: "b", seq, holding: [], probes: {} }) as unknown as HeartbeatRequest;

for (const [name, Transport] of [
  ["websocket", WebSocketTransport],
  ["http (its watch socket)", HttpTransport],
] as const) {
  it(`${name} transport: a heartbeat that gets through reconnects the watch at once, not after the grown backoff; once per outage`, async () => {
    const t = new Transport({ controlPlaneUrl: `http://127.0.0.1:${port}`, cluster: "c", node: "n", token: "t" });
    t.start({ desired: () => {}, nudge: () => {} });
    try {
      // Two refusals: the second retry waits 1000 ms.
      for (let i = 0; i < 200 && upgrades < 2; i++) await sleep(5);
      expect(upgrades).toBe(2);
      await sleep(20);
      // Still refused: a heartbeat over HTTP gets through; one early try, refused too.
      const first = await t.heartbeat(beat(1), 1000);
      expect(first.ok).toBe(true);
      for (let i = 0; i < 100 && upgrades < 3; i++) await sleep(5);
      expect(upgrades).toBe(3);
      // More heartbeats in the same outage do not try again early.
      await t.heartbeat(beat(2), 1000);
      await t.heartbeat(beat(3), 1000);
      await sleep(100);
      expect(upgrades).toBe(3);
      // The socket is accepted again; the next try is the backoff's (2000 ms), unless a heartbeat...
      refuseSocket = false;
      const again = Date.now();
      // ...which gets through: but this outage's early try is spent, so nothing until the backoff.
      await t.heartbeat(beat(4), 1000);
      await sleep(300);
      expect(t.pushConnected).toBe(false);
      for (let i = 0; i < 600 && !t.pushConnected; i++) await sleep(5);
      expect(t.pushConnected).toBe(true);
      expect(Date.now() - again).toBeGreaterThan(1000);

      // A new outage after being connected: one early try again, and it connects at once.
      refuseSocket = true;
      for (const c of wss.clients) c.terminate();
      for (let i = 0; i < 200 && upgrades < 5; i++) await sleep(5);
      expect(t.pushConnected).toBe(false);
      refuseSocket = false;
      const before = upgrades;
      const at = Date.now();
      const ok = await t.heartbeat(beat(5), 1000);
      expect(ok.ok).toBe(true);
      for (let i = 0; i < 100 && !t.pushConnected; i++) await sleep(5);
      expect(t.pushConnected).toBe(true);
      expect(upgrades).toBe(before + 1);
      // Well before the backoff's next try (500 ms after this outage's first refusal at the least).
      expect(Date.now() - at).toBeLessThan(300);
    } finally {
      await t.stop();
    }
  });
}
