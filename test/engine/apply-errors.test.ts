// Apply failures the shims report (worker/engine/apply-errors.ts): one still reported 3 s after the
// control plane first saw it becomes one event (critical when the node holds the group the failure
// is for, else a warning), said once while its command and exit code stay the same, and resolved
// when the shim stops reporting it. And how every event is also kept as a decision (context.ts).
import { describe, expect, it } from "vitest";
import type { ApplyError } from "../../protocol/heartbeat.js";
import { APPLY_PERSIST_MS, applyErrorKey, describeApplyError, persistentApplyErrors } from "../../worker/engine/apply-errors.js";
import { Shell, smallSpec } from "./support/small-spec.js";

const OK = { healthy: true, detail: "ok" };
const SINCE = Date.UTC(2026, 10, 30, 12, 0, 0);
const VIP: ApplyError = { group: "api", target: "vip", command: "ip addr add 192.168.231.10/24 dev eth0", exitCode: 2, stderrTail: "first line\n  RTNETLINK answers: File exists  \n", since: SINCE };
const LB: ApplyError = { target: "lb", command: "ipvsadm -R", exitCode: null, stderrTail: "", since: SINCE };

function cluster() {
  const sh = new Shell(smallSpec());
  sh.beat("server1", 0, { probes: { api: OK } });
  sh.beat("server2", 0, { probes: { api: OK } });
  expect(sh.holder("api")).toBe("server1");
  return sh;
}

describe("apply failures", () => {
  it("says what failed, how and since when, in one line", () => {
    expect(APPLY_PERSIST_MS).toBe(3000);
    expect(describeApplyError("server1", VIP)).toBe("server1 cannot apply vip for api: `ip addr add 192.168.231.10/24 dev eth0` exited 2 (RTNETLINK answers: File exists), failing since 2026-11-30T12:00:00.000Z");
    expect(describeApplyError("server2", LB)).toBe("server2 cannot apply lb: `ipvsadm -R` could not run, failing since 2026-11-30T12:00:00.000Z");
    expect(describeApplyError("server2", { ...LB, stderrTail: "   \n  " })).toBe("server2 cannot apply lb: `ipvsadm -R` could not run, failing since 2026-11-30T12:00:00.000Z");
    expect(applyErrorKey(VIP)).toBe("api:vip");
    expect(applyErrorKey(LB)).toBe("-:lb");
  });

  it("a failure of the holder's own group, still reported 3 s after first seen, is one critical event; the same again is not said twice", () => {
    const sh = cluster();
    for (const t of [1000, 2000, 3999]) sh.beat("server1", t, { probes: { api: OK }, applyErrors: [VIP] });
    expect(sh.events("apply.failed")).toEqual([]);
    expect(persistentApplyErrors(sh.state, "server1", 3999)).toEqual([]);
    sh.beat("server1", 4000, { probes: { api: OK }, applyErrors: [{ ...VIP, since: SINCE + 5 }] });
    expect(persistentApplyErrors(sh.state, "server1", 4000)).toEqual([{ ...VIP, since: SINCE + 5 }]);
    expect(persistentApplyErrors(sh.state, "nobody", 4000)).toEqual([]);
    expect(sh.events("apply.failed")).toStrictEqual([
      { type: "event", kind: "apply.failed", severity: "critical", actor: "engine", group: "api", node: "server1", incident: "apply:api:vip:server1", reason: "server1 cannot apply vip for api: `ip addr add 192.168.231.10/24 dev eth0` exited 2 (RTNETLINK answers: File exists), failing since 2026-11-30T12:00:00.005Z" },
    ]);
    // Reported again (a later `since` only): the same condition.
    sh.beat("server1", 5000, { probes: { api: OK }, applyErrors: [{ ...VIP, since: SINCE + 9 }] });
    expect(sh.events("apply.failed")).toHaveLength(1);
    // Another exit code: another failure, said again.
    sh.beat("server1", 6000, { probes: { api: OK }, applyErrors: [{ ...VIP, exitCode: 1 }] });
    expect(sh.events("apply.failed").map((e) => e.reason)).toEqual([expect.stringContaining("exited 2"), expect.stringContaining("exited 1")]);
    // Not reported any more: recovered, resolving the incident.
    sh.beat("server1", 7000, { probes: { api: OK }, applyErrors: [] });
    expect(sh.events("apply.recovered")).toStrictEqual([{ type: "event", kind: "apply.recovered", severity: "info", actor: "engine", group: "api", node: "server1", incident: "apply:api:vip:server1", resolves: true, reason: "server1 applies vip for api again" }]);
    sh.beat("server1", 8000, { probes: { api: OK }, applyErrors: [] });
    expect(sh.events("apply.recovered")).toHaveLength(1);
  });

  it("a node-wide failure, or one for a group the node does not hold, is a warning; its recovery names no group", () => {
    const sh = cluster();
    for (const t of [1000, 4000]) sh.beat("server2", t, { probes: { api: OK }, applyErrors: [LB, VIP] });
    expect(sh.events("apply.failed").map((e) => [e.severity, e.group, e.incident])).toEqual([
      ["warning", undefined, "apply:-:lb:server2"],
      ["warning", "api", "apply:api:vip:server2"],
    ]);
    expect("group" in sh.events("apply.failed")[0]!).toBe(false);
    sh.beat("server2", 5000, { probes: { api: OK }, applyErrors: [VIP] });
    expect(sh.events("apply.recovered")).toStrictEqual([{ type: "event", kind: "apply.recovered", severity: "info", actor: "engine", node: "server2", incident: "apply:-:lb:server2", resolves: true, reason: "server2 applies lb again" }]);
  });

  it("a short failure (a retry that worked out) is never said, neither failed nor recovered", () => {
    const sh = cluster();
    sh.beat("server1", 1000, { probes: { api: OK }, applyErrors: [VIP] });
    sh.beat("server1", 2000, { probes: { api: OK }, applyErrors: [] });
    sh.beat("server1", 5000, { probes: { api: OK }, applyErrors: [VIP] });
    expect(sh.events("apply.failed")).toEqual([]);
    sh.beat("server1", 7999, { probes: { api: OK }, applyErrors: [VIP] });
    expect(sh.events("apply.failed")).toEqual([]);
    sh.beat("server1", 8000, { probes: { api: OK }, applyErrors: [VIP] });
    expect(sh.events("apply.failed")).toHaveLength(1);
    expect(sh.events("apply.recovered")).toEqual([]);
  });

  it("a failure said before a restart of the control plane is not said again, and its recovery still is", () => {
    const sh = cluster();
    for (const t of [1000, 4000]) sh.beat("server1", t, { probes: { api: OK }, applyErrors: [VIP] });
    sh.restart(4500);
    sh.beat("server1", 5000, { probes: { api: OK }, applyErrors: [VIP] });
    sh.beat("server1", 8000, { probes: { api: OK }, applyErrors: [VIP] });
    expect(sh.events("apply.failed")).toHaveLength(1);
    sh.beat("server1", 9000, { probes: { api: OK } });
    expect(sh.events("apply.recovered").map((e) => e.reason)).toEqual(["server1 applies vip for api again"]);
  });
});

describe("decisions", () => {
  it("every event is also a decision with its time, group, node and epoch; the last 50 are kept, newest last", () => {
    const sh = cluster();
    const granted = sh.state.decisions.find((d) => d.kind === "group.granted" || d.group === "api");
    expect(granted).toMatchObject({ at: 0, group: "api" });
    for (let i = 0; i < 30; i++) {
      sh.beat("server1", 1000 + i * 4000, { probes: { api: OK }, applyErrors: [{ ...VIP, exitCode: i % 2 }] });
      sh.beat("server1", 4000 + i * 4000, { probes: { api: OK }, applyErrors: [{ ...VIP, exitCode: i % 2 }] });
      sh.beat("server1", 4500 + i * 4000, { probes: { api: OK }, applyErrors: [] });
    }
    expect(sh.state.decisions).toHaveLength(50);
    const last = sh.state.decisions.at(-1)!;
    expect(last).toStrictEqual({ at: 4500 + 29 * 4000, kind: "apply.recovered", reason: "server1 applies vip for api again", group: "api", node: "server1" });
    const lb = new Shell(smallSpec());
    lb.beat("server2", 0, { applyErrors: [LB] });
    lb.beat("server2", 3000, { applyErrors: [LB] });
    expect(lb.state.decisions.filter((d) => d.kind === "apply.failed")).toStrictEqual([{ at: 3000, kind: "apply.failed", reason: "server2 cannot apply lb: `ipvsadm -R` could not run, failing since 2026-11-30T12:00:00.000Z", node: "server2" }]);
  });
});
