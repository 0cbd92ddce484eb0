// nftables backend: one `ip chime_ha` table, replaced atomically (`nft -f -` with a delete and a
// create in one transaction). DNAT spreads new connections across healthy real servers with
// numgen (rr/wrr, weights as map ranges) or jhash on the source address (sh); masquerade makes
// replies come back through the director. A removed real server gets no new connections at once;
// conntrack lets established ones finish (the drain).
import type { CommandRunner } from "../command-runner.js";
import { log } from "../log.js";
import type { LvsReconciler, VirtualService } from "./lvs.js";

export const NFT_TABLE = "chime_ha";

function dnatRule(vs: VirtualService): string | null {
  const reals = vs.reals.filter((r) => r.weight > 0);
  if (reals.length === 0) return null;
  const weighted = vs.scheduler === "wrr";
  let total = 0;
  const entries: string[] = [];
  for (const r of reals) {
    const w = weighted ? r.weight : 1;
    entries.push(`${w === 1 ? total : `${total}-${total + w - 1}`} : ${r.ip} . ${vs.realPort}`);
    total += w;
  }
  const pick = vs.scheduler === "sh" ? `jhash ip saddr mod ${total}` : `numgen inc mod ${total}`;
  return `ip daddr ${vs.vip} ${vs.protocol} dport ${vs.port} dnat ip to ${pick} map { ${entries.join(", ")} } comment "${vs.group}"`;
}

/** The whole table for the desired services (empty string: no table wanted). */
export function renderRuleset(desired: VirtualService[]): string {
  if (desired.length === 0) return "";
  const rules = desired.map(dnatRule).filter((r): r is string => r !== null);
  const masq = desired
    .filter((vs) => vs.reals.length > 0)
    .map((vs) => `ct status dnat ip daddr { ${[...new Set(vs.reals.map((r) => r.ip))].join(", ")} } ${vs.protocol} dport ${vs.realPort} masquerade`);
  const chain = (name: string, hook: string, prio: string, body: string[]) =>
    [`  chain ${name} {`, `    type nat hook ${hook} priority ${prio}; policy accept;`, ...body.map((b) => `    ${b}`), "  }"].join("\n");
  return [
    `table ip ${NFT_TABLE} {`,
    chain("prerouting", "prerouting", "dstnat", rules),
    chain("output", "output", "-100", rules),
    chain("postrouting", "postrouting", "srcnat", [...new Set(masq)]),
    "}",
  ].join("\n");
}

export class NftablesReconciler implements LvsReconciler {
  readonly name = "nftables";
  private applied: string | null = null;

  constructor(private readonly runner: CommandRunner) {}

  async reconcile(desired: VirtualService[]): Promise<void> {
    const want = renderRuleset(desired);
    const list = await this.runner.run("nft", ["list", "table", "ip", NFT_TABLE], { mutates: false });
    const exists = list.code === 0;
    if (want === "") {
      if (exists) {
        await this.runner.check("nft", ["delete", "table", "ip", NFT_TABLE]);
        log("nft table removed", { table: NFT_TABLE });
      }
      this.applied = null;
      return;
    }
    // Re-apply when what we last applied differs, or the table vanished (someone flushed it).
    if (exists && this.applied === want) return;
    await this.ensureForwarding();
    // `table X` first makes the delete valid when the table does not exist yet; all one transaction.
    const script = `table ip ${NFT_TABLE}\ndelete table ip ${NFT_TABLE}\n${want}\n`;
    await this.runner.check("nft", ["-f", "-"], { input: script });
    this.applied = want;
    log("nft table applied", { table: NFT_TABLE, services: desired.map((d) => `${d.vip}:${d.port}->${d.reals.map((r) => `${r.ip}:${d.realPort}*${r.weight}`).join(",")}`) });
  }

  /** DNAT to another host needs forwarding on the director. */
  private async ensureForwarding(): Promise<void> {
    const r = await this.runner.run("sysctl", ["-n", "net.ipv4.ip_forward"], { mutates: false });
    if (r.stdout.trim() !== "1") await this.runner.check("sysctl", ["-w", "net.ipv4.ip_forward=1"]);
  }
}
