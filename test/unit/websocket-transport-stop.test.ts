// Stopping the shim while its watch socket is still connecting (a control plane that accepted the
// TCP connection but has not answered the upgrade yet) must not throw an uncaught exception: the
// shim stops on SIGTERM in exactly that state when the control plane is slow or restarting.
import { createServer, type Server, type Socket } from "node:net";
import { afterAll, beforeAll, expect, it } from "vitest";
import { HttpTransport } from "../../node-shim/transport/http.js";
import { WebSocketTransport } from "../../node-shim/transport/websocket.js";

let server: Server;
let port = 0;
const sockets: Socket[] = [];

beforeAll(async () => {
  // Accepts connections and never answers the HTTP upgrade.
  server = createServer((s) => {
    sockets.push(s);
    s.on("error", () => {});
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const a = server.address();
  port = typeof a === "object" && a ? a.port : 0;
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((r) => server.close(() => r()));
});

it.each([
  ["websocket", WebSocketTransport],
  ["http (its watch socket)", HttpTransport],
] as const)("%s transport: stop() during the WebSocket handshake raises nothing", async (_name, Transport) => {
  const before = sockets.length;
  const uncaught: unknown[] = [];
  const onUncaught = (e: unknown) => uncaught.push(e);
  process.on("uncaughtException", onUncaught);
  try {
    const t = new Transport({ controlPlaneUrl: `http://127.0.0.1:${port}`, cluster: "c", node: "n", token: "t" });
    t.start({ desired: () => {}, nudge: () => {} });
    // Bounded wait until the server has the connection (the handshake is pending).
    for (let i = 0; i < 100 && sockets.length === before; i++) await new Promise((r) => setTimeout(r, 10));
    expect(sockets.length).toBe(before + 1);
    await t.stop();
    await new Promise((r) => setTimeout(r, 50));
    expect(t.pushConnected).toBe(false);
  } finally {
    process.off("uncaughtException", onUncaught);
  }
  expect(uncaught.map(String)).toEqual([]);
});
