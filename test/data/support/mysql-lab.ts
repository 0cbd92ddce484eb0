// The mysql failover lab, shared by the data suite (each scenario once) and the benchmark (5x):
// network namespaces s1 and s2 (one MariaDB each, on its lab address and the writer VIP) and a
// client namespace, on one bridge with no default route; two in-process shims whose commands
// (ip, arping) really run in s1 / s2, so the writer VIP really moves; a load client in the
// client namespace inserting through the VIP with 8 connections; and a sampler reading both
// servers' read_only in one instant every few ms. The shims reach MariaDB through its socket.
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { ShimAgent } from "../../../node-shim/agent.js";
import { setLogSink } from "../../../node-shim/log.js";
import type { ClusterSpecInput } from "../../../protocol/spec.js";
import { createLocalCluster, type LocalControlPlane } from "../../shim/support/control-plane.js";
import { CutProxy } from "../../shim/support/cut-proxy.js";
import { NetnsLab, NetnsRunner } from "../../shim/support/netns.js";
import { DataCluster, waitFor } from "./cluster.js";
import { type GaleraCluster, startGalera } from "./galera.js";
import { AGENT, APP, type DualMaster, type MariaInstance, type MariaOptions, readOnlyOf, REPL, seqsOn, startDualMaster } from "./mariadb.js";

export const NET = "10.231.70";
export const VIP = `${NET}.30`;
const here = (f: string) => fileURLToPath(new URL(f, import.meta.url));

export interface LabPolicy {
  heartbeatIntervalMs: number;
  leaseTtlMs: number;
  driftMarginMs: number;
  probeIntervalMs: number;
}
export const LAB_POLICY: LabPolicy = { heartbeatIntervalMs: 500, leaseTtlMs: 2000, driftMarginMs: 300, probeIntervalMs: 200 };

export function mysqlSpec(name: string, mysql: { promoteOnPossibleLoss?: boolean; topology?: "dual-master" | "galera" } = {}, p = LAB_POLICY): ClusterSpecInput {
  return {
    apiVersion: "chime-ha/v1",
    name,
    policy: { heartbeatIntervalMs: p.heartbeatIntervalMs, leaseTtlMs: p.leaseTtlMs, driftMarginMs: p.driftMarginMs, holdDownMs: 0, deadAfterMs: 600_000 },
    nodes: [
      { name: "server1", hostname: "server1.lab", ip: `${NET}.11`, role: "server", priority: 110 },
      { name: "server2", hostname: "server2.lab", ip: `${NET}.12`, role: "server", priority: 100 },
      { name: "node1", hostname: "node1.lab", ip: `${NET}.101`, role: "compute" },
    ],
    groups: [
      {
        name: "mysql",
        service: "mysql",
        mode: "mysql-writer",
        vip: VIP,
        interface: "eth0",
        ports: [{ port: 3306 }],
        probe: { type: "mysql", intervalMs: p.probeIntervalMs, timeoutMs: 500, fall: 2, rise: 1, maxLagSeconds: 5 },
        mysql: { topology: mysql.topology ?? "dual-master", promoteOnPossibleLoss: mysql.promoteOnPossibleLoss ?? false },
      },
    ],
  };
}

/** One acknowledged insert: its sequence number, the server that acknowledged it, when (ms). */
export interface Ack {
  seq: number;
  sid: number;
  at: number;
}

/** The load client in the client namespace (test/data/support/vip-load.mjs). */
export class VipLoad {
  acks: Ack[] = [];
  errors = 0;
  /** The newest errors as the client printed them ("<conn> <connect|insert> <code> <time>"), for failure messages. */
  lastErrors: string[] = [];
  private child: ChildProcess;
  private done: Promise<void>;

  constructor(ns: string, connections: number, rate: number, maxSeconds = 120) {
    this.child = spawn("ip", ["netns", "exec", ns, process.execPath, here("./vip-load.mjs"), VIP, "3306", APP.user, APP.password, String(connections), String(rate), String(maxSeconds)], { stdio: ["pipe", "pipe", "pipe"] });
    const rl = createInterface({ input: this.child.stdout! });
    rl.on("line", (line) => {
      const [k, a, b, c] = line.split(" ");
      if (k === "A") this.acks.push({ seq: Number(a), sid: Number(b), at: Number(c) });
      else if (k === "E") {
        this.errors++;
        this.lastErrors.push(line.slice(2));
        if (this.lastErrors.length > 40) this.lastErrors.shift();
      }
    });
    this.done = new Promise((r) => this.child.once("exit", () => r()));
  }

  /** Inserts per second acknowledged in [from, to) (ms, timeOrigin-based). */
  rate(from: number, to: number): number {
    return this.acks.filter((a) => a.at >= from && a.at < to).length / ((to - from) / 1000);
  }

  async stop(): Promise<void> {
    this.child.stdin!.end("stop\n");
    const t = setTimeout(() => this.child.kill("SIGKILL"), 5000);
    await this.done;
    clearTimeout(t);
  }
}

export interface SamplerSummary {
  samples: number;
  durationMs: number;
  maxGapMs: number;
  maxSpreadMs: number;
  doubleWritable: number[];
  writableFrom: [number[], number[]];
  writableUntil: [number[], number[]];
}

/** read_only of both servers in one instant, every `everyMs` (test/data/support/ro-sampler.mjs). */
export class RoSampler {
  private child: ChildProcess;
  private out = "";
  private done: Promise<void>;

  constructor(a: MariaInstance, b: MariaInstance, everyMs = 2) {
    this.child = spawn(process.execPath, [here("./ro-sampler.mjs"), a.socket, b.socket, String(everyMs)], { stdio: ["pipe", "pipe", "inherit"] });
    this.child.stdout!.on("data", (d: Buffer) => (this.out += String(d)));
    this.done = new Promise((r) => this.child.once("exit", () => r()));
  }

  async stop(): Promise<SamplerSummary> {
    this.child.stdin!.end("stop\n");
    const t = setTimeout(() => this.child.kill("SIGKILL"), 5000);
    await this.done;
    clearTimeout(t);
    return JSON.parse(this.out) as SamplerSummary;
  }
}

export const clock = () => performance.timeOrigin + performance.now();

/** The in-process shims' log lines with the time they were written (ms, timeOrigin-based). */
export const shimLog: { at: number; line: Record<string, unknown> }[] = [];
export function captureShimLog(): void {
  setLogSink((line) => {
    shimLog.push({ at: clock(), line: JSON.parse(line) as Record<string, unknown> });
    if (shimLog.length > 200_000) shimLog.splice(0, 100_000);
  });
}

/** The namespaces, built once per suite or benchmark; each scenario gets fresh servers and shims. */
export class MysqlLab {
  readonly lab: NetnsLab;
  private runs = 0;

  constructor(
    readonly cp: LocalControlPlane,
    prefix = `chd-m${process.pid % 100000}-`,
  ) {
    this.lab = new NetnsLab(prefix, NET);
  }

  /** s1, s2, the client, and (Galera) the arbitrator's host. */
  async build(arbitrator = false): Promise<void> {
    await this.lab.createBridge();
    await this.lab.addHost("s1", 11);
    await this.lab.addHost("s2", 12);
    await this.lab.addHost("client", 50);
    if (arbitrator) await this.lab.addHost("arb", 13);
  }

  ns(host: "s1" | "s2" | "client" | "arb"): string {
    return this.lab.host(host).ns;
  }

  /** s1 cut off from the other servers (and the arbitrator) in both directions, or its end. */
  async partition(on: boolean, peers = [`${NET}.12`]): Promise<void> {
    const ns = this.ns("s1");
    if (!on) return void (await this.lab.inNs(ns, "nft", ["delete", "table", "inet", "chdpart"]).catch(() => undefined));
    const cmds = ["add table inet chdpart", "add chain inet chdpart in { type filter hook input priority 0 ; }", "add chain inet chdpart out { type filter hook output priority 0 ; }"];
    for (const peer of peers) cmds.push(`add rule inet chdpart in ip saddr ${peer} drop`, `add rule inet chdpart out ip daddr ${peer} drop`);
    for (const cmd of cmds) await this.lab.inNs(ns, "nft", cmd.split(" "));
  }

  async setLink(host: "s1" | "s2", up: boolean): Promise<void> {
    await this.lab.inNs(this.ns(host), "ip", ["link", "set", "eth0", up ? "up" : "down"]);
  }

  /** Undo what a scenario left in the namespaces: VIPs, partitions, links. */
  /** A Galera cluster (db1 in s1, db2 in s2, garbd in arb) with the writer VIP on server1. */
  async galeraScenario(name: string): Promise<Scenario> {
    await this.reset();
    const gc = await startGalera({ nsA: this.ns("s1"), ipA: `${NET}.11`, nsB: this.ns("s2"), ipB: `${NET}.12`, nsArb: this.ns("arb"), ipArb: `${NET}.13` });
    let made: { id: string; tokens: Record<string, string> };
    try {
      made = await createLocalCluster(this.cp, "dblab", mysqlSpec(`${name}-${++this.runs}`, { topology: "galera" }));
    } catch (err) {
      await gc.cleanup();
      throw err;
    }
    const sc = new Scenario(this, gc, new DataCluster(this.cp, made.id, made.tokens));
    sc.galera = gc;
    try {
      await sc.startShims();
    } catch (err) {
      await sc.cleanup();
      throw err;
    }
    return sc;
  }

  async reset(): Promise<void> {
    for (const h of ["s1", "s2"] as const) {
      await this.setLink(h, true);
      await this.lab.inNs(this.ns(h), "ip", ["addr", "del", `${VIP}/24`, "dev", "eth0"]).catch(() => undefined);
    }
    await this.partition(false);
  }

  async cleanup(): Promise<void> {
    await this.lab.cleanup();
  }

  /** Fresh servers and a fresh cluster with server1 as the writer, server2 its caught-up standby. */
  async scenario(name: string, opts: { a?: MariaOptions; b?: MariaOptions; promoteOnPossibleLoss?: boolean; cutProxyForServer1?: boolean } = {}): Promise<Scenario> {
    await this.reset();
    const dm = await startDualMaster({
      prefix: "chd-lab-",
      a: { ...opts.a, ns: this.ns("s1"), ip: `${NET}.11` },
      b: { ...opts.b, ns: this.ns("s2"), ip: `${NET}.12` },
    });
    let made: { id: string; tokens: Record<string, string> };
    try {
      // Cluster names are unique per site: one per run.
      made = await createLocalCluster(this.cp, "dblab", mysqlSpec(`${name}-${++this.runs}`, { promoteOnPossibleLoss: opts.promoteOnPossibleLoss }));
    } catch (err) {
      await dm.cleanup();
      throw err;
    }
    const sc = new Scenario(this, dm, new DataCluster(this.cp, made.id, made.tokens));
    try {
      if (opts.cutProxyForServer1) {
        sc.proxy = new CutProxy("127.0.0.1", Number(new URL(this.cp.url).port));
        sc.proxyUrl = await sc.proxy.listen();
      }
      await sc.startShims();
    } catch (err) {
      await sc.cleanup();
      throw err;
    }
    return sc;
  }
}

/** One scenario's servers, shims, load and sampler. */
export class Scenario {
  galera: GaleraCluster | null = null;
  proxy: CutProxy | null = null;
  proxyUrl = "";
  load: VipLoad | null = null;
  sampler: RoSampler | null = null;

  constructor(
    readonly lab: MysqlLab,
    readonly dm: DualMaster,
    readonly cl: DataCluster,
  ) {}

  shimConfig(db: MariaInstance, peer: MariaInstance, url?: string) {
    return {
      ...(url ? { controlPlaneUrl: url } : {}),
      interface: "eth0",
      settings: { mysql: { user: AGENT.user, password: AGENT.password, socketPath: db.socket, peer: { socketPath: peer.socket }, keepUsers: [REPL.user] } },
    };
  }

  agent(node: "server1" | "server2"): ShimAgent {
    return this.cl.agents.get(node)!;
  }

  async startShims(): Promise<void> {
    const { a, b } = this.dm;
    // server1 first: with equal GTIDs the first healthy report wins.
    this.cl.start("server1", this.shimConfig(a, b, this.proxyUrl || undefined), new NetnsRunner(this.lab.ns("s1")));
    await waitFor("server1 to hold mysql and db1 to be writable", async () => (await this.cl.group("mysql")).holder === "server1" && (await readOnlyOf(a)) === false, 30_000, 50);
    this.cl.start("server2", this.shimConfig(b, a), new NetnsRunner(this.lab.ns("s2")));
    await waitFor("server2 healthy and caught up", async () => (await this.cl.status()).nodes.find((n) => n.name === "server2")?.probes.mysql?.healthy, 15_000, 50);
  }

  /** Start the sampler and the load (8 connections through the VIP), and wait for a steady rate. */
  async startLoad(connections = 8, rate = 640): Promise<{ rate: number }> {
    this.sampler = new RoSampler(this.dm.a, this.dm.b);
    this.load = new VipLoad(this.lab.ns("client"), connections, rate);
    const load = this.load;
    await waitFor("inserts through the VIP", async () => load.acks.length >= 200, 20_000, 20);
    const from = clock();
    await new Promise((r) => setTimeout(r, 1500));
    return { rate: Math.round(load.rate(from, clock())) };
  }

  /** First insert acknowledged by `sid` after `t` (through the VIP), or null. */
  firstAckAfter(t: number, sid: number): Ack | null {
    return this.load?.acks.find((x) => x.at > t && x.sid === sid) ?? null;
  }

  async stopLoad(): Promise<SamplerSummary> {
    await this.load?.stop();
    if (!this.sampler) throw new Error("no sampler was started");
    const s = await this.sampler.stop();
    this.sampler = null;
    return s;
  }

  /** Acknowledged inserts missing from `m` (the writer whose data is the truth now). */
  async lost(m: MariaInstance): Promise<number[]> {
    const have = await seqsOn(m);
    return (this.load?.acks ?? []).filter((x) => !have.has(x.seq)).map((x) => x.seq);
  }

  /**
   * Where the time between a fault at `t0` and the first write on the new writer went: the
   * engine's grant to server2, the applier's read_only=0 there, the first acknowledged insert.
   */
  async timeline(t0: number): Promise<{ grantedMs: number | null; promotedMs: number | null; firstAckMs: number | null }> {
    const granted = (await this.events("group.granted")).find((e) => e.node === "server2" && e.at >= t0 - 50);
    const promoted = shimLog.find((l) => l.at >= t0 && l.line.msg === "mysql promoted");
    if (process.env.CHD_DEBUG) {
      const end = (this.firstAckAfter(t0, 2)?.at ?? clock()) + 200;
      for (const e of await this.events()) if (e.at >= t0 - 1000 && e.at <= end) console.log(`  ${Math.round(e.at - t0)} ms event ${e.kind} ${e.node ?? ""}: ${e.reason.slice(0, 300)}`);
      for (const l of shimLog) if (l.at >= t0 - 500 && l.at <= end && l.line.msg !== "command") console.log(`  ${Math.round(l.at - t0)} ms log ${JSON.stringify(l.line).slice(0, 300)}`);
    }
    const ack = this.firstAckAfter(t0, 2);
    const rel = (x: number | undefined) => (x === undefined ? null : Math.round(x - t0));
    return { grantedMs: rel(granted?.at), promotedMs: rel(promoted?.at), firstAckMs: rel(ack?.at) };
  }

  async events(kind?: string) {
    const all = await this.cl.events();
    return kind ? all.filter((e) => e.kind === kind) : all;
  }

  async cleanup(): Promise<void> {
    await this.load?.stop().catch(() => undefined);
    await this.sampler?.stop().catch(() => undefined);
    await this.cl.stopAll();
    await this.proxy?.close();
    await this.dm.cleanup();
  }
}
