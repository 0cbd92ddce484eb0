// What differs between group modes: who may be a candidate, how candidates rank, what extra
// desired state the holder gets, and what a member's health change means.
import type { DesiredGroup, ProbeReport } from "../../../protocol/heartbeat.js";
import type { GroupSpec, NodeSpec } from "../../../protocol/spec.js";
import type { StepCtx } from "../context.js";
import type { EngineEffect, EngineState } from "../types.js";

export interface CandidateInfo {
  node: NodeSpec;
  report: ProbeReport | undefined;
}

/**
 * Why a node fit by its report still cannot get the group now: `wait` resolves by itself (a
 * fresher report is due), `refused` needs the situation or an operator to change (a possible
 * loss of acknowledged data), `unfit` is like a failing probe.
 */
export interface Hold {
  kind: "unfit" | "wait" | "refused";
  reason: string;
}

export interface ModeRules {
  /** Why this node cannot be a candidate beyond alive + healthy + member (null: it can). */
  ineligible(report: ProbeReport | undefined, group: GroupSpec): string | null;
  /** Order among eligible candidates; negative when `a` is better. Ties fall back to priority. */
  compare?(a: CandidateInfo, b: CandidateInfo, group: GroupSpec): number;
  /** Extra DesiredGroup fields for `node` (e.g. the director's real servers). */
  desiredExtras?(state: EngineState, group: GroupSpec, node: string, isHolder: boolean, now: number): Partial<DesiredGroup>;
  /** A member's health for this group changed (probe flip or node death/return); `ctx` to act on it. */
  onHealthChange?(ev: { group: GroupSpec; node: string; healthy: boolean; since: number | null; now: number; ctx?: StepCtx }): EngineEffect[];
  /** Beyond the report: what the mode remembers (another node's last position, a running backfill). Never asked about the holder. */
  hold?(state: EngineState, group: GroupSpec, node: string, now: number): Hold | null;
  /**
   * The holder whose own probe fails may hand the group straight to the next server (direct
   * handoff, handoff.ts): only where a takeover needs nothing the control plane must check at
   * that moment (no data to catch up on, no promotion rule).
   */
  handoff?: boolean;
  /** Every probe report of a member for this group, as it arrives (the mode records what it needs). */
  observe?(ctx: StepCtx, group: GroupSpec, node: string, report: ProbeReport): void;
  /** The group was just granted to `node` at `epoch`. */
  onGrant?(ctx: StepCtx, group: GroupSpec, node: string, epoch: number): void;
}
