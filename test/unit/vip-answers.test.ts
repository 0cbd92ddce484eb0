// The shim's checks of other hosts' VIPs (node-shim/vip-answers.ts), on loopback: an accepted or a
// refused connection is an answer (the address's host is there), a check from an address this
// host does not own sends nothing and sees nothing, and a group this node holds is not reported.
import { createServer, type Server } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { VipAnswerChecks } from "../../node-shim/vip-answers.js";

const clock = () => performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Wait (bounded) until `fn` is true. */
async function until(fn: () => boolean, ms = 3000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (fn()) return true;
    await sleep(20);
  }
  return fn();
}

let server: Server | null = null;
let checks: VipAnswerChecks | null = null;
afterEach(async () => {
  checks?.stop();
  checks = null;
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = null;
});

async function listen(): Promise<number> {
  server = createServer((s) => s.destroy());
  await new Promise<void>((r) => server!.listen(0, "127.0.0.1", r));
  return (server!.address() as { port: number }).port;
}

describe("VIP answer checks", () => {
  it("a listening service answers; the report says how long ago, within the window", async () => {
    const port = await listen();
    checks = new VipAnswerChecks(clock, () => false);
    checks.watch([{ group: "server-api", vip: "127.0.0.1", port, intervalMs: 100 }], "127.0.0.1");
    expect(await until(() => checks!.report(clock(), 3000).length === 1)).toBe(true);
    const [a] = checks.report(clock(), 3000);
    expect(a!.group).toBe("server-api");
    expect(a!.agoMs).toBeLessThan(1000);
    // Older than the window asked for: left out.
    await sleep(300);
    expect(checks.report(clock(), 0)).toEqual([]);
  });

  it("a refused connection is an answer too: the address's host is there (its service may be restarting)", async () => {
    const port = await listen();
    await new Promise<void>((r) => server!.close(() => r()));
    server = null;
    checks = new VipAnswerChecks(clock, () => false);
    checks.watch([{ group: "server-api", vip: "127.0.0.1", port, intervalMs: 100 }], "127.0.0.1");
    expect(await until(() => checks!.report(clock(), 3000).length === 1)).toBe(true);
  });

  it("from an address this host does not own nothing is sent and nothing is seen", async () => {
    const port = await listen();
    let accepted = 0;
    server!.on("connection", () => accepted++);
    checks = new VipAnswerChecks(clock, () => false);
    // 192.0.2.1 (TEST-NET-1) is on no interface here: binding to it fails before any packet.
    checks.watch([{ group: "server-api", vip: "127.0.0.1", port, intervalMs: 100 }], "192.0.2.1");
    await sleep(600);
    expect(checks.report(clock(), 3000)).toEqual([]);
    expect(accepted).toBe(0);
  });

  it("a group this node holds is not reported (its own VIP is no news), and no address means no checks", async () => {
    const port = await listen();
    let holding = true;
    checks = new VipAnswerChecks(clock, () => holding);
    checks.watch([{ group: "server-api", vip: "127.0.0.1", port, intervalMs: 100 }], "127.0.0.1");
    await sleep(400);
    expect(checks.report(clock(), 3000)).toEqual([]);
    holding = false;
    expect(await until(() => checks!.report(clock(), 3000).length === 1)).toBe(true);
    checks.watch([{ group: "server-api", vip: "127.0.0.1", port, intervalMs: 100 }], null);
    expect(checks.report(clock(), 3000)).toEqual([]);
  });
});
