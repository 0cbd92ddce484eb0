// Carries out the core's kernel operations (core/kernel.ts) for VIPs, through the CommandRunner:
// the nftables lease filter in one long-lived `nft -i` session and the addresses in one
// long-lived `ip -batch -` session, so a renewal costs no process.
//
// The lease filter (tables `arp chime_ha_lease` and `ip chime_ha_lease`): a VIP in `managed`
// whose element in `leased` has timed out gets no ARP answer and sends none, and no IP traffic to
// or from it passes (dropped before conntrack and DNAT, so a director's balancing stops too).
// Renewals are guarded by a token in `fresh` that lives FRESH_MS: the renewal transaction deletes
// the token first, so if it reaches the kernel later than that (a stopped or starved process),
// the whole transaction is refused and the lease is not extended.
//
// Addresses carry the label `<iface>:cha`, so the shim only ever removes addresses it added, and a
// lifetime (valid_lft) a little past the lease end, renewed with the lease: the eventual belt.
import type { CommandResult, CommandRunner } from "../command-runner.js";
import { IP_SESSION, NFT_SESSION } from "../command-runner.js";
import { FRESH_MS, type KernelOp, type KernelResult, lifetimeSeconds, type VipRef } from "../core/kernel.js";
import { log } from "../log.js";

/** The label suffix that marks our addresses; the kernel wants labels to start with the device name. */
export const LABEL_SUFFIX = ":cha";
export const vipLabel = (iface: string) => `${iface}${LABEL_SUFFIX}`;
export const LEASE_TABLE = "chime_ha_lease";

const NFT: [string, string[]] = ["nft", ["-i"]];
const IP: [string, string[]] = ["ip", ["-j", "-force", "-batch", "-"]];

/** The lease filter, created or repaired in one transaction (sets and their elements survive). */
export function leaseTableSetup(): string {
  const t = LEASE_TABLE;
  return [
    `add table arp ${t}`,
    `add set arp ${t} managed { type ipv4_addr; }`,
    `add set arp ${t} leased { type ipv4_addr; flags timeout; }`,
    `add chain arp ${t} in { type filter hook input priority -300; }`,
    `add chain arp ${t} out { type filter hook output priority -300; }`,
    `flush chain arp ${t} in`,
    `flush chain arp ${t} out`,
    `add rule arp ${t} in arp daddr ip @managed arp daddr ip != @leased drop`,
    `add rule arp ${t} out arp saddr ip @managed arp saddr ip != @leased drop`,
    `add table ip ${t}`,
    `add set ip ${t} managed { type ipv4_addr; }`,
    `add set ip ${t} leased { type ipv4_addr; flags timeout; }`,
    `add set ip ${t} fresh { type mark; flags timeout; }`,
    `add chain ip ${t} pre { type filter hook prerouting priority -300; }`,
    `add chain ip ${t} post { type filter hook postrouting priority 300; }`,
    `flush chain ip ${t} pre`,
    `flush chain ip ${t} post`,
    `add rule ip ${t} pre ip daddr @managed ip daddr != @leased drop`,
    `add rule ip ${t} post ip saddr @managed ip saddr != @leased drop`,
  ].join("; ");
}

interface IpAddrJson {
  ifname: string;
  addr_info?: { family: string; local: string; prefixlen: number; label?: string }[];
}

/** Our labelled IPv4 addresses in `ip -j addr show dev IF` output. */
export function labelledAddresses(json: string, iface: string): VipRef[] {
  const parsed = (json.trim() ? JSON.parse(json) : []) as IpAddrJson[];
  const out: VipRef[] = [];
  for (const link of parsed) for (const a of link.addr_info ?? []) if (a.family === "inet" && a.label === vipLabel(iface)) out.push({ vip: a.local, prefix: a.prefixlen, iface });
  return out;
}

const describe = (cmd: string, line: string) => `${cmd} <<< ${line}`;

export class VipExecutor {
  private token = 0;

  constructor(
    private readonly runner: CommandRunner,
    private readonly opts: { arpCount: number } = { arpCount: 2 },
  ) {}

  private nft(line: string): Promise<CommandResult> {
    return this.runner.session(NFT[0], NFT[1], NFT_SESSION, line);
  }

  private ip(line: string, read = false): Promise<CommandResult> {
    return read ? this.runner.session(IP[0], IP[1], IP_SESSION, line, { mutates: false, expectOutput: true }) : this.runner.session(IP[0], IP[1], IP_SESSION, line);
  }

  /**
   * Run one operation. `recheck` is asked right before anything irreversible (a lease renewal,
   * an address): it returns the op to run (lease ends clamped to what is valid now) or null.
   */
  async run(op: KernelOp, recheck: (op: KernelOp) => KernelOp | null, now: () => number): Promise<KernelResult> {
    const t = LEASE_TABLE;
    const fail = (cmd: string, line: string, r: CommandResult, extra: Partial<Extract<KernelResult, { ok: false }>> = {}): KernelResult => ({ ok: false, detail: (r.stderr.trim() || r.stdout.trim() || `exit ${r.code}`).slice(-500), command: describe(cmd, line), exitCode: r.code, ...extra });
    switch (op.kind) {
      case "setup": {
        const line = leaseTableSetup();
        const r = await this.nft(line);
        return r.code === 0 ? { ok: true } : fail("nft", line, r);
      }
      case "manage": {
        const set = op.vips.join(", ");
        const line = `add element ip ${t} managed { ${set} }; add element arp ${t} managed { ${set} }`;
        const r = await this.nft(line);
        return r.code === 0 ? { ok: true } : fail("nft", line, r);
      }
      case "unlease": {
        // Adding first makes the delete succeed whether or not the element was there.
        const line = op.vips.flatMap((v) => [`add element ip ${t} leased { ${v} timeout 1ms }`, `delete element ip ${t} leased { ${v} }`, `add element arp ${t} leased { ${v} timeout 1ms }`, `delete element arp ${t} leased { ${v} }`]).join("; ");
        const r = await this.nft(line);
        return r.code === 0 ? { ok: true } : fail("nft", line, r);
      }
      case "lease": {
        const token = (this.token = (this.token % 0xfffffff0) + 1);
        const armLine = `add element ip ${t} fresh { ${token} timeout ${FRESH_MS}ms }`;
        const armed = await this.nft(armLine);
        if (armed.code !== 0) return fail("nft", armLine, armed);
        // Decide now, with the lease as it is now; the kernel takes it only within FRESH_MS.
        const fresh = recheck(op);
        const at = now();
        if (!fresh || fresh.kind !== "lease") return { ok: false, aborted: true, detail: "lease no longer valid", command: describe("nft", armLine), exitCode: null };
        const entries = fresh.entries.map((e) => ({ vip: e.vip, ms: Math.floor(e.until - at) })).filter((e) => e.ms >= 1);
        if (entries.length === 0) return { ok: false, aborted: true, detail: "lease ends now", command: describe("nft", armLine), exitCode: null };
        const els = entries.map((e) => `${e.vip} timeout ${e.ms}ms`).join(", ");
        const vips = entries.map((e) => e.vip).join(", ");
        // `add` does not reliably move an existing element's end: the kernel keeps the old expiry
        // when the timeout value is the same as the stored one (renewals often ask for the same
        // 646 ms), and the element then ran out between renewals, dropping the holder's traffic.
        // So each renewal replaces the elements: add (so the delete always finds them), delete,
        // add with the new end, all in the one transaction the token guards (atomic for packets).
        const replace = (fam: string) => `add element ${fam} ${t} leased { ${els} }; delete element ${fam} ${t} leased { ${vips} }; add element ${fam} ${t} leased { ${els} }`;
        const line = `delete element ip ${t} fresh { ${token} }; ${replace("ip")}; ${replace("arp")}`;
        const r = await this.nft(line);
        if (r.code === 0) return { ok: true };
        // The token had timed out: this renewal reached the kernel too late and was refused whole.
        const stale = /No such file or directory/.test(r.stderr) && r.stderr.includes(`fresh { ${token} }`);
        return fail("nft", line, r, stale ? { stale: true } : {});
      }
      case "addr-add": {
        const fresh = recheck(op);
        if (!fresh || fresh.kind !== "addr-add") return { ok: false, aborted: true, detail: "lease no longer valid", command: "ip addr replace", exitCode: null };
        const life = lifetimeSeconds(fresh.until, now());
        const line = `addr replace ${op.ref.vip}/${op.ref.prefix} dev ${op.ref.iface} label ${vipLabel(op.ref.iface)} valid_lft ${life} preferred_lft ${life}`;
        const r = await this.ip(line);
        return r.code === 0 ? { ok: true } : fail("ip", line, r);
      }
      case "addr-del": {
        const line = `addr del ${op.ref.vip}/${op.ref.prefix} dev ${op.ref.iface}`;
        const r = await this.ip(line);
        // Already gone is the goal reached.
        if (r.code === 0 || /Cannot assign requested address|Address not found/.test(r.stderr)) {
          log("vip removed", { vip: op.ref.vip, iface: op.ref.iface });
          return { ok: true };
        }
        return fail("ip", line, r);
      }
      case "read": {
        const addrs: VipRef[] = [];
        for (const iface of op.ifaces) {
          const line = `addr show dev ${iface}`;
          const r = await this.ip(line, true);
          if (r.code !== 0) {
            if (/does not exist/.test(r.stderr)) continue; // no interface, no addresses
            return fail("ip", line, r);
          }
          try {
            addrs.push(...labelledAddresses(r.stdout, iface));
          } catch (err) {
            return { ok: false, detail: `cannot parse ip output: ${(err as Error).message}`, command: describe("ip", line), exitCode: 0 };
          }
        }
        return { ok: true, addrs };
      }
    }
  }

  /** Gratuitous ARP so switches and neighbours learn the holder's MAC at once. */
  announce(ref: VipRef): void {
    // Not awaited: arping takes a few hundred ms and must not hold up anything else.
    void this.runner.run("arping", ["-q", "-U", "-c", String(this.opts.arpCount), "-I", ref.iface, ref.vip], { timeoutMs: 3000 }).then((r) => {
      // arping -U exits 1 when no reply came, which is expected for unsolicited ARP.
      if (r.code !== 0 && r.code !== 1) log("arping failed", { vip: ref.vip, iface: ref.iface, code: r.code, stderr: r.stderr.trim() });
    });
  }

  close(): void {
    this.runner.closeSessions();
  }
}
