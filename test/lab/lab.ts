// The failover lab: network namespaces on a bridge (none with a default route), a control-plane
// host running the real Worker in workerd (wrangler dev bound to its namespace address), two
// server hosts with stand-in ChimeStack services and either real chime-ha shims or keepalived
// (configured by `chime-ha export keepalived` from the same spec), and a client host.
//
// Observers, all inside the lab: a client probe per VIP (a GET every 20 ms, 200 ms budget), a VIP
// sampler per server host (`ip -o -4 addr` and the chime-ha lease filter every 10 ms: configured
// and effective), and an ARP prober on the client (who answers ARP for each VIP, every 20 ms: an
// outside view that does not rest on our definition of effective). The harness in the root
// namespace only reads their output and starts/kills processes; API calls go through a bridge
// process in the control-plane namespace.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, mkdtempSync, rmSync, type WriteStream, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import { exportKeepalived } from "../../node-shim/cli/export-keepalived.js";
import { type ClusterSpec, type ClusterSpecInput, validateSpec } from "../../protocol/spec.js";
import type { ClusterStatus } from "../../protocol/status.js";
import { type ControlPlane, REPO_ROOT, startControlPlane } from "../support/control-plane.js";
import type { ArpRound, ClientResult, VipSample } from "./analyze.js";

const exec = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** keepalived: VRRPv2, advert_int 1, vrrp_script checks; keepalived-tuned: VRRPv3 with advert_int = the heartbeat interval and vrrp_track_process. */
export type System = "chime-ha" | "keepalived" | "keepalived-tuned";
export type Transport = "websocket" | "http";
export const isKeepalived = (s: System) => s !== "chime-ha";
export type Server = "s1" | "s2";
export const SERVERS: Server[] = ["s1", "s2"];
export const NODE_OF: Record<Server, string> = { s1: "server1", s2: "server2" };
export const HOST_OF: Record<string, Server> = { server1: "s1", server2: "s2" };
export const other = (h: Server): Server => (h === "s1" ? "s2" : "s1");

export interface LabPolicy {
  name: "lab" | "default";
  heartbeatIntervalMs: number;
  leaseTtlMs: number;
  driftMarginMs: number;
  /** Probe cadence (tcp) for both groups. */
  probeIntervalMs: number;
  probeTimeoutMs: number;
  probeFall: number;
  probeRise: number;
  /** The shims' localLeaseMarginMs and heartbeatTimeoutMs. */
  localMarginMs: number;
  heartbeatTimeoutMs: number;
}
/**
 * The lab's policy, tighter than the defaults. Safety: a holder's VIP goes by its local lease end
 * (send + T - 250 ms), the control plane grants elsewhere after receipt + T + 50 ms, so removing
 * the VIP may take up to 300 ms minus the clocks' drift (2% of T = 18 ms; one machine here).
 * Liveness: the lease outlives one lost heartbeat (650 ms after the send, 250 ms reply timeout).
 */
export const LAB_POLICY: LabPolicy = { name: "lab", heartbeatIntervalMs: 300, leaseTtlMs: 900, driftMarginMs: 50, probeIntervalMs: 100, probeTimeoutMs: 80, probeFall: 1, probeRise: 1, localMarginMs: 250, heartbeatTimeoutMs: 250 };
/** chime-ha's defaults, with probes at keepalived's cadence (1 s): the like-for-like comparison. */
export const DEFAULT_POLICY: LabPolicy = { name: "default", heartbeatIntervalMs: 1000, leaseTtlMs: 3000, driftMarginMs: 500, probeIntervalMs: 1000, probeTimeoutMs: 800, probeFall: 2, probeRise: 1, localMarginMs: 200, heartbeatTimeoutMs: 500 };

export const policySummary = (p: LabPolicy) =>
  `heartbeat ${p.heartbeatIntervalMs} ms, lease TTL ${p.leaseTtlMs} ms, drift margin ${p.driftMarginMs} ms, tcp probes every ${p.probeIntervalMs} ms (${p.probeTimeoutMs} ms timeout) fall ${p.probeFall} rise ${p.probeRise}, shim lease margin ${p.localMarginMs} ms, heartbeat timeout ${p.heartbeatTimeoutMs} ms`;
const CP_PORT = 8787;
/** Bits of the sampler's mask. */
export const API_BIT = 0;
export const PORTAL_BIT = 1;

export function labSpec(net: string, policy: LabPolicy = LAB_POLICY, shadow = false): ClusterSpecInput {
  return {
    apiVersion: "chime-ha/v1",
    name: "lab",
    description: "failover lab (test/lab)",
    policy: {
      heartbeatIntervalMs: policy.heartbeatIntervalMs,
      leaseTtlMs: policy.leaseTtlMs,
      driftMarginMs: policy.driftMarginMs,
      // A holder cut off from the control plane keeps the VIP while its peer promises not to take it.
      failsafe: true,
      // Shadow lab: keepalived acts, chime-ha decides and compares (test/lab/shadow.test.ts).
      shadow,
      // No anti-flap hold-down: the runs fail over back and forth on purpose.
      holdDownMs: 0,
      deadAfterMs: 3_600_000,
      preempt: { enabled: false, delayMs: 30_000 },
    },
    nodes: [
      { name: "server1", hostname: "server1.lab", ip: `${net}.11`, role: "server", priority: 110 },
      { name: "server2", hostname: "server2.lab", ip: `${net}.12`, role: "server", priority: 100 },
      // A third server that serves no group (no host in the lab): it keeps the spec valid (2-3
      // servers) when scenario (l) removes a holder from it.
      { name: "server3", hostname: "server3.lab", ip: `${net}.13`, role: "server", priority: 90 },
      { name: "node1", hostname: "node1.lab", ip: `${net}.101`, role: "compute" },
    ],
    groups: [
      {
        name: "server-api",
        service: "chime-server",
        mode: "active-standby",
        vip: `${net}.10`,
        interface: "eth0",
        members: ["server1", "server2"],
        ports: [
          { port: 8801, label: "API" },
          { port: 8802, label: "grpc" },
        ],
        probe: { type: "tcp", port: 8801, intervalMs: policy.probeIntervalMs, timeoutMs: policy.probeTimeoutMs, fall: policy.probeFall, rise: policy.probeRise },
        // The stand-in service names itself so (process.title): keepalived-tuned tracks it.
        process: "chime-server",
      },
      {
        name: "portal",
        service: "chime-portal",
        mode: "active-active-lb",
        vip: `${net}.20`,
        interface: "eth0",
        members: ["server1", "server2"],
        ports: [{ port: 80, realPort: 8033, label: "web UI" }],
        probe: { type: "tcp", port: 8033, intervalMs: policy.probeIntervalMs, timeoutMs: policy.probeTimeoutMs, fall: policy.probeFall, rise: policy.probeRise },
        process: "chime-portal",
        lb: { backend: "nftables", scheduler: "wrr" },
      },
    ],
  };
}

/** Root, and every tool the lab runs; the reason when something is missing. */
export async function labMissing(system: System | "both" = "both"): Promise<string | null> {
  if (process.getuid?.() !== 0) return "needs root (network namespaces)";
  const tools = ["ip", "nft", "arping", "bash", "python3"];
  if (system !== "chime-ha") tools.push("keepalived");
  for (const t of tools) {
    try {
      await exec("bash", ["-c", `command -v ${t}`]);
    } catch {
      return `'${t}' is not installed`;
    }
  }
  return null;
}

interface Proc {
  child: ChildProcess;
  what: string;
}

export interface LabOptions {
  system: System;
  /** Third octet of 10.231.X.0/24; unique per concurrently running lab. */
  octet?: number;
  /** Echo lab progress to stderr. */
  verbose?: boolean;
  /** chime-ha's policy in the lab spec (keepalived-tuned's advert_int is its heartbeat interval). */
  policy?: LabPolicy;
  /** How the shims heartbeat (default: websocket, the shim's default). */
  transport?: Transport;
  /** With a keepalived system: chime-ha shims beside it in shadow mode (they act on nothing). */
  shadow?: boolean;
  /** How the shim runs (default: the source under tsx); e.g. the bundle with the unit's V8 flags. */
  shimCommand?: string[];
}

export class Lab {
  readonly system: System;
  readonly transport: Transport;
  /** keepalived acts and chime-ha runs beside it in shadow mode. */
  readonly shadow: boolean;
  readonly net: string;
  readonly prefix: string;
  readonly dir: string;
  readonly spec: ClusterSpec;
  readonly policy: LabPolicy;
  private readonly shimCommand: string[] | null;
  readonly vipApi: string;
  readonly vipPortal: string;
  readonly ip: Record<"cp" | "s1" | "s2" | "c", string>;
  cp: ControlPlane | null = null;
  clusterId = "";
  private tokens: Record<string, string> = {};
  private readonly namespaces: string[] = [];
  private readonly procs = new Set<Proc>();
  /** Per server: the processes a crash kills (services, shim or keepalived). */
  private readonly hostProcs: Record<Server, Map<string, Proc>> = { s1: new Map(), s2: new Map() };
  private bridge: { proc: Proc; next: number; waiting: Map<number, (v: { status: number; body?: unknown; error?: string }) => void> } | null = null;
  readonly client: { api: ClientResult[]; portal: ClientResult[] } = { api: [], portal: [] };
  /** ARP rounds from the client: who answered for each VIP (index 0 API, 1 portal). */
  readonly arp: ArpRound[] = [];
  readonly samples: Record<Server, VipSample[]> = { s1: [], s2: [] };
  /** keepalived's VRRP state per host and instance, from its log. */
  readonly vrrpState: Record<Server, Record<string, string>> = { s1: {}, s2: {} };
  private logs: WriteStream[] = [];
  /** Shared by the lab's shims to sign failsafe promise requests. */
  private readonly failsafeSecret = randomBytes(24).toString("hex");
  private readonly verbose: boolean;

  constructor(opts: LabOptions) {
    this.system = opts.system;
    this.transport = opts.transport ?? "websocket";
    this.shadow = opts.shadow === true && isKeepalived(opts.system);
    const octet = opts.octet ?? (opts.system === "chime-ha" ? 70 : opts.system === "keepalived" ? 71 : 73);
    this.net = `10.231.${octet}`;
    this.prefix = `chl${octet}-`;
    this.dir = mkdtempSync(join(tmpdir(), `chime-lab-${opts.system}-`));
    this.policy = opts.policy ?? LAB_POLICY;
    this.shimCommand = opts.shimCommand ?? null;
    const r = validateSpec(labSpec(this.net, this.policy, this.shadow));
    if (!r.ok) throw new Error(`lab spec invalid: ${JSON.stringify(r.problems)}`);
    this.spec = r.spec;
    this.vipApi = `${this.net}.10`;
    this.vipPortal = `${this.net}.20`;
    this.ip = { cp: `${this.net}.2`, s1: `${this.net}.11`, s2: `${this.net}.12`, c: `${this.net}.100` };
    this.verbose = opts.verbose ?? false;
  }

  ns(host: "cp" | Server | "c" | "br"): string {
    return `${this.prefix}${host}`;
  }

  note(msg: string): void {
    if (this.verbose) process.stderr.write(`[lab ${this.system} ${new Date().toISOString().slice(11, 23)}] ${msg}\n`);
  }

  async sh(args: string[], timeoutMs = 10_000): Promise<string> {
    return (await exec(args[0]!, args.slice(1), { timeout: timeoutMs })).stdout;
  }

  async inNs(host: "cp" | Server | "c" | "br", args: string[], timeoutMs = 10_000): Promise<string> {
    return this.sh(["ip", "netns", "exec", this.ns(host), ...args], timeoutMs);
  }

  // ---------------------------------------------------------------- topology

  private async addNs(host: "cp" | Server | "c" | "br"): Promise<void> {
    const ns = this.ns(host);
    // A namespace left by a run that was killed: remove it first (it is ours by prefix).
    await this.sh(["ip", "netns", "del", ns]).catch(() => undefined);
    await this.sh(["ip", "netns", "add", ns]);
    this.namespaces.push(ns);
    await this.inNs(host, ["ip", "link", "set", "lo", "up"]);
  }

  private async addHost(host: "cp" | Server | "c"): Promise<void> {
    await this.addNs(host);
    const peer = `p-${host}`;
    await this.inNs("br", ["ip", "link", "add", peer, "type", "veth", "peer", "name", "eth0", "netns", this.ns(host)]);
    await this.inNs("br", ["ip", "link", "set", peer, "master", "br0", "up"]);
    await this.inNs(host, ["ip", "addr", "add", `${this.ip[host]}/24`, "dev", "eth0"]);
    await this.inNs(host, ["ip", "link", "set", "eth0", "up"]);
  }

  /** Long-running process in a namespace, in its own process group (killed as a group). */
  spawnIn(host: "cp" | Server | "c", what: string, argv: string[], onLine?: (line: string) => void, env?: NodeJS.ProcessEnv): Proc {
    const child = spawn("ip", ["netns", "exec", this.ns(host), ...argv], { cwd: REPO_ROOT, detached: true, stdio: ["pipe", "pipe", "pipe"], env: env ?? process.env });
    const log = createWriteStream(join(this.dir, `${host}-${what}.log`), { flags: "a" });
    this.logs.push(log);
    child.stderr!.pipe(log, { end: false });
    if (onLine) {
      const rl = createInterface({ input: child.stdout! });
      rl.on("line", (l) => onLine(l));
    } else child.stdout!.pipe(log, { end: false });
    child.on("error", () => undefined);
    const p = { child, what };
    this.procs.add(p);
    child.once("exit", () => this.procs.delete(p));
    return p;
  }

  /** SIGKILL (or `sig`) the process group; resolves when the leader has exited. */
  async killProc(p: Proc, sig: NodeJS.Signals = "SIGKILL", waitMs = 5000): Promise<void> {
    const { child } = p;
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    try {
      process.kill(-child.pid, sig);
    } catch {
      return;
    }
    const t = sleep(waitMs).then(() => "timeout");
    if ((await Promise.race([exited, t])) === "timeout") {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        // gone
      }
      await exited;
    }
  }

  async start(): Promise<void> {
    this.note(`start (dir ${this.dir})`);
    await this.addNs("br");
    await this.inNs("br", ["ip", "link", "add", "br0", "type", "bridge"]);
    await this.inNs("br", ["ip", "link", "set", "br0", "up"]);
    for (const h of ["cp", "s1", "s2", "c"] as const) await this.addHost(h);
    // The portal director reaches real servers on the peer: it forwards (nftables DNAT).
    for (const h of SERVERS) await this.inNs(h, ["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    // The client's ARP prober asks for each VIP every 20 ms, and every answer refreshes the client
    // kernel's neighbour entry. Linux ignores a new MAC for an entry updated less than `locktime`
    // (1 s) ago, so an answer from the old holder just before its VIP went inert locked the entry
    // to it for a second and the new holder's first gratuitous ARP was ignored (scenario (a): 1.1 s
    // instead of ~0.15 s in about one run of four; 0 of 6 with locktime 0). Real clients do not ARP
    // every 20 ms; the shim's second gratuitous ARP, 1 s after the first, covers the real case.
    await this.inNs("c", ["sysctl", "-qw", "net.ipv4.neigh.eth0.locktime=0"]);

    for (const h of SERVERS) {
      this.samplerStart(h);
      await this.startServices(h);
    }
    if (this.system === "chime-ha" || this.shadow) {
      this.cp = await startControlPlane({ netns: this.ns("cp"), host: this.ip.cp, port: CP_PORT, logLevel: "warn", readyTimeoutMs: 90_000 });
      this.note(`control plane up at ${this.cp.url}`);
      this.startBridge();
      const site = await this.api("POST", "/v1/sites", { id: "lab" });
      if (site.status !== 201 && site.status !== 200 && site.status !== 409) throw new Error(`create site: ${site.status} ${JSON.stringify(site.body)}`);
      const created = await this.api("POST", "/v1/clusters", { site: "lab", spec: labSpec(this.net, this.policy, this.shadow) });
      if (created.status !== 201 && created.status !== 200) throw new Error(`create cluster: ${created.status} ${JSON.stringify(created.body)}`);
      const body = created.body as { cluster: { id: string }; nodeTokens: Record<string, string> };
      this.clusterId = body.cluster.id;
      this.tokens = body.nodeTokens;
      // server1 first, so it is the first holder (as keepalived's first master below).
      await this.startAgent("s1");
      await this.waitVip("s1", API_BIT, 20_000);
      await this.startAgent("s2");
    } else {
      await this.startAgent("s1");
      await this.waitVip("s1", API_BIT, 20_000);
      await this.startAgent("s2");
    }
    this.clientStart("api", `http://${this.vipApi}:8801/`);
    this.clientStart("portal", `http://${this.vipPortal}/`);
    this.spawnIn("c", "arp-probe", ["python3", join(REPO_ROOT, "test/lab/agents/arp-probe.py"), "eth0", "20", this.vipApi, this.vipPortal], (line) => {
      const [t, vip, n, macs] = line.split(" ");
      this.arp.push({ t: Number(t), vip: Number(vip), macs: Number(n) > 0 ? macs!.split(",") : [] });
    });
    await this.waitSteady(30_000);
    this.note("steady");
  }

  async stop(): Promise<void> {
    for (const p of [...this.procs]) await this.killProc(p, "SIGKILL", 3000).catch(() => undefined);
    await this.cp?.stop().catch(() => undefined);
    for (const l of this.logs) l.end();
    for (const ns of [...this.namespaces].reverse()) await this.sh(["ip", "netns", "del", ns]).catch(() => undefined);
    this.namespaces.length = 0;
    if (process.env.LAB_KEEP_LOGS !== "1") rmSync(this.dir, { recursive: true, force: true });
  }

  // ---------------------------------------------------------------- observers

  private samplerStart(h: Server): void {
    this.spawnIn(h, "sampler", [process.execPath, join(REPO_ROOT, "test/lab/agents/vip-sampler.mjs"), "10", this.vipApi, this.vipPortal], (line) => {
      const [t, m, e] = line.split(" ");
      this.samples[h].push({ t: Number(t), mask: Number(m), effective: Number(e ?? m) });
    });
  }

  private clientStart(which: "api" | "portal", url: string): void {
    this.spawnIn("c", `client-${which}`, [process.execPath, join(REPO_ROOT, "test/lab/agents/client-probe.mjs"), url, "20", "200"], (line) => {
      const [t, ok, who] = line.split(" ");
      this.client[which].push({ t: Number(t), ok: ok === "1", who: who ?? "" });
    });
  }

  /**
   * The hosts whose latest sample shows the VIP (`bit`) EFFECTIVE: configured and not fenced by
   * the kernel's lease filter (keepalived has no filter: effective == configured).
   */
  vipHosts(bit = API_BIT): Server[] {
    return SERVERS.filter((h) => {
      const s = this.samples[h][this.samples[h].length - 1];
      return s !== undefined && (s.effective & (1 << bit)) !== 0 && Date.now() - s.t < 200;
    });
  }

  /** The hosts whose latest sample shows the VIP configured (whatever the filter says). */
  vipConfigured(bit = API_BIT): Server[] {
    return SERVERS.filter((h) => {
      const s = this.samples[h][this.samples[h].length - 1];
      return s !== undefined && (s.mask & (1 << bit)) !== 0 && Date.now() - s.t < 200;
    });
  }

  async waitVip(h: Server, bit: number, timeoutMs: number): Promise<void> {
    await waitUntil(`VIP bit ${bit} on ${h}`, () => this.vipHosts(bit).includes(h), timeoutMs);
  }

  /** The host holding the API VIP (exactly one), else throws. */
  holder(): Server {
    const hs = this.vipHosts(API_BIT);
    if (hs.length !== 1) throw new Error(`expected the API VIP on exactly one host, found [${hs.join(", ")}]`);
    return hs[0]!;
  }

  /**
   * Steady, then a random wait of up to one heartbeat interval: the fault comes at a random phase
   * of the holder's heartbeats (and of keepalived's adverts), as a real one does. Right after
   * waitSteady it did not: for chime-ha that ends with a status call, which the control plane
   * answers right after a heartbeat, so a link cut then often dropped the reply to a heartbeat the
   * control plane had taken (the lease it counts then ends one interval later). In 10 runs of (c)
   * that made 4 of 5 runs with server2 holding 250 ms slower, 0 of 5 with server1.
   */
  async waitSteadyForFault(timeoutMs = 20_000): Promise<Server> {
    const h = await this.waitSteady(timeoutMs);
    await new Promise((r) => setTimeout(r, Math.random() * this.policy.heartbeatIntervalMs));
    return h;
  }

  /**
   * Steady: each VIP on exactly one host, the last 10 client requests to each VIP succeeded, the
   * API VIP answered by its holder, both servers ready to take over (chime-ha: alive and healthy
   * at the control plane, portal balancing over both; keepalived: every instance MASTER or BACKUP).
   */
  async waitSteady(timeoutMs = 20_000): Promise<Server> {
    let why = "";
    const ok = async (): Promise<boolean> => {
      const api = this.vipHosts(API_BIT);
      const portal = this.vipHosts(PORTAL_BIT);
      if (api.length !== 1 || portal.length !== 1) return !(why = `VIP hosts api=[${api}] portal=[${portal}]`);
      const lastApi = this.client.api.slice(-10);
      const lastPortal = this.client.portal.slice(-10);
      if (lastApi.length < 10 || !lastApi.every((r) => r.ok && r.who === NODE_OF[api[0]!])) return !(why = `client api: ${lastApi.map((r) => r.who).join(",")}`);
      // keepalived without IPVS cannot balance the portal (80 -> 8033): only its VIP is watched.
      if (this.system === "chime-ha" && (lastPortal.length < 10 || !lastPortal.every((r) => r.ok))) return !(why = `client portal: ${lastPortal.map((r) => r.who).join(",")}`);
      if (this.shadow) {
        // Every shadow shim alive at the control plane, so a keepalived move is compared.
        const st = await this.status();
        if (!st) return !(why = "no status from the control plane");
        // Only servers with a host in the lab (server3 is in the spec for scenario (l) only).
        const dead = st.nodes.filter((n) => n.role === "server" && HOST_OF[n.name] && !n.alive).map((n) => n.name);
        if (dead.length > 0) return !(why = `shadow shims not all alive (not alive: ${dead.join(", ")})`);
      }
      if (this.system === "chime-ha") {
        const st = await this.status();
        if (!st) return !(why = "no status");
        const g = st.groups.find((x) => x.name === "server-api");
        const p = st.groups.find((x) => x.name === "portal");
        if (g?.holder !== NODE_OF[api[0]!] || g.phase !== "held") return !(why = `server-api ${g?.holder} ${g?.phase}`);
        if (p?.holder !== NODE_OF[portal[0]!] || (p.realServers ?? []).length !== 2) return !(why = `portal ${p?.holder} reals ${p?.realServers}`);
        for (const n of st.nodes.filter((x) => x.role === "server" && HOST_OF[x.name])) {
          if (!n.alive || !n.probes["server-api"]?.healthy || !n.probes.portal?.healthy) return !(why = `${n.name} alive=${n.alive} ${JSON.stringify(n.probes)}`);
        }
      } else {
        for (const h of SERVERS) {
          for (const inst of ["server_api", "portal"]) {
            const s = this.vrrpState[h][inst];
            if (s !== "MASTER" && s !== "BACKUP") return !(why = `${h} ${inst} ${s}`);
          }
        }
      }
      return true;
    };
    try {
      await waitUntil("steady state", ok, timeoutMs, 100);
    } catch (err) {
      throw new Error(`${(err as Error).message}: ${why}`);
    }
    return this.holder();
  }

  // ---------------------------------------------------------------- services and agents

  async startServices(h: Server): Promise<void> {
    for (const what of ["chime-server", "chime-portal"] as const) await this.startService(h, what);
  }

  /**
   * keepalived-tuned's view of a service process. vrrp_track_process cannot work here: the
   * kernel's process connector exists only in the initial network namespace. The lab tells
   * keepalived the same thing the same way: the service's parent, which the kernel tells of the
   * exit the moment it happens, writes a track_file keepalived watches with inotify (0 running,
   * 1 gone).
   */
  trackFile(h: Server, what: string): string {
    return join(this.dir, `${h}-${what}.track`);
  }

  private async startService(h: Server, what: "chime-server" | "chime-portal"): Promise<void> {
    const ports = what === "chime-server" ? ["8801", "8802"] : ["8033"];
    let resolveUp!: () => void;
    const up = new Promise<void>((r) => (resolveUp = r));
    const p = this.spawnIn(h, what, [process.execPath, join(REPO_ROOT, "test/lab/agents/service.mjs"), NODE_OF[h], ...ports], (l) => l === "listening" && resolveUp(), { ...process.env, LAB_PROCESS_NAME: what });
    this.hostProcs[h].set(what, p);
    if (this.system === "keepalived-tuned") p.child.once("exit", () => writeFileSync(this.trackFile(h, what), "1\n"));
    await Promise.race([up, sleep(10_000).then(() => Promise.reject(new Error(`${what} on ${h} did not start`)))]);
    if (this.system === "keepalived-tuned") writeFileSync(this.trackFile(h, what), "0\n");
  }

  async killService(h: Server, what: "chime-server" | "chime-portal"): Promise<void> {
    const p = this.hostProcs[h].get(what);
    if (p) await this.killProc(p);
    this.hostProcs[h].delete(what);
  }

  async restartService(h: Server, what: "chime-server" | "chime-portal"): Promise<void> {
    await this.killService(h, what);
    await this.startService(h, what);
  }

  /** Where a host's shim keeps its upgrade handover marker (CHIME_HA_RUNTIME_DIR). */
  runDir(h: Server): string {
    return join(this.dir, `${h}-run`);
  }

  /** PID of the agent process on a host (null when none runs). */
  agentPid(h: Server): number | null {
    return this.hostProcs[h].get("agent")?.child.pid ?? null;
  }

  /**
   * The shim (chime-ha) or keepalived (keepalived, keepalived-tuned; with the shim beside it in
   * shadow mode) on a server host. The shim: `command` runs another shim executable than the
   * source under tsx (e.g. the single executable), with `env`.
   */
  async startAgent(h: Server, run: { command?: string[]; env?: NodeJS.ProcessEnv } = {}): Promise<void> {
    if (this.system === "chime-ha" || this.shadow) {
      const node = NODE_OF[h];
      const cfg = join(this.dir, `${node}-shim.yaml`);
      // JSON is YAML: the shim reads it with its own loader and validation.
      writeFileSync(
        cfg,
        JSON.stringify({
          controlPlaneUrl: this.cp!.url,
          cluster: this.clusterId,
          node,
          token: this.tokens[node],
          interface: "eth0",
          probeHost: "127.0.0.1",
          localLeaseMarginMs: this.policy.localMarginMs,
          releaseOnSigterm: true,
          reannounceSeconds: 10,
          lbDrainSeconds: 0,
          transport: this.transport,
          // Failsafe promises it gave and the groups it held survive a restart here.
          stateDir: join(this.dir, `${node}-state`),
          // A slow reply only shortens the lease (it counts from send time); a lost heartbeat is
          // retried after timeout + interval, inside the local lease (LAB_POLICY says how).
          heartbeatTimeoutMs: this.policy.heartbeatTimeoutMs,
          failsafe: {
            listen: `${this.ip[h]}:7480`,
            peers: Object.fromEntries((["s1", "s2"] as const).filter((x) => x !== h).map((x) => [NODE_OF[x], `http://${this.ip[x]}:7480`])),
            secret: this.failsafeSecret,
          },
        }),
        { mode: 0o600 },
      );
      const argv = run.command ?? this.shimCommand ?? [process.execPath, "--import", "tsx", join(REPO_ROOT, "node-shim/bin/chime-ha-shim.ts")];
      // CHIME_SHIM_FAULTS: scenario (k) makes this shim's `ip` fail by writing "ip" into the file.
      writeFileSync(this.faultFile(h), "");
      const p = this.spawnIn(h, "shim", [...argv, "--config", cfg], undefined, { ...process.env, CHIME_HA_RUNTIME_DIR: this.runDir(h), CHIME_SHIM_FAULTS: this.faultFile(h), ...run.env });
      this.hostProcs[h].set(this.shadow ? "shim" : "agent", p);
    }
    if (isKeepalived(this.system)) {
      const node = NODE_OF[h];
      const conf = join(this.dir, `${node}-keepalived.conf`);
      // default: VRRPv2 adverts every second and vrrp_script checks; tuned: VRRPv3 adverts at the
      // heartbeat interval and vrrp_track_process (a process death is seen at once).
      const tuned = this.system === "keepalived-tuned";
      let text = exportKeepalived(this.spec, tuned ? { node, iface: "eth0", vrrpVersion: 3, advertInt: this.policy.heartbeatIntervalMs / 1000, virtualServers: false } : { node, iface: "eth0", advertInt: 1, virtualServers: false, trackProcess: false });
      // Process tracking through a track_file in the lab (trackFile() says why).
      if (tuned) {
        text = text
          .replace(/^vrrp_track_process (\S+) \{\n {2}process (\S+)\n {2}quorum 1\n {2}weight 0\n\}/gm, (_m, name: string, proc: string) => `track_file ${name} {\n  file "${this.trackFile(h, proc)}"\n  weight 0\n}`)
          .replace(/^ {2}track_process \{/gm, "  track_file {");
      }
      writeFileSync(conf, text);
      const pid = (n: string) => join(this.dir, `${node}-${n}.pid`);
      this.vrrpState[h] = {};
      const log = createWriteStream(this.logFile(h, "keepalived-states"), { flags: "a" });
      this.logs.push(log);
      const onLine = (l: string) => {
        const m = /\((\w+)\) Entering (\w+) STATE/.exec(l);
        if (m) {
          this.vrrpState[h][m[1]!] = m[2]!;
          log.write(`${Date.now()} ${l}\n`);
        }
      };
      const p = this.spawnIn(h, "keepalived", ["keepalived", "--dont-fork", "--log-console", "--log-detail", "--vrrp", "-f", conf, "-p", pid("ka"), "-r", pid("vrrp"), "-c", pid("chk")], onLine);
      // --log-console may write to either stream: follow both for state changes.
      createInterface({ input: p.child.stderr! }).on("line", onLine);
      this.hostProcs[h].set("agent", p);
    }
    this.note(`${this.system === "chime-ha" ? "shim" : this.shadow ? `${this.system} and a shadow shim` : this.system} started on ${h}`);
  }

  faultFile(h: Server): string {
    return join(this.dir, `${NODE_OF[h]}-faults`);
  }

  /** Make the shim's `ip` commands fail (CommandRunner fault injection), or work again. */
  setIpFault(h: Server, on: boolean): void {
    writeFileSync(this.faultFile(h), on ? "ip\n" : "");
  }

  /** The agent's whole process group (shim and its nft/ip sessions, or keepalived) gets `sig`; no wait. */
  signalAgent(h: Server, sig: NodeJS.Signals): void {
    const p = this.hostProcs[h].get("agent");
    if (p?.child.pid) process.kill(-p.child.pid, sig);
  }

  /** SIGKILL of the agent only (host, services and addresses stay): an OOM kill, a crash. */
  async killAgent(h: Server): Promise<void> {
    const p = this.hostProcs[h].get("agent");
    if (p) await this.killProc(p, "SIGKILL");
    this.hostProcs[h].delete("agent");
  }

  /** Graceful stop of the agent: SIGTERM (shim releases its groups; keepalived resigns with priority 0). */
  async stopAgent(h: Server, sig: NodeJS.Signals = "SIGTERM"): Promise<void> {
    const p = this.hostProcs[h].get("agent");
    if (p) await this.killProc(p, sig, 8000);
    this.hostProcs[h].delete("agent");
  }

  // ---------------------------------------------------------------- faults

  /** Node crash: every process of the host SIGKILLed at once, then it is off the network and its volatile addresses are gone. */
  async crash(h: Server): Promise<void> {
    const all = [...this.hostProcs[h].values()];
    for (const p of all) {
      try {
        if (p.child.pid) process.kill(-p.child.pid, "SIGKILL");
      } catch {
        // gone
      }
    }
    await this.inNs(h, ["ip", "link", "set", "eth0", "down"]);
    await this.inNs(h, ["ip", "-4", "addr", "flush", "dev", "eth0"]);
    await Promise.all(all.map((p) => this.killProc(p)));
    this.hostProcs[h].clear();
  }

  /** The crashed host boots: manage address back, link up, services, then the agent. */
  async boot(h: Server): Promise<void> {
    await this.inNs(h, ["ip", "addr", "add", `${this.ip[h]}/24`, "dev", "eth0"]).catch(() => undefined);
    await this.inNs(h, ["ip", "link", "set", "eth0", "up"]);
    await this.startServices(h);
    await this.startAgent(h);
  }

  async linkDown(h: Server): Promise<void> {
    await this.inNs(h, ["ip", "link", "set", "eth0", "down"]);
  }

  async linkUp(h: Server): Promise<void> {
    await this.inNs(h, ["ip", "link", "set", "eth0", "up"]);
  }

  /** chime-ha (d): the host cannot reach the control-plane host (both directions dropped); client and peer still can. */
  async cutFromControlPlane(h: Server): Promise<void> {
    await this.nftApply(h, `table inet lab_cut {\n chain in { type filter hook input priority -10; ip saddr ${this.ip.cp} drop; }\n chain out { type filter hook output priority -10; ip daddr ${this.ip.cp} drop; }\n}\n`);
  }

  /** keepalived (d): VRRP between the servers is blocked (the host neither sends nor hears adverts). */
  async blockVrrp(h: Server): Promise<void> {
    await this.nftApply(h, "table inet lab_cut {\n chain in { type filter hook input priority -10; ip protocol vrrp drop; }\n chain out { type filter hook output priority -10; ip protocol vrrp drop; }\n}\n");
  }

  async unblock(h: Server): Promise<void> {
    await this.inNs(h, ["nft", "delete", "table", "inet", "lab_cut"]).catch(() => undefined);
  }

  private async nftApply(h: Server, ruleset: string): Promise<void> {
    const file = join(this.dir, `${h}-cut.nft`);
    writeFileSync(file, ruleset);
    await this.inNs(h, ["nft", "-f", file]);
  }

  // ---------------------------------------------------------------- control plane API (from inside the cp namespace)

  private startBridge(): void {
    const waiting = new Map<number, (v: { status: number; body?: unknown; error?: string }) => void>();
    const proc = this.spawnIn("cp", "api-bridge", [process.execPath, join(REPO_ROOT, "test/lab/agents/api-bridge.mjs")], (line) => {
      try {
        const r = JSON.parse(line) as { id: number; status: number; body?: unknown; error?: string };
        waiting.get(r.id)?.(r);
        waiting.delete(r.id);
      } catch {
        // not ours
      }
    });
    this.bridge = { proc, next: 1, waiting };
  }

  async api(method: string, path: string, body?: unknown, timeoutMs = 5000, headers: Record<string, string> = {}): Promise<{ status: number; body?: unknown; error?: string }> {
    if (!this.bridge) throw new Error("no control plane in this lab");
    const b = this.bridge;
    const id = b.next++;
    const answer = new Promise<{ status: number; body?: unknown; error?: string }>((r) => b.waiting.set(id, r));
    b.proc.child.stdin!.write(JSON.stringify({ id, method, url: `${this.cp!.url}${path}`, token: this.cp!.adminToken, body, timeoutMs, headers }) + "\n");
    const t = sleep(timeoutMs + 2000).then(() => ({ status: 0, error: "bridge timeout" }));
    return Promise.race([answer, t]);
  }

  async status(): Promise<ClusterStatus | null> {
    const r = await this.api("GET", `/v1/clusters/${encodeURIComponent(this.clusterId)}/status`);
    return r.status === 200 ? (r.body as ClusterStatus) : null;
  }

  async switchover(group: string, to: string): Promise<{ status: number; body?: unknown }> {
    return this.api("POST", `/v1/clusters/${encodeURIComponent(this.clusterId)}/switchover`, { group, to });
  }

  /** The lab spec without `node` (removed from every group), through PUT /v1/clusters/:id/spec. */
  async removeNode(node: string): Promise<void> {
    const spec = labSpec(this.net, this.policy);
    spec.nodes = spec.nodes.filter((n) => n.name !== node);
    for (const g of spec.groups ?? []) g.members = g.members?.filter((m) => m !== node);
    const r = await this.api("PUT", `/v1/clusters/${encodeURIComponent(this.clusterId)}/spec`, { spec }, 5000, { "if-match": "*" });
    if (r.status !== 200) throw new Error(`remove ${node}: ${r.status} ${JSON.stringify(r.body)}`);
  }

  /** The full lab spec again; a node added back gets a new token (the old one was revoked). */
  async restoreSpec(): Promise<void> {
    const r = await this.api("PUT", `/v1/clusters/${encodeURIComponent(this.clusterId)}/spec`, { spec: labSpec(this.net, this.policy) }, 5000, { "if-match": "*" });
    if (r.status !== 200) throw new Error(`restore spec: ${r.status} ${JSON.stringify(r.body)}`);
    Object.assign(this.tokens, (r.body as { nodeTokens: Record<string, string> }).nodeTokens);
  }

  /** Path of a host's process log (kept with LAB_KEEP_LOGS=1). */
  logFile(host: string, what: string): string {
    return join(this.dir, `${host}-${what}.log`);
  }
}

export async function waitUntil(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}
