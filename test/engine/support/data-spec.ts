// A cluster spec with every data-service mode (and chime-server, which runs compute fencing), and
// a tiny driver for the pure engine: heartbeats and ticks at explicit times.
import type { EngineEffect, EngineInput, EngineState } from "../../../worker/engine/index.js";
import { boot, desiredFor, newPersistedState, step } from "../../../worker/engine/index.js";
import type { HeartbeatRequestInput, ProbeReport } from "../../../protocol/heartbeat.js";
import { HeartbeatRequest } from "../../../protocol/heartbeat.js";
import { ClusterSpec, type ClusterSpecInput } from "../../../protocol/spec.js";

export function dataSpec(overrides: Partial<ClusterSpecInput> = {}): ClusterSpec {
  return ClusterSpec.parse({
    apiVersion: "chime-ha/v1",
    name: "data",
    policy: { heartbeatIntervalMs: 1000, leaseTtlMs: 3000, driftMarginMs: 500, holdDownMs: 0, deadAfterMs: 10_000 },
    nodes: [
      { name: "server1", hostname: "server1.chime.com", ip: "192.168.231.11", role: "server", priority: 110 },
      { name: "server2", hostname: "server2.chime.com", ip: "192.168.231.12", role: "server", priority: 100 },
      { name: "node1", hostname: "node1.chime.com", ip: "192.168.231.101", role: "compute", fence: { type: "ipmi", host: "10.0.0.101", user: "admin", passwordEnv: "IPMI_NODE1" } },
      { name: "node2", hostname: "node2.chime.com", ip: "192.168.231.102", role: "compute", fence: { type: "webhook", url: "http://fence.example/off" } },
      { name: "node3", hostname: "node3.chime.com", ip: "192.168.231.103", role: "compute" },
    ],
    groups: [
      { name: "server-api", service: "chime-server", mode: "active-standby", vip: "192.168.231.10", ports: [{ port: 8801 }], probe: { type: "tcp", port: 8801 } },
      { name: "mysql", service: "mysql", mode: "mysql-writer", vip: "192.168.231.30", ports: [{ port: 3306 }], probe: { type: "mysql", maxLagSeconds: 5 } },
      { name: "influxdb", service: "influxdb", mode: "influxdb-read", vip: "192.168.231.40", ports: [{ port: 8086 }], probe: { type: "influxdb" } },
      { name: "minio", service: "minio", mode: "minio", vip: "192.168.231.50", ports: [{ port: 9000 }], probe: { type: "minio" } },
    ],
    evacuation: { url: "http://chime-server.local:8801/v1/hosts/evacuate", method: "POST", body: '{"host":"{hostname}","ip":"{ip}","node":"{node}"}' },
    ...overrides,
  });
}

export const mysqlOk = (over: Partial<NonNullable<ProbeReport["mysql"]>> = {}): ProbeReport => ({
  healthy: true,
  detail: "ok",
  // Facts straight from a 10 ms probe run that started as the heartbeat left.
  factsAgeMs: 0,
  factsRunMs: 10,
  mysql: {
    readOnly: true,
    replicaConfigured: true,
    ioRunning: true,
    sqlRunning: true,
    caughtUp: true,
    secondsBehind: 0,
    gtidCurrentPos: "0-1-100",
    gtidBinlogPos: "0-1-100",
    gtidSlavePos: "0-1-100",
    errantTransactions: false,
    semiSync: { masterEnabled: true, masterStatus: true, clients: 1, noTx: 0, yesTx: 100, waitSessions: 0, slaveEnabled: true },
    ...over,
  },
});

export const healthy: ProbeReport = { healthy: true, detail: "ok" };
export const down: ProbeReport = { healthy: false, detail: "connect ECONNREFUSED" };
export const minioReport = (live: boolean, writeQuorum: boolean): ProbeReport => ({ healthy: live && writeQuorum, detail: "x", minio: { live, writeQuorum, readQuorum: live } });

/** Drives the engine like the Durable Object shell: keeps the state and every effect. */
export class Driver {
  state: EngineState;
  effects: EngineEffect[] = [];
  private seq = new Map<string, number>();
  lastRejected: string | undefined;

  constructor(spec = dataSpec(), now = 0) {
    this.state = boot(newPersistedState("dc1.data", spec, 1), now);
  }

  run(input: EngineInput, now: number) {
    const r = step(this.state, input, now);
    this.state = r.state;
    this.effects.push(...r.effects);
    this.lastRejected = r.rejected;
    return r;
  }

  beat(node: string, now: number, req: Partial<HeartbeatRequestInput> = {}) {
    const seq = this.seq.get(node) ?? 0;
    this.seq.set(node, seq + 1);
    return this.run({ type: "heartbeat", node, request: HeartbeatRequest.parse({ bootId: `boot-${node}`, seq, ...req }) }, now);
  }

  tick(now: number) {
    return this.run({ type: "tick" }, now);
  }

  /** The Durable Object restarts: only what was persisted survives. */
  restart(now: number) {
    this.state = boot(structuredClone(this.state.persisted), now);
  }

  holder(group: string): string | null {
    return this.state.groups[group]!.holder;
  }

  desired(node: string, now: number) {
    return desiredFor(this.state, node, now);
  }

  events(kind?: string) {
    return this.effects.filter((e): e is Extract<EngineEffect, { type: "event" }> => e.type === "event" && (kind === undefined || e.kind === kind));
  }
}
