// influxdb-read's hold (worker/engine/modes/influxdb-read.ts): an instance still copying back what
// it missed is kept out of the read VIP, with the exact window and run in the reason, only while
// another instance is alive, healthy and complete; by default (no `influxdb` options) it copies
// back by itself and is held.
import { describe, expect, it } from "vitest";
import { isoTime } from "../../worker/engine/liveness.js";
import { influxdbRead } from "../../worker/engine/modes/influxdb-read.js";
import { dataSpec, down, Driver, healthy } from "./support/data-spec.js";

const T0 = Date.UTC(2026, 10, 25, 12, 0, 0);

function spec(influxdb: Record<string, unknown> | null) {
  const base = dataSpec();
  return dataSpec({
    ...base,
    policy: { ...base.policy, preempt: { enabled: true, delayMs: 0 } },
    groups: base.groups.filter((g) => g.name === "influxdb").map((g) => (influxdb === null ? g : { ...g, influxdb: { autoBackfill: true, databases: [], holdReadVipUntilBackfilled: true, backfillMaxPoints: 10_000, ...influxdb } })),
  });
}

/** server1's influxd is down from T0+1000 to T0+31100 while server2 serves reads. */
function outage(influxdb: Record<string, unknown> | null = {}): Driver {
  const d = new Driver(spec(influxdb), T0);
  d.beat("server1", T0, { probes: { influxdb: healthy } });
  d.beat("server2", T0, { probes: { influxdb: healthy } });
  d.beat("server1", T0 + 1300, { probes: { influxdb: { ...down, downForMs: 300 } } });
  d.beat("server1", T0 + 1400, { probes: { influxdb: down }, released: [{ group: "influxdb", epoch: 1 }] });
  for (let t = T0 + 2000; t <= T0 + 31_000; t += 1000) {
    d.beat("server1", t, { probes: { influxdb: down } });
    d.beat("server2", t, { probes: { influxdb: healthy } });
  }
  d.beat("server1", T0 + 31_100, { probes: { influxdb: healthy } });
  return d;
}

const group = (d: Driver) => d.state.persisted.spec.groups.find((g) => g.name === "influxdb")!;
const WAIT = `still copying what it missed (${isoTime(T0 + 1000)} .. ${isoTime(T0 + 31_100)}, run 1); kept out of the read VIP until then`;

describe("influxdb-read: holding a backfilling instance out of the read VIP", () => {
  it("holds the returning instance with the window and run it is at; never the complete one", () => {
    const d = outage();
    expect(influxdbRead.hold!(d.state, group(d), "server1", T0 + 31_100)).toEqual({ kind: "wait", reason: WAIT });
    expect(influxdbRead.hold!(d.state, group(d), "server2", T0 + 31_100)).toBeNull();
  });

  it("by default (no influxdb options) it copies back by itself and is held the same way", () => {
    const d = outage(null);
    expect(d.events("influxdb.backfill-started")).toHaveLength(1);
    expect(d.events("influxdb.outage-window")[0]!.reason).toMatch(/; copying it back from a healthy peer$/);
    expect(influxdbRead.hold!(d.state, group(d), "server1", T0 + 31_100)).toEqual({ kind: "wait", reason: WAIT });
  });

  it("with holdReadVipUntilBackfilled off it is not held: it takes the read VIP back at once (preemption)", () => {
    const d = outage({ holdReadVipUntilBackfilled: false });
    expect(influxdbRead.hold!(d.state, group(d), "server1", T0 + 31_100)).toBeNull();
    d.beat("server2", T0 + 31_400, { probes: { influxdb: healthy } });
    d.beat("server1", T0 + 31_500, { probes: { influxdb: healthy } });
    expect(d.state.groups.influxdb!.revokeTo).toBe("server1");
  });

  it("not held when the other instance is unhealthy or silent past its liveness: incomplete beats none", () => {
    const sick = outage();
    sick.beat("server2", T0 + 31_200, { probes: { influxdb: down } });
    expect(influxdbRead.hold!(sick.state, group(sick), "server1", T0 + 31_200)).toBeNull();
    const silent = outage();
    // server2's last heartbeat at T0+31000: alive up to T0+34000 (T = 3 s), not after.
    expect(influxdbRead.hold!(silent.state, group(silent), "server1", T0 + 34_000)).toEqual({ kind: "wait", reason: WAIT });
    expect(influxdbRead.hold!(silent.state, group(silent), "server1", T0 + 34_001)).toBeNull();
  });

  it("an instance with no backfill under way is not held, even with holding on", () => {
    const d = outage({ autoBackfill: false });
    expect(influxdbRead.hold!(d.state, group(d), "server1", T0 + 31_100)).toBeNull();
    // Nothing was started: the outage window is returned as an event only.
    expect(d.events("influxdb.backfill-started")).toEqual([]);
  });
});
