// What one step accumulates: the state being changed, the effects to perform, and the events
// and notes that explain every decision. Pure.
import type { Actor, EngineEffect, EngineState, Severity } from "./types.js";

const MAX_DECISIONS = 50;

/** Everything one step accumulates. */
export class StepCtx {
  effects: EngineEffect[] = [];
  persistNeeded = false;
  rejected: string | undefined;
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
   * Report a waiting condition once (hold-down, frozen, no candidate). `identity` says when it is
   * the same condition although the text changed (a countdown); by default the text itself.
   */
  note(key: string, kind: string, severity: Severity, reason: string, extra: { group?: string; node?: string; identity?: string } = {}): void {
    const { identity = reason, ...where } = extra;
    if (this.state.notes[key] === identity) return;
    this.state.notes[key] = identity;
    this.event(kind, severity, reason, where);
  }

  clearNote(key: string): void {
    if (key in this.state.notes) delete this.state.notes[key];
  }
}

