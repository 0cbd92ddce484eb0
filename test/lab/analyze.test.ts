// The lab's definitions of downtime and split-brain instants, on hand-made recordings (no
// namespaces needed): these numbers are what the bench table and the lab suite report.
import { describe, expect, it } from "vitest";
import { answerers, type ClientResult, dualMac, dualVip, interleavedAnswers, outage, stats, type VipSample } from "./analyze.js";

/** One request every 20 ms from t0: "s1" / "s2" answers, "x" fails. */
const client = (t0: number, pattern: string): ClientResult[] =>
  pattern.split(" ").map((p, i) => ({ t: t0 + i * 20, ok: p !== "x", who: p === "x" ? "ECONNREFUSED" : p }));

/** One sample every 10 ms from t0: "1" VIP (bit 0) configured, "0" not. */
const samples = (t0: number, bits: string): VipSample[] => [...bits].map((b, i) => ({ t: t0 + i * 10, mask: Number(b), effective: Number(b) }));

describe("lab analysis", () => {
  it("downtime runs from the first failure to the first success that starts a stable run", () => {
    const r = client(1000, "s1 s1 x x x s2 x s2 s2 s2 s2");
    // The good answer at 1100 is followed by a failure: the outage ends at 1140, the last bad one.
    expect(outage(r, 1000, 2000, 3)).toEqual({ failures: 4, requests: 11, firstFailAt: 1040, backAt: 1140, downtimeMs: 100, laterFailures: 0 });
    expect(outage(r, 1000, 1030).downtimeMs).toBe(0);
    // Still failing at the end of the window: not back.
    expect(outage(client(0, "s1 x x"), 0, 100)).toMatchObject({ failures: 2, backAt: null, downtimeMs: null });
    // A lone blip long after the service was stable is counted, not stretched into the downtime.
    const blip = client(0, "s1 x x s2 s2 s2 s2 s2 x s2 s2");
    expect(outage(blip, 0, 1000, 3)).toEqual({ failures: 3, requests: 11, firstFailAt: 20, backAt: 60, downtimeMs: 40, laterFailures: 1 });
  });

  it("counts a dual-VIP instant for every tick of either host that sees the VIP on both", () => {
    const s1 = samples(0, "1111100000");
    const s2 = samples(5, "0001111111");
    // s1's tick at 40 sees s2's sample at 35 (set; at 30 it sees 25, not set): 1.
    // s2's ticks at 35 and 45 see s1's samples at 30 and 40 (set): 2.
    expect(dualVip(s1, s2, 0, 0, 1000)).toEqual({ instants: 3, first: 35, last: 45 });
    // A handover with no overlap has none.
    expect(dualVip(samples(0, "1110000"), samples(5, "0000111"), 0, 0, 1000).instants).toBe(0);
    // Another bit, or outside the window: none.
    expect(dualVip(s1, s2, 1, 0, 1000).instants).toBe(0);
    expect(dualVip(s1, s2, 0, 50, 1000).instants).toBe(0);
  });

  it("does not read a stalled sampler's last sample as still configured", () => {
    const s1 = [{ t: 0, mask: 1, effective: 1 }];
    const s2 = samples(500, "111");
    expect(dualVip(s1, s2, 0, 0, 1000, 100).instants).toBe(0);
  });

  it("counts a VIP effective on two hosts, not one merely configured where the kernel fences it; ARP rounds with two MACs", () => {
    // s1 keeps the address after its lease element timed out (a killed shim): configured, not effective.
    const s1 = [...samples(0, "1111")].map((s, i) => ({ ...s, effective: i < 2 ? 1 : 0 }));
    const s2 = samples(25, "0111");
    expect(dualVip(s1, s2, 0, 0, 1000).instants).toBe(0);
    expect(dualVip(s1, s2, 0, 0, 1000, 100, "mask").instants).toBeGreaterThan(0);
    const rounds = [
      { t: 0, vip: 0, macs: ["aa"] },
      { t: 20, vip: 0, macs: ["aa", "bb"] },
      { t: 20, vip: 1, macs: ["aa", "bb"] },
      { t: 40, vip: 0, macs: [] },
    ];
    expect(dualMac(rounds, 0, 0, 1000)).toBe(1);
    expect(dualMac(rounds, 0, 30, 1000)).toBe(0);
  });

  it("counts answers that flip back to a host the client had left, within 2 s", () => {
    expect(interleavedAnswers(client(0, "s1 s1 x s2 s2 s2"), 0, 1000)).toBe(0);
    expect(interleavedAnswers(client(0, "s1 s2 s1 s1 s2"), 0, 1000)).toBe(3);
    // Going back much later is a second failover, not interleaving.
    const late = [...client(0, "s1 s2"), ...client(5000, "s1")];
    expect(interleavedAnswers(late, 0, 10_000)).toBe(0);
    expect(answerers(client(0, "x s1 s2 s1"), 0, 1000)).toEqual(["s1", "s2"]);
  });

  it("summarises runs as min / median / max", () => {
    expect(stats([300, 100, 200, 400])).toEqual({ min: 100, median: 250, max: 400 });
    expect(stats([5])).toEqual({ min: 5, median: 5, max: 5 });
    expect(stats([])).toBeNull();
  });
});
