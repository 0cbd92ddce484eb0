// How the engine tells a held-up heartbeat (worker/engine/on-heartbeat.ts, heldUp): per shim
// process it keeps the least transit seen (receipt minus the shim's send time, on two unrelated
// clocks), allowing 1,000 ppm of drift since; a heartbeat whose transit exceeds that by more than
// the late-after time (1.5 s here) spent that long in the network. Held-up heartbeats that keep
// coming for a heartbeat interval mean the path got slower: their transit becomes the measure.
import { describe, expect, it } from "vitest";
import { Shell, smallSpec } from "./support/small-spec.js";

const OK = { healthy: true, detail: "ok" };

/** A heartbeat received at `now`, sent when the shim's clock read `sentMs`. */
const beat = (sh: Shell, now: number, sentMs: number | undefined, bootId = "b1") => {
  sh.beat("server1", now, { bootId, probes: { api: OK }, ...(sentMs === undefined ? {} : { sentMs }) });
  return sh.state.nodes.server1!.transit;
};

describe("held-up heartbeats", () => {
  it("the least transit with drift allowed since; held up past 1.5 s more; a new measure after a heartbeat interval of them", () => {
    const sh = new Shell(smallSpec());
    expect(beat(sh, 1000, 10_000)).toEqual({ least: -9000, at: 1000, heldUpSince: null });
    // Same transit a second later: the old least plus 1 ms of drift is not less.
    expect(beat(sh, 2000, 11_000)).toEqual({ least: -9000, at: 2000, heldUpSince: null });
    // 2 s more transit: held up (the least, 3 s on, may have drifted 3 ms).
    expect(beat(sh, 5000, 12_000)).toEqual({ least: -8997, at: 5000, heldUpSince: 5000 });
    expect(beat(sh, 5500, 12_500)).toEqual({ least: -8996.5, at: 5500, heldUpSince: 5000 });
    // A heartbeat interval of held-up ones: the path is slower now.
    expect(beat(sh, 6000, 13_000)).toEqual({ least: -7000, at: 6000, heldUpSince: null });
    expect(beat(sh, 7000, 14_000)).toEqual({ least: -7000, at: 7000, heldUpSince: null });
  });

  it("exactly 1.5 s more is not held up; a heartbeat without a send time changes nothing; a new shim process starts afresh", () => {
    const sh = new Shell(smallSpec());
    beat(sh, 1000, 10_000);
    // Received at the same instant with exactly 1.5 s more transit (no drift allowance yet).
    expect(beat(sh, 1000, 8_500)).toEqual({ least: -9000, at: 1000, heldUpSince: null });
    expect(beat(sh, 2500, 10_000)).toEqual({ least: -9000 + 1.5, at: 2500, heldUpSince: null });
    expect(beat(sh, 3000, undefined)).toEqual({ least: -9000 + 1.5, at: 2500, heldUpSince: null });
    expect(beat(sh, 4000, 50_000, "b2")).toEqual({ least: -46_000, at: 4000, heldUpSince: null });
  });
});
