// The pieces the mysql failover test and benchmark share: the cluster spec, each shim's config,
// a client insert load that follows whichever server accepts writes (what a client behind the
// VIP sees), and a 20 ms sampler of @@read_only on every server.
import type mysql from "mysql2/promise";
import { AGENT, APP, type MariaInstance, readOnlyOf, REPL } from "./mariadb.js";

export const NET = "10.231.70";

export function mysqlSpec(name = "dbs") {
  return {
    apiVersion: "chime-ha/v1" as const,
    name,
    policy: { heartbeatIntervalMs: 500, leaseTtlMs: 2000, driftMarginMs: 300, holdDownMs: 0, deadAfterMs: 600_000 },
    nodes: [
      { name: "server1", hostname: "server1.lab", ip: `${NET}.11`, role: "server" as const, priority: 110 },
      { name: "server2", hostname: "server2.lab", ip: `${NET}.12`, role: "server" as const, priority: 100 },
      { name: "node1", hostname: "node1.lab", ip: `${NET}.101`, role: "compute" as const },
    ],
    groups: [
      {
        name: "mysql",
        service: "mysql",
        mode: "mysql-writer" as const,
        vip: `${NET}.30`,
        ports: [{ port: 3306 }],
        probe: { type: "mysql" as const, intervalMs: 200, timeoutMs: 500, fall: 2, rise: 1, maxLagSeconds: 5 },
      },
    ],
  };
}

/** Shim config for the node whose local server is `db` and whose peer is `peer`. */
export function mysqlShimConfig(db: MariaInstance, peer: MariaInstance) {
  return {
    probes: { mysql: { type: "mysql", port: db.port, intervalMs: 200, timeoutMs: 500, fall: 2, rise: 1 } },
    settings: { mysql: { user: AGENT.user, password: AGENT.password, port: db.port, peer: { host: "127.0.0.1", port: peer.port }, keepUsers: [REPL.user] } },
  };
}

/** Inserts seq 0,1,2,... into whichever server accepts them (what a client behind the VIP sees). */
export class InsertLoad {
  acked: { seq: number; on: string; at: number }[] = [];
  rejected = 0;
  private stopped = false;
  private done: Promise<void> | null = null;
  private conns = new Map<string, mysql.Connection | null>();

  constructor(private readonly servers: MariaInstance[]) {}

  private async conn(m: MariaInstance): Promise<mysql.Connection> {
    const c = this.conns.get(m.name);
    if (c) return c;
    const fresh = await m.connect(APP);
    fresh.on("error", () => this.conns.set(m.name, null));
    this.conns.set(m.name, fresh);
    return fresh;
  }

  start(seqFrom = 0): void {
    let seq = seqFrom;
    this.done = (async () => {
      let i = 0;
      while (!this.stopped && i++ < 200_000) {
        let ok = false;
        for (const m of this.servers) {
          try {
            const c = await this.conn(m);
            await c.query("INSERT INTO loaddb.t (seq, at) VALUES (?, ?)", [seq, Date.now()]);
            this.acked.push({ seq, on: m.name, at: performance.now() });
            ok = true;
            break;
          } catch (err) {
            const e = err as { errno?: number; fatal?: boolean };
            if (e.fatal || e.errno === undefined) {
              this.conns.get(m.name)?.destroy();
              this.conns.set(m.name, null);
            }
            this.rejected++;
          }
        }
        seq++; // a failed seq is never retried: only acknowledged ones must survive
        if (!ok) await new Promise((r) => setTimeout(r, 5));
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
    for (const c of this.conns.values()) c?.destroy();
    this.conns.clear();
  }
}

/** Samples @@read_only of every server every 20 ms; records instants with two writable servers. */
export class WritableSampler {
  samples = 0;
  doubleWritable: { at: number; states: (boolean | null)[] }[] = [];
  private timer: NodeJS.Timeout | null = null;
  private busy = false;

  constructor(private readonly servers: MariaInstance[]) {}

  start(): void {
    this.timer = setInterval(() => {
      if (this.busy) return;
      this.busy = true;
      void Promise.all(this.servers.map((m) => readOnlyOf(m))).then((states) => {
        this.samples++;
        if (states.filter((s) => s === false).length > 1) this.doubleWritable.push({ at: Date.now(), states });
        this.busy = false;
      });
    }, 20);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}

export async function seqsOn(m: MariaInstance): Promise<Set<number>> {
  const c = await m.root();
  try {
    const [r] = await c.query("SELECT seq FROM loaddb.t");
    return new Set((r as { seq: number }[]).map((x) => Number(x.seq)));
  } finally {
    await c.end();
  }
}
