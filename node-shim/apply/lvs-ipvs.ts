// IPVS backend: diff `ipvsadm -Sn` against the desired virtual services and issue only the
// -A/-E/-D (virtual) and -a/-e/-d (real) commands that close the gap. NAT (-m, masquerading)
// whenever the VIP port differs from the real port (80 -> 8033), else direct routing (-g).
// A real server leaving is drained first: weight 0, deleted after `drainMs`.
import { CommandError, type CommandRunner } from "../command-runner.js";
import { log } from "../log.js";
import type { LvsReconciler, VirtualService } from "./lvs.js";

interface ActualReal {
  ip: string;
  port: number;
  method: "-m" | "-g" | "-i";
  weight: number;
}
interface ActualVs {
  proto: "-t" | "-u";
  vip: string;
  port: number;
  scheduler: string;
  reals: ActualReal[];
}

const addr = (ip: string, port: number) => `${ip}:${port}`;

/** Parse `ipvsadm -Sn` (the save format: one -A line per service, one -a line per real server). */
export function parseIpvsSave(text: string): ActualVs[] {
  const services = new Map<string, ActualVs>();
  for (const line of text.split("\n")) {
    const t = line.trim().split(/\s+/);
    if (t[0] !== "-A" && t[0] !== "-a") continue;
    const proto = t[1] as "-t" | "-u";
    const [vip, port] = splitAddr(t[2] ?? "");
    const key = `${proto} ${addr(vip, port)}`;
    if (t[0] === "-A") {
      const s = t.indexOf("-s");
      services.set(key, { proto, vip, port, scheduler: s >= 0 ? (t[s + 1] ?? "") : "", reals: [] });
    } else {
      const r = t.indexOf("-r");
      const w = t.indexOf("-w");
      const [rip, rport] = splitAddr(t[r + 1] ?? "");
      const method = (["-m", "-g", "-i"].find((m) => t.includes(m)) ?? "-g") as ActualReal["method"];
      services.get(key)?.reals.push({ ip: rip, port: rport, method, weight: w >= 0 ? Number(t[w + 1]) : 1 });
    }
  }
  return [...services.values()];
}

function splitAddr(s: string): [string, number] {
  const i = s.lastIndexOf(":");
  return [s.slice(0, i), Number(s.slice(i + 1))];
}

export class IpvsReconciler implements LvsReconciler {
  readonly name = "ipvs";
  /** Real servers being drained: key -> when the drain began (monotonic ms). */
  private draining = new Map<string, number>();

  constructor(
    private readonly runner: CommandRunner,
    private readonly opts: { drainMs: number; now?: () => number } = { drainMs: 10_000 },
  ) {}

  async reconcile(desired: VirtualService[]): Promise<void> {
    const now = (this.opts.now ?? (() => performance.now()))();
    const r = await this.runner.run("ipvsadm", ["-Sn"], { mutates: false });
    if (r.code !== 0) throw new CommandError({ cmd: "ipvsadm", args: ["-Sn"] }, r);
    const actual = parseIpvsSave(r.stdout);
    const proto = (p: "tcp" | "udp") => (p === "tcp" ? "-t" : "-u");
    const wantKeys = new Set(desired.map((d) => `${proto(d.protocol)} ${addr(d.vip, d.port)}`));

    // Services no longer wanted: a whole service goes at once (the VIP is leaving this node).
    for (const a of actual) {
      if (!wantKeys.has(`${a.proto} ${addr(a.vip, a.port)}`)) {
        await this.runner.check("ipvsadm", ["-D", a.proto, addr(a.vip, a.port)]);
        log("ipvs service removed", { vip: a.vip, port: a.port });
      }
    }
    for (const d of desired) {
      const p = proto(d.protocol);
      const vs = addr(d.vip, d.port);
      const have = actual.find((a) => a.proto === p && a.vip === d.vip && a.port === d.port);
      if (!have) await this.runner.check("ipvsadm", ["-A", p, vs, "-s", d.scheduler]);
      else if (have.scheduler !== d.scheduler) await this.runner.check("ipvsadm", ["-E", p, vs, "-s", d.scheduler]);
      const method = d.realPort !== d.port ? "-m" : "-g";
      const haveReals = have?.reals ?? [];
      for (const want of d.reals) {
        const cur = haveReals.find((x) => x.ip === want.ip && x.port === d.realPort);
        const rs = addr(want.ip, d.realPort);
        this.draining.delete(`${vs} ${rs}`);
        if (!cur) await this.runner.check("ipvsadm", ["-a", p, vs, "-r", rs, method, "-w", String(want.weight)]);
        else if (cur.weight !== want.weight || cur.method !== method) await this.runner.check("ipvsadm", ["-e", p, vs, "-r", rs, method, "-w", String(want.weight)]);
      }
      for (const cur of haveReals) {
        if (d.reals.some((w) => w.ip === cur.ip && cur.port === d.realPort)) continue;
        const rs = addr(cur.ip, cur.port);
        const key = `${vs} ${rs}`;
        const since = this.draining.get(key);
        if (since === undefined) {
          // Drain: no new connections, existing ones finish.
          this.draining.set(key, now);
          if (cur.weight !== 0) await this.runner.check("ipvsadm", ["-e", p, vs, "-r", rs, cur.method, "-w", "0"]);
          log("ipvs real server draining", { vs, rs });
        } else if (now - since >= this.opts.drainMs) {
          await this.runner.check("ipvsadm", ["-d", p, vs, "-r", rs]);
          this.draining.delete(key);
          log("ipvs real server removed", { vs, rs });
        }
      }
    }
  }
}
