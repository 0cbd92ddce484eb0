// The control plane serves the current heartbeat protocol and the one before, each in its own
// shape: a v1 shim (strict parser, no `protocol` field) gets replies it can parse, so the control
// plane can be upgraded before the shims.
import { describe, expect, it } from "vitest";
import { HeartbeatReply, HeartbeatRequest, OLDEST_PROTOCOL_VERSION, PROTOCOL_VERSION } from "../../protocol/heartbeat.js";
import { protocolRefusal, replyFor } from "../../worker/cluster/protocol.js";
import { HeartbeatReplyV1 } from "./fixtures/protocol-v1.js";
import { ALL_HEALTHY, beat, call, newCluster } from "./helpers.js";

const V1_RULE = "a v1 shim parses replies strictly and would reject this one: put new reply fields under a new PROTOCOL_VERSION and leave them out for older shims in worker/cluster/protocol.ts";

describe("heartbeat protocol versions", () => {
  it(`serves v${OLDEST_PROTOCOL_VERSION} to v${PROTOCOL_VERSION}`, () => {
    expect(PROTOCOL_VERSION - OLDEST_PROTOCOL_VERSION).toBe(6);
    expect(protocolRefusal(PROTOCOL_VERSION)).toBeNull();
    expect(protocolRefusal(OLDEST_PROTOCOL_VERSION)).toBeNull();
    expect(protocolRefusal(OLDEST_PROTOCOL_VERSION - 1)).toMatch(/too old: this control plane serves v1-v7; upgrade the shim/);
    expect(protocolRefusal(PROTOCOL_VERSION + 1)).toMatch(/newer than this control plane \(v1-v7\); upgrade the control plane first/);
  });

  it("v7's direct handoff namings are left out for v1 to v6 shims; handedTo on a release is accepted from any", () => {
    const reply = HeartbeatReply.parse({
      protocol: 7,
      grants: [],
      desired: {
        cluster: "dc1.c",
        node: "server2",
        specVersion: 3,
        heartbeatIntervalMs: 1000,
        leaseTtlMs: 3000,
        maintenance: false,
        groups: [{ name: "server-api", mode: "active-standby", vip: "10.0.0.10", prefix: 24, interface: "eth0", ports: [{ port: 8801 }], probe: { type: "tcp", port: 8801 }, member: true, role: "standby", epoch: 1, holder: "server1", handoffFrom: "server1" }],
        operations: [],
      },
    });
    expect(replyFor(7, reply)).toEqual({ ...reply, protocol: 7 });
    for (const v of [1, 2, 3, 4, 5, 6]) {
      const out = replyFor(v, reply);
      expect(out.desired.groups[0]).not.toHaveProperty("handoffFrom");
      expect(out.desired.groups[0]!.name).toBe("server-api");
      if (v === 1) expect(HeartbeatReplyV1.safeParse(out).success, V1_RULE).toBe(true);
    }
    const held = { ...reply, desired: { ...reply.desired, node: "server1", groups: [{ ...reply.desired.groups[0]!, role: "holder" as const, handoffFrom: undefined, handoffTo: "server2" }] } };
    expect(replyFor(6, HeartbeatReply.parse(held)).desired.groups[0]).not.toHaveProperty("handoffTo");
    expect(HeartbeatRequest.parse({ protocol: 6, bootId: "b", seq: 1, released: [{ group: "server-api", epoch: 1, handedTo: "server2" }] }).released).toEqual([{ group: "server-api", epoch: 1, handedTo: "server2" }]);
  });

  it("v6's service process names are left out for v1 to v5 shims; the request's vipAnswered is accepted from any", () => {
    const reply = HeartbeatReply.parse({
      protocol: 6,
      grants: [],
      desired: {
        cluster: "dc1.c",
        node: "server2",
        specVersion: 3,
        heartbeatIntervalMs: 1000,
        leaseTtlMs: 3000,
        maintenance: false,
        groups: [{ name: "server-api", mode: "active-standby", vip: "10.0.0.10", prefix: 24, interface: "eth0", ports: [{ port: 8801 }], probe: { type: "tcp", port: 8801 }, member: true, process: "chime-server", role: "standby", epoch: 1, holder: "server1" }],
        operations: [],
      },
    });
    expect(replyFor(6, reply)).toEqual({ ...reply, protocol: 6 });
    for (const v of [1, 2, 3, 4, 5]) {
      const out = replyFor(v, reply);
      expect(out.desired.groups[0]).not.toHaveProperty("process");
      expect(out.desired.groups[0]!.name).toBe("server-api");
      if (v === 1) expect(HeartbeatReplyV1.safeParse(out).success, V1_RULE).toBe(true);
    }
    expect(HeartbeatRequest.parse({ protocol: 2, bootId: "b", seq: 1, vipAnswered: [{ group: "server-api", agoMs: 40 }] }).vipAnswered).toEqual([{ group: "server-api", agoMs: 40 }]);
  });

  it("v5's desired-state fields (own IP, failsafe keys, provenance) are left out for v1 to v4 shims", () => {
    const reply = HeartbeatReply.parse({
      protocol: 5,
      grants: [],
      desired: {
        cluster: "dc1.c",
        node: "server2",
        specVersion: 3,
        heartbeatIntervalMs: 1000,
        leaseTtlMs: 3000,
        maintenance: false,
        groups: [],
        operations: [{ id: "op-1", requestedBy: "admin:tok_9", kind: "minio-heal", alias: "local" }],
        failsafe: true,
        ip: "10.0.0.12",
        failsafeKeys: ["k".repeat(43)],
        specBy: "admin:tok_9",
      },
    });
    expect(replyFor(5, reply)).toEqual({ ...reply, protocol: 5 });
    for (const v of [1, 2, 3, 4]) {
      const out = replyFor(v, reply);
      for (const f of ["ip", "failsafeKeys", "specBy"]) expect(out.desired).not.toHaveProperty(f);
      expect(out.desired.operations).toEqual([{ id: "op-1", kind: "minio-heal", alias: "local" }]);
      if (v === 1) expect(HeartbeatReplyV1.safeParse(out).success, V1_RULE).toBe(true);
    }
  });

  it("v4's desired-state fields (failsafe peers, drift margin) are left out for v1 to v3 shims", () => {
    const reply = HeartbeatReply.parse({
      protocol: 4,
      grants: [],
      desired: { cluster: "dc1.c", node: "server2", specVersion: 1, heartbeatIntervalMs: 1000, leaseTtlMs: 3000, maintenance: false, groups: [], operations: [], driftMarginMs: 500, peers: [{ name: "server1", ip: "10.0.0.11", groups: ["server-api"] }] },
    });
    for (const v of [1, 2, 3]) {
      const out = replyFor(v, reply);
      expect(out.desired).not.toHaveProperty("peers");
      expect(out.desired).not.toHaveProperty("driftMarginMs");
      if (v === 1) expect(HeartbeatReplyV1.safeParse(out).success, V1_RULE).toBe(true);
    }
  });

  it("v3's reply fields (mysql promotion checks, evacuation keys, bounded backfills) are left out for v1 and v2 shims", () => {
    const probe = { type: "mysql" as const, port: 3306, maxLagSeconds: 5, intervalMs: 1000, timeoutMs: 800, fall: 2, rise: 2 };
    const reply = HeartbeatReply.parse({
      protocol: 3,
      grants: [{ group: "mysql", epoch: 2, ttlMs: 3000 }],
      desired: {
        cluster: "dc1.c",
        node: "server2",
        specVersion: 1,
        heartbeatIntervalMs: 1000,
        leaseTtlMs: 3000,
        maintenance: false,
        groups: [{ name: "mysql", mode: "mysql-writer", vip: "10.0.0.30", prefix: 24, interface: "eth0", ports: [{ port: 3306 }], probe, member: true, role: "holder", epoch: 2, holder: "server2", mysql: { topology: "dual-master", strictFence: false, requiredGtid: "0-1-9", acceptDataLoss: true } }],
        operations: [
          { id: "op-1", kind: "evacuate", target: "node1", url: "https://chime.example/evacuate", method: "POST", body: "{}", idempotencyKey: "evac-1" },
          { id: "op-2", kind: "influxdb-backfill", group: "influxdb", fromNode: "server1", fromUrl: "http://10.0.0.11:8086", database: "*", startMs: 1, endMs: 2, maxPoints: 1000 },
        ],
      },
    });
    const { peers: _p, driftMarginMs: _m, ...v3desired } = reply.desired;
    expect(replyFor(4, reply)).toEqual({ ...reply, protocol: 4 });
    expect(replyFor(3, reply)).toEqual({ ...reply, desired: v3desired });
    for (const v of [1, 2]) {
      const { protocol, ...rest } = replyFor(v, reply);
      expect(protocol).toBe(v === 1 ? undefined : v);
      const parsed = HeartbeatReplyV1.safeParse(rest);
      expect(parsed.success, `${V1_RULE}\n${parsed.error?.message}`).toBe(true);
      expect(parsed.data!.desired.groups[0]!.mysql).toEqual({ topology: "dual-master", strictFence: false });
    }
  });

  it("a v1 shim's heartbeat (no protocol field) gets a reply in v1's exact shape, grants and all", async () => {
    const c = await newCluster((s) => (s.policy = { ...s.policy, heartbeatIntervalMs: 300, leaseTtlMs: 1000, driftMarginMs: 100 }));
    await new Promise((r) => setTimeout(r, 1200));
    const body = beat({ seq: 1 }, ALL_HEALTHY);
    expect(body).not.toHaveProperty("protocol");
    const r = await call("POST", `/v1/clusters/${c.id}/nodes/server1/heartbeat`, { token: c.tokens.server1!, body });
    expect(r.status).toBe(200);
    expect(r.json).not.toHaveProperty("protocol");
    const v1 = HeartbeatReplyV1.safeParse(r.json);
    expect(v1.success, `${V1_RULE}\n${v1.error?.message}`).toBe(true);
    expect(v1.data!.grants.map((g) => g.group)).toContain("server-api");
  });

  it("a v2 shim gets protocol 2 back; an unknown newer version is refused with what to upgrade", async () => {
    const c = await newCluster();
    const v2 = await call("POST", `/v1/clusters/${c.id}/nodes/server1/heartbeat`, { token: c.tokens.server1!, body: { ...beat({ seq: 1 }), protocol: 2 } });
    expect(v2.status).toBe(200);
    expect(HeartbeatReply.parse(v2.json).protocol).toBe(2);
    const v3 = await call("POST", `/v1/clusters/${c.id}/nodes/server1/heartbeat`, { token: c.tokens.server1!, body: { ...beat({ seq: 2 }), protocol: PROTOCOL_VERSION + 1 } });
    expect(v3.status).toBe(400);
    expect(String(v3.json.detail)).toContain("upgrade the control plane first");
  });
});
