// Node token rotation with overlap: the old token keeps working for the grace period, so a node
// that heartbeats throughout a rotation never has a beat refused; after the grace period (or at
// once with graceSeconds 0, or when revoked) it is refused. The Durable Object checks the hashes
// itself and keeps the overlap across its own restart and spec updates.
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { beat, call, exampleSpec, heartbeat, newCluster } from "./helpers.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
type Rotated = { node: string; token: string; previousValidUntil: number | null };
const rotate = async (cluster: string, node: string, body?: unknown) => {
  const r = await call("POST", `/v1/clusters/${cluster}/nodes/${node}/token`, body === undefined ? {} : { body });
  expect(r.status, JSON.stringify(r.json)).toBe(200);
  return r.json as unknown as Rotated;
};
const beatStatus = async (cluster: string, node: string, token: string, seq = 1) => (await heartbeat(cluster, node, token, beat({ seq }))).status;

describe("node token rotation with overlap", () => {
  it("a node beating every 50 ms through a rotation (default grace) never has a beat refused", async () => {
    const c = await newCluster();
    let token = c.tokens.server2!;
    const statuses: number[] = [];
    let seq = 0;
    const beating = (async () => {
      for (let i = 0; i < 30; i++) {
        statuses.push(await beatStatus(c.id, "server2", token, seq++));
        await sleep(50);
      }
    })();
    await sleep(400);
    const r = await rotate(c.id, "server2");
    expect(r.previousValidUntil! - Date.now()).toBeGreaterThan(3590_000);
    await sleep(400);
    token = r.token; // the shim re-reads its token file
    await beating;
    expect(statuses.length).toBe(30);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    // The old token's registry row now carries its end; it is not revoked yet.
    const list = (await call("GET", "/v1/tokens?limit=500")).json.tokens as unknown as { cluster: string | null; node: string | null; expiresAt: number | null; revokedAt: number | null }[];
    const mine = list.filter((t) => t.cluster === c.id && t.node === "server2");
    expect(mine.map((t) => [t.expiresAt === null, t.revokedAt === null]).sort()).toEqual([
      [false, true],
      [true, true],
    ]);
  });

  it("after the grace period the old token is refused and the new one works", async () => {
    const c = await newCluster();
    const r = await rotate(c.id, "server1", { graceSeconds: 1 });
    expect(await beatStatus(c.id, "server1", c.tokens.server1!)).toBe(200);
    expect(await beatStatus(c.id, "server1", r.token)).toBe(200);
    await sleep(1100);
    expect(await beatStatus(c.id, "server1", c.tokens.server1!)).toBe(403);
    expect(await beatStatus(c.id, "server1", r.token)).toBe(200);
  });

  it("graceSeconds 0 ends the old token at once (a leaked token)", async () => {
    const c = await newCluster();
    const r = await rotate(c.id, "server1", { graceSeconds: 0 });
    expect(r.previousValidUntil).toBeNull();
    expect(await beatStatus(c.id, "server1", c.tokens.server1!)).toBe(403);
    expect(await beatStatus(c.id, "server1", r.token)).toBe(200);
    expect((await call("POST", `/v1/clusters/${c.id}/nodes/server1/token`, { body: { graceSeconds: -1 } })).status).toBe(400);
  });

  it("revoking the old token during its grace period ends only that one; a second rotation ends the first overlap", async () => {
    const c = await newCluster();
    const r1 = await rotate(c.id, "server1");
    const list = (await call("GET", "/v1/tokens?limit=500")).json.tokens as unknown as { id: string; cluster: string | null; node: string | null; expiresAt: number | null }[];
    const old = list.find((t) => t.cluster === c.id && t.node === "server1" && t.expiresAt !== null)!;
    expect((await call("DELETE", `/v1/tokens/${old.id}`)).status).toBe(204);
    expect(await beatStatus(c.id, "server1", c.tokens.server1!)).toBe(403);
    expect(await beatStatus(c.id, "server1", r1.token)).toBe(200);

    const r2 = await rotate(c.id, "server1");
    const r3 = await rotate(c.id, "server1");
    // Only the token r3 replaced (r2's) overlaps; r1's overlap ended with the second rotation.
    expect(await beatStatus(c.id, "server1", r1.token)).toBe(403);
    expect(await beatStatus(c.id, "server1", r2.token)).toBe(200);
    expect(await beatStatus(c.id, "server1", r3.token)).toBe(200);
  });

  it("the overlap survives a Durable Object restart and a spec update", async () => {
    const c = await newCluster();
    const r = await rotate(c.id, "server2");
    const stub = env.CLUSTER.get(env.CLUSTER.idFromName(c.id));
    await runInDurableObject(stub, (_o, state) => state.abort("restart during a token grace period")).catch(() => undefined);
    expect(await beatStatus(c.id, "server2", c.tokens.server2!)).toBe(200);
    const put = await call("PUT", `/v1/clusters/${c.id}/spec`, { body: { spec: exampleSpec((s) => (s.description = "v2")) }, headers: { "if-match": '"v1"' } });
    expect(put.status).toBe(200);
    expect(await beatStatus(c.id, "server2", c.tokens.server2!)).toBe(200);
    expect(await beatStatus(c.id, "server2", r.token)).toBe(200);
  });
});
