// fall/rise and data-service facts: until `fall` failures in a row, the node stays healthy AND
// keeps reporting the facts of its last good run (one blip must not drop its mysql report), with
// their age (the control plane orders reports of different nodes by it); an unhealthy report says
// how long ago the last good run started (where the outage window begins).
import { describe, expect, it } from "vitest";
import type { MysqlReport } from "../../protocol/heartbeat.js";
import { ProbeScheduler } from "../../node-shim/probes/scheduler.js";

const facts: MysqlReport = { readOnly: false, replicaConfigured: true, ioRunning: false, sqlRunning: false, caughtUp: true, secondsBehind: null, gtidCurrentPos: "0-1-9", gtidBinlogPos: "0-1-9", gtidSlavePos: "0-1-9", errantTransactions: false };

describe("probe scheduler with data-service facts", () => {
  it("keeps the last good facts (and their age) while healthy, drops them once unhealthy", () => {
    const changes: boolean[] = [];
    const s = new ProbeScheduler("mysql", { type: "mysql", port: 3306, maxLagSeconds: 5, intervalMs: 200, timeoutMs: 500, fall: 2, rise: 1 }, { run: async () => ({ ok: true, detail: "" }) }, (_n, r) => changes.push(r.healthy));
    s.observe({ ok: true, detail: "writable", mysql: facts }, 1000, 12);
    expect(s.report(1100)).toEqual({ healthy: true, detail: "writable", mysql: facts, factsAgeMs: 100, factsRunMs: 12 });
    s.observe({ ok: false, detail: "mysql 127.0.0.1:3306: timed out after 500 ms" }, 1200, 500);
    expect(s.report(1750)).toEqual({ healthy: true, detail: "mysql 127.0.0.1:3306: timed out after 500 ms", mysql: facts, factsAgeMs: 750, factsRunMs: 12 });
    s.observe({ ok: false, detail: "mysql 127.0.0.1:3306: ECONNREFUSED" }, 1900, 1);
    expect(s.report(1905)).toEqual({ healthy: false, detail: "mysql 127.0.0.1:3306: ECONNREFUSED", downForMs: 905 });
    s.observe({ ok: true, detail: "read-only", mysql: { ...facts, readOnly: true } }, 3000, 5);
    expect(s.report(3010).mysql?.readOnly).toBe(true);
    expect(changes).toEqual([true, false, true]);
  });
});
