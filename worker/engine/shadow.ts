// Shadow mode: chime-ha decides as usual while the HA system in place (keepalived) acts. The shims
// report which host has each shadow group's VIP; every move the incumbent makes is paired with
// chime-ha's own move of the group (a grant at a new epoch) within SHADOW_MATCH_MS, and the report
// says per move whether they agreed and how long before or after the incumbent chime-ha would have
// moved. Written to storage only when something moves (a VIP changed hosts, chime-ha granted).
// Pure.
import type { ObservedVip } from "../../protocol/heartbeat.js";
import type { ClusterSpec, GroupSpec } from "../../protocol/spec.js";
import type { StepCtx } from "./context.js";
import { isLate } from "./deadlines.js";
import { isoTime } from "./liveness.js";
import type { EngineState } from "./types.js";

/** Moves of both systems this close in time are one decision compared. */
export const SHADOW_MATCH_MS = 30_000;
/** The ledger keeps this many entries (oldest dropped). */
export const MAX_SHADOW_ENTRIES = 200;

export interface ShadowEntry {
  group: string;
  /** The incumbent's move: the VIP arrived on `to` at `at`; `dual` when it was on several hosts at once. */
  keepalived: { to: string | null; at: number; dual?: string[]; initial?: boolean } | null;
  /** chime-ha's move of the group: granted to `to` at `at` (or its holder when keepalived was first seen). */
  chimeHa: { to: string | null; at: number; epoch: number } | null;
}

export interface ShadowState {
  /** Per group and host: whether the VIP is there, since when (this object's clock). */
  hosts: Record<string, Record<string, { present: boolean; since: number }>>;
  /** Per group: the one host the incumbent last had the VIP on alone (kept through a split brain). */
  holder: Record<string, string | null>;
  /** Per group: the hosts that have the VIP at once right now (a split brain), else null. */
  split?: Record<string, string[] | null>;
  entries: ShadowEntry[];
}

export const isShadowGroup = (spec: ClusterSpec, group: GroupSpec) => group.shadow ?? spec.policy.shadow;

const emptyShadow = (): ShadowState => ({ hosts: {}, holder: {}, entries: [] });

/** Copy-on-write: the engine's state is shared between steps, so the ledger is copied once per change. */
function writable(ctx: StepCtx): ShadowState {
  const cur = ctx.state.persisted.shadow ?? emptyShadow();
  const copy: ShadowState = { hosts: {}, holder: { ...cur.holder }, split: { ...cur.split }, entries: [...cur.entries] };
  for (const [g, h] of Object.entries(cur.hosts)) copy.hosts[g] = { ...h };
  ctx.state.persisted.shadow = copy;
  ctx.persistNeeded = true;
  return copy;
}

/**
 * The hosts with the VIP that count: those whose reports are current (a late node's VIP serves
 * nobody we can see). Several count only when their times prove an overlap: each got the VIP
 * before the others last confirmed theirs. Otherwise the reports are still racing (the old
 * holder's removal not heard yet): null, undecided until the next report.
 */
function holders(s: EngineState, sh: ShadowState, group: string, now: number): string[] | null {
  const hosts = sh.hosts[group] ?? {};
  const present = Object.keys(hosts)
    .filter((node) => hosts[node]!.present && !isLate(s, node, now))
    .sort();
  if (present.length < 2) return present;
  const latestSince = Math.max(...present.map((n) => hosts[n]!.since));
  // Confirmed by observations taken as news (not by a held-up heartbeat's old ones).
  const confirmed = Math.min(...present.map((n) => s.nodes[n]?.observedAt ?? -Infinity));
  return latestSince <= confirmed ? present : null;
}

/** A node's report of the shadow groups' VIPs on its host; the incumbent's moves become ledger entries. */
export function observe(ctx: StepCtx, node: string, observed: ObservedVip[]): void {
  const s = ctx.state;
  const spec = s.persisted.spec;
  const shadowGroups = spec.groups.filter((g) => isShadowGroup(spec, g));
  if (shadowGroups.length === 0) return;
  const rt = s.nodes[node];
  if (rt) rt.observedAt = ctx.now;
  let sh = s.persisted.shadow ?? emptyShadow();
  let copied = false;
  const edit = () => {
    if (!copied) {
      sh = writable(ctx);
      copied = true;
    }
    return sh;
  };
  for (const g of shadowGroups) {
    const o = observed.find((x) => x.group === g.name);
    const was = sh.hosts[g.name]?.[node];
    if (!o) {
      // Not reported (a shim just started, or one that does not watch): what it said before is stale.
      if (was) {
        const w = edit();
        const { [node]: _gone, ...rest } = w.hosts[g.name]!;
        w.hosts[g.name] = rest;
      }
      continue;
    }
    if (was && was.present === o.present) continue;
    const w = edit();
    w.hosts[g.name] = { ...w.hosts[g.name], [node]: { present: o.present, since: Math.min(ctx.now, ctx.now - o.forMs) } };
  }
  // Who has each VIP now (a node gone late no longer counts), and whether that is a move.
  for (const g of shadowGroups) {
    const now = holders(s, sh, g.name, ctx.now);
    if (now === null || now.length === 0) continue; // between hosts, or reports racing: the move ends when one host has it
    const split = sh.split?.[g.name] ?? null;
    if (now.length > 1) {
      if (split && split.join() === now.join()) continue; // the same split brain, still
      const w = edit();
      w.split = { ...w.split, [g.name]: now };
      const at = Math.max(...now.map((n) => w.hosts[g.name]![n]!.since));
      add(w, { group: g.name, keepalived: { to: null, at, dual: now }, chimeHa: null });
      ctx.event("shadow.split-brain", "critical", `shadow: the VIP of ${g.name} is on ${now.join(" and ")} at once (the HA system in place has two masters); chime-ha's holder is ${s.groups[g.name]?.holder ?? "nobody"}`, { group: g.name });
      continue;
    }
    const one = now[0]!;
    const before = sh.holder[g.name];
    if (split) edit().split = { ...sh.split, [g.name]: null };
    if (before === one) continue; // no move (a split brain may have ended on the host that had it)
    const w = edit();
    w.holder[g.name] = one;
    const at = w.hosts[g.name]![one]!.since;
    if (before === undefined) {
      const holder = s.groups[g.name]?.holder ?? null;
      add(w, { group: g.name, keepalived: { to: one, at, initial: true }, chimeHa: { to: holder, at: ctx.now, epoch: s.groups[g.name]?.epoch ?? 0 } });
    } else pair(w, g.name, "keepalived", { to: one, at });
  }
}

/** chime-ha's own moves of shadow groups in this step (a grant at a new epoch). */
export function chimeMoves(ctx: StepCtx, before: EngineState): void {
  const s = ctx.state;
  const spec = s.persisted.spec;
  for (const g of spec.groups) {
    if (!isShadowGroup(spec, g)) continue;
    const now = s.groups[g.name];
    const was = before.groups[g.name];
    if (!now || now.holder === null || (was && was.epoch === now.epoch)) continue;
    if (!was || was.epoch === 0) {
      // The first holder is no move: it completes the first comparison, if keepalived was seen first.
      const first = ctx.state.persisted.shadow?.entries.find((e) => e.group === g.name && e.keepalived?.initial && e.chimeHa?.to === null);
      if (first) {
        const w = writable(ctx);
        w.entries[w.entries.findIndex((e) => e.group === g.name && e.keepalived?.initial && e.chimeHa?.to === null)] = { ...first, chimeHa: { to: now.holder, at: ctx.now, epoch: now.epoch } };
      }
      continue;
    }
    pair(writable(ctx), g.name, "chimeHa", { to: now.holder, at: ctx.now, epoch: now.epoch });
  }
}

type Side = { keepalived: { to: string | null; at: number }; chimeHa: { to: string | null; at: number; epoch: number } };

/** Pair a move with the other system's unpaired move of the same group within the window, else open a new entry. */
function pair<K extends keyof Side>(sh: ShadowState, group: string, side: K, move: Side[K]): void {
  const other: keyof Side = side === "keepalived" ? "chimeHa" : "keepalived";
  const candidates = sh.entries.filter((e) => {
    const o = e[other];
    if (e.group !== group || e[side] !== null || o === null) return false;
    // An incumbent's split brain or first sighting is no move to pair with.
    if (e.keepalived?.dual || e.keepalived?.initial) return false;
    return Math.abs(o.at - move.at) <= SHADOW_MATCH_MS;
  });
  // The same destination first (an agreement); else the oldest open move (a disagreement).
  const open = candidates.find((e) => e[other]!.to === move.to) ?? candidates[0];
  if (open) {
    const i = sh.entries.indexOf(open);
    sh.entries[i] = { ...open, [side]: move };
  } else add(sh, { group, keepalived: null, chimeHa: null, [side]: move } as ShadowEntry);
}

function add(sh: ShadowState, e: ShadowEntry): void {
  sh.entries.push(e);
  // Drop the oldest beyond the cap (a count below 1 drops nothing).
  sh.entries.splice(0, sh.entries.length - MAX_SHADOW_ENTRIES);
}

export type ShadowVerdict = "agreed" | "disagreed" | "keepalived-only" | "chime-ha-only" | "pending" | "keepalived-split-brain";

export interface ShadowReportEntry extends ShadowEntry {
  verdict: ShadowVerdict;
  /** chime-ha's move minus keepalived's (ms): negative, chime-ha would have moved first. */
  deltaMs: number | null;
  text: string;
}

export interface ShadowGroupReport {
  group: string;
  shadow: boolean;
  keepalivedHolder: string | null;
  chimeHaHolder: string | null;
  entries: ShadowReportEntry[];
  summary: {
    keepalivedMoves: number;
    agreed: number;
    disagreed: number;
    keepalivedOnly: number;
    chimeHaOnly: number;
    splitBrain: number;
    medianDeltaMs: number | null;
    maxAbsDeltaMs: number | null;
  };
}

const ms = (v: number) => (Math.abs(v) >= 1000 ? `${(Math.abs(v) / 1000).toFixed(2)} s` : `${Math.round(Math.abs(v))} ms`);

function judge(e: ShadowEntry, now: number): Pick<ShadowReportEntry, "verdict" | "deltaMs" | "text"> {
  const k = e.keepalived;
  const c = e.chimeHa;
  if (k?.dual) return { verdict: "keepalived-split-brain", deltaMs: null, text: `keepalived had the VIP on ${k.dual.join(" and ")} at once` };
  if (k && c) {
    const agreed = k.to === c.to;
    if (k.initial) return { verdict: agreed ? "agreed" : "disagreed", deltaMs: null, text: agreed ? `both start with ${k.to}` : `keepalived starts with ${k.to}, chime-ha with ${c.to ?? "no holder"}` };
    const d = c.at - k.at;
    // Stryker disable next-line EqualityOperator: d is never 0 in the inner test (the outer one takes it), so `d <= 0` reads the same
    const when = d === 0 ? "at the same time" : `${ms(d)} ${d < 0 ? "before" : "after"} keepalived`;
    return { verdict: agreed ? "agreed" : "disagreed", deltaMs: d, text: agreed ? `both moved to ${k.to}; chime-ha ${when}` : `keepalived moved to ${k.to}, chime-ha to ${c.to} (${when})` };
  }
  if (k) return now - k.at > SHADOW_MATCH_MS ? { verdict: "keepalived-only", deltaMs: null, text: `keepalived moved to ${k.to}; chime-ha would not have moved` } : { verdict: "pending", deltaMs: null, text: `keepalived moved to ${k.to}; chime-ha has not (yet)` };
  return now - c!.at > SHADOW_MATCH_MS ? { verdict: "chime-ha-only", deltaMs: null, text: `chime-ha would have moved to ${c!.to}; keepalived did not` } : { verdict: "pending", deltaMs: null, text: `chime-ha would have moved to ${c!.to}; keepalived has not (yet)` };
}

/** The shadow ledger per group, judged at `now`. */
export function shadowReport(s: EngineState, now: number): ShadowGroupReport[] {
  const spec = s.persisted.spec;
  const sh = s.persisted.shadow ?? emptyShadow();
  return spec.groups.map((g) => {
    const entries = sh.entries.filter((e) => e.group === g.name).map((e) => ({ ...e, ...judge(e, now) }));
    const moves = entries.filter((e) => e.keepalived && !e.keepalived.initial && !e.keepalived.dual);
    const deltas = entries.filter((e) => e.deltaMs !== null && e.verdict === "agreed").map((e) => e.deltaMs!);
    const sorted = [...deltas].sort((a, b) => a - b);
    return {
      group: g.name,
      shadow: isShadowGroup(spec, g),
      keepalivedHolder: sh.holder[g.name] ?? null,
      chimeHaHolder: s.groups[g.name]?.holder ?? null,
      entries,
      summary: {
        keepalivedMoves: moves.length,
        agreed: moves.filter((e) => e.verdict === "agreed").length,
        disagreed: moves.filter((e) => e.verdict === "disagreed").length,
        keepalivedOnly: moves.filter((e) => e.verdict === "keepalived-only").length,
        chimeHaOnly: entries.filter((e) => e.verdict === "chime-ha-only").length,
        splitBrain: entries.filter((e) => e.verdict === "keepalived-split-brain").length,
        medianDeltaMs: sorted.length ? sorted[Math.floor((sorted.length - 1) / 2)]! : null,
        maxAbsDeltaMs: deltas.length ? Math.max(...deltas.map(Math.abs)) : null,
      },
    };
  });
}

/** One line per entry for logs and the CLI: `2026-11-30T06:41:02.120Z server-api: both moved to server2; chime-ha 80 ms after keepalived`. */
export const shadowLine = (e: ShadowReportEntry) => `${isoTime(e.keepalived?.at ?? e.chimeHa!.at)} ${e.group}: ${e.text}`;
