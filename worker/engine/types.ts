// Contract of the pure engine: step(state, input, now) -> { state, effects, reply? }.
// The Durable Object shell feeds Inputs and performs Effects; nothing in worker/engine/ does I/O,
// reads a clock or draws random numbers. All times are milliseconds on the Durable Object's clock.
import type { ClusterSpec } from "../../protocol/spec.js";
import type { RunOperation } from "../../protocol/api.js";
import type { LimitRefusal, LimitsReport } from "../../protocol/limits.js";
import type { ApplyError, HeartbeatReply, HeartbeatRequest, MysqlReport, Operation, ProbeReport, PushedGrants } from "../../protocol/heartbeat.js";
import type { ShadowState } from "./shadow.js";
import type { DrillState } from "./drills.js";
import type { GroupLedger, LedgerMemory, LedgerMonth } from "./ledger.js";

/** What survives a Durable Object restart. Written only on transitions, never on plain renewals. */
export interface PersistedState {
  clusterId: string;
  spec: ClusterSpec;
  specVersion: number;
  /** Who made this spec version (`admin:<token id>`); absent for states from before provenance. */
  specBy?: string;
  maintenance: boolean;
  nodeMaintenance: string[];
  /**
   * `holderBoot`: the holder's shim process (boot id) that holds the lease; only it can release.
   * `lastHolder`: while nobody holds the group, who held it at this epoch.
   */
  groups: Record<string, { holder: string | null; epoch: number; lastAutoFailoverAt: number | null; holderBoot?: string | null; lapsedHolder?: string; lastHolder?: string }>;
  /** Compute-node fencing/evacuation progress, so a restart neither repeats nor forgets it. */
  computes: Record<string, ComputeState>;
  /** Monotonic counter for operation ids. */
  nextOperation: number;
  /** Operations operators asked for (backfill, heal): pending until the node reports a result. */
  operations?: Record<string, RequestedOperation>;
  /** Nodes that ever sent a heartbeat: one never heard is waiting to be set up, not failed. */
  heard: string[];
  /**
   * Conditions already reported (key -> identity: hold-down, no candidate, waiting, apply
   * failures), so each is said once, also across Durable Object restarts (which happen whenever
   * the object sits idle). Written only when a condition starts or ends.
   */
  notes: Record<string, string>;
  /** Shadow mode's ledger: the incumbent HA system's moves beside chime-ha's (shadow.ts). */
  shadow?: ShadowState;
  /** Availability ledger: per group, since when it counts and the interval it is in now (ledger.ts). */
  ledger: Record<string, GroupLedger>;
  /** Failover drills per group: the last one and the one under way (drills.ts). */
  drills: Record<string, DrillState>;
  /** Each node's local limits as it last reported them (limits.ts); absent before the first report. */
  limits?: Record<string, LimitsReport>;
  /**
   * Groups removed from the spec: the epoch each reached (epochs never go back for a name, so a
   * group added again later starts above it) and who held its VIP until when (DO clock, the
   * lease's end at removal): that VIP goes to nobody else before then + margin.
   */
  retired?: Record<string, RetiredGroup>;
  /**
   * Failsafe peers (failsafe-peers.ts): per group, the spec version since which each member has
   * been one (absent: from the start), and per node the newest spec version whose peer list its
   * shim said it uses. A group's `lapsedHolder` lost its lease without a release.
   */
  memberSince?: Record<string, Record<string, number>>;
  peersOf?: Record<string, number>;
  /**
   * Per node, the shim processes (boot ids) a newer process has replaced, newest last (at most
   * RETIRED_BOOTS_KEPT). A heartbeat from one of them is a late message from a process that has
   * ended: it must not take the lease back from its successor, nor release it. Written on shim
   * restarts only.
   */
  retiredBoots?: Record<string, string[]>;
}

export interface RetiredGroup {
  epoch: number;
  vip: string;
  holder: string | null;
  /** End of the holder's lease as known at removal (null: unknown, e.g. right after a restart). */
  until: number | null;
  /**
   * Failsafe on and the holder still in the spec: it may keep the VIP past `until` on promises from
   * the members it knew (these; each refuses grants while its promise runs). Anyone else gets the
   * VIP only once the holder's heartbeat says it no longer holds the group (then this is dropped).
   */
  knownBy?: string[];
  /** A server named to take it by direct handoff when it was removed: either may carry the VIP until `until` (handoff.ts). */
  handoffTo?: string;
}

/** A snapshot as stored by an older version (before `heard`, `notes`, `ledger`, `drills` were persisted). */
export type StoredState = Omit<PersistedState, "heard" | "notes" | "ledger" | "drills"> & Partial<Pick<PersistedState, "heard" | "notes" | "ledger" | "drills">>;

export interface RequestedOperation {
  node: string;
  op: Operation;
  phase: "pending" | "done" | "failed";
  requestedAt: number;
  actor: string;
  detail?: string;
  /** influxdb-backfill: the whole window and the progress of its bounded runs (one op per run). */
  backfill?: BackfillProgress;
}

export interface BackfillProgress {
  windowStartMs: number;
  windowEndMs: number;
  /** Points copied by the runs before this one. */
  points: number;
  /** This run's number (1 = first), and failed attempts of this run so far. */
  run: number;
  attempt: number;
  /** The outage-window incident this backfill closes. */
  incident?: string;
  /** The first run's operation id: an operator's request is answered under it. */
  first?: string;
}

export type ComputeState = {
  phase: "alive" | "suspect" | "fencing" | "fenced" | "evacuating" | "evacuated" | "fence-failed" | "evacuate-failed";
  since: number;
  /** The running operation (fence or evacuate) and the server node asked to run it. */
  operationId?: string;
  executor?: string;
  detail?: string;
  /** Idempotency key of this death's evacuation: the same for every re-issue (new executor). */
  evacuationKey?: string;
  /** Runs of this operation on earlier executors (re-issued when the executor changed). */
  earlier?: { operationId: string; executor: string }[];
};

export interface NodeRuntime {
  /** Receipt time of the last heartbeat; null until one arrives after boot. */
  lastBeatAt: number | null;
  bootId: string | null;
  seq: number;
  probes: Record<string, ProbeReport>;
  /** When each probe last turned healthy (for preemption delay). */
  healthySince: Record<string, number>;
  /** When each probe (or the node) last went down; cleared when it is healthy again. */
  downSince: Record<string, number>;
  /** Liveness as last reported in an event, so a change is reported once. */
  aliveReported: boolean;
  /**
   * Apply failures the shim reports (by applyErrorKey), with when this control plane first saw
   * each: one still reported APPLY_PERSIST_MS later is persistent (an event, and status shows it).
   */
  applyErrors: Record<string, { error: ApplyError; firstSeenAt: number }>;
  /** What the node refused as outside its local limits, as its last heartbeat said (limits.ts). */
  limitRefusals: LimitRefusal[];
  /** The control-plane outage this node reported last (`bootId:id`), so it is recorded once (outage.ts). */
  outageSeen: string | null;
  /** The node said it is stopping (heartbeat `leaving`): not a candidate until it says otherwise. */
  leaving: boolean;
  /** Grants it refused (failsafe promise to another node), as last reported. */
  refused: { group: string; epoch: number; promisedTo: string }[];
  /**
   * The smallest (receipt time - shim send time) seen from this boot, at `at`: the clocks' offset
   * plus the network's quickest delivery. A heartbeat far above it was held up in the network.
   */
  transit: { least: number; at: number; heldUpSince: number | null } | null;
  /** When this node's shadow observations were last taken as news (shadow.ts). Memory only. */
  observedAt?: number | null;
}

export interface GroupRuntime {
  holder: string | null;
  epoch: number;
  /** Receipt time of the holder's last renewal + T. Memory only; null when unknown (after boot). */
  leaseUntil: number | null;
  /** `revoking`: the holder was told to release (switchover, drain, unhealthy) and gets no renewals. */
  phase: "free" | "held" | "revoking";
  /** Who should get the group once the revoke completes (null: best candidate). */
  revokeTo: string | null;
  revokeReason: string | null;
  /** Revoke started at; a holder that never confirms is covered by lease expiry. */
  revokeAt: number | null;
  lastAutoFailoverAt: number | null;
  /** The epoch the holder last reported holding (heartbeat `holding`): a new grant is up only once reported. */
  confirmedEpoch: number;
  /** Who planned the move under way (an operator's switchover, a drain, a drill); null: none or unplanned. */
  plannedBy: string | null;
  /**
   * The holder's shim process (boot id) whose heartbeats renew the lease. A release counts only
   * from that process: a restarted shim adopts its lease, and a late `released` from the process
   * before it must not free a group the new one holds. Persisted when it changes (restarts only).
   */
  holderBoot: string | null;
  /**
   * When the holder's heartbeat first stopped listing the group it had confirmed (its VIP made
   * inert: letting go, or its local lease ran out) while it is still the holder; null otherwise.
   * The availability ledger counts the group unserved from then (ledger.ts). Memory only.
   */
  letGoAt?: number | null;
  /**
   * When another member last saw the group's VIP answer (heartbeat `vipAnswered`, dated on this
   * clock) while the group was at `epoch`: how long a holder that went silent still served
   * (ledger.ts). Memory only.
   */
  vipAnswer?: { epoch: number; at: number } | null;
  /** A holder removed from the spec, and when it was last heard (its node's runtime is gone). Memory only. */
  removedHolder?: { node: string; heardAt: number | null } | null;
  /** Servers named for a direct handoff and how long their lease from it may run (handoff.ts). Memory only. */
  handoff?: HandoffRecord[];
  /** The last handoff taken as a grant: the old holder's heartbeats from before it are not news. Memory only. */
  handedOver?: { from: string; epoch: number; at: number };
}

/** `to` was named to take the group from `from` at `epoch + 1`; a lease from that naming ends by `until`. */
export interface HandoffRecord {
  to: string;
  from: string;
  epoch: number;
  until: number;
}

export interface Decision {
  at: number;
  group?: string;
  node?: string;
  epoch?: number;
  kind: string;
  reason: string;
}

export interface EngineState {
  persisted: PersistedState;
  /** When this Durable Object incarnation loaded its state; grants to non-holders wait until bootedAt + T + margin. */
  bootedAt: number;
  nodes: Record<string, NodeRuntime>;
  groups: Record<string, GroupRuntime>;
  /** Last decisions, newest last, kept for the status endpoint (bounded). */
  decisions: Decision[];
  /** Each node's desired-state fingerprint as of the last step (memory only): a change is pushed. */
  desiredKeys: Record<string, string>;
  /** mysql-writer groups: what the servers last reported (memory only; see modes/mysql-writer.ts). */
  mysql: Record<string, MysqlMemory>;
  /** The availability ledger's month records this incarnation holds (current and previous month). */
  ledger: LedgerMemory;
}

/** One server's last mysql facts and when the probe that produced them ran (bounds, control-plane clock). */
export interface MysqlFacts {
  report: MysqlReport;
  /** The probe read these facts no earlier than this (receipt - age - the heartbeat's possible delay). */
  probedAfter: number;
  /** ... and no later than this (receipt - age + run time). */
  probedBefore: number;
}

/** The last writer of a mysql-writer group as it last reported (memory only). */
export interface MysqlWriterSnapshot {
  node: string;
  /** gtid_binlog_pos and gtid_binlog_state as last reported. */
  pos: string;
  state: string;
  /** Upper bound of when the probe read `pos`. */
  probedBefore: number;
  /** It reports read-only now: nothing commits there any more, `pos` is final. */
  fenced: boolean;
  /** Semi-sync was effective at this report: ON, a standby connected, no fallback since the previous one. */
  semiSyncOk: boolean;
  noTx: number | null;
  /** First report that showed semi-sync not effective, and why (null while effective). */
  asyncSince: number | null;
  asyncWhy: string | null;
}

export interface MysqlMemory {
  facts: Record<string, MysqlFacts>;
  writer: MysqlWriterSnapshot | null;
  /** An operator's switchover with acceptDataLoss to `node`; `epoch` once granted. */
  forced: { node: string; actor: string; epoch: number | null } | null;
  /** The epoch whose promotion was allowed despite a possible loss (forced or by policy). */
  lossAcceptedEpoch: number | null;
}

export type Actor = string;

export type EngineInput =
  | { type: "heartbeat"; node: string; request: HeartbeatRequest }
  | { type: "tick" }
  | { type: "switchover"; group: string; to: string | null; actor: Actor; acceptDataLoss?: boolean }
  | { type: "maintenance"; node: string | null; on: boolean; actor: Actor }
  | { type: "spec"; spec: ClusterSpec; specVersion: number; actor: Actor }
  | { type: "ack-fence"; node: string; actor: Actor }
  | { type: "run-operation"; request: RunOperation; actor: Actor }
  | { type: "drill"; group: string; actor: Actor; returnAfterMs?: number };

export type Severity = "info" | "warning" | "critical";

export type EngineEffect =
  /** Write this snapshot (one storage key) before any reply or push leaves. */
  | { type: "persist"; state: PersistedState }
  /** One event row (D1) and, by routing rules, an alert. `incident` groups alerts that belong together. */
  | {
      type: "event";
      kind: string;
      severity: Severity;
      reason: string;
      group?: string;
      node?: string;
      epoch?: number;
      actor: Actor;
      incident?: string;
      resolves?: boolean;
    }
  /**
   * Tell this node over its watch socket that its desired state changed; with `grants`, also the
   * groups granted to it in this step, counted from its last heartbeat (protocol PushedGrants).
   */
  | { type: "push"; node: string; grants?: PushedGrants }
  /** Keep one alarm, at this time at the latest (deadlines.ts: only what no heartbeat will reach). */
  | { type: "alarm"; at: number }
  /** Availability ledger months that changed: written with this step's snapshot, one key per month. */
  | { type: "ledger"; months: LedgerMonth[] };

export interface StepResult {
  state: EngineState;
  effects: EngineEffect[];
  /** For heartbeat inputs: what to send back to the node. */
  reply?: HeartbeatReply;
  /** For admin inputs that cannot be carried out: why (the shell answers 409). */
  rejected?: string;
}
