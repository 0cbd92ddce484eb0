// The availability ledger: per group, the intervals with a healthy holder ("up") and without one
// ("down": no holder, the holder silent or its probe failing, a new holder not yet serving;
// "planned": the gap of a move an operator, a drain or a drill asked for), each with the reason it
// began and ended. Pure, and driven by transitions only: the interval a group is in is part of
// the persisted snapshot (written when it changes, never on a plain renewal); a closed interval
// goes into its month's record (per-day buckets plus the intervals themselves), which the shell
// stores under its own key (`ledger:YYYY-MM`) together with the snapshot.
//
// When an interval starts is dated by what the engine learns, not by when it learns it: a silent
// holder's outage from its last heartbeat (it may have died just after it), or from the last time
// its peers saw its VIP answer if that was later (its shim died, the host and the kernel's lease
// did not; never past the lease that heartbeat renewed), a failing probe from
// its last success (`downForMs`), a new holder's service from the heartbeat that first reports
// it holding the group (the shim sends one as soon as its VIP is up).
import type { GroupEpoch, VipAnswer } from "../../protocol/heartbeat.js";
import type { GroupSpec } from "../../protocol/spec.js";
import { APPLY_PERSIST_MS } from "./apply-errors.js";
import type { StepCtx } from "./context.js";
import { inRestartGrace } from "./lease-rules.js";
import { isAlive, isoTime } from "./liveness.js";
import { isShadowGroup } from "./shadow.js";
import type { EngineState, GroupRuntime } from "./types.js";

export type LedgerKind = "up" | "down" | "planned";
/** What the interval is about: the group held and healthy, or which of the ways it is not. */
export type LedgerCause = "held" | "no-holder" | "silent" | "unconfirmed" | "probe" | "apply" | "failsafe" | "let-go";

/** The interval a group is in right now (persisted; closed into its month record at the next change). */
export interface OpenInterval {
  kind: LedgerKind;
  start: number;
  /** When the outage or service this piece belongs to began (before `start` when it continues from a month before). */
  origin: number;
  reason: string;
  cause: LedgerCause;
  /** Holder and epoch when it began. */
  holder: string | null;
  epoch: number;
  /** down/planned: when a new holder was first granted during it, and which. */
  grantedAt?: number;
  grantedTo?: string;
  plannedBy?: string;
}

export interface GroupLedger {
  /** When the group first had a healthy holder: the ledger counts from then. */
  since: number;
  open: OpenInterval;
}

/** A closed interval, in the record of the month it lies in. */
export interface LedgerInterval {
  group: string;
  kind: LedgerKind;
  start: number;
  end: number;
  origin: number;
  startReason: string;
  endReason: string;
  holder: string | null;
  epoch: number;
  grantedAt?: number;
  grantedTo?: string;
  plannedBy?: string;
}

/** One UTC day of one group: ms up, ms down (unplanned), ms planned, unplanned outages that began. */
export type DayBucket = [up: number, down: number, planned: number, outages: number];

/** One month of one cluster (storage key `ledger:YYYY-MM`, kept under MONTH_BYTES). */
export interface LedgerMonth {
  month: string;
  /** group -> day of month ("01".."31") -> bucket. Always complete. */
  days: Record<string, Record<string, DayBucket>>;
  /** Closed intervals, oldest first; the oldest are dropped (and counted) if the record grows too big. */
  intervals: LedgerInterval[];
  dropped: number;
}

/** What an engine incarnation holds of the ledger (memory). */
export interface LedgerMemory {
  months: Record<string, LedgerMonth>;
  /** Per group: end of its newest unplanned outage, so burn-rate checks skip quiet groups at once. */
  lastDownEnd: Record<string, number>;
}

/** 13 months are kept; older month records are deleted by the shell. */
export const RETENTION_MONTHS = 13;
/** A month record stays below this (JSON characters): far under a Durable Object value's 128 KiB. */
export const MONTH_BYTES = 96 * 1024;
const REASON_MAX = 240;

// ---------------------------------------------------------------- calendar (UTC, from epoch ms)

/** "2026-11" for a time in November 2026 (UTC). */
export function monthOf(ms: number): string {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, "0")}`;
}

/** Start of a month given as "YYYY-MM". */
export function monthStart(month: string): number {
  return Date.UTC(Number(month.slice(0, 4)), Number(month.slice(5, 7)) - 1, 1);
}

/** Start of the month after the one containing `ms`. */
export function nextMonthStart(ms: number): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}

/** Start of the month containing `ms`. */
export function monthStartOf(ms: number): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}

/** The month `n` months before `month`. */
export function monthBefore(month: string, n = 1): string {
  const y = Number(month.slice(0, 4));
  const m = Number(month.slice(5, 7)) - 1 - n;
  return monthOf(Date.UTC(y + Math.floor(m / 12), ((m % 12) + 12) % 12, 1));
}

/** Months from the one containing `from` to the one containing `to`, oldest first. */
export function monthsBetween(from: number, to: number): string[] {
  const out: string[] = [];
  for (let t = monthStartOf(from); t <= to; t = nextMonthStart(t)) out.push(monthOf(t));
  return out;
}

const DAY_MS = 86_400_000;

/** The months an engine keeps in memory at `now`: those of the last 32 days (30-day budgets, burn windows). */
export const memoryMonths = (now: number): string[] => monthsBetween(now - 32 * DAY_MS, now);
const dayKey = (ms: number) => String(new Date(ms).getUTCDate()).padStart(2, "0");

export function emptyMonth(month: string): LedgerMonth {
  return { month, days: {}, intervals: [], dropped: 0 };
}

export function emptyLedgerMemory(): LedgerMemory {
  return { months: {}, lastDownEnd: {} };
}

/** Memory for a booting engine from the month records the shell loaded. */
export function ledgerMemoryFrom(months: LedgerMonth[]): LedgerMemory {
  const mem = emptyLedgerMemory();
  for (const m of months) {
    mem.months[m.month] = m;
    for (const iv of m.intervals) if (iv.kind === "down") mem.lastDownEnd[iv.group] = Math.max(mem.lastDownEnd[iv.group] ?? 0, iv.end);
  }
  return mem;
}

// ---------------------------------------------------------------- closing intervals into months

/** Add a closed interval (within one month) to its month record: buckets per day, the interval itself. */
export function addInterval(month: LedgerMonth, iv: LedgerInterval): LedgerMonth {
  const groupDays = { ...(month.days[iv.group] ?? {}) };
  const slot = iv.kind === "up" ? 0 : iv.kind === "down" ? 1 : 2;
  for (let t = iv.start; t < iv.end; ) {
    const dayEnd = Math.floor(t / DAY_MS) * DAY_MS + DAY_MS;
    const upto = Math.min(dayEnd, iv.end);
    const key = dayKey(t);
    const b: DayBucket = [...(groupDays[key] ?? [0, 0, 0, 0])];
    b[slot] += upto - t;
    if (t === iv.start && iv.kind === "down" && iv.origin === iv.start) b[3] += 1;
    groupDays[key] = b;
    t = upto;
  }
  const next: LedgerMonth = { ...month, days: { ...month.days, [iv.group]: groupDays }, intervals: [...month.intervals, iv] };
  return capMonth(next);
}

/** Keep a month record under MONTH_BYTES by dropping its oldest intervals (the buckets stay exact). */
function capMonth(m: LedgerMonth): LedgerMonth {
  let size = JSON.stringify(m).length;
  if (size <= MONTH_BYTES) return m;
  let drop = 0;
  while (drop < m.intervals.length && size > MONTH_BYTES) size -= JSON.stringify(m.intervals[drop++]).length + 1;
  return { ...m, intervals: m.intervals.slice(drop), dropped: m.dropped + drop };
}

// ---------------------------------------------------------------- observing a group

interface Observation {
  kind: LedgerKind;
  /** When this state began, as far as the engine can date it (never after `now`). */
  start: number;
  reason: string;
  cause: LedgerCause;
  /** Whom it is about (the silent holder, the new holder) and at which epoch. */
  holder: string | null;
  epoch: number;
}

const clip = (text: string) => (text.length > REASON_MAX ? `${text.slice(0, REASON_MAX - 1)}…` : text);

/** When a holder removed from the spec (its node's runtime gone with it) was last heard. */
const heardBeforeRemoval = (g: GroupRuntime, node: string): number | null => (g.removedHolder?.node === node ? g.removedHolder.heardAt : null);

/**
 * A holder the control plane no longer hears: the outage began after its last heartbeat, or when
 * its peers last saw its VIP answer if that was later. Not after the lease that heartbeat renewed
 * ended: by then the kernel has made its VIP inert, and an answer seen later is another host's.
 */
function silent(s: EngineState, name: string, holder: string, epoch: number, g: GroupRuntime): Observation {
  const answer = g.vipAnswer;
  // A holder removed from the spec has no runtime any more: when it was last heard is kept on the group.
  const last = s.nodes[holder]?.lastBeatAt ?? heardBeforeRemoval(g, holder);
  if (last === null) return { kind: "down", start: s.bootedAt, cause: "silent", holder, epoch, reason: `${holder} (holder of ${name}) has not sent a heartbeat since the control plane started at ${isoTime(s.bootedAt)}` };
  const until = answer?.epoch === epoch ? Math.min(answer.at, last + s.persisted.spec.policy.leaseTtlMs) : last;
  return until > last ? { kind: "down", start: until, cause: "silent", holder, epoch, reason: silentReason(holder, name, last, until) } : { kind: "down", start: last, cause: "silent", holder, epoch, reason: silentReason(holder, name, last, null) };
}

/** Why a silent holder's group is down: since its last heartbeat, or since its peers last saw its VIP answer. */
const silentReason = (holder: string, name: string, last: number, answeredUntil: number | null): string =>
  `${holder} (holder of ${name}) went silent after its heartbeat at ${isoTime(last)}${answeredUntil === null ? "" : `; its VIP answered its peers until ${isoTime(answeredUntil)}`}`;

/**
 * A heartbeat's `vipAnswered`: when this member last saw the group's VIP answer, dated at receipt
 * minus the age it reports (so later than the truth by the heartbeat's transit, milliseconds on a
 * LAN-to-edge path). Kept per group and epoch for silent(); recordLedger also moves the start of
 * an outage already counted from a silent holder's last heartbeat.
 */
export function noteVipAnswers(ctx: StepCtx, node: string, answers: VipAnswer[]): void {
  for (const a of answers) {
    const g = ctx.state.groups[a.group];
    if (!g) continue;
    const at = ctx.now - a.agoMs;
    ctx.vipAnswers.push({ group: a.group, node, at });
    // The holder's own view of its VIP is no evidence (the shim does not send it).
    if (g.holder === node) continue;
    g.vipAnswer = g.vipAnswer?.epoch === g.epoch ? { epoch: g.epoch, at: Math.max(g.vipAnswer.at, at) } : { epoch: g.epoch, at };
  }
}

/** The group's state at `now` for the ledger; null when it cannot be known yet (restart grace). */
function observe(s: EngineState, group: GroupSpec, g: GroupRuntime, open: OpenInterval | undefined, now: number): Observation | null {
  const name = group.name;
  const holder = g.holder;
  // The holder that served went silent and the group moved on in this same step (after a restart
  // its lease ends when the grace does): the outage began at its silence, not at the move.
  if (open?.kind === "up" && open.holder !== null && open.holder !== holder && !isAlive(s, open.holder, now)) return silent(s, name, open.holder, open.epoch, g);
  const gap = (cause: LedgerCause, reason: string): Observation => ({ kind: g.plannedBy ? "planned" : "down", start: now, reason, cause, holder, epoch: g.epoch });
  if (holder === null) return gap("no-holder", s.persisted.maintenance ? `no node holds ${name} (the cluster is in maintenance)` : `no node holds ${name}`);
  const rt = s.nodes[holder];
  // Restarted control plane, holder not heard yet: it may well still serve. Keep what we had.
  if (rt?.lastBeatAt == null && inRestartGrace(s, now)) return null;
  if (!isAlive(s, holder, now)) return silent(s, name, holder, g.epoch, g);
  if (g.confirmedEpoch !== g.epoch) return gap("unconfirmed", `${name} granted to ${holder} at epoch ${g.epoch}; not yet reported up`);
  // It still holds the group here but said it no longer serves it (letting go, say, while its
  // address cannot be removed and the lease is waited out): unserved since it said so.
  if (g.letGoAt != null) return { kind: g.plannedBy ? "planned" : "down", start: g.letGoAt, cause: "let-go", reason: `${holder} no longer serves ${name} (epoch ${g.epoch}): its VIP is inert`, holder, epoch: g.epoch };
  const down = (start: number, cause: LedgerCause, reason: string): Observation => ({ kind: "down", start, cause, reason: clip(reason), holder, epoch: g.epoch });
  const probe = rt!.probes[name];
  if (probe && !probe.healthy) return down(rt!.downSince[name] ?? now, "probe", `${holder}'s probe for ${name} is failing${probe.detail ? ` (${probe.detail})` : ""}`);
  for (const a of Object.values(rt!.applyErrors)) {
    if (a.error.group === name && now - a.firstSeenAt >= APPLY_PERSIST_MS) {
      return down(a.firstSeenAt, "apply", `${holder} cannot apply ${a.error.target} for ${name}: \`${a.error.command}\` ${a.error.exitCode === null ? "could not run" : `exited ${a.error.exitCode}`}`);
    }
  }
  return { kind: "up", start: now, cause: "held", reason: `${holder} serves ${name} at epoch ${g.epoch}`, holder, epoch: g.epoch };
}

/**
 * A heartbeat's `holding`: the holder confirms a new grant (the group is up from now). A holder
 * the control plane counted as silent that reports holding the same epoch kept the group all
 * along (failsafe: its peers promised not to take it): that time was served, not down.
 */
export function noteHolding(ctx: StepCtx, node: string, holding: GroupEpoch[]): void {
  const s = ctx.state;
  ctx.reportedHolding = { node, groups: new Map(holding.map((h) => [h.group, h.epoch])) };
  // The holder no longer lists a group it had confirmed: its VIP is inert from about now.
  for (const [name, g] of Object.entries(s.groups)) {
    if (g.holder !== node) continue;
    const listed = holding.some((h) => h.group === name && h.epoch === g.epoch);
    if (listed) g.letGoAt = null;
    else if (g.confirmedEpoch === g.epoch) g.letGoAt ??= ctx.now;
  }
  for (const h of holding) {
    const g = s.groups[h.group];
    if (!g) continue;
    if (g.holder === node && g.epoch === h.epoch) g.confirmedEpoch = h.epoch;
    const led = s.persisted.ledger[h.group];
    const open = led?.open;
    if (!led || !open || open.kind !== "down" || open.cause !== "silent" || open.holder !== node || open.epoch !== h.epoch) continue;
    s.persisted.ledger = {
      ...s.persisted.ledger,
      [h.group]: { ...led, open: { kind: "up", start: open.start, origin: open.origin, cause: "failsafe", holder: node, epoch: h.epoch, reason: clip(`${open.reason}, but kept ${h.group} at epoch ${h.epoch} under failsafe (its peers' promises)`) } },
    };
    ctx.persistNeeded = true;
  }
}

/**
 * After every step: compare each group's state with the interval it is in; on a change, close
 * that interval (into its month record) and open the next. Also splits open intervals at month
 * starts and ends the ledger of groups removed from the spec.
 */
export function recordLedger(ctx: StepCtx): void {
  const s = ctx.state;
  const now = ctx.now;
  const p = s.persisted;
  let mem = s.ledger;
  const changed = new Set<string>();
  let ledger = p.ledger;
  const set = (name: string, led: GroupLedger | null) => {
    const { [name]: _old, ...rest } = ledger;
    ledger = led ? { ...rest, [name]: led } : rest;
    ctx.persistNeeded = true;
  };
  const close = (name: string, open: OpenInterval, end: number, endReason: string) => {
    if (end <= open.start) return;
    const month = monthOf(open.start);
    const iv: LedgerInterval = { group: name, kind: open.kind, start: open.start, end, origin: open.origin, startReason: open.reason, endReason: clip(endReason), holder: open.holder, epoch: open.epoch };
    if (open.grantedAt !== undefined) iv.grantedAt = open.grantedAt;
    if (open.grantedTo !== undefined) iv.grantedTo = open.grantedTo;
    if (open.plannedBy !== undefined) iv.plannedBy = open.plannedBy;
    mem = { ...mem, months: { ...mem.months, [month]: addInterval(mem.months[month] ?? emptyMonth(month), iv) } };
    if (iv.kind === "down") mem = { ...mem, lastDownEnd: { ...mem.lastDownEnd, [name]: Math.max(mem.lastDownEnd[name] ?? 0, end) } };
    changed.add(month);
  };
  const inSpec = new Set(p.spec.groups.filter((g) => !isShadowGroup(p.spec, g)).map((g) => g.name));
  for (const [name, led] of Object.entries(ledger)) {
    if (inSpec.has(name)) continue;
    close(name, led.open, now, p.spec.groups.some((g) => g.name === name) ? `${name} was put in shadow mode` : `${name} was removed from the spec`);
    set(name, null);
  }
  const thisMonth = monthStartOf(now);
  for (const group of p.spec.groups) {
    const name = group.name;
    const g = s.groups[name];
    // A shadow group is served by the HA system in place, not by chime-ha: nothing to count.
    if (!g || isShadowGroup(p.spec, group)) continue;
    let led = ledger[name];
    // A month record holds only its own month: split an interval still open at a month start.
    while (led && led.open.start < thisMonth) {
      const at = nextMonthStart(led.open.start);
      close(name, led.open, at, `continues in ${monthOf(at)}`);
      led = { ...led, open: { ...led.open, start: at } };
      set(name, led);
    }
    // The node that holds the VIP was granted the group again in this step (its lease had lapsed
    // here, failsafe kept it there): it serves on without a gap.
    const rep = ctx.reportedHolding;
    if (g.confirmedEpoch !== g.epoch && rep && rep.node === g.holder && rep.groups.has(name)) g.confirmedEpoch = g.epoch;
    // An outage counted from a silent holder's last heartbeat, and a peer now says its VIP still
    // answered after that (within the lease that heartbeat renewed): that time was served.
    if (led && led.open.kind === "down" && led.open.cause === "silent" && led.open.holder !== null) {
      const open = led.open;
      const last = s.nodes[open.holder!]?.lastBeatAt ?? heardBeforeRemoval(g, open.holder!);
      const seen = ctx.vipAnswers.filter((a) => a.group === name && a.node !== open.holder).reduce((m, a) => Math.max(m, a.at), -Infinity);
      const until = last === null ? -Infinity : Math.min(seen, last + p.spec.policy.leaseTtlMs, now);
      if (until > open.start) {
        const why = `${open.holder}'s VIP answered its peers until ${isoTime(until)}`;
        close(name, { ...open, kind: "up", cause: "held", reason: clip(`${open.holder} serves ${name} at epoch ${open.epoch} (silent, but its VIP still answered)`) }, until, why);
        const reason = clip(silentReason(open.holder!, name, last!, until));
        led = { ...led, open: { ...open, start: until, origin: open.origin === open.start ? until : open.origin, reason } };
        set(name, led);
      }
    }
    const obs = observe(s, group, g, led?.open, now);
    if (obs === null) continue;
    if (obs.kind === "up" && g.phase === "held") g.plannedBy = null;
    if (!led) {
      // The ledger of a group starts with its first healthy holder (setting up is not an outage).
      if (obs.kind === "up") set(name, { since: now, open: { kind: "up", start: now, origin: now, reason: obs.reason, cause: obs.cause, holder: obs.holder, epoch: obs.epoch } });
      continue;
    }
    let open = led.open;
    if (open.kind !== "up" && g.holder !== null && g.epoch > open.epoch && open.grantedAt === undefined) open = { ...open, grantedAt: now, grantedTo: g.holder };
    if (obs.kind === open.kind) {
      if (open !== led.open) set(name, { ...led, open });
      continue;
    }
    const at = Math.min(now, Math.max(open.start, obs.start));
    close(name, open, at, obs.reason);
    const next: OpenInterval = { kind: obs.kind, start: at, origin: at, reason: obs.reason, cause: obs.cause, holder: obs.holder, epoch: obs.epoch };
    // Already granted to a new holder in this step.
    if (obs.kind !== "up" && g.holder !== null && (obs.cause === "unconfirmed" || g.holder !== obs.holder)) Object.assign(next, { grantedAt: now, grantedTo: g.holder });
    if (obs.kind === "planned" && g.plannedBy) next.plannedBy = g.plannedBy;
    set(name, { ...led, open: next });
  }
  p.ledger = ledger;
  if (changed.size === 0) return;
  // Memory keeps the months of the last 30 days (budgets, burn windows); older months were just
  // written and are not needed again.
  const keep = new Set(memoryMonths(now));
  const months: LedgerMemory["months"] = {};
  for (const [k, m] of Object.entries(mem.months)) if (keep.has(k)) months[k] = m;
  ctx.effects.push({ type: "ledger", months: [...changed].map((k) => mem.months[k]!) });
  s.ledger = { ...mem, months };
}
