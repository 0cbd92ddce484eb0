// VIPs: `ip addr add VIP/P dev IF label IF:cha` marks an address as chime-ha's, so the shim only
// ever removes addresses it owns. Gratuitous ARP (arping -U) after adding and periodically.
import type { CommandRunner } from "../command-runner.js";
import { log } from "../log.js";
import type { Reconciler } from "./types.js";

export interface VipWanted {
  vip: string;
  prefix: number;
  iface: string;
}

/** The label suffix that marks our addresses; the kernel wants labels to start with the device name. */
export const LABEL_SUFFIX = ":cha";
export const vipLabel = (iface: string) => `${iface}${LABEL_SUFFIX}`;

interface IpAddrJson {
  ifname: string;
  addr_info?: { family: string; local: string; prefixlen: number; label?: string }[];
}

export class VipReconciler implements Reconciler<VipWanted[]> {
  readonly name = "vip";
  private lastAnnounce = new Map<string, number>();

  constructor(
    private readonly runner: CommandRunner,
    private readonly opts: { reannounceMs: number; arpCount: number; now?: () => number } = { reannounceMs: 10_000, arpCount: 2 },
  ) {}

  /** Addresses on `ifaces` that carry our label. */
  async actual(ifaces: string[]): Promise<VipWanted[]> {
    const out: VipWanted[] = [];
    for (const iface of new Set(ifaces)) {
      const r = await this.runner.run("ip", ["-j", "addr", "show", "dev", iface], { mutates: false });
      if (r.code !== 0) throw new Error(`cannot read addresses of ${iface}: ${r.stderr.trim()}`);
      const parsed = (r.stdout.trim() ? JSON.parse(r.stdout) : []) as IpAddrJson[];
      for (const link of parsed) {
        for (const a of link.addr_info ?? []) {
          if (a.family === "inet" && a.label === vipLabel(iface)) out.push({ vip: a.local, prefix: a.prefixlen, iface });
        }
      }
    }
    return out;
  }

  /**
   * Make our labelled addresses on `ifaces` exactly `wanted`. Removals go first: when a VIP must
   * go, that is the safety-critical half.
   */
  async reconcile(wanted: VipWanted[], ifaces: string[] = wanted.map((w) => w.iface)): Promise<void> {
    const allIfaces = [...new Set([...ifaces, ...wanted.map((w) => w.iface)])];
    const actual = await this.actual(allIfaces);
    const key = (v: VipWanted) => `${v.iface}/${v.vip}/${v.prefix}`;
    const want = new Map(wanted.map((w) => [key(w), w]));
    const have = new Map(actual.map((a) => [key(a), a]));
    for (const [k, a] of have) if (!want.has(k)) await this.remove(a);
    const now = (this.opts.now ?? (() => performance.now()))();
    for (const [k, w] of want) {
      if (!have.has(k)) {
        await this.runner.check("ip", ["addr", "add", `${w.vip}/${w.prefix}`, "dev", w.iface, "label", vipLabel(w.iface)]);
        log("vip added", { vip: w.vip, iface: w.iface });
        this.announce(w, now);
      } else if (now - (this.lastAnnounce.get(k) ?? -Infinity) >= this.opts.reannounceMs) {
        this.announce(w, now);
      }
    }
  }

  async remove(v: VipWanted): Promise<void> {
    const r = await this.runner.run("ip", ["addr", "del", `${v.vip}/${v.prefix}`, "dev", v.iface]);
    // "Cannot assign requested address" means it is already gone: the goal is reached.
    if (r.code !== 0 && !/Cannot assign requested address/.test(r.stderr)) throw new Error(`ip addr del ${v.vip} failed: ${r.stderr.trim()}`);
    this.lastAnnounce.delete(`${v.iface}/${v.vip}/${v.prefix}`);
    log("vip removed", { vip: v.vip, iface: v.iface });
  }

  /** Gratuitous ARP so switches and neighbours learn the new holder's MAC at once. */
  private announce(w: VipWanted, now: number): void {
    this.lastAnnounce.set(`${w.iface}/${w.vip}/${w.prefix}`, now);
    // Not awaited: arping takes a few hundred ms and must not hold up a VIP removal elsewhere.
    void this.runner
      .run("arping", ["-q", "-U", "-c", String(this.opts.arpCount), "-I", w.iface, w.vip], { timeoutMs: 3000 })
      .then((r) => {
        // arping -U exits 1 when no reply came, which is expected for unsolicited ARP.
        if (r.code !== 0 && r.code !== 1) log("arping failed", { vip: w.vip, iface: w.iface, code: r.code, stderr: r.stderr.trim() });
      });
  }
}
