// Through the real Worker (issue 17 failsafe default, issue 18 provenance): a v5 shim's desired
// state names its own IP, the cluster's failsafe keys (derived from CHIME_SECRET_KEYS: the same on
// every node, new with every cluster, none while failsafe is off), who made the spec version, and
// for each operation who asked for it; a v4 shim gets none of these.
import { describe, expect, it } from "vitest";
import { PROTOCOL_VERSION } from "../../protocol/heartbeat.js";
import { ALL_HEALTHY, beat, call, exampleSpec, heartbeat, newCluster } from "./helpers.js";

describe("desired state: own IP, failsafe keys, provenance", () => {
  it("v5 gets them, v4 does not; keys are per cluster and only while failsafe is on", async () => {
    const c = await newCluster();
    const r1 = await heartbeat(c.id, "server1", c.tokens.server1!, beat({ protocol: PROTOCOL_VERSION }, ALL_HEALTHY));
    const r2 = await heartbeat(c.id, "server2", c.tokens.server2!, beat({ protocol: PROTOCOL_VERSION }, ALL_HEALTHY));
    expect(r1.status).toBe(200);
    const d1 = r1.reply.desired;
    expect(d1.failsafe).toBe(true);
    expect(d1.ip).toBe("192.168.231.11");
    expect(r2.reply.desired.ip).toBe("192.168.231.12");
    expect(d1.failsafeKeys).toHaveLength(2); // the test Worker lists two keys
    expect(r2.reply.desired.failsafeKeys).toEqual(d1.failsafeKeys);
    expect(d1.specBy).toMatch(/^admin:/);
    const v4 = (await heartbeat(c.id, "server1", c.tokens.server1!, beat({ protocol: 4, seq: 2 }, ALL_HEALTHY))).reply.desired;
    for (const f of ["ip", "failsafeKeys", "specBy"]) expect(v4).not.toHaveProperty(f);

    const other = await newCluster();
    const o = (await heartbeat(other.id, "server1", other.tokens.server1!, beat({ protocol: PROTOCOL_VERSION }, ALL_HEALTHY))).reply.desired;
    expect(o.failsafeKeys![0]).not.toBe(d1.failsafeKeys![0]);

    // Failsafe turned off: no keys.
    const off = exampleSpec((s) => (s.policy = { ...s.policy, failsafe: false }));
    expect((await call("PUT", `/v1/clusters/${c.id}/spec`, { body: { spec: off }, headers: { "if-match": '"v1"' } })).status).toBe(200);
    const d = (await heartbeat(c.id, "server1", c.tokens.server1!, beat({ protocol: PROTOCOL_VERSION, seq: 3 }, ALL_HEALTHY))).reply.desired;
    expect(d.failsafe).toBe(false);
    expect(d).not.toHaveProperty("failsafeKeys");
    expect(d.specVersion).toBe(2);
    expect(d.specBy).toMatch(/^admin:/);
  });

  it("an operation asked for through the API names its token", async () => {
    const c = await newCluster();
    for (const n of ["server1", "server2"]) await heartbeat(c.id, n, c.tokens[n]!, beat({ protocol: PROTOCOL_VERSION }, ALL_HEALTHY));
    const r = await call("POST", `/v1/clusters/${c.id}/operations`, { body: { kind: "minio-heal", group: "minio", alias: "chime", node: "server1" } });
    expect(r.status).toBe(200);
    let op: { requestedBy?: string } | undefined;
    for (const n of ["server1", "server2"]) {
      const d = (await heartbeat(c.id, n, c.tokens[n]!, beat({ protocol: PROTOCOL_VERSION, seq: 2 }, ALL_HEALTHY))).reply.desired;
      op ??= d.operations.find((o) => o.kind === "minio-heal");
    }
    expect(op?.requestedBy).toMatch(/^admin:/);
  });
});
