// Availability figures from the ledger (ledger.ts): per group over a window, the error budget of
// the calendar month and of the last 30 days, burn rates, the fleet roll-up. Pure: the shell
// passes the month records it loaded and the time.
//
// Definitions (README, "Availability"): availability = up / (up + unplanned down) over the time
// the ledger covers (from the group's first healthy holder); planned gaps (switchovers, drains,
// drills) are reported but count for neither. Budget = (1 - target) x the period (from the
// group's start, if later); used = unplanned downtime in it.
import type { AvailabilityInterval, Budget, ClusterAvailability, GroupAvailability, GroupAvailabilitySummary } from "../../protocol/availability.js";
import { type ClusterSpec, type GroupSpec } from "../../protocol/spec.js";
import type { DrillState } from "./drills.js";
import { type GroupLedger, type LedgerInterval, type LedgerKind, type LedgerMonth, monthsBetween, monthStartOf, nextMonthStart } from "./ledger.js";
import { burnRate, DAY_MS, HOUR_MS, targetOf } from "./sla.js";

export interface LedgerView {
  spec: ClusterSpec;
  ledger: Record<string, GroupLedger>;
  drills: Record<string, DrillState>;
  /** Month records by "YYYY-MM" (at least those a query needs: monthsNeeded). */
  months: Record<string, LedgerMonth>;
  now: number;
}

const ROLLING_MS = 30 * DAY_MS;
const MAX_INTERVALS = 500;

/** The month records a report over [from, to] reads: the window, its calendar month and the 30 days before `to`. */
export function monthsNeeded(from: number, to: number): string[] {
  const ref = Math.max(to - 1, from);
  return monthsBetween(Math.min(from, ref - ROLLING_MS, monthStartOf(ref)), ref);
}

interface Piece extends Omit<LedgerInterval, "end"> {
  /** null: the open interval (it ends at `now`). */
  end: number | null;
}

/** A group's intervals (closed ones from the months, then the open one), oldest first. */
function pieces(v: LedgerView, group: string): Piece[] {
  const out: Piece[] = [];
  for (const key of Object.keys(v.months).sort()) for (const iv of v.months[key]!.intervals) if (iv.group === group) out.push(iv);
  const led = v.ledger[group];
  if (led) {
    const o = led.open;
    out.push({ group, kind: o.kind, start: o.start, end: null, origin: o.origin, startReason: o.reason, endReason: "", holder: o.holder, epoch: o.epoch, ...(o.grantedAt !== undefined ? { grantedAt: o.grantedAt, grantedTo: o.grantedTo! } : {}), ...(o.plannedBy ? { plannedBy: o.plannedBy } : {}) });
  }
  return out;
}

type Totals = Record<LedgerKind, number> & { exact: boolean };

/** Time up, down and planned within [a, b]: exact from intervals, from day buckets where a month dropped some. */
function totals(v: LedgerView, group: string, a: number, b: number): Totals {
  const t: Totals = { up: 0, down: 0, planned: 0, exact: true };
  if (b <= a) return t;
  for (const month of monthsBetween(a, b - 1)) {
    const m = v.months[month];
    if (!m) continue;
    const lo = Math.max(a, Date.parse(`${month}-01T00:00:00Z`));
    const hi = Math.min(b, nextMonthStart(lo));
    if (m.dropped === 0) {
      for (const iv of m.intervals) if (iv.group === group) t[iv.kind] += Math.max(0, Math.min(iv.end, hi) - Math.max(iv.start, lo));
      continue;
    }
    // Some intervals were dropped to keep the record small: the buckets are complete (partial days pro rata).
    t.exact = false;
    for (const [day, bucket] of Object.entries(m.days[group] ?? {})) {
      const d0 = Date.parse(`${month}-${day}T00:00:00Z`);
      const share = Math.max(0, Math.min(d0 + DAY_MS, hi) - Math.max(d0, lo)) / DAY_MS;
      t.up += bucket[0] * share;
      t.down += bucket[1] * share;
      t.planned += bucket[2] * share;
    }
  }
  const open = v.ledger[group]?.open;
  if (open) t[open.kind] += Math.max(0, Math.min(b, v.now) - Math.max(a, open.start));
  return t;
}

const percent = (t: Totals): number | null => (t.up + t.down > 0 ? (100 * t.up) / (t.up + t.down) : null);

function budget(v: LedgerView, group: GroupSpec, from: number, periodEnd: number, upto: number): Budget {
  const target = targetOf(v.spec, group);
  const since = v.ledger[group.name]?.since ?? null;
  const t = totals(v, group.name, from, upto);
  const base = since === null ? periodEnd - from : Math.max(0, periodEnd - Math.max(from, since));
  const budgetMs = ((100 - target) / 100) * base;
  const leftMs = budgetMs - t.down;
  return { from, to: periodEnd, budgetMs, usedMs: t.down, leftMs, leftRatio: budgetMs > 0 ? leftMs / budgetMs : t.down > 0 ? -1 : 1, availability: percent(t) };
}

/** The calendar month and the rolling 30 days that end at `ref`. */
function budgets(v: LedgerView, group: GroupSpec, ref: number): { month: Budget; rolling30d: Budget } {
  const m0 = monthStartOf(ref - 1);
  return { month: budget(v, group, m0, nextMonthStart(m0), ref), rolling30d: budget(v, group, ref - ROLLING_MS, ref, ref) };
}

/** Merge the pieces of one interval that month starts split, and describe each. */
function describe(ps: Piece[]): AvailabilityInterval[] {
  const merged: Piece[] = [];
  for (const p of ps) {
    const last = merged[merged.length - 1];
    if (last && last.end === p.start && last.kind === p.kind && last.origin === p.origin) merged[merged.length - 1] = { ...last, end: p.end, endReason: p.endReason, grantedAt: last.grantedAt ?? p.grantedAt, grantedTo: last.grantedTo ?? p.grantedTo } as Piece;
    else merged.push(p);
  }
  return merged.map((p) => {
    // A piece that continues from a month before starts, for the reader, where its interval did.
    const start = p.origin;
    const gap = p.kind !== "up";
    return {
      kind: p.kind,
      start,
      end: p.end,
      startReason: p.startReason,
      endReason: p.end === null ? null : p.endReason,
      holder: p.holder,
      epoch: p.epoch,
      plannedBy: p.plannedBy ?? null,
      grantedAt: p.grantedAt ?? null,
      grantedTo: p.grantedTo ?? null,
      timeToGrantMs: gap && p.grantedAt !== undefined ? p.grantedAt - p.origin : null,
      timeToRecoverMs: gap && p.end !== null ? p.end - p.origin : null,
    };
  });
}

export function groupReport(v: LedgerView, group: GroupSpec, from: number, to: number): GroupAvailability {
  const name = group.name;
  const target = targetOf(v.spec, group);
  const upto = Math.min(to, v.now);
  const t = totals(v, name, from, upto);
  const all = describe(pieces(v, name));
  const inWindow = all.filter((iv) => iv.start < upto && (iv.end ?? v.now) > from);
  const outages = inWindow.filter((iv) => iv.kind === "down");
  // (In the window, so an ended one ended after `from`.)
  const ended = outages.filter((iv) => iv.end !== null && iv.end <= upto);
  const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);
  const now = v.now;
  const rate = (w: number) => burnRate(totals(v, name, now - w, now).down, w, target);
  const d = v.drills[name];
  const ds = v.spec.drills?.find((x) => x.group === name);
  const run = d?.run;
  return {
    group: name,
    target,
    since: v.ledger[name]?.since ?? null,
    observedMs: t.up + t.down + t.planned,
    upMs: t.up,
    downMs: t.down,
    plannedMs: t.planned,
    availability: percent(t),
    outages: outages.filter((iv) => iv.start >= from).length,
    mttrMs: mean(ended.map((iv) => iv.timeToRecoverMs!)),
    mttgMs: mean(ended.filter((iv) => iv.timeToGrantMs !== null).map((iv) => iv.timeToGrantMs!)),
    exact: t.exact,
    intervals: inWindow.slice(-MAX_INTERVALS),
    budget: budgets(v, group, upto),
    burn: { "1h": rate(HOUR_MS), "6h": rate(6 * HOUR_MS), "3d": rate(3 * DAY_MS) },
    drill: {
      every: ds?.every ?? null,
      window: ds?.window ?? null,
      lastAt: d?.lastAt ?? null,
      lastResult: d?.lastResult ?? null,
      lastOk: d?.lastOk ?? null,
      running: run ? `${run.phase === "back" ? `moving back ${run.to} -> ${run.from}` : run.phase === "hold" ? `on ${run.to} until it moves back to ${run.from}` : `moving ${run.from} -> ${run.to}`} (started ${new Date(run.startedAt).toISOString()})` : null,
    },
  };
}

export function clusterReport(v: LedgerView, cluster: string, site: string, from: number, to: number): ClusterAvailability {
  return { cluster, site, from, to, now: v.now, groups: v.spec.groups.map((g) => groupReport(v, g, from, to)) };
}

/** This month and the last 30 days of every group (the fleet roll-up and metrics; months in memory suffice). */
export function clusterSummary(v: LedgerView): GroupAvailabilitySummary[] {
  return v.spec.groups.map((g) => {
    const d = v.drills[g.name];
    return { group: g.name, target: targetOf(v.spec, g), ...budgets(v, g, v.now), drillProblem: d && d.lastOk === false ? d.lastResult : null };
  });
}
