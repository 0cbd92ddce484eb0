// What one step accumulates: the state being changed, the effects to perform, and the events
// and notes that explain every decision. Pure.
import type { Actor, EngineEffect, EngineState, Severity } from "./types.js";

const MAX_DECISIONS = 50;

/** Everything one step accumulates. */
export class StepCtx {
  effects: EngineEffect[] = [];
  persistNeeded = false;
  rejected: string | undefined;
  /** The groups the node whose heartbeat this step handles says it holds, with their epochs (ledger.ts). */
  reportedHolding: { node: string; groups: Map<string, number> } | null = null;
  /** The heartbeat was older than one already seen from the same shim process: no renewal. */
  staleHeartbeat = false;
  /** The heartbeat spent long in the network: its observations of shadow VIPs are no news (shadow.ts). */
  heldUpHeartbeat = false;
  /** This step's heartbeat said the VIP of these groups answered it at these times (ledger.ts). */
  vipAnswers: { group: string; node: string; at: number }[] = [];
  constructor(
    public state: EngineState,
    readonly now: number,
  ) {}

  event(kind: string, severity: Severity, reason: string, extra: { group?: string; node?: string; epoch?: number; actor?: Actor; incident?: string; resolves?: boolean } = {}): void {
    const e: EngineEffect = { type: "event", kind, severity, reason, actor: extra.actor ?? "engine" };
    if (extra.group !== undefined) e.group = extra.group;
    if (extra.node !== undefined) e.node = extra.node;
    if (extra.epoch !== undefined) e.epoch = extra.epoch;
    if (extra.incident !== undefined) e.incident = extra.incident;
    if (extra.resolves !== undefined) e.resolves = extra.resolves;
    this.effects.push(e);
    const d: EngineState["decisions"][number] = { at: this.now, kind, reason };
    if (extra.group !== undefined) d.group = extra.group;
    if (extra.node !== undefined) d.node = extra.node;
    if (extra.epoch !== undefined) d.epoch = extra.epoch;
    this.state.decisions = [...this.state.decisions.slice(-(MAX_DECISIONS - 1)), d];
  }

  /**
   * Report a condition once (hold-down, frozen, no candidate, waiting, apply failure). `identity`
   * says when it is the same condition although the text changed (a countdown); by default the
   * text itself. Notes are persisted, so a Durable Object restart does not say it again.
   */
  note(
    key: string,
    kind: string,
    severity: Severity,
    reason: string,
    extra: { group?: string; node?: string; identity?: string; incident?: string } = {},
  ): void {
    const { identity = reason, ...where } = extra;
    const notes = this.state.persisted.notes;
    if (notes[key] === identity) return;
    this.state.persisted.notes = { ...notes, [key]: identity };
    this.persistNeeded = true;
    this.event(kind, severity, reason, where);
  }

  hasNote(key: string): boolean {
    return key in this.state.persisted.notes;
  }

  clearNote(key: string): void {
    if (!(key in this.state.persisted.notes)) return;
    const { [key]: _gone, ...rest } = this.state.persisted.notes;
    this.state.persisted.notes = rest;
    this.persistNeeded = true;
  }
}
