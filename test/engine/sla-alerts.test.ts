// Burn-rate alerts (worker/engine/sla.ts, evaluateBurn), on a ledger written by hand: a rule holds
// when both its windows burn at least its rate (exactly the rate is enough); a page (critical
// rules) wins over a ticket (the warning rule); each is one note under its own key, raised once and
// resolved with its own windows in the text, also when the group has been quiet for days since.
// Target 75 % here: its budget share (0.25) is exact in binary, so rates land exactly on the rules.
import { describe, expect, it } from "vitest";
import { addInterval, emptyMonth, type GroupLedger, type LedgerInterval, monthOf } from "../../worker/engine/ledger.js";
import { boot, newPersistedState } from "../../worker/engine/index.js";
import type { EngineEffect, EngineState } from "../../worker/engine/index.js";
import { StepCtx } from "../../worker/engine/context.js";
import { DAY_MS, evaluateBurn, HOUR_MS, MIN_MS } from "../../worker/engine/sla.js";
import { smallSpec } from "./support/small-spec.js";

const NOW = Date.UTC(2026, 10, 20, 12);
const down = (start: number, end: number): LedgerInterval => ({ group: "api", kind: "down", start, end, origin: start, startReason: "b", endReason: "e", holder: "server1", epoch: 1 });
const up = (start: number): GroupLedger => ({ since: 0, open: { kind: "up", start, origin: start, reason: "server1 serves api at epoch 1", cause: "held", holder: "server1", epoch: 1 } });

/** The state at NOW (or `now`) with the closed outages given (api up since the last one ended), target `target`. */
function stateWith(outages: [number, number][], target: number, notes: Record<string, string> = {}): EngineState {
  const spec = smallSpec({ edit: (s) => void (s.sla = { target }) });
  const s = boot(newPersistedState("dc1.small", spec, 1), NOW - 10 * DAY_MS);
  const months: Record<string, ReturnType<typeof emptyMonth>> = {};
  for (const [a, b] of outages) months[monthOf(a)] = addInterval(months[monthOf(a)] ?? emptyMonth(monthOf(a)), down(a, b));
  s.ledger = { months, lastDownEnd: outages.length ? { api: Math.max(...outages.map(([, b]) => b)) } : {} };
  s.persisted.ledger = { api: up(outages.length ? Math.max(...outages.map(([, b]) => b)) : 0) };
  s.persisted.notes = notes;
  return s;
}

function evaluate(s: EngineState, now = NOW): { ctx: StepCtx; events: Extract<EngineEffect, { type: "event" }>[] } {
  const ctx = new StepCtx(s, now);
  evaluateBurn(ctx);
  return { ctx, events: ctx.effects.filter((e): e is Extract<EngineEffect, { type: "event" }> => e.type === "event") };
}

describe("burn alerts", () => {
  it("a ticket at exactly 1x over both its windows (18 h of 3 days, 1.5 h of 6 h at 75 %): one warning under its own key", () => {
    // 16.5 h down two days ago, and 1.5 h down ending an hour ago: 18 h in 3 days, 1.5 h in 6 h.
    const s = stateWith([[NOW - 2 * DAY_MS, NOW - 2 * DAY_MS + 16.5 * HOUR_MS], [NOW - 2.5 * HOUR_MS, NOW - HOUR_MS]], 75);
    const { ctx, events } = evaluate(s);
    expect(ctx.state.persisted.notes).toEqual({ "burn-ticket:api": "ticket" });
    expect(events).toEqual([
      {
        type: "event",
        kind: "sla.burn",
        severity: "warning",
        reason: "api burns its error budget 1.0x as fast as its 75 % target allows: 18 h down in the last 3 days, 1.0x over the last 6 h (alert at 1x on both); the 30-day budget is 180 h",
        actor: "engine",
        group: "api",
        incident: "sla-ticket:api",
      },
    ]);
    expect(ctx.persistNeeded).toBe(true);
    // Said once.
    expect(evaluate(ctx.state, NOW + MIN_MS).events).toEqual([]);
  });

  it("a ms under the rate in either window is no alert", () => {
    const short = stateWith([[NOW - 2 * DAY_MS, NOW - 2 * DAY_MS + 16.5 * HOUR_MS], [NOW - 2.5 * HOUR_MS + 1, NOW - HOUR_MS]], 75);
    expect(evaluate(short).events).toEqual([]);
    const long = stateWith([[NOW - 2 * DAY_MS + 1, NOW - 2 * DAY_MS + 16.5 * HOUR_MS], [NOW - 2.5 * HOUR_MS, NOW - HOUR_MS]], 75);
    expect(evaluate(long).events).toEqual([]);
    expect(long.persisted.notes).toEqual({});
  });

  it("the slow page: 6x over 6 h and over 30 min (99.5 %: 648 s and 54 s) while the fast one does not hold; a page, not a ticket, though the ticket's rule holds too", () => {
    // 11 min down 3 h ago and 1 min down 20 min ago: 12 min in 6 h (6.7x), 1 min in 30 min (6.7x),
    // but only 1 min in the last hour (fast needs 259.2 s).
    const s = stateWith([[NOW - 3 * HOUR_MS, NOW - 3 * HOUR_MS + 11 * MIN_MS], [NOW - 20 * MIN_MS, NOW - 19 * MIN_MS]], 99.5);
    const { ctx, events } = evaluate(s);
    expect(ctx.state.persisted.notes).toEqual({ "burn-page:api": "slow" });
    expect(events.map((e) => [e.kind, e.severity, e.incident, e.reason])).toEqual([
      ["sla.burn", "critical", "sla-page:api", "api burns its error budget 6.7x as fast as its 99.5 % target allows: 12 min down in the last 6 h, 6.7x over the last 30 min (alert at 6x on both); the 30-day budget is 3.6 h"],
    ]);
  });

  it("a ticket resolves with its own windows in the text, also when the first step after it comes days later", () => {
    const s = stateWith([[NOW - 4 * DAY_MS, NOW - 4 * DAY_MS + 10 * MIN_MS]], 75, { "burn-ticket:api": "ticket" });
    const { ctx, events } = evaluate(s);
    expect(ctx.state.persisted.notes).toEqual({});
    expect(events).toEqual([
      { type: "event", kind: "sla.burn-stopped", severity: "info", reason: "api no longer burns its error budget over days: 0.0x over the last 6 h, 0.0x over the last 3 days", actor: "engine", group: "api", incident: "sla-ticket:api", resolves: true },
    ]);
  });

  it("a page resolves with the fast rule's windows in the text, also when the group has been quiet for days", () => {
    const s = stateWith([[NOW - 4 * DAY_MS, NOW - 4 * DAY_MS + 10 * MIN_MS]], 99.5, { "burn-page:api": "fast" });
    const { ctx, events } = evaluate(s);
    expect(ctx.state.persisted.notes).toEqual({});
    expect(events.map((e) => [e.kind, e.reason, e.incident])).toEqual([["sla.burn-stopped", "api no longer burns its error budget fast: 0.0x over the last 5 min, 0.0x over the last 1 h", "sla-page:api"]]);
  });
});
