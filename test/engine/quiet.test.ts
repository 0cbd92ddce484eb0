// Quiet by default: a cluster being set up says so once (info), a condition that lasts is one
// event (also across Durable Object restarts, which happen whenever the object sits idle), a
// compute node without a fence is one warning at creation. And apply failures the shims report
// become one event each and show in status.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import type { ApplyError, HeartbeatRequestInput, ProbeReport } from "../../protocol/heartbeat.js";
import { HeartbeatRequest } from "../../protocol/heartbeat.js";
import { ClusterSpec, type ClusterSpecInput } from "../../protocol/spec.js";
import { boot, newPersistedState, statusView, step } from "../../worker/engine/index.js";
import type { EngineEffect, EngineInput, EngineState, PersistedState } from "../../worker/engine/index.js";

type Event = Extract<EngineEffect, { type: "event" }>;

/** examples/chimestack.yaml as is: 5 groups, 2 servers, 2 compute nodes without a fence. */
function exampleSpec(edit: (s: ClusterSpecInput) => void = () => {}): ClusterSpec {
  const raw = parse(readFileSync(new URL("../../examples/chimestack.yaml", import.meta.url), "utf8")) as ClusterSpecInput;
  edit(raw);
  return ClusterSpec.parse(raw);
}

const OK: ProbeReport = { healthy: true, detail: "ok" };
const MYSQL_OK: ProbeReport = {
  healthy: true,
  detail: "ok",
  mysql: { readOnly: true, replicaConfigured: true, ioRunning: true, sqlRunning: true, caughtUp: true, secondsBehind: 0, gtidCurrentPos: "0-1-9", gtidBinlogPos: "0-1-9", gtidSlavePos: "0-1-9", errantTransactions: false },
};
const MINIO_OK: ProbeReport = { healthy: true, detail: "ok", minio: { live: true, writeQuorum: true, readQuorum: true } };
const ALL_OK = { "server-api": OK, portal: OK, mysql: MYSQL_OK, influxdb: OK, minio: MINIO_OK };

/**
 * The Durable Object shell around the engine: alarms when asked (else its safety tick), and the
 * object is evicted every `evictEveryMs` (workerd evicts one idle for ~10 s; the edge after a
 * minute or two), so the next input boots it again from what was persisted.
 */
class Shell {
  state: EngineState;
  persisted: PersistedState;
  events: { at: number; e: Event }[] = [];
  alarm: number | null = null;
  restarts = 0;
  private lastInput = 0;
  private seq = 0;

  constructor(
    spec: ClusterSpec,
    private readonly evictEveryMs = 15_000,
  ) {
    this.persisted = newPersistedState("dc1.chimestack", spec, 1);
    this.state = boot(structuredClone(this.persisted), 0);
  }

  run(input: EngineInput, now: number) {
    if (Math.floor(now / this.evictEveryMs) !== Math.floor(this.lastInput / this.evictEveryMs)) {
      this.state = boot(structuredClone(this.persisted), now);
      this.restarts++;
    }
    this.lastInput = now;
    const r = step(this.state, input, now);
    this.state = r.state;
    for (const e of r.effects) {
      if (e.type === "event") this.events.push({ at: now, e });
      else if (e.type === "persist") this.persisted = structuredClone(e.state);
      else if (e.type === "alarm") this.alarm = e.at;
    }
    return r;
  }

  /** Alarms up to `until`, where the engine asks for them (it always does: at the latest its silence backstop). */
  runAlarms(until: number): void {
    let t = this.lastInput;
    for (let i = 0; i < 100_000; i++) {
      const next = this.alarm ?? t + 3500;
      if (next > until) return;
      t = Math.max(next, t + 1);
      this.alarm = null;
      this.run({ type: "tick" }, t);
    }
  }

  beat(node: string, now: number, req: Partial<HeartbeatRequestInput> = {}) {
    this.runAlarms(now);
    return this.run({ type: "heartbeat", node, request: HeartbeatRequest.parse({ bootId: `boot-${node}`, seq: this.seq++, ...req }) }, now);
  }

  list(filter: (e: Event) => boolean = () => true) {
    return this.events.map((x) => x.e).filter(filter);
  }

  status(now: number) {
    return statusView(this.state, now);
  }
}

const GROUPS = ["server-api", "portal", "mysql", "influxdb", "minio"];

describe("quiet by default", () => {
  it("a new cluster without shims raises one info event per group (and one no-fence warning per compute node) in 10 minutes, across restarts", () => {
    const sh = new Shell(exampleSpec());
    sh.runAlarms(600_000);
    expect(sh.restarts).toBeGreaterThan(10); // the object really was evicted and booted again, many times
    const groupEvents = sh.list((e) => e.group !== undefined);
    for (const g of GROUPS) {
      expect(groupEvents.filter((e) => e.group === g).map((e) => [e.kind, e.severity, e.reason])).toEqual([
        ["group.waiting", "info", `${g} has no holder yet: waiting for the first heartbeat from server1 and server2`],
      ]);
    }
    expect(sh.list((e) => e.group === undefined).map((e) => [e.kind, e.severity, e.node, e.reason])).toEqual(
      ["node1", "node2"].map((n) => [
        "compute.no-fence",
        "warning",
        n,
        `${n} has no fence configured: if it dies, its VMs are evacuated only after an operator powers it off and acknowledges the fence (chime-ha ack-fence)`,
      ]),
    );
    // Status says the same, per group and node.
    const st = sh.status(600_000);
    expect(st.groups.map((g) => [g.name, g.health, g.reason])).toEqual(GROUPS.map((g) => [g, "waiting", "waiting for the first heartbeat from server1 and server2"]));
    expect(st.nodes.map((n) => [n.name, n.heard])).toEqual([
      ["server1", false],
      ["server2", false],
      ["node1", false],
      ["node2", false],
    ]);
    // Never-heard compute nodes are not fenced: nothing to fence yet.
    expect(sh.state.persisted.computes.node1!.phase).toBe("alive");
  });

  it("shims coming up: first heartbeats without probe results still wait (info), then grants; nothing critical", () => {
    const sh = new Shell(exampleSpec());
    sh.runAlarms(60_000);
    sh.beat("server1", 60_000); // the shim's first heartbeat carries no probe results yet
    sh.beat("server1", 61_000, { probes: ALL_OK });
    sh.beat("server2", 61_500, { probes: ALL_OK });
    for (const n of ["node1", "node2"]) sh.beat(n, 61_600, { probes: { "chime-agent": OK } });
    for (let t = 62_000; t <= 120_000; t += 1000) {
      sh.beat("server1", t, { probes: ALL_OK });
      sh.beat("server2", t + 10, { probes: ALL_OK });
      for (const n of ["node1", "node2"]) sh.beat(n, t + 20, { probes: { "chime-agent": OK } });
    }
    expect(sh.list((e) => e.severity === "critical")).toEqual([]);
    expect(sh.list((e) => e.kind === "group.waiting").map((e) => e.reason)).toEqual(GROUPS.map((g) => `${g} has no holder yet: waiting for the first heartbeat from server1 and server2`));
    expect(sh.list((e) => e.kind === "group.granted").map((e) => [e.group, e.severity, e.node])).toEqual(GROUPS.map((g) => [g, "info", "server1"]));
    expect(sh.status(120_000).groups.map((g) => g.health)).toEqual(GROUPS.map(() => "ok"));
  });

  it("a member that is really failing is critical at once, even while the other is not set up", () => {
    const sh = new Shell(exampleSpec());
    sh.beat("server1", 1000, { probes: { ...ALL_OK, "server-api": { healthy: false, detail: "connect ECONNREFUSED 127.0.0.1:8801" } } });
    expect(sh.list((e) => e.group === "server-api").map((e) => [e.kind, e.severity, e.reason])).toEqual([
      ["group.no-candidate", "critical", "server-api has no holder yet; no healthy candidate for server-api (server1's probe for server-api is failing (connect ECONNREFUSED 127.0.0.1:8801); server2 has not sent a heartbeat)"],
    ]);
    expect(sh.list((e) => e.kind === "group.no-candidate")[0]!.incident).toBe("group:server-api");
  });

  it("when every server dies, 'no candidate' is one event per group for 10 minutes, also across restarts", () => {
    const sh = new Shell(exampleSpec());
    for (let t = 0; t <= 5000; t += 1000) {
      sh.beat("server1", t, { probes: ALL_OK });
      sh.beat("server2", t + 10, { probes: ALL_OK });
    }
    const before = sh.events.length;
    sh.runAlarms(605_000);
    expect(sh.restarts).toBeGreaterThan(10);
    const after = sh.events.slice(before).map((x) => x.e);
    for (const g of GROUPS) {
      expect(after.filter((e) => e.group === g).map((e) => e.kind)).toEqual(["group.no-candidate", "group.lost"]);
    }
    // Every node fell silent at once: no heartbeat reaches a deadline, so the silence backstop
    // (engine/deadlines.ts) wakes the object; it was evicted meanwhile, so it judges from its boot.
    expect(after.find((e) => e.kind === "group.no-candidate" && e.group === "server-api")!.reason).toBe(
      "server1 lease expired (no heartbeat since the control plane started 3.5 s ago); no healthy candidate for server-api (server1 has not sent a heartbeat since the control plane started; server2 has not sent a heartbeat since the control plane started)",
    );
    const st = sh.status(605_000);
    expect(st.groups[0]).toMatchObject({
      health: "down",
      reason: "no holder: server1 has not sent a heartbeat since the control plane started; server2 has not sent a heartbeat since the control plane started",
    });
  });

  it("a degraded holder is said once per episode: recovery clears it, so the next episode is said again", () => {
    const sh = new Shell(
      exampleSpec((s) => {
        s.groups = s.groups!.filter((g) => g.name === "server-api");
      }),
      Infinity,
    );
    const down: ProbeReport = { healthy: false, detail: "http 503" };
    const beat = (t: number, s1: ProbeReport, s2: ProbeReport) => {
      sh.beat("server1", t, { probes: { "server-api": s1 } });
      sh.beat("server2", t + 10, { probes: { "server-api": s2 } });
    };
    for (let t = 0; t <= 2000; t += 1000) beat(t, OK, down);
    for (let t = 3000; t <= 6000; t += 1000) beat(t, down, down);
    for (let t = 7000; t <= 9000; t += 1000) beat(t, OK, down);
    for (let t = 10_000; t <= 12_000; t += 1000) beat(t, down, down);
    expect(sh.list((e) => e.kind === "group.degraded").map((e) => e.reason)).toEqual([
      "server1's probe for server-api is failing (http 503), but no healthy candidate; server1 keeps server-api",
      "server1's probe for server-api is failing (http 503), but no healthy candidate; server1 keeps server-api",
    ]);
    expect(sh.status(12_500).groups[0]).toMatchObject({ health: "degraded", reason: "server1's probe for server-api is failing (http 503); server1 keeps it until a healthy candidate can take it" });
  });

  it("a compute node without a fence: one warning at creation, one for a node a spec update adds, none once it has a fence", () => {
    const sh = new Shell(exampleSpec(), Infinity);
    sh.runAlarms(10_000);
    const spec2 = exampleSpec((s) => {
      s.nodes!.push({ name: "node3", hostname: "node3.chime.com", ip: "192.168.231.103", role: "compute" });
      s.nodes!.find((n) => n.name === "node1")!.fence = { type: "webhook", url: "http://fence.example/off" };
    });
    sh.run({ type: "spec", spec: spec2, specVersion: 2, actor: "admin" }, 11_000);
    sh.runAlarms(60_000);
    expect(sh.list((e) => e.kind === "compute.no-fence").map((e) => e.node)).toEqual(["node1", "node2", "node3"]);
    expect(Object.keys(sh.state.persisted.notes).filter((k) => k.startsWith("setup:fence:"))).toEqual(["setup:fence:node2", "setup:fence:node3"]);
  });
});

describe("apply failures reported by the shims", () => {
  const ipvs = (since: number): ApplyError => ({
    group: "portal",
    target: "lb",
    command: "ipvsadm -A -t 192.168.231.20:80 -s wrr",
    exitCode: 2,
    stderrTail: "Can't initialize ipvs: Protocol not available\nAre you sure that IP Virtual Server is built in the kernel or as module?",
    since,
  });
  const spec = () =>
    exampleSpec((s) => {
      s.groups = s.groups!.filter((g) => g.name === "server-api" || g.name === "portal");
    });
  const probes = { "server-api": OK, portal: OK };

  it("a director that cannot program its balancer: one critical event after 3 s, status degraded with the command, resolved once it applies", () => {
    const sh = new Shell(spec(), Infinity);
    sh.beat("server1", 0, { probes });
    sh.beat("server2", 10, { probes });
    expect(sh.state.groups.portal!.holder).toBe("server1");
    const since = Date.UTC(2026, 10, 30, 12, 0, 1);
    for (let t = 1000; t <= 10_000; t += 1000) {
      sh.beat("server1", t, { probes, applyErrors: [ipvs(since)] });
      sh.beat("server2", t + 10, { probes });
      if (t === 3000) {
        // Seen for 2 s: a retry may still work out; nothing said, status still ok.
        expect(sh.list((e) => e.kind === "apply.failed")).toEqual([]);
        expect(sh.status(t + 20).groups[1]!.health).toBe("ok");
      }
    }
    const failed = sh.list((e) => e.kind === "apply.failed");
    expect(failed.map((e) => [e.severity, e.group, e.node, e.reason, e.incident])).toEqual([
      [
        "critical",
        "portal",
        "server1",
        "server1 cannot apply lb for portal: `ipvsadm -A -t 192.168.231.20:80 -s wrr` exited 2 (Are you sure that IP Virtual Server is built in the kernel or as module?), failing since 2026-11-30T12:00:01.000Z",
        "apply:portal:lb:server1",
      ],
    ]);
    expect(sh.events.find((x) => x.e.kind === "apply.failed")!.at).toBe(4000);
    const st = sh.status(10_100);
    expect(st.groups.map((g) => [g.name, g.health])).toEqual([
      ["server-api", "ok"],
      ["portal", "degraded"],
    ]);
    expect(st.groups[1]!.reason).toBe(failed[0]!.reason);
    expect(st.nodes[0]!.applyErrors).toEqual([ipvs(since)]);
    sh.beat("server1", 11_000, { probes });
    expect(sh.list((e) => e.kind === "apply.recovered").map((e) => [e.severity, e.reason, e.incident, e.resolves])).toEqual([
      ["info", "server1 applies lb for portal again", "apply:portal:lb:server1", true],
    ]);
    expect(sh.status(11_100).groups[1]!.health).toBe("ok");
    expect(sh.status(11_100).nodes[0]!.applyErrors).toEqual([]);
  });

  it("a standby's failure is a warning; a failure still reported after a restart is not said again; one that ended meanwhile is resolved", () => {
    const sh = new Shell(spec(), Infinity);
    sh.beat("server1", 0, { probes });
    const err: ApplyError = { target: "sysctl", command: "sysctl -w net.ipv4.ip_nonlocal_bind=1", exitCode: 255, stderrTail: "permission denied", since: 0 };
    for (let t = 0; t <= 5000; t += 1000) sh.beat("server2", t + 10, { probes, applyErrors: [err, ipvs(0)] });
    expect(sh.list((e) => e.kind === "apply.failed").map((e) => [e.severity, e.node, e.group])).toEqual([
      ["warning", "server2", undefined],
      ["warning", "server2", "portal"],
    ]);
    // Restart: the notes survive; the same failure is not said again, the one that ended is resolved.
    sh.state = boot(structuredClone(sh.persisted), 6000);
    for (let t = 6000; t <= 12_000; t += 1000) sh.beat("server2", t + 10, { probes, applyErrors: [err] });
    expect(sh.list((e) => e.kind === "apply.failed")).toHaveLength(2);
    expect(sh.list((e) => e.kind === "apply.recovered").map((e) => e.reason)).toEqual(["server2 applies lb for portal again"]);
  });
});
