// Property tests over random fault schedules (fast-check): nodes with random network delay and
// clock-rate drift within the bound, holder crashes, partitions, failing services and Durable
// Object restarts. Invariants: never two nodes with a valid local lease for one group at the same
// instant; epochs only grow; a live healthy candidate holds the group within
// T + margin + one heartbeat interval (+ delays) of the holder's death.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fuzzSeed } from "../support/fuzz-seed.js";
import { type Fault, overlaps, POLICY, simulate, type SimParams } from "./sim.js";

const RUNS = Number(process.env.CHIME_PROPERTY_RUNS ?? 1000);
const MAX_DELAY = 150;
// Drift bound: the control plane's margin (500 ms on T = 3 s) covers |rho| <= 1% on both sides.
const DRIFT = 0.01;

const fault = (servers: number, horizon: number): fc.Arbitrary<Fault> =>
  fc.oneof(
    fc.record({ at: fc.integer({ min: 0, max: horizon }), kind: fc.constant("crash" as const), node: fc.integer({ min: 0, max: servers - 1 }), downFor: fc.integer({ min: 100, max: 8000 }) }),
    fc.record({ at: fc.integer({ min: 0, max: horizon }), kind: fc.constant("partition" as const), node: fc.integer({ min: 0, max: servers - 1 }), for: fc.integer({ min: 100, max: 8000 }) }),
    fc.record({ at: fc.integer({ min: 0, max: horizon }), kind: fc.constant("unhealthy" as const), node: fc.integer({ min: 0, max: servers - 1 }), for: fc.integer({ min: 100, max: 8000 }) }),
    fc.record({ at: fc.integer({ min: 0, max: horizon }), kind: fc.constant("do-restart" as const), downFor: fc.integer({ min: 0, max: 3000 }) }),
  );

const schedule: fc.Arbitrary<SimParams> = fc.integer({ min: 2, max: 3 }).chain((servers) =>
  fc.record({
    servers: fc.constant(servers),
    nodes: fc.array(fc.record({ drift: fc.double({ min: -DRIFT, max: DRIFT, noNaN: true }) }), { minLength: 3, maxLength: 3 }),
    doDrift: fc.double({ min: -DRIFT, max: DRIFT, noNaN: true }),
    maxDelayMs: fc.constant(MAX_DELAY),
    seed: fc.integer(),
    faults: fc.array(fault(servers, 25_000), { maxLength: 12 }),
    durationMs: fc.constant(45_000),
    // Faults stop by 33 s (the longest lasts 8 s); then the holder dies and nobody else fails.
    finalCrashAt: fc.constant(36_000),
  }),
);

describe("lease protocol under random faults", () => {
  let schedules = 0;
  it(`keeps one holder per group, grows epochs, and fails over in time (${RUNS} schedules)`, () => {
    const seed = fuzzSeed("lease properties", process.env.CHIME_PROPERTY_SEED ?? process.env.CHIME_FUZZ_SEED);
    fc.assert(
      fc.property(schedule, (p) => {
        schedules++;
        const r = simulate(p);
        // Safety: no instant with two valid local leases for one group.
        const bad = overlaps(r.intervals);
        if (bad.length > 0) throw new Error(`split brain: ${JSON.stringify(bad[0])}`);
        // Epochs only grow: every grant and every persisted epoch, across DO restarts.
        for (const list of [...Object.values(r.grantedEpochs), ...Object.values(r.persistedEpochs)]) {
          for (let i = 1; i < list.length; i++) if (list[i]! < list[i - 1]!) throw new Error(`epoch went back: ${list.join(",")}`);
        }
        for (const list of Object.values(r.grantedEpochs)) if (new Set(list).size !== list.length) throw new Error(`epoch granted twice: ${list.join(",")}`);
        // Liveness: after the final crash a live healthy candidate holds within the bound.
        const f = r.finalCrash!;
        if (f.holder !== null) {
          const bound = (POLICY.leaseTtlMs + POLICY.driftMarginMs + POLICY.heartbeatIntervalMs) * (1 + 2 * DRIFT) + 3 * MAX_DELAY + 50;
          if (f.recoveredAt === null) throw new Error(`no failover after ${f.holder} died at ${f.at}`);
          if (f.recoveredAt - f.at > bound) throw new Error(`failover took ${Math.round(f.recoveredAt - f.at)} ms > bound ${Math.round(bound)} ms`);
        }
      }),
      { numRuns: RUNS, seed },
    );
    expect(schedules).toBeGreaterThanOrEqual(RUNS);
    console.log(`lease properties held over ${schedules} random fault schedules`);
  }, 240_000);
});
