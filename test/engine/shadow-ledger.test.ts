// The shadow ledger itself (worker/engine/shadow.ts), on entries written by hand: how each entry
// is judged at a time (agreed, disagreed, only one side moved, still pending within 30 s, split
// brain) with its text and time difference, the per-group summary (median and largest agreed
// difference), and how chime-ha's own moves pair with the incumbent's: the same destination first,
// else the oldest open move, only within SHADOW_MATCH_MS, never with a split brain or a first
// sighting; the first holder completes the first comparison; the ledger keeps 200 entries.
import { describe, expect, it } from "vitest";
import type { EngineState } from "../../worker/engine/index.js";
import { boot, newPersistedState, SHADOW_MATCH_MS, shadowReport } from "../../worker/engine/index.js";
import { StepCtx } from "../../worker/engine/context.js";
import { chimeMoves, MAX_SHADOW_ENTRIES, type ShadowEntry, shadowLine } from "../../worker/engine/shadow.js";
import { API_GROUP, smallSpec } from "./support/small-spec.js";

const WEB = { ...API_GROUP, name: "web", vip: "192.168.231.20" };
const T0 = Date.UTC(2026, 10, 30, 6, 0);

/** api is a shadow group (web only when `webShadow`), with the entries given. */
function state(entries: ShadowEntry[], opts: { webShadow?: boolean; holder?: Record<string, string | null> } = {}): EngineState {
  const spec = smallSpec({ groups: [{ ...API_GROUP, shadow: true }, { ...WEB, shadow: opts.webShadow ?? false }] });
  const s = boot(newPersistedState("dc1.small", spec, 1), T0 - 60_000);
  s.persisted.shadow = { hosts: {}, holder: opts.holder ?? { api: "server2" }, entries };
  return s;
}

const k = (to: string | null, at: number, extra: Partial<NonNullable<ShadowEntry["keepalived"]>> = {}) => ({ to, at, ...extra });
const c = (to: string | null, at: number, epoch = 2) => ({ to, at, epoch });

describe("shadow ledger: verdicts", () => {
  it("each entry judged with its text and difference; pending for 30 s, then one side only", () => {
    const entries: ShadowEntry[] = [
      { group: "api", keepalived: k("server1", T0, { initial: true }), chimeHa: c("server1", T0 + 500, 1) },
      { group: "api", keepalived: k("server2", T0 + 100_000), chimeHa: c("server2", T0 + 100_080) },
      { group: "api", keepalived: k("server1", T0 + 200_000), chimeHa: c("server1", T0 + 200_000, 3) },
      { group: "api", keepalived: k("server2", T0 + 300_000), chimeHa: c("server1", T0 + 298_500, 4) },
      { group: "api", keepalived: k("server1", T0 + 400_000), chimeHa: c("server1", T0 + 401_000, 5) },
      { group: "api", keepalived: k(null, T0 + 500_000, { dual: ["server1", "server2"] }), chimeHa: null },
      { group: "api", keepalived: k("server2", T0 + 600_000), chimeHa: null },
      { group: "api", keepalived: null, chimeHa: c("server2", T0 + 600_000, 6) },
      { group: "web", keepalived: k("server1", T0 + 600_000), chimeHa: c("server2", T0 + 600_001, 1) },
    ];
    const s = state(entries);
    s.groups.api = { ...s.groups.api!, holder: "server1" };
    const judged = (now: number) => shadowReport(s, now)[0]!.entries.map((e) => [e.verdict, e.deltaMs, e.text]);
    const common = [
      ["agreed", null, "both start with server1"],
      ["agreed", 80, "both moved to server2; chime-ha 80 ms after keepalived"],
      ["agreed", 0, "both moved to server1; chime-ha at the same time"],
      ["disagreed", -1500, "keepalived moved to server2, chime-ha to server1 (1.50 s before keepalived)"],
      ["agreed", 1000, "both moved to server1; chime-ha 1.00 s after keepalived"],
      ["keepalived-split-brain", null, "keepalived had the VIP on server1 and server2 at once"],
    ];
    expect(judged(T0 + 600_000 + SHADOW_MATCH_MS)).toEqual([
      ...common,
      ["pending", null, "keepalived moved to server2; chime-ha has not (yet)"],
      ["pending", null, "chime-ha would have moved to server2; keepalived has not (yet)"],
    ]);
    expect(judged(T0 + 600_001 + SHADOW_MATCH_MS)).toEqual([
      ...common,
      ["keepalived-only", null, "keepalived moved to server2; chime-ha would not have moved"],
      ["chime-ha-only", null, "chime-ha would have moved to server2; keepalived did not"],
    ]);
    const r = shadowReport(s, T0 + 700_000)[0]!;
    expect(r).toMatchObject({ group: "api", shadow: true, keepalivedHolder: "server2", chimeHaHolder: "server1" });
    // Moves: the incumbent's, not its first sighting or a split brain. Differences: agreed moves only.
    expect(r.summary).toEqual({ keepalivedMoves: 5, agreed: 3, disagreed: 1, keepalivedOnly: 1, chimeHaOnly: 1, splitBrain: 1, medianDeltaMs: 80, maxAbsDeltaMs: 1000 });
    expect(shadowLine(r.entries[1]!)).toBe("2026-11-30T06:01:40.000Z api: both moved to server2; chime-ha 80 ms after keepalived");
    expect(shadowLine(r.entries[7]!)).toBe("2026-11-30T06:10:00.000Z api: chime-ha would have moved to server2; keepalived did not");
    const web = shadowReport(s, T0 + 700_000)[1]!;
    expect(web).toMatchObject({ group: "web", shadow: false, keepalivedHolder: null });
    expect(web.entries.map((e) => e.text)).toEqual(["keepalived moved to server1, chime-ha to server2 (1 ms after keepalived)"]);
    expect(web.summary).toMatchObject({ keepalivedMoves: 1, agreed: 0, disagreed: 1, medianDeltaMs: null, maxAbsDeltaMs: null });
  });

  it("the median is the lower middle of the agreed differences, sorted by value; a first start that disagrees names no holder", () => {
    const at = (d: number, i: number): ShadowEntry => ({ group: "api", keepalived: k("server1", T0 + i * 100_000), chimeHa: c("server1", T0 + i * 100_000 + d, i + 2) });
    const s = state([{ group: "api", keepalived: k("server1", T0 - 1000, { initial: true }), chimeHa: c(null, T0 - 900, 0) }, at(900, 1), at(-2000, 2), at(100, 3), at(50, 4)]);
    const r = shadowReport(s, T0 + 1_000_000)[0]!;
    expect(r.entries[0]!.text).toBe("keepalived starts with server1, chime-ha with no holder");
    expect(r.entries[0]!.verdict).toBe("disagreed");
    expect(r.entries[2]!.text).toBe("both moved to server1; chime-ha 2.00 s before keepalived");
    expect(r.summary.medianDeltaMs).toBe(50);
    expect(r.summary.maxAbsDeltaMs).toBe(2000);
    expect(r.summary.disagreed).toBe(0);
  });
});

describe("shadow ledger: pairing chime-ha's moves", () => {
  /** chime-ha moves api to `to` at epoch 3 at `now` (from epoch 2). */
  function move(s: EngineState, to: string, now: number): ShadowEntry[] {
    const before = structuredClone(s);
    before.groups.api = { ...before.groups.api!, holder: "server1", epoch: 2 };
    s.groups.api = { ...s.groups.api!, holder: to, epoch: 3, phase: "held" };
    const ctx = new StepCtx(s, now);
    chimeMoves(ctx, before);
    return ctx.state.persisted.shadow!.entries;
  }

  it("the same destination first, though an older open move exists", () => {
    const older = { group: "api", keepalived: k("server3", T0 - 20_000), chimeHa: null };
    const same = { group: "api", keepalived: k("server2", T0 - 10_000), chimeHa: null };
    expect(move(state([older, same]), "server2", T0)).toEqual([older, { ...same, chimeHa: c("server2", T0, 3) }]);
  });

  it("else the oldest open move within the window (a disagreement); exactly 30 s apart still pairs", () => {
    const oldest = { group: "api", keepalived: k("server3", T0 - SHADOW_MATCH_MS), chimeHa: null };
    const newer = { group: "api", keepalived: k("server1", T0 - 1000), chimeHa: null };
    expect(move(state([oldest, newer]), "server2", T0)).toEqual([{ ...oldest, chimeHa: c("server2", T0, 3) }, newer]);
  });

  it("never with a move older than 30 s, another group's, a split brain, a first sighting, a paired one or one of chime-ha's own", () => {
    const entries: ShadowEntry[] = [
      { group: "api", keepalived: k("server2", T0 - SHADOW_MATCH_MS - 1), chimeHa: null },
      { group: "web", keepalived: k("server2", T0 - 1000), chimeHa: null },
      { group: "api", keepalived: k(null, T0 - 1000, { dual: ["server1", "server2"] }), chimeHa: null },
      { group: "api", keepalived: k("server2", T0 - 1000, { initial: true }), chimeHa: null },
      { group: "api", keepalived: k("server2", T0 - 1000), chimeHa: c("server2", T0 - 900) },
      { group: "api", keepalived: null, chimeHa: c("server2", T0 - 800) },
    ];
    expect(move(state(entries), "server2", T0)).toEqual([...entries, { group: "api", keepalived: null, chimeHa: c("server2", T0, 3) }]);
  });

  it("the ledger keeps the newest 200 entries", () => {
    const many = (n: number) => Array.from({ length: n }, (_, i): ShadowEntry => ({ group: "web", keepalived: k("server1", T0 - 100_000 + i), chimeHa: null }));
    const full = move(state(many(MAX_SHADOW_ENTRIES - 1)), "server2", T0);
    expect(full).toHaveLength(MAX_SHADOW_ENTRIES);
    expect(full[0]!.keepalived!.at).toBe(T0 - 100_000);
    const over = move(state(many(MAX_SHADOW_ENTRIES)), "server2", T0);
    expect(over).toHaveLength(MAX_SHADOW_ENTRIES);
    expect(over[0]!.keepalived!.at).toBe(T0 - 100_000 + 1);
    expect(over.at(-1)).toEqual({ group: "api", keepalived: null, chimeHa: c("server2", T0, 3) });
  });

  it("the first holder is no move: it completes the incumbent's first sighting; groups not in shadow mode are not followed", () => {
    const first = { group: "api", keepalived: k("server1", T0 - 5000, { initial: true }), chimeHa: c(null, T0 - 5000, 0) };
    const webFirst = { group: "web", keepalived: k("server1", T0 - 5000, { initial: true }), chimeHa: c(null, T0 - 5000, 0) };
    const s = state([webFirst, first]);
    const before = structuredClone(s);
    s.groups.api = { ...s.groups.api!, holder: "server1", epoch: 1, phase: "held" };
    s.groups.web = { ...s.groups.web!, holder: "server1", epoch: 1, phase: "held" };
    const ctx = new StepCtx(s, T0);
    chimeMoves(ctx, before);
    expect(ctx.state.persisted.shadow!.entries).toEqual([webFirst, { ...first, chimeHa: c("server1", T0, 1) }]);
    expect(ctx.persistNeeded).toBe(true);
    // No first sighting to complete: nothing is written.
    const quiet = state([]);
    const b2 = structuredClone(quiet);
    quiet.groups.api = { ...quiet.groups.api!, holder: "server1", epoch: 1, phase: "held" };
    const ctx2 = new StepCtx(quiet, T0);
    chimeMoves(ctx2, b2);
    expect(ctx2.state.persisted.shadow!.entries).toEqual([]);
    expect(ctx2.persistNeeded).toBe(false);
  });
});
