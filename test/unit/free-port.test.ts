// freePort hands out ports to listen on later, below the kernel's ephemeral range, so an outgoing
// connection's source port cannot take one between the check and the listen (a CI run failed with
// EADDRINUSE on a demo stand-in's port from that range).
import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { ephemeralRange, freePort } from "../../scripts/lib/control-plane.js";

describe("freePort", () => {
  it("returns listenable ports below the ephemeral range", async () => {
    const [low] = ephemeralRange();
    const ports = await Promise.all(Array.from({ length: 20 }, () => freePort()));
    for (const p of ports) {
      expect(p).toBeGreaterThanOrEqual(20_000);
      expect(p).toBeLessThan(low);
    }
    // Each one can be listened on.
    for (const p of ports.slice(0, 5)) {
      const srv = createServer();
      await new Promise<void>((resolve, reject) => {
        srv.once("error", reject);
        srv.listen(p, "127.0.0.1", () => resolve());
      });
      await new Promise<void>((r) => srv.close(() => r()));
    }
  });
});
