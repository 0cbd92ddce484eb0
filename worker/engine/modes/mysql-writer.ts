// mysql-writer (dual master with mutual replication, or Galera): the writer VIP goes only to a
// server whose SQL thread applied everything it read, within the lag limit, with no errant
// transactions; the most advanced GTID wins. Galera: any node Synced in a Primary component.
import type { ProbeReport } from "../../../protocol/heartbeat.js";
import type { ModeRules } from "./types.js";

/** Highest sequence number per domain in a MariaDB GTID list ("0-1-100,1-2-7"). */
export function gtidSeqs(pos: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const part of pos.split(",").map((p) => p.trim()).filter(Boolean)) {
    const [domain, , seq] = part.split("-");
    if (domain === undefined || seq === undefined) continue;
    out.set(domain, Math.max(out.get(domain) ?? 0, Number(seq)));
  }
  return out;
}

/** Negative when a is ahead of b (more transactions applied across domains). */
export function compareGtid(a: string, b: string): number {
  const sa = gtidSeqs(a);
  const sb = gtidSeqs(b);
  let ahead = 0;
  for (const d of new Set([...sa.keys(), ...sb.keys()])) ahead += (sa.get(d) ?? 0) - (sb.get(d) ?? 0);
  return ahead === 0 ? 0 : -Math.sign(ahead);
}

export const mysqlWriter: ModeRules = {
  ineligible(report: ProbeReport | undefined, group) {
    const m = report?.mysql;
    if (!m) return "no mysql report";
    if (group.mysql?.topology === "galera") return m.galeraSynced ? null : "galera node not Synced in a Primary component";
    if (m.errantTransactions) return "has errant transactions (would be lost or conflict on promotion)";
    // The writable server is the source: its reverse channel (from a read-only peer) carries
    // nothing it needs, so only read-only servers are judged on replication.
    if (!m.readOnly) return null;
    if (m.replicaConfigured && !m.caughtUp) return "replication not caught up (SQL thread has not applied all it read)";
    const maxLag = group.probe.type === "mysql" ? group.probe.maxLagSeconds : 5;
    if (m.secondsBehind !== null && m.secondsBehind > maxLag) return `replication lag ${m.secondsBehind}s > ${maxLag}s`;
    return null;
  },
  compare(a, b) {
    return compareGtid(a.report?.mysql?.gtidCurrentPos ?? "", b.report?.mysql?.gtidCurrentPos ?? "");
  },
  desiredExtras(_state, group) {
    return { mysql: { topology: group.mysql?.topology ?? "dual-master", strictFence: group.mysql?.strictFence ?? false } };
  },
};
