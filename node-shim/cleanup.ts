// What the shim leaves behind when it is not running, removed without it: its labelled VIPs
// (made inert first by emptying the lease filter's `leased` sets, so nothing can answer while the
// addresses go), and, for the unit's stop hook, the fences of the groups it held. `uninstall` also
// deletes the lease filter tables; the stop hook keeps them (an address that could not be removed
// stays inert under them). Every command goes through the CommandRunner.
//
// `chime-ha-shim cleanup` is the unit's ExecStopPost: it runs however the shim ended (SIGTERM,
// crash, OOM kill, watchdog). After an upgrade handover (the stopping shim kept its VIPs for the
// new process: install/handover.ts) it leaves the VIPs alone: the kernel ends their leases if the
// new process does not renew them.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { DesiredGroup } from "../protocol/heartbeat.js";
import { fenceHooksFor } from "./apply/types.js";
import { LABEL_SUFFIX, LEASE_TABLE } from "./apply/vip.js";
import type { CommandRunner } from "./command-runner.js";
import type { DurableState } from "./core/shim-core.js";
import { takeHandoverKept } from "./install/handover.js";
import { log } from "./log.js";

interface IpAddrJson {
  ifname: string;
  addr_info?: { family: string; local: string; prefixlen: number; label?: string }[];
}

/** The shim's own addresses (label `<iface>:cha`) on every interface. */
export async function labelledVips(runner: CommandRunner): Promise<{ vip: string; prefix: number; iface: string }[]> {
  const r = await runner.run("ip", ["-j", "addr", "show"], { mutates: false });
  if (r.code !== 0) throw new Error(`cannot list addresses: ${r.stderr.trim()}`);
  const ours: { vip: string; prefix: number; iface: string }[] = [];
  for (const link of (r.stdout.trim() ? JSON.parse(r.stdout) : []) as IpAddrJson[]) {
    for (const a of link.addr_info ?? []) if (a.family === "inet" && a.label === `${link.ifname}${LABEL_SUFFIX}`) ours.push({ vip: a.local, prefix: a.prefixlen, iface: link.ifname });
  }
  return ours;
}

/**
 * Make every VIP under the lease filter inert (empty `leased`), then remove the labelled
 * addresses; with `deleteTables`, also the filter itself. Returns what was done.
 */
export async function removeVips(runner: CommandRunner, opts: { deleteTables: boolean }): Promise<string[]> {
  const done: string[] = [];
  const tables = (await runner.run("nft", ["list", "table", "ip", LEASE_TABLE], { mutates: false })).code === 0;
  if (tables) {
    await runner.check("nft", [`flush set ip ${LEASE_TABLE} leased; flush set arp ${LEASE_TABLE} leased`]);
    done.push("lease filter emptied (every VIP inert)");
  }
  for (const v of await labelledVips(runner)) {
    const r = await runner.run("ip", ["addr", "del", `${v.vip}/${v.prefix}`, "dev", v.iface]);
    if (r.code !== 0 && !/Cannot assign requested address|Address not found/.test(r.stderr)) throw new Error(`ip addr del ${v.vip} failed: ${r.stderr.trim()}`);
    done.push(`address ${v.vip}/${v.prefix} on ${v.iface}`);
  }
  if (opts.deleteTables && tables) {
    // Only once no labelled address is left: a table deleted under a VIP would make it answer again.
    const left = await labelledVips(runner);
    if (left.length) throw new Error(`addresses still there, lease filter kept: ${left.map((v) => v.vip).join(", ")}`);
    await runner.check("nft", [`delete table ip ${LEASE_TABLE}; delete table arp ${LEASE_TABLE}`]);
    done.push(`nftables tables ip/arp ${LEASE_TABLE}`);
  }
  return done;
}

/** The unit's stop hook. `runtimeDir`: where the upgrade handover leaves its note. */
export async function cleanupAfterStop(runner: CommandRunner, o: { stateDir: string; runtimeDir: string; settings: Record<string, unknown> }): Promise<string[]> {
  // A shim that honoured an upgrade handover left its VIPs to its successor (install/handover.ts).
  if (takeHandoverKept(o.runtimeDir)) {
    log("cleanup: upgrade handover, VIPs left to the new process", {});
    return ["upgrade handover: VIPs kept for the new process"];
  }
  const done = await removeVips(runner, { deleteTables: false });
  let held: DesiredGroup[] = [];
  try {
    held = (JSON.parse(readFileSync(join(o.stateDir, "state.json"), "utf8")) as DurableState).held ?? [];
  } catch {
    // no state: nothing was held
  }
  for (const g of held) {
    for (const hook of fenceHooksFor(g.mode)) {
      try {
        await hook(g, { runner, settings: o.settings, holds: () => false });
        done.push(`fenced ${g.name} (${g.mode})`);
      } catch (err) {
        done.push(`fence of ${g.name} failed: ${(err as Error).message}`);
      }
    }
  }
  for (const d of done) log("cleanup", { what: d });
  return done;
}
