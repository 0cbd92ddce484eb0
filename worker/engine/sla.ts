// Availability targets and error-budget burn alerts. Pure.
//
// A group's target (spec.groups[].sla, else spec.sla, else 99.5 %) leaves an error budget: the
// share of time it may be down (unplanned; planned gaps of switchovers, drains and drills do not
// count). Burn rate over a window = downtime in the window / (window x (1 - target)): 1 spends the
// budget exactly in its period, 14.4 spends 2 % of a 30-day budget in an hour. Alerts follow the
// multi-window, multi-burn-rate rules of the SRE workbook: each rule needs both its long window
// (is it significant?) and its short window (is it still happening?) over the threshold, so an
// alert fires within minutes of a bad outage and resolves within minutes of its end.
import { DEFAULT_SLA_TARGET, type ClusterSpec, type GroupSpec } from "../../protocol/spec.js";
import type { StepCtx } from "./context.js";
import type { GroupLedger, LedgerMemory } from "./ledger.js";

export const MIN_MS = 60_000;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

export interface BurnRule {
  id: "fast" | "slow" | "ticket";
  severity: "critical" | "warning";
  /** Burn rate both windows must reach. */
  rate: number;
  longMs: number;
  shortMs: number;
}

/** SRE workbook, for a 30-day budget: 2 % in 1 h, 5 % in 6 h (page), 10 % in 3 days (ticket). */
export const BURN_RULES: BurnRule[] = [
  { id: "fast", severity: "critical", rate: 14.4, longMs: HOUR_MS, shortMs: 5 * MIN_MS },
  { id: "slow", severity: "critical", rate: 6, longMs: 6 * HOUR_MS, shortMs: 30 * MIN_MS },
  { id: "ticket", severity: "warning", rate: 1, longMs: 3 * DAY_MS, shortMs: 6 * HOUR_MS },
];
const LOOKBACK_MS = 3 * DAY_MS;

export function targetOf(spec: ClusterSpec, group: GroupSpec): number {
  return group.sla?.target ?? spec.sla?.target ?? DEFAULT_SLA_TARGET;
}

/** Unplanned downtime of `group` within [from, to], from the months in memory and the open interval. */
export function downWithin(mem: LedgerMemory, led: GroupLedger | undefined, group: string, from: number, to: number): number {
  let ms = 0;
  for (const m of Object.values(mem.months)) {
    for (const iv of m.intervals) if (iv.group === group && iv.kind === "down") ms += Math.max(0, Math.min(iv.end, to) - Math.max(iv.start, from));
  }
  if (led?.open.kind === "down") ms += Math.max(0, to - Math.max(led.open.start, from));
  return ms;
}

export const burnRate = (downMs: number, windowMs: number, target: number) => downMs / (windowMs * (1 - target / 100));

/** "1 h", "5 min", "3 days", "17.3 min" */
export function span(ms: number): string {
  if (ms >= 2 * DAY_MS && ms % DAY_MS === 0) return `${ms / DAY_MS} days`;
  if (ms >= HOUR_MS) return `${+(ms / HOUR_MS).toFixed(1)} h`;
  if (ms >= MIN_MS) return `${+(ms / MIN_MS).toFixed(1)} min`;
  return `${+(ms / 1000).toFixed(1)} s`;
}

/**
 * After every step, per group: a page (`fast` or `slow` holds) and a ticket (`ticket` holds, no
 * page) are each one `sla.burn` incident, raised once (notes survive restarts) and resolved by
 * `sla.burn-stopped` as soon as their rules no longer hold: a page within its short window (5 or
 * 30 min) of the outage's end. Quiet groups (no unplanned downtime in the last 3 days, nothing
 * open) cost one comparison.
 */
export function evaluateBurn(ctx: StepCtx): void {
  const s = ctx.state;
  const now = ctx.now;
  for (const group of s.persisted.spec.groups) {
    const name = group.name;
    const led = s.persisted.ledger[name];
    const keys = { page: `burn-page:${name}`, ticket: `burn-ticket:${name}` };
    const anyOpen = ctx.hasNote(keys.page) || ctx.hasNote(keys.ticket);
    if (!anyOpen && led?.open.kind !== "down" && (s.ledger.lastDownEnd[name] ?? -Infinity) < now - LOOKBACK_MS) continue;
    const target = targetOf(s.persisted.spec, group);
    const down = (w: number) => downWithin(s.ledger, led, name, now - w, now);
    const rateOver = (w: number) => burnRate(down(w), w, target);
    const holds = (r: BurnRule) => rateOver(r.longMs) >= r.rate && rateOver(r.shortMs) >= r.rate;
    const page = BURN_RULES.filter((r) => r.severity === "critical").find(holds);
    const ticket = page ? undefined : BURN_RULES.filter((r) => r.severity === "warning").find(holds);
    for (const [which, rule] of [["page", page], ["ticket", ticket]] as const) {
      const key = keys[which];
      const incident = `sla-${which}:${name}`;
      if (rule) {
        ctx.note(
          key,
          "sla.burn",
          rule.severity,
          `${name} burns its error budget ${rateOver(rule.longMs).toFixed(1)}x as fast as its ${target} % target allows: ${span(down(rule.longMs))} down in the last ${span(rule.longMs)}, ${rateOver(rule.shortMs).toFixed(1)}x over the last ${span(rule.shortMs)} (alert at ${rule.rate}x on both); the 30-day budget is ${span(30 * DAY_MS * (1 - target / 100))}`,
          { group: name, identity: rule.id, incident },
        );
      } else if (ctx.hasNote(key)) {
        ctx.clearNote(key);
        const r = which === "page" ? BURN_RULES[0]! : BURN_RULES[2]!;
        ctx.event("sla.burn-stopped", "info", `${name} no longer burns its error budget ${which === "page" ? "fast" : "over days"}: ${rateOver(r.shortMs).toFixed(1)}x over the last ${span(r.shortMs)}, ${rateOver(r.longMs).toFixed(1)}x over the last ${span(r.longMs)}`, {
          group: name,
          incident,
          resolves: true,
        });
      }
    }
  }
}
