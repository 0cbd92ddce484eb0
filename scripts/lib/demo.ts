// `npm start`'s live demo: one real shim per node of the cluster, in dry-run mode (it reads the
// host but changes nothing: every `ip`, `arping`, `nft`, `ipvsadm` change is only logged), each
// probing small stand-in services on free loopback ports instead of the real chime-server,
// portal, MariaDB, InfluxDB, MinIO and chime-agent. The control plane sees real heartbeats and
// real probe results, so holders appear at once; a node can be killed, stopped or have one
// service fail, and the console shows the VIP move. MySQL stand-ins follow the writer for real:
// the shim's applier sets read_only on them as it would on MariaDB.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type ClusterSpec, groupMembers, type ProbeSpec } from "../../protocol/spec.js";
import { freePort } from "./control-plane.js";
import { bundleShim } from "./shim-bundle.js";
import { newStandIn, type StandIn } from "./stand-ins.js";

export interface DemoOptions {
  /** Control plane base URL, as the shims reach it. */
  url: string;
  clusterId: string;
  /** The cluster's spec as stored (validated, defaults filled). */
  spec: ClusterSpec;
  nodeTokens: Record<string, string>;
  /** Work folder: the shim bundle, one config and one log per node. */
  dir: string;
  /** A prebuilt shim bundle to run instead of building one. */
  shimBundle?: string;
}

interface DemoNode {
  name: string;
  role: "server" | "compute";
  /** Probe name (group, or chime-agent) -> its stand-in service. */
  services: Map<string, StandIn>;
  config: string;
  log: string;
  proc: ChildProcess | null;
  exited: Promise<void> | null;
}

/** The stand-in kind for a probe, and the probe the shim runs against it. */
function standInFor(probe: ProbeSpec): { kind: StandIn["kind"]; probe: (port: number) => Record<string, unknown> } {
  switch (probe.type) {
    case "http":
      return { kind: "http", probe: (port) => ({ ...probe, port, scheme: "http" }) };
    case "mysql":
      return { kind: "mysql", probe: (port) => ({ ...probe, port }) };
    case "influxdb":
      return { kind: "influxdb", probe: (port) => ({ ...probe, port }) };
    case "minio":
      return { kind: "minio", probe: (port) => ({ ...probe, port, scheme: "http" }) };
    default:
      // tcp, and exec (a command we cannot stand in for): a TCP check of an HTTP stand-in.
      return { kind: "http", probe: (port) => ({ type: "tcp", port, intervalMs: probe.intervalMs, timeoutMs: probe.timeoutMs, fall: probe.fall, rise: probe.rise }) };
  }
}

export class Demo {
  private nodes = new Map<string, DemoNode>();
  private bundlePath = "";

  private constructor(private readonly opts: DemoOptions) {}

  static async start(opts: DemoOptions): Promise<Demo> {
    const demo = new Demo(opts);
    try {
      await demo.setUp();
      for (const n of demo.nodes.values()) await demo.revive(n.name);
    } catch (err) {
      await demo.close();
      throw err;
    }
    return demo;
  }

  private async setUp(): Promise<void> {
    const { spec, dir } = this.opts;
    mkdirSync(dir, { recursive: true });
    this.bundlePath = this.opts.shimBundle ?? join(dir, "chime-ha-shim.mjs");
    if (!this.opts.shimBundle) writeFileSync(this.bundlePath, await bundleShim());
    const servers = spec.nodes.filter((n) => n.role === "server");
    const failsafeSecret = randomBytes(24).toString("base64url");
    const failsafePorts = new Map<string, number>();
    for (const s of servers) failsafePorts.set(s.name, await freePort());
    const mysqlPorts = new Map<string, number>();
    const nodes: { name: string; role: "server" | "compute"; probes: Record<string, unknown>; services: Map<string, StandIn> }[] = [];
    for (const [i, n] of spec.nodes.entries()) {
      const services = new Map<string, StandIn>();
      const probes: Record<string, unknown> = {};
      if (n.role === "server") {
        for (const g of spec.groups) {
          if (!groupMembers(spec, g).includes(n.name)) continue;
          const s = standInFor(g.probe);
          const standIn = await newStandIn(s.kind, `${g.service} on ${n.name}`, i + 1);
          services.set(g.name, standIn);
          probes[g.name] = s.probe(standIn.port);
          if (s.kind === "mysql") mysqlPorts.set(n.name, standIn.port);
        }
      } else {
        const agent = await newStandIn("http", `chime-agent on ${n.name}`);
        services.set("chime-agent", agent);
        probes["chime-agent"] = { type: "http", port: agent.port, path: "/", intervalMs: 2000, timeoutMs: 1500, fall: 2, rise: 1 };
      }
      nodes.push({ name: n.name, role: n.role, probes, services });
    }
    for (const n of nodes) {
      const peerMysql = [...mysqlPorts].find(([name]) => name !== n.name)?.[1];
      const config = {
        controlPlaneUrl: this.opts.url,
        cluster: this.opts.clusterId,
        node: n.name,
        token: this.opts.nodeTokens[n.name] ?? "",
        // VIPs are never added (dry-run); reads go to loopback, which every host has.
        interface: "lo",
        probeHost: "127.0.0.1",
        probes: n.probes,
        dryRun: true,
        settings: mysqlPorts.has(n.name)
          ? { mysql: { user: "chime", password: "demo", port: mysqlPorts.get(n.name), ...(peerMysql ? { peer: { host: "127.0.0.1", port: peerMysql } } : {}) } }
          : {},
        // Used when the spec turns policy.failsafe on: the server shims promise each other on loopback.
        ...(n.role === "server" && servers.length > 1
          ? {
              failsafe: {
                listen: `127.0.0.1:${failsafePorts.get(n.name)}`,
                peers: Object.fromEntries(servers.filter((s) => s.name !== n.name).map((s) => [s.name, `http://127.0.0.1:${failsafePorts.get(s.name)}`])),
                secret: failsafeSecret,
              },
            }
          : {}),
      };
      const file = join(dir, `${n.name}.yaml`);
      // JSON is YAML: the shim reads it with its usual config loader.
      writeFileSync(file, `# demo shim config for ${n.name} (written by npm start)\n${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
      this.nodes.set(n.name, { name: n.name, role: n.role, services: n.services, config: file, log: join(dir, `${n.name}.log`), proc: null, exited: null });
    }
  }

  private node(name: string): DemoNode {
    const n = this.nodes.get(name);
    if (!n) throw new Error(`no node '${name}' in the demo (nodes: ${[...this.nodes.keys()].join(", ")})`);
    return n;
  }

  /** The node's services up and healthy, and its shim running (a fresh boot). */
  async revive(name: string): Promise<string> {
    const n = this.node(name);
    for (const s of n.services.values()) {
      s.healthy = true;
      await s.start();
    }
    if (n.proc) return `${name}: already running (shim pid ${n.proc.pid})`;
    const out = createWriteStream(n.log, { flags: "a" });
    // Plain node, not the installed unit's V8 flags: under --lite-mode Node's global fetch (used by
    // the influxdb and minio probes) crashes the process, see the lead's notes.
    const proc = spawn(process.execPath, [this.bundlePath, "--config", n.config, "--dry-run"], { stdio: ["ignore", "pipe", "pipe"] });
    proc.stdout.pipe(out, { end: false });
    proc.stderr.pipe(out, { end: false });
    n.proc = proc;
    n.exited = new Promise<void>((resolve) =>
      proc.once("exit", (code, signal) => {
        if (n.proc === proc) n.proc = null;
        out.end(`{"msg":"demo: shim exited","code":${code},"signal":${JSON.stringify(signal)}}\n`);
        resolve();
      }),
    );
    return `${name}: services up, shim started (pid ${proc.pid}, log ${n.log})`;
  }

  /** A crash: the shim SIGKILLed (no release, no goodbye) and every service of the node gone. */
  async kill(name: string): Promise<string> {
    const n = this.node(name);
    const pid = n.proc?.pid;
    if (n.proc) n.proc.kill("SIGKILL");
    await n.exited;
    for (const s of n.services.values()) await s.stop();
    return `${name}: crashed (shim ${pid ? `pid ${pid} SIGKILLed` : "was not running"}, services gone); its groups move after the lease ends`;
  }

  /** `systemctl stop`: SIGTERM, the shim releases its groups (the peer takes over at once). */
  async stop(name: string): Promise<string> {
    const n = this.node(name);
    if (!n.proc) return `${name}: shim not running`;
    const pid = n.proc.pid;
    n.proc.kill("SIGTERM");
    const done = await Promise.race([n.exited!.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 5000))]);
    if (!done) n.proc?.kill("SIGKILL");
    await n.exited;
    return `${name}: shim stopped (pid ${pid} SIGTERM: it released its groups); services still up`;
  }

  /** One service answers as failed (503, or refused MySQL logins) until heal(). */
  setHealthy(name: string, probe: string, healthy: boolean): string {
    const n = this.node(name);
    const s = n.services.get(probe);
    if (!s) throw new Error(`${name} has no service '${probe}' in the demo (it has: ${[...n.services.keys()].join(", ")})`);
    s.healthy = healthy;
    return healthy ? `${name}: ${probe} healthy again` : `${name}: ${probe} now fails its probe; if ${name} holds it, the group moves once the probe has failed 'fall' times in a row`;
  }

  status(): { node: string; role: string; shim: string; services: Record<string, string> }[] {
    return [...this.nodes.values()].map((n) => ({
      node: n.name,
      role: n.role,
      shim: n.proc ? `running (pid ${n.proc.pid})` : "not running",
      services: Object.fromEntries([...n.services].map(([k, s]) => [k, `${s.running ? (s.healthy ? "up" : "failing") : "down"} on 127.0.0.1:${s.port}`])),
    }));
  }

  /** Every shim stopped (SIGTERM, then SIGKILL after 5 s) and every stand-in closed. */
  async close(): Promise<void> {
    await Promise.all([...this.nodes.values()].map((n) => (n.proc ? this.stop(n.name) : undefined)));
    for (const n of this.nodes.values()) for (const s of n.services.values()) await s.stop();
  }
}
