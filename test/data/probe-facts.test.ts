// fall/rise and data-service facts: until `fall` failures in a row, the node stays healthy AND
// keeps reporting the facts of its last good run (one blip must not drop its mysql report).
import { describe, expect, it } from "vitest";
import type { MysqlReport } from "../../protocol/heartbeat.js";
import { ProbeScheduler } from "../../node-shim/probes/scheduler.js";

const facts: MysqlReport = { readOnly: false, replicaConfigured: true, ioRunning: false, sqlRunning: false, caughtUp: true, secondsBehind: null, gtidCurrentPos: "0-1-9", gtidBinlogPos: "0-1-9", gtidSlavePos: "0-1-9", errantTransactions: false };

describe("probe scheduler with data-service facts", () => {
  it("keeps the last good facts while healthy, drops them once unhealthy", () => {
    const changes: boolean[] = [];
    const s = new ProbeScheduler("mysql", { type: "mysql", port: 3306, maxLagSeconds: 5, intervalMs: 200, timeoutMs: 500, fall: 2, rise: 1 }, { run: async () => ({ ok: true, detail: "" }) }, (_n, r) => changes.push(r.healthy));
    s.observe({ ok: true, detail: "writable", mysql: facts });
    s.observe({ ok: false, detail: "mysql 127.0.0.1:3306: timed out after 500 ms" });
    expect(s.report()).toEqual({ healthy: true, detail: "mysql 127.0.0.1:3306: timed out after 500 ms", mysql: facts });
    s.observe({ ok: false, detail: "mysql 127.0.0.1:3306: ECONNREFUSED" });
    expect(s.report()).toEqual({ healthy: false, detail: "mysql 127.0.0.1:3306: ECONNREFUSED" });
    s.observe({ ok: true, detail: "read-only", mysql: { ...facts, readOnly: true } });
    expect(s.report().mysql?.readOnly).toBe(true);
    expect(changes).toEqual([true, false, true]);
  });
});
