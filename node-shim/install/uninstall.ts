// `chime-ha-shim uninstall`: stop and disable the service, then remove what the shim put on this
// host and nothing else: addresses labelled `<iface>:cha` (made inert first) and the lease filter
// (cleanup.ts), the nftables `ip chime_ha` table, IPVS virtual services on those addresses, and the
// files `install` wrote (--keep-config keeps the config and token). Every command goes through the
// CommandRunner (logged).
import { existsSync, readdirSync, rmdirSync, rmSync } from "node:fs";
import { dirname } from "node:path";
import { NFT_TABLE } from "../apply/lvs-nftables.js";
import { parseIpvsSave } from "../apply/lvs-ipvs.js";
import { labelledVips, removeVips } from "../cleanup.js";
import type { CommandRunner } from "../command-runner.js";
import { log } from "../log.js";
import { layout, UNIT_NAME } from "./layout.js";

export interface UninstallOptions {
  root: string;
  keepConfig: boolean;
}

/** Remove the shim's own addresses and rules from this network namespace; returns what went. */
export async function removeOwnNetworkState(runner: CommandRunner): Promise<string[]> {
  // Only the label the shim sets (`<iface>:cha`): anything else on the host is not ours.
  const ours = await labelledVips(runner);
  const removed = await removeVips(runner, { deleteTables: true });
  const nft = await runner.run("nft", ["list", "table", "ip", NFT_TABLE], { mutates: false });
  if (nft.code === 0) {
    await runner.check("nft", ["delete", "table", "ip", NFT_TABLE]);
    removed.push(`nftables table ip ${NFT_TABLE}`);
  }
  // IPVS: only virtual services on one of our addresses (others belong to someone else).
  const ipvs = await runner.run("ipvsadm", ["-Sn"], { mutates: false });
  if (ipvs.code === 0) {
    const own = new Set(ours.map((v) => v.vip));
    for (const vs of parseIpvsSave(ipvs.stdout).filter((s) => own.has(s.vip))) {
      await runner.check("ipvsadm", ["-D", vs.proto, `${vs.vip}:${vs.port}`]);
      removed.push(`ipvs service ${vs.vip}:${vs.port}`);
    }
  }
  return removed;
}

export async function uninstall(o: UninstallOptions, runner: CommandRunner): Promise<string[]> {
  const L = layout(o.root);
  const done: string[] = [];
  if (o.root === "/") {
    // Stopping first: on SIGTERM the shim releases its groups, so the peer takes them at once.
    await runner.run("systemctl", ["disable", "--now", UNIT_NAME]);
  } else {
    await runner.run("systemctl", [`--root=${o.root}`, "disable", UNIT_NAME]);
  }
  done.push("service stopped and disabled");
  done.push(...(await removeOwnNetworkState(runner)));
  const files = [L.unit, L.binary, ...(o.keepConfig ? [] : [L.config, L.token])];
  for (const f of files) {
    if (!existsSync(f)) continue;
    rmSync(f);
    done.push(`removed ${o.root === "/" ? f : f.slice(o.root.replace(/\/$/, "").length)}`);
  }
  // Directories the install created, when empty.
  for (const d of [dirname(L.binary), dirname(dirname(L.binary)), ...(o.keepConfig ? [] : [L.configDir])]) {
    if (existsSync(d) && readdirSync(d).length === 0) rmdirSync(d);
  }
  if (o.root === "/") await runner.run("systemctl", ["daemon-reload"]);
  for (const d of done) log("uninstalled", { what: d });
  return done;
}
