// mysql-writer's promotion rule among three servers (worker/engine/modes/mysql-writer.ts, hold):
// a standby whose received position is incomparable with another live, healthy read-only
// standby's is refused (neither is promoted automatically), but a silent or failing peer does
// not count; an operator's forced promotion lifts the rule for that server only; a
// group that prefers availability still waits for a report that may show everything arrived.
import { describe, expect, it } from "vitest";
import type { ProbeReport } from "../../protocol/heartbeat.js";
import { mysqlWriter } from "../../worker/engine/modes/mysql-writer.js";
import type { EngineState } from "../../worker/engine/index.js";
import { dataSpec, Driver, mysqlOk } from "./support/data-spec.js";

type Mysql = NonNullable<ProbeReport["mysql"]>;
const standby = (received: string, over: Partial<Mysql> = {}) => mysqlOk({ gtidIoPos: received, gtidCurrentPos: received, gtidBinlogPos: received, gtidBinlogState: undefined, serverId: undefined, ...over });

function three(promoteOnPossibleLoss = false): Driver {
  const base = dataSpec();
  const spec = dataSpec({
    ...base,
    nodes: [...base.nodes.slice(0, 2), { ...base.nodes[0]!, name: "server3", hostname: "server3.chime.com", ip: "192.168.231.13", priority: 90 }, ...base.nodes.slice(2)],
    groups: base.groups.filter((g) => g.name === "mysql").map((g) => ({ ...g, mysql: { topology: "dual-master" as const, strictFence: false, promoteOnPossibleLoss } })),
  });
  const d = new Driver(spec);
  // Nothing is granted here: only the rule is asked.
  d.run({ type: "maintenance", node: null, on: true, actor: "ops" }, 0);
  return d;
}

/** server1 was the writer (last committed 0-1-50, semi-sync effective, facts read by 100). */
function withWriter(d: Driver): EngineState {
  d.state.mysql.mysql = { facts: {}, writer: { node: "server1", pos: "0-1-50", state: "0-1-50", probedBefore: 100, fenced: false, semiSyncOk: true, noTx: 0, asyncSince: null, asyncWhy: null }, forced: null, lossAcceptedEpoch: null };
  d.state.groups.mysql = { ...d.state.groups.mysql!, epoch: 1 };
  return d.state;
}

const hold = (s: EngineState, node: string, now = 1000) => mysqlWriter.hold!(s, s.persisted.spec.groups[0]!, node, now);

describe("mysql-writer among three servers", () => {
  it("a standby incomparable with another live, healthy read-only standby is refused; a silent or failing one does not count", () => {
    const d = three();
    d.beat("server2", 900, { probes: { mysql: standby("0-1-50,1-2-3") } });
    d.beat("server3", 900, { probes: { mysql: standby("0-1-50,2-3-7") } });
    const s = withWriter(d);
    expect(hold(s, "server2")).toEqual({ kind: "refused", reason: "its position 0-1-50,1-2-3 and server3's 0-1-50,2-3-7 are incomparable (each has transactions the other lacks); neither is promoted automatically" });
    // server3 silent (its last heartbeat 900, T = 3 s): not counted.
    expect(hold(s, "server2", 3901)).toBeNull();
    d.beat("server3", 950, { probes: { mysql: { ...standby("0-1-50,2-3-7"), healthy: false } } });
    expect(hold(d.state, "server2", 1000)).toBeNull();
  });

  it("the last writer itself is never at risk; a server without a mysql report is judged ineligible elsewhere", () => {
    const d = three();
    d.beat("server1", 900, { probes: { mysql: standby("0-1-40") } });
    d.beat("server3", 900, { probes: { mysql: standby("0-1-50,2-3-7") } });
    const s = withWriter(d);
    expect(hold(s, "server1")).toBeNull();
    expect(hold(s, "server2")).toBeNull();
  });

  it("an operator's forced promotion lifts the rule for that server only", () => {
    const d = three();
    d.beat("server2", 900, { probes: { mysql: standby("0-1-40", { ioRunning: false }) } });
    d.beat("server3", 900, { probes: { mysql: standby("0-1-40", { ioRunning: false }) } });
    const s = withWriter(d);
    s.mysql.mysql = { ...s.mysql.mysql!, forced: { node: "server2", actor: "token:ops", epoch: null } };
    expect(hold(s, "server2")).toBeNull();
    expect(hold(s, "server3")).toEqual({ kind: "refused", reason: "it received 0-1-40 of server1's last committed 0-1-50; server3 may lack transactions after 0-1-40" });
    // Once granted (its epoch recorded) the force is spent.
    s.mysql.mysql = { ...s.mysql.mysql!, forced: { node: "server2", actor: "token:ops", epoch: 2 } };
    expect(hold(s, "server2")?.kind).toBe("refused");
  });

  it("preferring availability lifts a refusal, not a wait for a fresher report", () => {
    const d = three(true);
    // Behind, IO thread running, report not surely newer than the writer's: wait.
    d.beat("server2", 90, { probes: { mysql: standby("0-1-40") } });
    const s = withWriter(d);
    expect(hold(s, "server2")).toEqual({ kind: "wait", reason: "waiting for a report showing it received server1's last committed position 0-1-50 (it reported 0-1-40)" });
    d.beat("server3", 900, { probes: { mysql: standby("0-1-40", { ioRunning: false }) } });
    expect(hold(d.state, "server3")).toBeNull();
  });
});
