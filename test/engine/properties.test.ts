// Property tests over random schedules (fast-check) of the simulator in sim.ts, which runs the
// real engine and the real shim core (node-shim/core/) against a model of the kernel. Faults:
// host crashes, shims SIGKILLed, SIGSTOPped (alone or with their nft/ip sessions) or stopped by
// SIGTERM, partitions, lost requests or replies, delays up to a full TTL, failing services,
// failing `ip`, cut failsafe links, Durable Object restarts, switchovers, node maintenance, a node
// or a group removed from the spec and added back; with failsafe mode on or off.
//
// Safety, on VIPs (what the kernel would let through, including the lease filter's lateness):
// never one VIP effective on two hosts at the same real instant. Epochs only grow and are never
// granted twice. Liveness, always: once every fault has ended, some host serves the API VIP within
// a bound, and after that host dies (crash, or its shim SIGKILLed) another one does within
// (T + margin + interval)(1 + 2·drift) + 3·max delay (+ 100 ms for the kernel operations).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fuzzSeed } from "../support/fuzz-seed.js";
import { type Fault, LOCAL_MARGIN_MS, overlaps, POLICY, simulate, type SimParams, type SimResult } from "./sim.js";

const RUNS = Number(process.env.CHIME_PROPERTY_RUNS ?? 1000);
const MAX_DELAY = 150;
// Drift bound: the margins cover |rho| <= 1 % on every clock.
const DRIFT = 0.01;
const T = POLICY.leaseTtlMs;
const M = POLICY.driftMarginMs;
const I = POLICY.heartbeatIntervalMs;
const FAULTS_UNTIL = 20_000;
const LONGEST = 3 * T + 500; // a SIGSTOP of three lease TTLs
const HEAL = FAULTS_UNTIL + LONGEST;
/** After every fault has ended: a DO grace, a lease and its margin waited out, hold-down, heartbeats. */
const HEAL_BOUND = 2 * (T + M) + 2 * I + POLICY.holdDownMs + 1000;
const FINAL = HEAL + HEAL_BOUND + 1000;
const FAILOVER_BOUND = (T + M + I) * (1 + 2 * DRIFT) + 3 * MAX_DELAY + 100;

const at = fc.integer({ min: 0, max: FAULTS_UNTIL });
const dur = fc.integer({ min: 100, max: 6000 });
const down = fc.integer({ min: 100, max: 6000 });
const fault = (servers: number): fc.Arbitrary<Fault> => {
  const node = fc.integer({ min: 0, max: servers - 1 });
  const w = (weight: number, arbitrary: fc.Arbitrary<Fault>) => ({ weight, arbitrary });
  return fc.oneof(
    w(2, fc.record({ at, kind: fc.constant("crash" as const), node, downFor: down })),
    w(3, fc.record({ at, kind: fc.constant("kill" as const), node, downFor: down })),
    w(3, fc.record({ at, kind: fc.constant("stop" as const), node, for: fc.integer({ min: 100, max: LONGEST }), group: fc.boolean(), atWrite: fc.boolean() })),
    w(3, fc.record({ at, kind: fc.constant("term" as const), node, downFor: down })),
    w(2, fc.record({ at, kind: fc.constant("partition" as const), node, for: dur })),
    w(2, fc.record({ at, kind: fc.constant("loss" as const), node, for: dur, dir: fc.constantFrom("req" as const, "rep" as const) })),
    w(2, fc.record({ at, kind: fc.constant("slow" as const), node, for: dur })),
    w(4, fc.record({ at, kind: fc.constant("unhealthy" as const), node, for: dur })),
    w(2, fc.record({ at, kind: fc.constant("ip-fail" as const), node, for: dur })),
    w(2, fc.record({ at, kind: fc.constant("nft-fail" as const), node, for: dur })),
    w(1, fc.record({ at, kind: fc.constant("peer-cut" as const), node, for: dur })),
    w(2, fc.record({ at, kind: fc.constant("do-restart" as const), downFor: fc.integer({ min: 0, max: 3000 }) })),
    w(4, fc.record({ at, kind: fc.constant("switchover" as const), to: fc.option(node, { nil: null }) })),
    w(1, fc.record({ at, kind: fc.constant("maintenance" as const), node, for: dur })),
    w(2, fc.record({ at, kind: fc.constant("remove-node" as const), node, for: dur })),
    w(2, fc.record({ at, kind: fc.constant("remove-group" as const), for: dur })),
  );
};

const schedule: fc.Arbitrary<SimParams> = fc.integer({ min: 2, max: 3 }).chain((servers) =>
  fc.record({
    servers: fc.constant(servers),
    nodes: fc.array(fc.record({ drift: fc.double({ min: -DRIFT, max: DRIFT, noNaN: true }) }), { minLength: 3, maxLength: 3 }),
    doDrift: fc.double({ min: -DRIFT, max: DRIFT, noNaN: true }),
    maxDelayMs: fc.constant(MAX_DELAY),
    seed: fc.integer(),
    faults: fc.array(fault(servers), { maxLength: 12 }),
    healAt: fc.constant(HEAL),
    finalCrashAt: fc.constant(FINAL),
    finalKind: fc.constantFrom("crash" as const, "kill" as const),
    durationMs: fc.constant(FINAL + FAILOVER_BOUND + 1000),
    failsafe: fc.boolean(),
  }),
);

/** Every property; throws with what went wrong. */
function check(r: SimResult): void {
  const bad = overlaps(r.effective);
  if (bad.length > 0) {
    const [a, b] = bad[0]!;
    throw new Error(`split brain: ${a.vip} effective on ${a.node} [${a.start.toFixed(1)}, ${a.end.toFixed(1)}) and ${b.node} [${b.start.toFixed(1)}, ${b.end.toFixed(1)})`);
  }
  for (const list of [...Object.values(r.grantedEpochs), ...Object.values(r.persistedEpochs)]) {
    for (let i = 1; i < list.length; i++) if (list[i]! < list[i - 1]!) throw new Error(`epoch went back: ${list.join(",")}`);
  }
  for (const list of Object.values(r.grantedEpochs)) if (new Set(list).size !== list.length) throw new Error(`epoch granted twice: ${list.join(",")}`);
  // Liveness, always: served after the faults end, and again after the holder dies.
  if (r.heal.servedAt === null || r.heal.servedAt - r.heal.at > HEAL_BOUND) throw new Error(`not served within ${HEAL_BOUND} ms after every fault ended (served at ${r.heal.servedAt})`);
  const f = r.finalCrash;
  if (f.holder === null) throw new Error(`nobody served the API VIP at ${f.at}`);
  if (f.recoveredAt === null) throw new Error(`no failover after ${f.holder} died at ${f.at}`);
  if (f.recoveredAt - f.at > FAILOVER_BOUND) throw new Error(`failover took ${Math.round(f.recoveredAt - f.at)} ms > bound ${Math.round(FAILOVER_BOUND)} ms`);
}

describe("one VIP on one host, under random faults, with the real engine and the real shim core", () => {
  it(`never two hosts with a VIP effective, epochs grow, always live (${RUNS} schedules)`, () => {
    const seed = fuzzSeed("lease properties", process.env.CHIME_PROPERTY_SEED ?? process.env.CHIME_FUZZ_SEED);
    let schedules = 0;
    let events = 0;
    let handoffs = 0;
    const started = performance.now();
    fc.assert(
      fc.property(schedule, (p) => {
        schedules++;
        const r = simulate(p);
        events += r.events;
        handoffs += r.handoffs;
        check(r);
      }),
      { numRuns: RUNS, seed },
    );
    expect(schedules).toBeGreaterThanOrEqual(RUNS);
    // The schedules exercise direct handoffs (a holder's probe failing), not only the slow path.
    expect(handoffs).toBeGreaterThan(0);
    console.log(`lease properties held over ${schedules} random schedules (${events} events, ${handoffs} direct handoffs taken) in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }, 600_000);

  // Shrunk counterexamples the random search once found, replayed on every run.
  const REGRESSIONS: { why: string; schedule: SimParams }[] = [
    {
      // nft fails on server2; SIGTERM cannot unlease, systemd's stop timeout ends the process and
      // a new one is granted the group again, cannot set up its tables, and is told to release: it
      // said `released` before reading anything back while the old element still passed traffic
      // (88 ms of split brain). Fixed in node-shim/core/kernel.ts (nothing is gone before a read).
      why: "a restarted shim released a VIP it had not read back (seed 98214457)",
      schedule: {
        servers: 2, nodes: [{ drift: 0 }, { drift: 0 }, { drift: 0 }], doDrift: 0, maxDelayMs: 150, seed: 1721143397,
        faults: [{ at: 4787, kind: "nft-fail", node: 1, for: 1762 }, { at: 5677, kind: "term", node: 1, downFor: 106 }, { at: 680, kind: "kill", node: 0, downFor: 617 }],
        healAt: 29500, finalCrashAt: 42500, finalKind: "crash", durationMs: 48640, failsafe: false,
      },
    },
    {
      // server1's messages are slow (up to a TTL); SIGTERM: it releases and sends its final
      // heartbeat, which arrives after the new process has adopted the lease, and so does a
      // renewal request sent before the stop. The old process took the lease back, then its
      // `released` freed the group while the new one carried the portal VIP (0.4 ms of split
      // brain). Fixed in worker/engine/on-heartbeat.ts (replaced processes are ignored).
      why: "a late heartbeat from a replaced shim process released its successor's lease (seed 141504364)",
      schedule: {
        servers: 3, nodes: [{ drift: 0 }, { drift: -0.00942242233935281 }, { drift: 0 }], doDrift: 0, maxDelayMs: 150, seed: -1478737622,
        faults: [{ at: 11699, kind: "slow", node: 0, for: 5313 }, { at: 16991, kind: "term", node: 0, downFor: 217 }],
        healAt: 29500, finalCrashAt: 42500, finalKind: "crash", durationMs: 48640, failsafe: true,
      },
    },
    {
      // Failsafe: server1's requests are lost; it keeps server-api on server3's promise (its peer
      // list predates server2's return to the spec). The group is removed and added again: the
      // retired VIP waited only for server1's lease to end, and server2, never asked for a
      // promise, was granted it while server1 still carried it (50 ms of split brain). Fixed in
      // on-spec.ts / lease-rules.ts (RetiredGroup.knownBy).
      why: "a removed and re-added group went to a member its failsafe holder never asked (CHIME_FUZZ_SEED=469298669 with CHIME_PROPERTY_RUNS=2000)",
      schedule: {
        servers: 3, nodes: [{ drift: 0 }, { drift: 0 }, { drift: 0 }], doDrift: 0, maxDelayMs: 150, seed: 0,
        faults: [{ at: 5119, kind: "remove-group", for: 589 }, { at: 1, kind: "term", node: 1, downFor: 303 }, { at: 2682, kind: "loss", node: 0, for: 2722, dir: "req" }, { at: 0, kind: "remove-node", node: 1, for: 3976 }],
        healAt: 29500, finalCrashAt: 42500, finalKind: "crash", durationMs: 48640, failsafe: true,
      },
    },
    {
      // server2's messages are slow; SIGTERM: its final heartbeat (released, leaving) arrives
      // after its successor took the portal group over, and after a spec change (server-api
      // removed and added again) that forgot the replaced processes: the old process's
      // `released` freed the group while the new one still carried the VIP (2.4 s of split
      // brain). Fixed in worker/engine/on-spec.ts (retiredBoots carried over).
      why: "a spec change forgot the replaced shim processes (CHIME_FUZZ_SEED=222353043 with CHIME_PROPERTY_RUNS=2000)",
      schedule: {
        servers: 3, nodes: [{ drift: 0 }, { drift: 0 }, { drift: 0 }], doDrift: 0, maxDelayMs: 150, seed: -1636814464,
        faults: [{ at: 7714, kind: "remove-group", for: 952 }, { at: 8542, kind: "term", node: 1, downFor: 100 }, { at: 7409, kind: "slow", node: 1, for: 1164 }],
        healAt: 29500, finalCrashAt: 42500, finalKind: "crash", durationMs: 48640, failsafe: false,
      },
    },
  ];
  for (const r of REGRESSIONS) it(`holds on a schedule that once broke it: ${r.why}`, () => check(simulate(r.schedule)));

  // The property test must be able to fail: weaken what keeps the VIP on one host and it does.
  const caught = (what: string, tweak: Partial<SimParams>) => {
    const seed = fuzzSeed(`property test catches ${what}`, process.env.CHIME_PROPERTY_SEED ?? process.env.CHIME_FUZZ_SEED);
    const out = fc.check(
      fc.property(schedule, (p) => check(simulate({ ...p, ...tweak }))),
      { numRuns: 500, seed },
    );
    expect(out.failed, `${what}: no violation found in ${out.numRuns} schedules`).toBe(true);
    expect(String(out.errorInstance)).toMatch(/split brain/);
    console.log(`${what}: caught after ${out.numRuns} schedule(s): ${String(out.errorInstance).split("\n")[0]!.slice(0, 200)}`);
  };

  it("catches a control plane that grants 300 ms before the shims' leases can have ended (margin weakened)", () => {
    caught("a weakened margin", { engineEarlyMs: M + LOCAL_MARGIN_MS + 300 });
  }, 120_000);

  it("catches VIPs left to the shim alone (no kernel lease filter): a killed or stopped shim keeps answering", () => {
    caught("no kernel lease filter", { noKernelFilter: true });
  }, 120_000);
});
