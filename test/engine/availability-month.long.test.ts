// The availability ledger over whole months (worker/engine/ledger.ts, report.ts): a month of
// heartbeats with one outage, figures computed by hand. A long simulation (two months of
// heartbeats): it runs in \`npm test\`, not in the mutation run (vitest.mutation.config.ts).
import { describe, expect, it } from "vitest";
import { formatAvailability } from "../../protocol/availability-format.js";
import { AvailSim, availSpec, DOWN, OK, utc } from "./support/avail-sim.js";

const MIN = 60_000;
const DAY = 86_400_000;

/** A month-long run with heartbeats every minute (lease 200 s): long enough to be real, quick to simulate. */
function monthRun(year: number, month: number, outage: { at: number; ms: number }) {
  const spec = availSpec((s) => void (s.policy = { heartbeatIntervalMs: MIN, leaseTtlMs: 200_000, driftMarginMs: 500, holdDownMs: 0 }));
  const t0 = utc(year, month, 1);
  const end = Date.UTC(year, month, 1);
  const sim = new AvailSim(spec, t0 - 2 * MIN);
  sim.up = new Set(["server1", "server2"]);
  // server1 takes the group a minute before the month; its next heartbeat (at t0) reports it up.
  sim.beatsEvery("server1", t0 - MIN, end + MIN, MIN);
  sim.beatsEvery("server2", t0 - MIN, end + MIN, MIN, 1000);
  // The outage: server1's service fails its probe (dated by downForMs to its last success, `at`),
  // server2's too, so nothing can move; server1's comes back `ms` later.
  sim.at(outage.at - MIN + 1000, () => (sim.probes.server2!["server-api"] = DOWN()));
  sim.at(outage.at + 10_000, () => {
    sim.probes.server1!["server-api"] = DOWN(10_000);
    sim.beat("server1");
  });
  sim.at(outage.at + outage.ms, () => {
    sim.probes.server1!["server-api"] = OK;
    sim.probes.server2!["server-api"] = OK;
    sim.beat("server1");
  });
  return { sim, t0, end };
}

describe("availability ledger", () => {
  it("a 90 s outage in a 30-day month is 99.9965 %; in a 31-day month 99.9966 %; per-day buckets and budgets exact", () => {
    const { sim, t0, end } = monthRun(2026, 11, { at: utc(2026, 11, 10, 12), ms: 90_000 });
    sim.runUntil(t0 + MIN - 1);
    const persistsAtStart = sim.persists;
    // A steady week before the outage: 2 x 10,080 heartbeats, not one storage write.
    sim.runUntil(utc(2026, 11, 9));
    expect(sim.persists).toBe(persistsAtStart);
    sim.runUntil(end + 30_000);
    const r = sim.report(t0, end).groups[0]!;
    // server1 took the group a minute before the month and reported it up 30 ms later.
    expect(r.since).toBe(t0 - MIN + 30);
    expect(r.observedMs).toBe(30 * DAY);
    expect(r.downMs).toBe(90_000);
    expect(r.plannedMs).toBe(0);
    expect(r.availability).toBeCloseTo(100 * (1 - 90 / (30 * 86_400)), 10);
    expect(formatAvailability(r.availability)).toBe("99.9965 %");
    expect(r.outages).toBe(1);
    expect(r.mttrMs).toBe(90_000);
    const outage = r.intervals.find((i) => i.kind === "down")!;
    expect(outage).toMatchObject({
      start: utc(2026, 11, 10, 12),
      end: utc(2026, 11, 10, 12, 1, 30),
      startReason: "server1's probe for server-api is failing (connect ECONNREFUSED 127.0.0.1:8801)",
      endReason: "server1 serves server-api at epoch 1",
      holder: "server1",
      timeToRecoverMs: 90_000,
      timeToGrantMs: null,
    });
    // Budget of November at 99.5 %: 0.5 % of 30 days = 3.6 h; 90 s used.
    expect(r.budget.month.budgetMs).toBeCloseTo(12_960_000, 3);
    expect(r.budget.month.usedMs).toBe(90_000);
    expect(r.budget.month.leftRatio).toBeCloseTo(1 - 90 / 12_960, 10);
    // The day of the outage in the stored month record: [up, down, planned, outages].
    const nov = sim.stored.months.get("2026-11")!;
    expect(nov.days["server-api"]!["10"]).toEqual([DAY - 90_000, 90_000, 0, 1]);
    expect(nov.days["server-api"]!["30"]).toEqual([DAY, 0, 0, 0]);
    expect(nov.dropped).toBe(0);
    // December's first minute is in December's record (the interval was split at the month start).
    expect(sim.stored.months.get("2026-12")).toBeUndefined(); // still open: written when it closes
    expect(sim.state.persisted.ledger["server-api"]!.open).toMatchObject({ kind: "up", start: end, origin: utc(2026, 11, 10, 12, 1, 30) });

    const dec = monthRun(2026, 12, { at: utc(2026, 12, 24, 23, 59), ms: 90_000 });
    dec.sim.runUntil(dec.end + 30_000);
    const d = dec.sim.report(dec.t0, dec.end).groups[0]!;
    expect(d.observedMs).toBe(31 * DAY);
    expect(formatAvailability(d.availability)).toBe("99.9966 %");
    // Across midnight: 60 s on the 24th, 30 s on the 25th.
    const days = dec.sim.stored.months.get("2026-12")!.days["server-api"]!;
    expect(days["24"]).toEqual([DAY - 60_000, 60_000, 0, 1]);
    expect(days["25"]).toEqual([DAY - 30_000, 30_000, 0, 0]);
  });
});
