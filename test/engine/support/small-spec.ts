// A small cluster for engine tests that are about one rule: servers server1..N with the given
// priorities (spec order = name order), one compute node with a webhook fence, and one
// active-standby group `api` (chime-server) unless `groups` says otherwise.
import { ClusterSpec, type ClusterSpecInput } from "../../../protocol/spec.js";
import type { PersistedState } from "../../../worker/engine/index.js";
import { boot } from "../../../worker/engine/index.js";
import { Driver } from "./data-spec.js";

type GroupInput = NonNullable<ClusterSpecInput["groups"]>[number];
type PolicyInput = NonNullable<ClusterSpecInput["policy"]>;

export const API_GROUP: GroupInput = { name: "api", service: "chime-server", mode: "active-standby", vip: "192.168.231.10", ports: [{ port: 8801 }], probe: { type: "tcp", port: 8801 } };

/** Policy: heartbeat 1 s, T = 3 s, margin 0.5 s, hold-down 10 s, deadAfter 60 s, unless overridden. */
export function smallSpec(opts: { priorities?: number[]; groups?: GroupInput[]; policy?: Partial<PolicyInput>; edit?: (s: ClusterSpecInput) => void } = {}): ClusterSpec {
  const priorities = opts.priorities ?? [110, 100];
  const raw: ClusterSpecInput = {
    apiVersion: "chime-ha/v1",
    name: "small",
    policy: { heartbeatIntervalMs: 1000, leaseTtlMs: 3000, driftMarginMs: 500, holdDownMs: 10_000, deadAfterMs: 60_000, ...opts.policy },
    nodes: [
      ...priorities.map((priority, i) => ({ name: `server${i + 1}`, hostname: `server${i + 1}.chime.com`, ip: `192.168.231.${11 + i}`, role: "server" as const, priority })),
      { name: "node1", hostname: "node1.chime.com", ip: "192.168.231.101", role: "compute", fence: { type: "webhook", url: "http://fence.example/off" } },
    ],
    groups: opts.groups ?? [API_GROUP],
  };
  opts.edit?.(raw);
  return ClusterSpec.parse(raw);
}

/** A Driver that keeps what the Durable Object would have persisted and can restart from it. */
export class Shell extends Driver {
  persisted: PersistedState;

  constructor(spec: ClusterSpec, now = 0) {
    super(spec, now);
    this.persisted = structuredClone(this.state.persisted);
  }

  override run(...args: Parameters<Driver["run"]>) {
    const r = super.run(...args);
    for (const e of r.effects) if (e.type === "persist") this.persisted = structuredClone(e.state);
    return r;
  }

  /** Snapshots written by the step that ran last (0 or 1). */
  persistsOf(r: ReturnType<Driver["run"]>): PersistedState[] {
    return r.effects.flatMap((e) => (e.type === "persist" ? [e.state] : []));
  }

  /** The Durable Object is evicted and boots again from what was persisted. */
  override restart(now: number): void {
    this.state = boot(structuredClone(this.persisted), now);
  }
}
