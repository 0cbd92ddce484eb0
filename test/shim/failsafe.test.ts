// Failsafe promises between shims, on loopback: signed requests only, no promise from a node that
// holds the group, a promise blocks grants until it expires or the holder releases it.
import { afterAll, describe, expect, it } from "vitest";
import { ShimCore } from "../../node-shim/core/shim-core.js";
import { FailsafePeers, type PromiseHandler } from "../../node-shim/failsafe.js";
import { freePort } from "./support/control-plane.js";

const SECRET = "a-shared-secret-of-32-characters";
let now = 1000;
/** The promise decisions of a core for `node`, on the test's clock; `holds` stands for a valid lease. */
function handler(node: string, holds: () => boolean): PromiseHandler & { core: ShimCore } {
  const core = new ShimCore({ node, bootId: "b", localLeaseMarginMs: 0, failsafe: true });
  return {
    core,
    promise: (from, group, epoch, ttlMs) => (holds() ? { ok: false, status: 409, reason: `${node} holds ${group}` } : core.promiseRequest(from, group, epoch, ttlMs, now)),
    release: (from, group) => core.promiseReleased(from, group),
  };
}

describe("failsafe peers", () => {
  const started: FailsafePeers[] = [];
  afterAll(async () => {
    for (const p of started) await p.close();
  });

  it("promises only on a correctly signed request, never while holding, and the promise blocks grants until it ends", async () => {
    const [p1, p2] = [await freePort(), await freePort()];
    let s2Holds = false;
    const h2 = handler("server2", () => s2Holds);
    const s1 = new FailsafePeers({ listen: `127.0.0.1:${p1}`, peers: { server2: `http://127.0.0.1:${p2}` }, secret: SECRET }, "dc1.c", "server1", handler("server1", () => true));
    const s2 = new FailsafePeers({ listen: `127.0.0.1:${p2}`, peers: { server1: `http://127.0.0.1:${p1}` }, secret: SECRET }, "dc1.c", "server2", h2);
    const intruder = new FailsafePeers({ listen: "127.0.0.1:1", peers: { server2: `http://127.0.0.1:${p2}` }, secret: "some-other-secret-of-32-chars!!!" }, "dc1.c", "server1", handler("server1", () => true));
    started.push(s1, s2);
    await s1.start();
    await s2.start();

    expect(await intruder.askAll("server-api", 3, 1500, 1000)).toBe(false);
    expect(h2.core.promisedTo("server-api", now)).toBeNull();

    s2Holds = true;
    expect(await s1.askAll("server-api", 3, 1500, 1000)).toBe(false);
    expect(h2.core.promisedTo("server-api", now)).toBeNull();

    s2Holds = false;
    expect(await s1.askAll("server-api", 3, 1500, 1000)).toBe(true);
    expect(h2.core.promisedTo("server-api", now)).toBe("server1");
    now += 1499;
    expect(h2.core.promisedTo("server-api", now)).toBe("server1");
    now += 1;
    expect(h2.core.promisedTo("server-api", now)).toBeNull();

    // A release ends the promise at once.
    expect(await s1.askAll("server-api", 3, 1500, 1000)).toBe(true);
    s1.releaseAll("server-api");
    for (let i = 0; i < 50 && h2.core.promisedTo("server-api", now) !== null; i++) await new Promise((r) => setTimeout(r, 20));
    expect(h2.core.promisedTo("server-api", now)).toBeNull();
  });

  it("a peer that does not answer means no promise", async () => {
    const dead = await freePort();
    const s1 = new FailsafePeers({ listen: "127.0.0.1:1", peers: { server2: `http://127.0.0.1:${dead}` }, secret: SECRET }, "dc1.c", "server1", handler("server1", () => true));
    expect(await s1.askAll("server-api", 3, 1500, 300)).toBe(false);
  });
});
