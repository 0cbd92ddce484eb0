// mysql-writer's eligibility and ordering (worker/engine/modes/mysql-writer.ts), as pure rules:
// the exact reason a server is no candidate (no report, Galera not synced, errant transactions,
// a stopped SQL thread, lag beyond the probe's limit; a writable server is never judged on
// replication), which of two servers comes first (most received), and what the holder is told.
import { describe, expect, it } from "vitest";
import type { ProbeReport } from "../../protocol/heartbeat.js";
import type { GroupSpec } from "../../protocol/spec.js";
import { mysqlWriter } from "../../worker/engine/modes/mysql-writer.js";
import { dataSpec, Driver, mysqlOk } from "./support/data-spec.js";

const spec = dataSpec();
const dual = spec.groups.find((g) => g.mode === "mysql-writer")!;
const galera: GroupSpec = { ...dual, mysql: { ...dual.mysql!, topology: "galera" } } as GroupSpec;
const withProbe = (probe: Record<string, unknown>): GroupSpec => ({ ...dual, probe: { ...dual.probe, ...probe } }) as GroupSpec;
const why = (r: ProbeReport | undefined, g: GroupSpec = dual) => mysqlWriter.ineligible(r, g);

describe("mysql-writer: who may hold the writer VIP", () => {
  it("no report, or a report without mysql facts: not a candidate", () => {
    expect(why(undefined)).toBe("no mysql report");
    expect(why({ healthy: true, detail: "ok" })).toBe("no mysql report");
  });

  it("Galera: only a node Synced in a Primary component, naming its state", () => {
    expect(why(mysqlOk({ galeraSynced: true }), galera)).toBeNull();
    expect(why(mysqlOk({ galeraSynced: false, galeraState: "Donor/Desynced" }), galera)).toBe("galera node not Synced in a Primary component (Donor/Desynced)");
    expect(why(mysqlOk({ galeraSynced: false }), galera)).toBe("galera node not Synced in a Primary component");
    // Replication facts do not matter there.
    expect(why(mysqlOk({ galeraSynced: true, caughtUp: false, sqlRunning: false, secondsBehind: 999 }), galera)).toBeNull();
  });

  it("dual master: errant transactions rule a server out, writable or not", () => {
    expect(why(mysqlOk({ errantTransactions: true }))).toBe("has errant transactions (would be lost or conflict on promotion)");
    expect(why(mysqlOk({ errantTransactions: true, readOnly: false }))).toBe("has errant transactions (would be lost or conflict on promotion)");
  });

  it("a read-only server with a stopped SQL thread that has not caught up is out; caught up, or still applying, it is not", () => {
    expect(why(mysqlOk({ caughtUp: false, sqlRunning: false }))).toBe("replication not caught up (SQL thread stopped)");
    expect(why(mysqlOk({ caughtUp: true, sqlRunning: false }))).toBeNull();
    expect(why(mysqlOk({ caughtUp: false, sqlRunning: true }))).toBeNull();
    expect(why(mysqlOk({ caughtUp: false, sqlRunning: false, replicaConfigured: false }))).toBeNull();
  });

  it("lag beyond the probe's maxLagSeconds (5 s by default) rules it out; at the limit it does not", () => {
    expect(why(mysqlOk({ secondsBehind: 5 }))).toBeNull();
    expect(why(mysqlOk({ secondsBehind: 6 }))).toBe("replication lag 6s > 5s");
    expect(why(mysqlOk({ secondsBehind: 6 }), withProbe({ maxLagSeconds: 30 }))).toBeNull();
    expect(why(mysqlOk({ secondsBehind: 31 }), withProbe({ maxLagSeconds: 30 }))).toBe("replication lag 31s > 30s");
    // Unknown lag (replication not running) is not lag.
    expect(why(mysqlOk({ secondsBehind: null }))).toBeNull();
    // A probe that is not a mysql probe: the default limit of 5 s.
    const tcp = { ...dual, probe: { type: "tcp", port: 3306, intervalMs: 1000, timeoutMs: 800, fall: 2, rise: 2 } } as GroupSpec;
    expect(why(mysqlOk({ secondsBehind: 6 }), tcp)).toBe("replication lag 6s > 5s");
    expect(why(mysqlOk({ secondsBehind: 5 }), tcp)).toBeNull();
  });

  it("a writable server is never judged on replication (its reverse channel carries nothing it needs)", () => {
    expect(why(mysqlOk({ readOnly: false, caughtUp: false, sqlRunning: false, secondsBehind: 999 }))).toBeNull();
  });
});

describe("mysql-writer: order and desired state", () => {
  const at = (pos: string, io?: string): { report: ProbeReport } => ({ report: mysqlOk({ gtidCurrentPos: pos, ...(io ? { gtidIoPos: io } : {}) }) });
  const cmp = (a: { report?: ProbeReport }, b: { report?: ProbeReport }) => mysqlWriter.compare!(a as never, b as never, dual);

  it("the server that received more comes first (relay log counts); equal or incomparable positions tie", () => {
    expect(cmp(at("0-1-101"), at("0-1-100"))).toBe(-1);
    expect(cmp(at("0-1-100"), at("0-1-101"))).toBe(1);
    expect(cmp(at("0-1-100"), at("0-1-100"))).toBe(0);
    expect(cmp(at("0-1-100", "0-1-105"), at("0-1-103"))).toBe(-1);
    expect(cmp({}, at("0-1-1"))).toBe(1);
    expect(cmp(at("0-1-1"), {})).toBe(-1);
  });

  it("a standby is told the topology and fencing only; Galera holders too", () => {
    const d = new Driver();
    expect(mysqlWriter.desiredExtras!(d.state, dual, "server2", false, 0)).toEqual({ mysql: { topology: "dual-master", strictFence: dual.mysql?.strictFence ?? false } });
    expect(mysqlWriter.desiredExtras!(d.state, galera, "server1", true, 0)).toEqual({ mysql: { topology: "galera", strictFence: dual.mysql?.strictFence ?? false } });
    // A holder with no writer remembered and no loss accepted: nothing more.
    expect(mysqlWriter.desiredExtras!(d.state, dual, "server1", true, 0)).toEqual({ mysql: { topology: "dual-master", strictFence: dual.mysql?.strictFence ?? false } });
  });
});
