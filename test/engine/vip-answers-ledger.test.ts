// The availability ledger and a holder whose shim went silent while its host did not: peers that
// check the group's VIP (node-shim/vip-answers.ts) report when it last answered, and the outage
// counts from then, never past the lease the holder's last heartbeat renewed. Exact figures on
// the pure engine (test/engine/support/avail-sim.ts models the kernel's lease on each host).
import { describe, expect, it } from "vitest";
import { AvailSim, availSpec, utc } from "./support/avail-sim.js";

const t0 = utc(2026, 11, 5, 9);

/** server1 holds server-api and heartbeats every second until its shim stops at t0 + 20 s (last heartbeat at 19 000). */
function sim(opts: { peerOffsetMs: number; crash?: boolean; checks?: boolean }) {
  const s = new AvailSim(availSpec(), t0);
  s.vipChecks = opts.checks ?? true;
  s.up = new Set(["server1", "server2"]);
  s.beatsEvery("server1", t0, t0 + 20_000, 1000);
  s.beatsEvery("server2", t0, t0 + 60_000, 1000, opts.peerOffsetMs);
  s.at(t0 + 20_000, () => {
    s.up.delete("server1");
    if (opts.crash) s.hostDown.add("server1");
  });
  s.runUntil(t0 + 60_000);
  return { s, r: s.report(t0, t0 + 60_000).groups[0]! };
}

describe("ledger: a silent holder's VIP seen answering by its peers", () => {
  it("shim killed, host up: the kernel serves until the local lease ends (19 000 + 3 000 - 200 margin); the outage is 21 800 -> 22 535, not from the last heartbeat", () => {
    const { r } = sim({ peerOffsetMs: 100 });
    const outage = r.intervals.find((i) => i.kind === "down")!;
    expect(outage).toMatchObject({
      start: t0 + 21_800,
      end: t0 + 22_535,
      grantedAt: t0 + 22_500,
      grantedTo: "server2",
      startReason: "server1 (holder of server-api) went silent after its heartbeat at 2026-11-05T09:00:19.000Z; its VIP answered its peers until 2026-11-05T09:00:21.800Z",
    });
    expect(r.downMs).toBe(735);
    expect(r.outages).toBe(1);
  });

  it("without VIP checks the same outage counts from the last heartbeat (3 535 ms): what the checks correct", () => {
    const { r } = sim({ peerOffsetMs: 100, checks: false });
    expect(r.intervals.find((i) => i.kind === "down")!.start).toBe(t0 + 19_000);
    expect(r.downMs).toBe(3535);
  });

  it("host crashed at 20 000: the last answer a peer saw (its check at 19 100) starts the outage", () => {
    const { r } = sim({ peerOffsetMs: 100, crash: true });
    const outage = r.intervals.find((i) => i.kind === "down")!;
    expect(outage.start).toBe(t0 + 19_100);
    expect(outage.startReason).toBe("server1 (holder of server-api) went silent after its heartbeat at 2026-11-05T09:00:19.000Z; its VIP answered its peers until 2026-11-05T09:00:19.100Z");
    expect(r.downMs).toBe(22_535 - 19_100);
  });

  it("an answer reported after the outage was opened moves its start, and the time between counts as served", () => {
    // server2 checks at 21 700 (answered) and reports the 21 800 end of the lease only with the
    // heartbeat that takes the pushed grant (22 505): the outage opened at 22 500 from 21 700.
    const { s, r } = sim({ peerOffsetMs: 700 });
    const downs = r.intervals.filter((i) => i.kind === "down");
    expect(downs).toHaveLength(1);
    expect(downs[0]).toMatchObject({ start: t0 + 21_800, end: t0 + 22_535 });
    expect(r.downMs).toBe(735);
    expect(r.outages).toBe(1);
    const served = r.intervals.find((i) => i.kind === "up" && i.start === t0 + 21_700);
    expect(served).toMatchObject({ end: t0 + 21_800, endReason: "server1's VIP answered its peers until 2026-11-05T09:00:21.800Z" });
    expect(s.state.persisted.ledger["server-api"]!.open.kind).toBe("up");
  });

  it("never past the lease the last heartbeat renewed: an answer claimed at 22 100 counts as 22 000 (another host's, or a wrong clock)", () => {
    const s = new AvailSim(availSpec(), t0);
    s.up = new Set(["server1", "server2"]);
    s.beatsEvery("server1", t0, t0 + 20_000, 1000);
    s.beatsEvery("server2", t0, t0 + 22_000, 1000, 100);
    s.at(t0 + 20_000, () => s.up.delete("server1"));
    s.runUntil(t0 + 22_100);
    s.input({ type: "heartbeat", node: "server2", request: { bootId: "server2-boot", seq: 100, probes: s.probes.server2!, holding: [], released: [], operations: [], vipAnswered: [{ group: "server-api", agoMs: 0 }] } }, t0 + 22_100);
    expect(s.state.persisted.ledger["server-api"]!.open).toMatchObject({ kind: "down", cause: "silent", start: t0 + 22_000 });
  });

  it("the holder's own report of its VIP is no evidence", () => {
    const s = new AvailSim(availSpec(), t0);
    s.up = new Set(["server1", "server2"]);
    s.beatsEvery("server1", t0, t0 + 5_000, 1000);
    s.beatsEvery("server2", t0, t0 + 5_000, 1000, 100);
    s.runUntil(t0 + 5_000);
    const holder = s.group().holder!;
    s.input({ type: "heartbeat", node: holder, request: { bootId: `${holder}-boot`, seq: 100, probes: s.probes[holder]!, holding: [{ group: "server-api", epoch: s.group().epoch }], released: [], operations: [], vipAnswered: [{ group: "server-api", agoMs: 0 }] } }, t0 + 5_000);
    expect(s.state.groups["server-api"]!.vipAnswer ?? null).toBeNull();
  });

  it("a holder removed from the spec: counted from when it was last heard, then from its VIP's last answer (not from the control plane's start)", () => {
    const spec = availSpec();
    const s = new AvailSim(spec, t0);
    s.vipChecks = true;
    s.up = new Set(["server1", "server2"]);
    s.beatsEvery("server1", t0, t0 + 60_000, 1000);
    s.beatsEvery("server2", t0, t0 + 60_000, 1000, 100);
    // server1 is removed at 20 050 (its last heartbeat counted at 20 000; its token goes with it).
    s.at(t0 + 20_050, () => {
      s.up.delete("server1");
      const without = { ...spec, nodes: spec.nodes.filter((n) => n.name !== "server1"), groups: spec.groups.map((g) => ({ ...g, members: g.members?.filter((m) => m !== "server1") })) };
      s.input({ type: "spec", spec: without, specVersion: 2, actor: "op" }, t0 + 20_050);
    });
    s.runUntil(t0 + 60_000);
    const r = s.report(t0, t0 + 60_000).groups[0]!;
    const outage = r.intervals.find((i) => i.kind === "down")!;
    // Its kernel lease from the 20 000 heartbeat ends at 22 800; server2's heartbeat at 23 100 says so.
    expect(outage.start).toBe(t0 + 22_800);
    expect(outage.startReason).toBe("server1 (holder of server-api) went silent after its heartbeat at 2026-11-05T09:00:20.000Z; its VIP answered its peers until 2026-11-05T09:00:22.800Z");
    expect(outage.grantedTo).toBe("server2");
    expect(r.intervals.filter((i) => i.kind === "down")).toHaveLength(1);
  });
});
