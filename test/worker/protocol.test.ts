// The control plane serves the current heartbeat protocol and the one before, each in its own
// shape: a v1 shim (strict parser, no `protocol` field) gets replies it can parse, so the control
// plane can be upgraded before the shims.
import { describe, expect, it } from "vitest";
import { HeartbeatReply, OLDEST_PROTOCOL_VERSION, PROTOCOL_VERSION } from "../../protocol/heartbeat.js";
import { protocolRefusal } from "../../worker/cluster/protocol.js";
import { HeartbeatReplyV1 } from "./fixtures/protocol-v1.js";
import { ALL_HEALTHY, beat, call, newCluster } from "./helpers.js";

const V1_RULE = "a v1 shim parses replies strictly and would reject this one: put new reply fields under a new PROTOCOL_VERSION and leave them out for older shims in worker/cluster/protocol.ts";

describe("heartbeat protocol versions", () => {
  it(`serves v${OLDEST_PROTOCOL_VERSION} and v${PROTOCOL_VERSION}`, () => {
    expect(PROTOCOL_VERSION - OLDEST_PROTOCOL_VERSION).toBe(1);
    expect(protocolRefusal(PROTOCOL_VERSION)).toBeNull();
    expect(protocolRefusal(OLDEST_PROTOCOL_VERSION)).toBeNull();
    expect(protocolRefusal(OLDEST_PROTOCOL_VERSION - 1)).toMatch(/too old: this control plane serves v1-v2; upgrade the shim/);
    expect(protocolRefusal(PROTOCOL_VERSION + 1)).toMatch(/newer than this control plane \(v1-v2\); upgrade the control plane first/);
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
