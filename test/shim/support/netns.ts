// Small network-namespace lab for the shim's real network tests (helper F's test/support/netns.ts
// was not there yet when these were written). Hosts are namespaces `<prefix><name>` with one
// interface `eth0` plugged into a bridge that lives in its own namespace, so nothing touches the
// machine's own network. No namespace gets a default route: only the /24 of the lab is reachable.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { promisify } from "node:util";
import { CommandRunner, type CommandResult, type RunOptions, type SessionProtocol } from "../../../node-shim/command-runner.js";

const exec = promisify(execFile);

/** Root plus `ip`, `nft` and `arping` present; the reason when not. */
export async function labUnavailable(tools: string[] = ["ip", "nft", "arping"]): Promise<string | null> {
  if (process.getuid?.() !== 0) return "needs root (network namespaces)";
  for (const t of tools) {
    const found = ["/usr/sbin/", "/usr/bin/", "/sbin/", "/bin/"].some((d) => existsSync(d + t));
    if (!found) return `'${t}' is not installed`;
  }
  return null;
}

/** A CommandRunner whose commands run inside one namespace (`ip netns exec NS cmd ...`). */
export class NetnsRunner extends CommandRunner {
  constructor(readonly ns: string) {
    super("real");
  }
  override run(cmd: string, args: string[], opts: RunOptions = {}): Promise<CommandResult> {
    return super.run("ip", ["netns", "exec", this.ns, cmd, ...args], opts);
  }
  override session(cmd: string, args: string[], protocol: SessionProtocol, line: string, opts: { mutates?: boolean; timeoutMs?: number; expectOutput?: boolean } = {}): Promise<CommandResult> {
    return super.session("ip", ["netns", "exec", this.ns, cmd, ...args], protocol, line, opts);
  }
}

export interface LabHost {
  name: string;
  ns: string;
  ip: string;
}

export class NetnsLab {
  readonly hosts = new Map<string, LabHost>();
  private readonly namespaces: string[] = [];
  private readonly children: ChildProcess[] = [];

  /** `prefix` must be unique per suite (e.g. `chs-v1234-`); `subnet` like `10.231.61`. */
  constructor(
    readonly prefix: string,
    readonly subnet: string,
  ) {}

  get bridgeNs(): string {
    return `${this.prefix}br`;
  }

  async sh(cmd: string, args: string[], timeoutMs = 10_000): Promise<string> {
    const r = await exec(cmd, args, { timeout: timeoutMs });
    return r.stdout;
  }

  async inNs(ns: string, cmd: string, args: string[], timeoutMs = 10_000): Promise<string> {
    return this.sh("ip", ["netns", "exec", ns, cmd, ...args], timeoutMs);
  }

  private async addNs(ns: string): Promise<void> {
    await this.sh("ip", ["netns", "add", ns]);
    this.namespaces.push(ns);
    await this.inNs(ns, "ip", ["link", "set", "lo", "up"]);
  }

  async createBridge(): Promise<void> {
    await this.addNs(this.bridgeNs);
    await this.inNs(this.bridgeNs, "ip", ["link", "add", "br0", "type", "bridge"]);
    await this.inNs(this.bridgeNs, "ip", ["link", "set", "br0", "up"]);
  }

  /** Host `<prefix><name>` with eth0 = `<subnet>.<octet>/24` on the bridge. */
  async addHost(name: string, octet: number): Promise<LabHost> {
    const ns = `${this.prefix}${name}`;
    await this.addNs(ns);
    const peer = `p-${name}`.slice(0, 15);
    // Created inside the bridge namespace, then one end moved: the root namespace never sees it.
    await this.inNs(this.bridgeNs, "ip", ["link", "add", peer, "type", "veth", "peer", "name", "eth0", "netns", ns]);
    await this.inNs(this.bridgeNs, "ip", ["link", "set", peer, "master", "br0", "up"]);
    const ip = `${this.subnet}.${octet}`;
    await this.inNs(ns, "ip", ["addr", "add", `${ip}/24`, "dev", "eth0"]);
    await this.inNs(ns, "ip", ["link", "set", "eth0", "up"]);
    const host = { name, ns, ip };
    this.hosts.set(name, host);
    return host;
  }

  host(name: string): LabHost {
    const h = this.hosts.get(name);
    if (!h) throw new Error(`no lab host ${name}`);
    return h;
  }

  /** Long-running process in a namespace; killed (by PID) in cleanup(). */
  spawnIn(ns: string, cmd: string, args: string[]): ChildProcess {
    const child = spawn("ip", ["netns", "exec", ns, cmd, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    this.children.push(child);
    return child;
  }

  /** An HTTP server in the host's namespace answering its name on every path; resolves once listening. */
  async httpServer(name: string, port: number, answer = name): Promise<ChildProcess> {
    const h = this.host(name);
    const code = `require("node:http").createServer((q,s)=>{s.setHeader("content-type","text/plain");s.end(${JSON.stringify(answer)})}).listen(${port},"0.0.0.0",()=>console.log("listening"))`;
    const child = this.spawnIn(h.ns, process.execPath, ["-e", code]);
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`http server in ${h.ns} did not start`)), 10_000);
      child.stdout!.on("data", (d: Buffer) => {
        if (String(d).includes("listening")) {
          clearTimeout(t);
          resolve();
        }
      });
      child.once("exit", (code) => {
        clearTimeout(t);
        reject(new Error(`http server in ${h.ns} exited ${code}`));
      });
    });
    return child;
  }

  /**
   * From inside `client`'s namespace: `count` HTTP GETs to url, each on a new connection.
   * Returns how many answers each body got ("error:<code>" for failures).
   */
  async httpFrom(client: string, url: string, count: number, timeoutMs = 2000): Promise<Record<string, number>> {
    const code = `
      const http = require("node:http");
      const [url, count, timeout] = [process.argv[1], Number(process.argv[2]), Number(process.argv[3])];
      const one = () => new Promise((resolve) => {
        const req = http.get(url, { agent: false, timeout }, (res) => { let b = ""; res.on("data", (d) => (b += d)); res.on("end", () => resolve(b)); });
        req.on("timeout", () => req.destroy(Object.assign(new Error("timeout"), { code: "TIMEOUT" })));
        req.on("error", (e) => resolve("error:" + (e.code || e.message)));
      });
      (async () => { const out = {}; for (let i = 0; i < count; i++) { const b = await one(); out[b] = (out[b] || 0) + 1; } console.log(JSON.stringify(out)); })();
    `;
    const out = await this.inNs(this.host(client).ns, process.execPath, ["-e", code, url, String(count), String(timeoutMs)], count * timeoutMs + 10_000);
    return JSON.parse(out) as Record<string, number>;
  }

  async mac(name: string): Promise<string> {
    const j = JSON.parse(await this.inNs(this.host(name).ns, "ip", ["-j", "link", "show", "dev", "eth0"])) as { address: string }[];
    return j[0]!.address;
  }

  /** The MAC `name` has in its neighbour table for `ip`, or null. */
  async neighbourMac(name: string, ip: string): Promise<string | null> {
    const j = JSON.parse(await this.inNs(this.host(name).ns, "ip", ["-j", "neigh", "show", ip])) as { lladdr?: string }[];
    return j[0]?.lladdr ?? null;
  }

  async cleanup(): Promise<void> {
    for (const c of this.children) {
      if (c.exitCode === null && c.pid !== undefined) {
        try {
          process.kill(c.pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
    }
    for (const ns of this.namespaces.reverse()) await this.sh("ip", ["netns", "del", ns]).catch(() => undefined);
    this.namespaces.length = 0;
  }
}

/** Poll `check` every `everyMs` until it returns a value, at most `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => Promise<T | null | undefined | false>, timeoutMs = 5000, everyMs = 25): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
