// Failsafe promises between shims, on loopback: the signed transport (failsafe.ts) in front of the
// pure decisions (core/promises.ts, through the core). A promise is given only for a correctly
// signed request addressed to this node, from a peer the control plane listed, within the time
// window, never replayed, for at most the spec's TTL, and never while holding the group; only the
// peer's signed reply counts as a promise; promises survive a restart of the promiser.
import { createHmac } from "node:crypto";
import { createServer } from "node:http";
import { afterAll, describe, expect, it } from "vitest";
import type { DesiredGroup, HeartbeatReply } from "../../protocol/heartbeat.js";
import type { PromiseRequestBody } from "../../node-shim/core/promises.js";
import { ShimCore } from "../../node-shim/core/shim-core.js";
import { DEFAULT_FAILSAFE_PORT, FailsafePeers } from "../../node-shim/failsafe.js";
import { httpRequest } from "../../node-shim/http-client.js";
import { setLogSink } from "../../node-shim/log.js";
import { freePort } from "./support/control-plane.js";

setLogSink(null);
const SECRET = "a-shared-secret-of-32-characters";
let now = 1000;
const wall = () => 1_800_000_000_000 + now;
const clocks = () => ({ now, wall: wall(), boot: { id: "boot-a", ms: now } });

function group(name: string, role: DesiredGroup["role"], holder: string | null): DesiredGroup {
  return { name, mode: "active-standby", vip: "10.0.0.10", prefix: 24, interface: "eth0", ports: [{ port: 8801, protocol: "tcp" }], probe: { type: "tcp", port: 8801, intervalMs: 1000, timeoutMs: 800, fall: 2, rise: 2 }, member: true, role, epoch: 3, holder };
}

/** A core for `node` that has heard the control plane: peers = the other two servers, TTL 1500 ms. */
function coreFor(node: string, holds = false): ShimCore {
  const core = new ShimCore({ node, cluster: "dc1.c", bootId: `${node}-b`, localLeaseMarginMs: 200, failsafe: true, reannounceMs: 10_000, resyncMs: 5000 });
  const peers = ["server1", "server2", "server3"].filter((n) => n !== node).map((name, i) => ({ name, ip: `127.0.0.${i + 1}`, groups: ["server-api"] }));
  const reply: HeartbeatReply = {
    grants: holds ? [{ group: "server-api", epoch: 3, ttlMs: 1500 }] : [],
    desired: { cluster: "dc1.c", node, specVersion: 1, heartbeatIntervalMs: 300, leaseTtlMs: 1500, maintenance: false, groups: [group("server-api", holds ? "holder" : "standby", holds ? node : "server1")], operations: [], failsafe: true, driftMarginMs: 300, peers },
  };
  core.onReply(core.request({}, now, wall()), reply, now, now);
  return core;
}

const handler = (core: ShimCore) => async (req: PromiseRequestBody) => core.promiseRequest(req, clocks()).reply;
const sign = (body: string, secret = SECRET) => createHmac("sha256", secret).update(body).digest("hex");

describe("failsafe promises", () => {
  const started: FailsafePeers[] = [];
  afterAll(async () => {
    for (const p of started) await p.close();
  });

  async function peer(node: string, core: ShimCore): Promise<{ port: number; peers: FailsafePeers }> {
    const port = await freePort();
    const peers = new FailsafePeers({ listen: `127.0.0.1:${port}`, peers: {}, secret: SECRET }, "dc1.c", node, handler(core), wall);
    await peers.start();
    started.push(peers);
    return { port, peers };
  }

  it("a signed, addressed, fresh request from a listed peer gets a signed promise; the promise blocks grants until it ends", async () => {
    const c2 = coreFor("server2");
    const { port } = await peer("server2", c2);
    const s1 = new FailsafePeers({ listen: "127.0.0.1:1", peers: { server2: `http://127.0.0.1:${port}` }, secret: SECRET }, "dc1.c", "server1", handler(coreFor("server1", true)), wall);
    expect(await s1.askAll([{ name: "server2" }], "server-api", 3, 1500, 1000)).toBe(true);
    expect(c2.promisedTo("server-api", now)).toBe("server1");
    // It lasts the asked TTL plus the control plane's drift margin, counted from receipt.
    expect(c2.promisedTo("server-api", now + 1500 + 300 - 1)).toBe("server1");
    expect(c2.promisedTo("server-api", now + 1500 + 300)).toBeNull();
    // A release ends it at once.
    expect(await s1.askAll([{ name: "server2" }], "server-api", 3, 1500, 1000)).toBe(true);
    s1.releaseAll([{ name: "server2" }], "server-api", 3);
    for (let i = 0; i < 50 && c2.promisedTo("server-api", now) !== null; i++) await new Promise((r) => setTimeout(r, 20));
    expect(c2.promisedTo("server-api", now)).toBeNull();
  });

  it("a direct handoff travels signed: the named server takes the group; a wrong key or an unnamed server takes nothing", async () => {
    // server2 stands by for server-api (epoch 3, held by server1), named to take it; its probe passes.
    const c2 = new ShimCore({ node: "server2", cluster: "dc1.c", bootId: "server2-b", localLeaseMarginMs: 200, failsafe: true });
    c2.probeChanged("server-api", true, now);
    const peers = [{ name: "server1", ip: "127.0.0.1", groups: ["server-api"] }];
    const named: HeartbeatReply = { grants: [], desired: { cluster: "dc1.c", node: "server2", specVersion: 1, heartbeatIntervalMs: 300, leaseTtlMs: 1500, maintenance: false, groups: [{ ...group("server-api", "standby", "server1"), handoffFrom: "server1" }], operations: [], failsafe: true, driftMarginMs: 300, peers } };
    c2.onReply(c2.request({}, now, wall()), named, now, now);
    const port = await freePort();
    const s2 = new FailsafePeers({ listen: `127.0.0.1:${port}`, peers: {}, secret: SECRET }, "dc1.c", "server2", async (req) => (req.kind === "handoff" ? c2.handoffRequest(req, clocks()).reply : c2.promiseRequest(req, clocks()).reply), wall);
    await s2.start();
    started.push(s2);
    const intruder = new FailsafePeers({ peers: { server2: `http://127.0.0.1:${port}` }, secret: "not-the-cluster-secret-at-all-32c" }, "dc1.c", "server1", handler(coreFor("server1")), wall);
    expect(await intruder.handOff({ name: "server2" }, "server-api", 3, 1500, 1000)).toMatch(/403/);
    const s3 = new FailsafePeers({ peers: { server2: `http://127.0.0.1:${port}` }, secret: SECRET }, "dc1.c", "server3", handler(coreFor("server3")), wall);
    expect(await s3.handOff({ name: "server2" }, "server-api", 3, 1500, 1000)).toMatch(/server3 is not a peer server of server2/);
    expect(c2.holds("server-api", now)).toBe(false);
    const s1 = new FailsafePeers({ peers: { server2: `http://127.0.0.1:${port}` }, secret: SECRET }, "dc1.c", "server1", handler(coreFor("server1")), wall);
    expect(await s1.handOff({ name: "server2" }, "server-api", 3, 1500, 1000)).toBeNull();
    expect(c2.leases.valid("server-api", now)?.epoch).toBe(4);
  });

  it("refuses: a wrong secret, a holder, an unlisted sender, another addressee, a replay, an old request, a TTL above the spec's", async () => {
    const c3 = coreFor("server3");
    const { port } = await peer("server3", c3);
    const url = `http://127.0.0.1:${port}/failsafe/v1`;
    const base: PromiseRequestBody = { v: 1, kind: "promise", cluster: "dc1.c", from: "server1", to: "server3", group: "server-api", epoch: 3, ttlMs: 1500, nonce: "nonce-0001", sentAt: wall() };
    const post = async (b: PromiseRequestBody, secret = SECRET) => {
      const body = JSON.stringify(b);
      const r = await httpRequest(url, { method: "POST", headers: { "content-type": "application/json", "x-chime-failsafe": sign(body, secret) }, body });
      return { status: r.status, body: JSON.parse(r.text) as { ok: boolean; reason: string } };
    };
    expect((await post(base, "some-other-secret-of-32-chars!!!")).status).toBe(403);
    expect((await post({ ...base, from: "server9", nonce: "nonce-0002" })).body.reason).toBe("server9 is not a peer server of server3 (per the control plane)");
    expect((await post({ ...base, to: "server2", nonce: "nonce-0003" })).body.reason).toBe("addressed to server2, not server3");
    expect((await post({ ...base, sentAt: wall() - 20_000, nonce: "nonce-0004" })).body.reason).toMatch(/more than 10000 ms from server3's clock/);
    expect((await post({ ...base, ttlMs: 60_000, nonce: "nonce-0005" })).body.reason).toBe("ttl 60000 ms is longer than the spec's lease TTL 1500 ms");
    expect((await post({ ...base, nonce: "nonce-0006" })).body).toEqual(expect.objectContaining({ ok: true, reason: "promised" }));
    expect((await post({ ...base, nonce: "nonce-0006" })).body.reason).toBe("replayed request (nonce already seen)");
    // A node that holds the group cannot promise it.
    const holder = coreFor("server2", true);
    const { port: p2 } = await peer("server2", holder);
    const s1 = new FailsafePeers({ listen: "127.0.0.1:1", peers: { server2: `http://127.0.0.1:${p2}` }, secret: SECRET }, "dc1.c", "server1", handler(coreFor("server1")), wall);
    expect(await s1.askAll([{ name: "server2" }], "server-api", 3, 1500, 1000)).toBe(false);
    expect(holder.promisedTo("server-api", now)).toBeNull();
  });

  it("only the peer's signed reply counts: a 200 from anything else is no promise, nor is no answer", async () => {
    const port = await freePort();
    const fake = createServer((_q, s) => s.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ ok: true })));
    await new Promise<void>((r) => fake.listen(port, "127.0.0.1", r));
    const s1 = new FailsafePeers({ listen: "127.0.0.1:1", peers: { server2: `http://127.0.0.1:${port}`, server3: `http://127.0.0.1:${await freePort()}` }, secret: SECRET }, "dc1.c", "server1", handler(coreFor("server1")), wall);
    expect(await s1.askAll([{ name: "server2" }], "server-api", 3, 1500, 500)).toBe(false);
    expect(await s1.askAll([{ name: "server3" }], "server-api", 3, 1500, 300)).toBe(false);
    expect(await s1.askAll([], "server-api", 3, 1500, 300)).toBe(false);
    fake.close();
  });

  it("a promise survives a restart of the promiser: the new process refuses the grant until it ends", () => {
    const c2 = coreFor("server2");
    const req: PromiseRequestBody = { v: 1, kind: "promise", cluster: "dc1.c", from: "server1", to: "server2", group: "server-api", epoch: 3, ttlMs: 1500, nonce: "restart-01", sentAt: wall() };
    const { reply, persist } = c2.promiseRequest(req, clocks());
    expect(reply.ok).toBe(true);
    expect(persist).toBe(true);
    const stored = JSON.parse(JSON.stringify(c2.durableState(clocks())));
    // A new process (its monotonic clock starts again at 0) on the same host, 500 ms later.
    const restarted = new ShimCore({ node: "server2", cluster: "dc1.c", bootId: "server2-b2", localLeaseMarginMs: 200, failsafe: true, reannounceMs: 10_000, resyncMs: 5000 });
    restarted.load(stored, { now: 0, wall: wall() + 500, boot: { id: "boot-a", ms: now + 500 } });
    expect(restarted.promisedTo("server-api", 0)).toBe("server1");
    const grant: HeartbeatReply = { grants: [{ group: "server-api", epoch: 4, ttlMs: 1500 }], desired: { cluster: "dc1.c", node: "server2", specVersion: 1, heartbeatIntervalMs: 300, leaseTtlMs: 1500, maintenance: false, groups: [{ ...group("server-api", "holder", "server2"), epoch: 4 }], operations: [], failsafe: true, driftMarginMs: 300, peers: [] } };
    restarted.onReply(restarted.request({}, 10, 0), grant, 10, 20);
    expect(restarted.holding(20)).toEqual([]);
    expect(restarted.request({}, 30, 0).refused).toEqual([{ group: "server-api", epoch: 4, promisedTo: "server1" }]);
    // 1500 + 300 - 500 ms after the restart it ends; the next grant is taken.
    restarted.onReply(restarted.request({}, 1300, 0), grant, 1300, 1300);
    expect(restarted.holding(1300).map((g) => g.name)).toEqual(["server-api"]);
  });
  it("without a secret in the config: the control plane's keys, the node's IP from the desired state, and a key rotation", async () => {
    const c2 = coreFor("server2");
    const port = await freePort();
    // server2's config names only where to listen; server1's nothing at all (peer URL by name here: one host).
    const s2 = new FailsafePeers({ listen: `127.0.0.1:${port}`, peers: {} }, "dc1.c", "server2", handler(c2), wall);
    const s1 = new FailsafePeers({ peers: { server2: `http://127.0.0.1:${port}` } }, "dc1.c", "server1", handler(coreFor("server1", true)), wall);
    started.push(s2, s1);
    expect(s2.ready).toBe(false);
    await s2.start(); // not ready: a no-op
    expect(await s1.askAll([{ name: "server2" }], "server-api", 3, 1500, 500)).toBe(false);
    const OLD = "k".repeat(43);
    const NEW = "n".repeat(43);
    expect(s2.learn(undefined, [OLD])).toBe(true);
    expect(s1.learn("127.0.0.9", [OLD])).toBe(true);
    expect(s1.learned()).toEqual({ listen: `127.0.0.9:${DEFAULT_FAILSAFE_PORT}`, keys: [OLD] });
    expect(s2.learned()).toEqual({ listen: null, keys: [OLD] });
    expect(s1.learn("127.0.0.9", [OLD])).toBe(false);
    await s2.start();
    expect(await s1.askAll([{ name: "server2" }], "server-api", 3, 1500, 1000)).toBe(true);
    // Rotation, each node a heartbeat apart: [old] -> [new, old] -> [new]. Every step works.
    s1.learn(undefined, [NEW, OLD]);
    expect(await s1.askAll([{ name: "server2" }], "server-api", 3, 1500, 1000)).toBe(true);
    s2.learn(undefined, [NEW, OLD]);
    expect(await s1.askAll([{ name: "server2" }], "server-api", 3, 1500, 1000)).toBe(true);
    s1.learn(undefined, [NEW]);
    expect(await s1.askAll([{ name: "server2" }], "server-api", 3, 1500, 1000)).toBe(true);
    // (a node that skipped the pair cannot speak to one that never had the new key)
    s2.learn(undefined, [OLD]);
    expect(await s1.askAll([{ name: "server2" }], "server-api", 3, 1500, 1000)).toBe(false);
    s2.learn(undefined, [NEW]);
    // A key the cluster never had: refused.
    s1.learn(undefined, ["x".repeat(43)]);
    expect(await s1.askAll([{ name: "server2" }], "server-api", 3, 1500, 1000)).toBe(false);
    // A secret in the config wins over anything the control plane says.
    const fixed = new FailsafePeers({ peers: {}, secret: SECRET }, "dc1.c", "server3", handler(coreFor("server3")), wall);
    expect(fixed.learn("127.0.0.3", [NEW])).toBe(true);
    expect(fixed.learned()).toEqual({ listen: `127.0.0.3:${DEFAULT_FAILSAFE_PORT}`, keys: [] });
  });

  it("once listening, it checks itself end to end: a signed request to its own listener, refused (not its own peer), the signed reply read", async () => {
    const lines: Record<string, unknown>[] = [];
    setLogSink((l) => lines.push(JSON.parse(l) as Record<string, unknown>));
    try {
      const core = coreFor("server2");
      const asked: PromiseRequestBody[] = [];
      const port = await freePort();
      const ok = new FailsafePeers({ listen: `127.0.0.1:${port}`, peers: {}, secret: SECRET }, "dc1.c", "server2", async (req) => (asked.push(req), core.promiseRequest(req, clocks()).reply), wall);
      started.push(ok);
      await ok.start();
      for (let i = 0; i < 100 && !lines.some((l) => String(l.msg).startsWith("failsafe self-check")); i++) await new Promise((r) => setTimeout(r, 10));
      expect(lines.find((l) => String(l.msg).startsWith("failsafe self-check"))).toMatchObject({ msg: "failsafe self-check passed", listen: `127.0.0.1:${port}` });
      expect(asked.map((r) => [r.kind, r.from, r.to])).toEqual([["release", "server2", "server2"]]);
      // Nothing was given or taken by it.
      expect(core.durableState(clocks()).promises).toEqual([]);

      // A listener that cannot answer (its handler fails): said at once, in the node's log.
      lines.length = 0;
      const port2 = await freePort();
      const broken = new FailsafePeers({ listen: `127.0.0.1:${port2}`, peers: {}, secret: SECRET }, "dc1.c", "server3", async () => Promise.reject(new Error("state file not writable")), wall);
      started.push(broken);
      await broken.start();
      for (let i = 0; i < 100 && !lines.some((l) => String(l.msg).startsWith("failsafe self-check")); i++) await new Promise((r) => setTimeout(r, 10));
      const failed = lines.find((l) => String(l.msg).startsWith("failsafe self-check"));
      expect(failed?.msg).toBe("failsafe self-check failed: peers may not reach this node's promises and handoffs");
      expect(String(failed?.error)).toContain("500");
    } finally {
      setLogSink(null);
    }
  });
});
