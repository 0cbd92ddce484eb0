// Heartbeats as messages on the node's hibernatable watch socket: the same checks and engine step
// as the HTTP route, replies correlated by seq, refusals with the HTTP status and problem detail,
// switching between the transports without losing a lease, grants pushed the moment they are
// decided, and the object's own count of billable units (no Durable Object request, no alarm
// write and no storage write per renewal).
import { describe, expect, it } from "vitest";
import type { HeartbeatRequestInput, WatchMessage } from "../../protocol/heartbeat.js";
import { ALL_HEALTHY, beat, call, heartbeat, newCluster, worker } from "./helpers.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const LONG = (s: { policy?: unknown }) => {
  s.policy = { heartbeatIntervalMs: 1000, leaseTtlMs: 30_000, driftMarginMs: 1000 };
};

interface Usage {
  rpcCalls: number;
  wsMessagesIn: number;
  wsMessagesOut: number;
  alarms: number;
  rowsWritten: number;
  heartbeatsHttp: number;
  heartbeatsSocket: number;
}

async function usage(id: string): Promise<Usage> {
  const r = await call("GET", `/v1/clusters/${id}/status`);
  expect(r.status).toBe(200);
  return (r.json as unknown as { usage: Usage }).usage;
}

/** A node's watch socket with every message it received, in order. */
async function open(cluster: string, node: string, token: string) {
  const res = await worker.fetch(new Request(`http://chime-ha.test/v1/clusters/${cluster}/nodes/${node}/watch`, { headers: { upgrade: "websocket", authorization: `Bearer ${token}` } }));
  expect(res.status).toBe(101);
  const ws = res.webSocket!;
  const got: (WatchMessage | string)[] = [];
  let closed: number | null = null;
  ws.addEventListener("message", (e: MessageEvent) => {
    const text = String(e.data);
    try {
      got.push(JSON.parse(text) as WatchMessage);
    } catch {
      got.push(text);
    }
  });
  ws.addEventListener("close", (e: CloseEvent) => {
    closed = e.code;
  });
  ws.accept();
  const waitFor = async <T,>(pick: (m: WatchMessage | string) => T | undefined, what: string): Promise<T> => {
    for (let i = 0; i < 200; i++) {
      for (const m of got) {
        const v = pick(m);
        if (v !== undefined) return v;
      }
      await sleep(10);
    }
    throw new Error(`no ${what} on ${node}'s socket; got ${JSON.stringify(got)}`);
  };
  return {
    ws,
    got,
    closed: () => closed,
    send: (request: HeartbeatRequestInput | unknown) => ws.send(JSON.stringify({ type: "heartbeat", request })),
    reply: (seq: number) => waitFor((m) => (typeof m !== "string" && m.type === "reply" && m.seq === seq ? m.reply : undefined), `reply to seq ${seq}`),
    refused: (seq: number | null) => waitFor((m) => (typeof m !== "string" && m.type === "refused" && m.seq === seq ? m : undefined), `refusal of seq ${seq}`),
    waitFor,
  };
}

describe("heartbeats on the watch socket", () => {
  it("answers a heartbeat on the socket like the HTTP route, correlated by seq, and refuses bad ones with the HTTP status", async () => {
    const c = await newCluster(LONG);
    const s1 = await open(c.id, "server1", c.tokens.server1!);
    s1.send(beat({ seq: 7 }, ALL_HEALTHY));
    const r = await s1.reply(7);
    expect(r.grants.find((g) => g.group === "server-api")).toEqual({ group: "server-api", epoch: 1, ttlMs: 30_000 });
    expect(r.desired.groups.find((g) => g.name === "server-api")!.role).toBe("holder");
    // Not JSON / not a heartbeat envelope: 400 without a seq.
    s1.ws.send("{not json");
    expect(await s1.refused(null)).toMatchObject({ status: 400, detail: 'expected {"type":"heartbeat","request":{...}} as a JSON text message' });
    // A heartbeat that fails the schema: 400 with the seq and the path of every problem, as over HTTP.
    s1.send({ bootId: "boot-1", seq: 8, probes: { "server-api": { healthy: "yes" } } });
    const bad = await s1.refused(8);
    expect(bad.status).toBe(400);
    expect(bad.errors?.map((e) => e.path)).toEqual(["probes.server-api.healthy"]);
    // Nothing of the bad ones reached the engine: server1 still holds at epoch 1.
    s1.send(beat({ seq: 9, holding: [{ group: "server-api", epoch: 1 }] }, ALL_HEALTHY));
    expect((await s1.reply(9)).grants.find((g) => g.group === "server-api")).toEqual({ group: "server-api", epoch: 1, ttlMs: 30_000 });
    s1.ws.close(1000, "done");
  });

  it("answers a text ping with pong without a heartbeat", async () => {
    const c = await newCluster(LONG);
    const s1 = await open(c.id, "server1", c.tokens.server1!);
    const before = await usage(c.id);
    s1.ws.send("ping");
    await s1.waitFor((m) => (m === "pong" ? true : undefined), "pong");
    const after = await usage(c.id);
    expect(after.heartbeatsSocket).toBe(before.heartbeatsSocket);
    s1.ws.close(1000, "done");
  });

  it("a node switches between socket and HTTP without losing its lease: same epoch, no decision in between", async () => {
    const c = await newCluster(LONG);
    const s1 = await open(c.id, "server1", c.tokens.server1!);
    s1.send(beat({ seq: 1 }, ALL_HEALTHY));
    await s1.reply(1);
    await heartbeat(c.id, "server2", c.tokens.server2!, beat({ seq: 1 }, ALL_HEALTHY));
    const held = [{ group: "server-api", epoch: 1 }];
    const decisionsBefore = (await call("GET", `/v1/clusters/${c.id}/status`)).json.decisions as unknown as unknown[];
    // Socket, HTTP (socket "down"), socket again: every one renews epoch 1.
    const http = await heartbeat(c.id, "server1", c.tokens.server1!, beat({ seq: 2, holding: held }, ALL_HEALTHY));
    expect(http.reply.grants.find((g) => g.group === "server-api")).toEqual({ group: "server-api", epoch: 1, ttlMs: 30_000 });
    s1.send(beat({ seq: 3, holding: held }, ALL_HEALTHY));
    expect((await s1.reply(3)).grants.find((g) => g.group === "server-api")).toEqual({ group: "server-api", epoch: 1, ttlMs: 30_000 });
    const decisionsAfter = (await call("GET", `/v1/clusters/${c.id}/status`)).json.decisions as unknown as unknown[];
    expect(decisionsAfter.length).toBe(decisionsBefore.length);
    s1.ws.close(1000, "done");
  });

  it("pushes a grant the moment it is decided, as a reply to the new holder's last heartbeat, with its desired state", async () => {
    const c = await newCluster(LONG);
    await heartbeat(c.id, "server1", c.tokens.server1!, beat({ seq: 1 }, ALL_HEALTHY));
    const s2 = await open(c.id, "server2", c.tokens.server2!);
    // Pushed grants are protocol v3: this shim says it speaks it.
    s2.send(beat({ bootId: "s2-boot", seq: 41, protocol: 3 }, ALL_HEALTHY));
    await s2.reply(41);
    expect((await call("POST", `/v1/clusters/${c.id}/switchover`, { body: { group: "server-api", to: "server2" } })).status).toBe(200);
    // server1 confirms the release over HTTP: the group is granted to server2 in that step.
    await heartbeat(c.id, "server1", c.tokens.server1!, beat({ seq: 2, released: [{ group: "server-api", epoch: 1 }] }, ALL_HEALTHY));
    const pushed = await s2.waitFor((m) => (typeof m !== "string" && m.type === "grant" ? m : undefined), "pushed grant");
    expect(pushed).toMatchObject({ type: "grant", bootId: "s2-boot", seq: 41, grants: [{ group: "server-api", epoch: 2, ttlMs: 30_000 }] });
    // With the desired state a reply would carry (no operations in a push).
    expect(pushed.desired.groups.find((g) => g.name === "server-api")).toMatchObject({ role: "holder", epoch: 2 });
    expect(pushed.desired.operations).toEqual([]);
    s2.ws.close(1000, "done");
  });

  it("a rotated token (no grace period) closes the node's socket; heartbeats on a socket are counted as messages, not requests, and renewals write nothing", async () => {
    const c = await newCluster(LONG);
    const s1 = await open(c.id, "server1", c.tokens.server1!);
    s1.send(beat({ seq: 1 }, ALL_HEALTHY));
    await s1.reply(1);
    // server1 reports the VIP up: the availability ledger starts (a transition, written once).
    s1.send(beat({ seq: 2, holding: [{ group: "server-api", epoch: 1 }] }, ALL_HEALTHY));
    await s1.reply(2);
    const before = await usage(c.id);
    for (let seq = 3; seq <= 22; seq++) {
      s1.send(beat({ seq, holding: [{ group: "server-api", epoch: 1 }] }, ALL_HEALTHY));
      await s1.reply(seq);
    }
    const after = await usage(c.id);
    expect(after.wsMessagesIn - before.wsMessagesIn).toBe(20);
    expect(after.heartbeatsSocket - before.heartbeatsSocket).toBe(20);
    // Only the status call in between is an RPC; no storage row or alarm write per renewal.
    expect(after.rpcCalls - before.rpcCalls).toBe(1);
    expect(after.rowsWritten).toBe(before.rowsWritten);
    const rotated = await call("POST", `/v1/clusters/${c.id}/nodes/server1/token`, { body: { graceSeconds: 0 } });
    expect(rotated.status).toBe(200);
    for (let i = 0; i < 100 && s1.closed() === null; i++) await sleep(10);
    expect(s1.closed()).toBe(4001);
  });
});
