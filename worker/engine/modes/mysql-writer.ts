// mysql-writer (dual master with mutual replication, or Galera). Galera: any node Synced in a
// Primary component may hold the writer VIP. Dual master: the writer VIP goes only to a server
// that provably has what the last writer acknowledged.
//
// The rule for an automatic promotion (README, "Data services"): the engine remembers the last
// writer's last report — its gtid_binlog_pos and whether semi-sync was effective (status ON, a
// standby connected, no commit acknowledged without one since the report before). A standby is
// promoted only if it had RECEIVED (relay log or applied) everything in that position, and
// semi-sync was effective then, so every later acknowledged commit is in its relay log too. A
// writer that reports read-only has a final binlog; then only the position counts. Otherwise the
// promotion is refused with a critical event naming the possible loss; an operator may force it
// (switchover with acceptDataLoss) or the group may choose availability
// (mysql.promoteOnPossibleLoss). A standby whose report may simply be older than the writer's
// last one waits for a fresh report instead of being refused.
import type { MysqlReport, ProbeReport } from "../../../protocol/heartbeat.js";
import { compareGtid, errantGtids, mergePositions } from "../../../protocol/gtid.js";
import { groupMembers, type GroupSpec } from "../../../protocol/spec.js";
import type { StepCtx } from "../context.js";
import { isAlive, isoTime } from "../liveness.js";
import type { EngineState, MysqlFacts, MysqlMemory, MysqlWriterSnapshot } from "../types.js";
import type { Hold, ModeRules } from "./types.js";

export { compareGtid } from "../../../protocol/gtid.js";

const EMPTY: MysqlMemory = { facts: {}, writer: null, forced: null, lossAcceptedEpoch: null };
const memoryOf = (s: EngineState, group: string): MysqlMemory => s.mysql[group] ?? EMPTY;
const isGalera = (group: GroupSpec) => group.mysql?.topology === "galera";

/** What a server holds of the writer's history: what its IO thread received (relay log) or it applied. */
export const receivedPos = (m: MysqlReport): string => mergePositions(m.gtidIoPos ?? "", m.gtidCurrentPos);

/** Why semi-sync did not protect the commits after this report (null: it did). */
function semiSyncGap(m: MysqlReport, prev: MysqlWriterSnapshot | null): string | null {
  const ss = m.semiSync;
  if (!ss) return "it reports no semi-sync state";
  if (!ss.masterEnabled) return "semi-sync is off (rpl_semi_sync_master_enabled=OFF)";
  if (!ss.masterStatus) return "semi-sync fell back to asynchronous (Rpl_semi_sync_master_status=OFF)";
  if (ss.clients < 1) return "no semi-sync standby connected";
  if (prev?.noTx != null && ss.noTx > prev.noTx) return `${ss.noTx - prev.noTx} commits acknowledged without a standby since its previous report`;
  if (prev?.noTx != null && ss.noTx < prev.noTx) return "its semi-sync counters started over (mysqld restarted)";
  return null;
}

/** When the probe behind `report` read its facts, as bounds on the control plane's clock. */
function factsOf(s: EngineState, group: GroupSpec, report: ProbeReport, now: number): MysqlFacts {
  // A heartbeat's delay is bounded by its timeout (by default 0.8 x the interval).
  const delay = s.persisted.spec.policy.heartbeatIntervalMs;
  const age = report.factsAgeMs ?? group.probe.intervalMs + group.probe.timeoutMs;
  return {
    report: report.mysql!,
    probedAfter: now - age - delay,
    probedBefore: report.factsAgeMs === undefined ? now : now - age + (report.factsRunMs ?? group.probe.timeoutMs),
  };
}

/** Settings that make the rule above hold, checked on every report (README lists them). */
function configDrift(s: EngineState, group: GroupSpec, node: string, m: MysqlReport): string[] {
  const c = m.config;
  const ss = m.semiSync;
  if (!c || !ss) return [];
  const ttl = s.persisted.spec.policy.leaseTtlMs;
  const out: string[] = [];
  if (!ss.masterEnabled || !ss.slaveEnabled) out.push("semi-sync is not on both ways (rpl_semi_sync_master_enabled and rpl_semi_sync_slave_enabled must be ON on every server)");
  if (c.waitPoint !== "AFTER_SYNC") out.push(`rpl_semi_sync_master_wait_point is ${c.waitPoint} (want AFTER_SYNC)`);
  if (!c.waitNoSlave) out.push("rpl_semi_sync_master_wait_no_slave is OFF (want ON: with OFF a writer whose standby disconnects acknowledges commits at once without it)");
  if (c.semiSyncTimeoutMs < ttl) out.push(`rpl_semi_sync_master_timeout is ${c.semiSyncTimeoutMs} ms (want >= the lease TTL, ${ttl} ms, so a writer cut off from everything fences itself before semi-sync gives up)`);
  if (!c.logSlaveUpdates) out.push("log_slave_updates is OFF (want ON)");
  if (!c.gtidStrictMode) out.push("gtid_strict_mode is OFF (want ON)");
  const mem = memoryOf(s, group.name);
  for (const other of groupMembers(s.persisted.spec, group)) {
    const o = other === node ? undefined : mem.facts[other]?.report;
    if (!o) continue;
    if (o.config && o.config.gtidDomainId === c.gtidDomainId) out.push(`gtid_domain_id ${c.gtidDomainId} is also ${other}'s (want one domain per server)`);
    if (o.serverId !== undefined && o.serverId === m.serverId) out.push(`server_id ${m.serverId} is also ${other}'s (must differ)`);
  }
  return out;
}

/** Raise a condition once (identity), and resolve it when it clears. */
function condition(ctx: StepCtx, key: string, kind: string, severity: "warning" | "critical", reason: string | null, where: { group: string; node: string }, resolved: string, identity = reason): void {
  if (reason !== null) return ctx.note(key, kind, severity, reason, { ...where, identity: identity ?? reason });
  if (!ctx.hasNote(key)) return;
  ctx.clearNote(key);
  ctx.event(kind, "info", resolved, { ...where, resolves: true });
}

/**
 * What promoting `node` could lose, ignoring policy and operator overrides: null when nothing,
 * a `wait` when a fresher report may still show it has everything.
 */
function promotionRisk(s: EngineState, group: GroupSpec, node: string, now: number, epochBefore = s.groups[group.name]?.epoch ?? 0): Hold | null {
  const m = s.nodes[node]?.probes[group.name]?.mysql;
  if (!m) return null; // ineligible by its report already
  const mem = memoryOf(s, group.name);
  const w = mem.writer;
  if (!w) {
    // Nothing was ever granted: no writer, nothing acknowledged through chime-ha.
    if (epochBefore === 0) return null;
    // The last holder wrote (if at all) into its own binlog: it lacks nothing it acknowledged.
    const last = s.persisted.groups[group.name];
    if (last?.holder === null && last.epoch === epochBefore && last.lastHolder === node) return null;
    return { kind: "refused", reason: `the last writer's committed position is unknown (no report from a writable server since the control plane started); ${node} may lack acknowledged transactions` };
  }
  if (w.node === node) return null; // its own binlog: the others are behind it, not the other way round
  const rec = receivedPos(m);
  for (const other of groupMembers(s.persisted.spec, group)) {
    if (other === node || other === w.node || !isAlive(s, other, now)) continue;
    const om = s.nodes[other]?.probes[group.name];
    if (!om?.healthy || !om.mysql?.readOnly) continue;
    const orec = receivedPos(om.mysql);
    if (compareGtid(rec, orec) === "incomparable") {
      return { kind: "refused", reason: `its position ${rec} and ${other}'s ${orec} are incomparable (each has transactions the other lacks); neither is promoted automatically` };
    }
  }
  const order = compareGtid(rec, w.pos);
  const covers = order === "equal" || order === "after";
  const what = order === "incomparable" ? `its position ${rec} and ${w.node}'s last committed ${w.pos} are incomparable` : `it received ${rec || "nothing"} of ${w.node}'s last committed ${w.pos}`;
  const mayLack = `${node} may lack transactions after ${rec || "(none)"}`;
  // Commits after an asynchronous report may be anywhere but here, whatever this report says.
  if (!w.fenced && !w.semiSyncOk) return { kind: "refused", reason: `${w.node} was asynchronous since ${isoTime(w.asyncSince ?? now)} (${w.asyncWhy}); ${covers ? "" : `${what}; `}${mayLack}` };
  if (covers) return null;
  // Behind (or diverged). Its report may predate the writer's last one: wait for one that surely
  // does not, unless its IO thread is disconnected (then nothing more can arrive).
  const fresh = (mem.facts[node]?.probedAfter ?? -Infinity) > w.probedBefore;
  if (!fresh && m.ioRunning) return { kind: "wait", reason: `waiting for a report showing it received ${w.node}'s last committed position ${w.pos} (it reported ${rec || "(none)"})` };
  return { kind: "refused", reason: `${what}; ${mayLack}` };
}

/** An operator's switchover with acceptDataLoss: lift the durability rule for `node` until it is granted. */
export function forcePromotion(s: EngineState, group: string, node: string, actor: string): void {
  s.mysql[group] = { ...memoryOf(s, group), forced: { node, actor, epoch: null } };
}

function observe(ctx: StepCtx, group: GroupSpec, node: string, report: ProbeReport): void {
  const m = report.mysql;
  if (isGalera(group) || !m) return;
  const s = ctx.state;
  const now = ctx.now;
  const mem = memoryOf(s, group.name);
  const facts = factsOf(s, group, report, now);
  let writer = mem.writer;
  const where = { group: group.name, node };
  if (!m.readOnly) {
    const prev = writer?.node === node ? writer : null;
    const gap = semiSyncGap(m, prev);
    const same = prev !== null && !prev.fenced && prev.pos === m.gtidBinlogPos && prev.semiSyncOk === (gap === null);
    writer = {
      node,
      pos: m.gtidBinlogPos,
      state: m.gtidBinlogState ?? "",
      // Unchanged facts were already read by the earlier probe.
      probedBefore: same ? prev.probedBefore : facts.probedBefore,
      fenced: false,
      semiSyncOk: gap === null,
      noTx: m.semiSync?.noTx ?? null,
      asyncSince: gap === null ? null : (prev?.asyncSince ?? now),
      asyncWhy: gap,
    };
    condition(ctx, `mysql-async:${group.name}`, "mysql.semi-sync-off", "warning", gap && `${node} (writer) acknowledges commits without a standby: ${gap}; an automatic failover now could lose them, so it would be refused`, where, `semi-sync is effective again on ${node}`, `${node}:${writer.asyncSince}`);
    const others = groupMembers(s.persisted.spec, group).filter((o) => o !== node && isAlive(s, o, now) && s.nodes[o]?.probes[group.name]?.mysql?.readOnly === false);
    condition(ctx, `mysql-writers:${group.name}`, "mysql.two-writers", "critical", others.length ? `${node} and ${others.join(", ")} are writable at once` : null, where, `only ${node} is writable`);
  } else if (writer?.node === node) {
    // The last writer is read-only now (fenced, or restarted read-only): its binlog is final.
    writer = { ...writer, pos: m.gtidBinlogPos, state: m.gtidBinlogState ?? writer.state, probedBefore: writer.pos === m.gtidBinlogPos ? writer.probedBefore : facts.probedBefore, fenced: true };
    condition(ctx, `mysql-async:${group.name}`, "mysql.semi-sync-off", "warning", null, where, `${node} no longer writes (read-only)`);
  }
  s.mysql[group.name] = { ...mem, facts: { ...mem.facts, [node]: facts }, writer };
  // A read-only server with transactions the writer never had: report them, never merge them.
  let errant: string[] = [];
  if (m.readOnly && writer && writer.node !== node && m.gtidBinlogState && m.serverId !== undefined) errant = errantGtids(m.gtidBinlogState, m.serverId, writer.state);
  condition(
    ctx,
    `mysql-errant:${group.name}:${node}`,
    "mysql.errant-transactions",
    "critical",
    errant.length ? `${node} has transactions the writer ${writer!.node} never had (${errant.join(",")}), e.g. written before a crash and never acknowledged; they are not replicated or merged: inspect them, then rebuild ${node} from ${writer!.node} or re-apply them by hand` : null,
    where,
    `${node} has no transactions the writer lacks`,
  );
  const drift = configDrift(s, group, node, m);
  condition(ctx, `mysql-config:${group.name}:${node}`, "mysql.config-drift", "warning", drift.length ? `${node}: ${drift.join("; ")}` : null, where, `${node}'s settings match the safe setup again`);
}

export const mysqlWriter: ModeRules = {
  ineligible(report: ProbeReport | undefined, group) {
    const m = report?.mysql;
    if (!m) return "no mysql report";
    if (isGalera(group)) return m.galeraSynced ? null : `galera node not Synced in a Primary component${m.galeraState ? ` (${m.galeraState})` : ""}`;
    if (m.errantTransactions) return "has errant transactions (would be lost or conflict on promotion)";
    // The writable server is the source: its reverse channel (from a read-only peer) carries
    // nothing it needs, so only read-only servers are judged on replication.
    if (!m.readOnly) return null;
    if (m.replicaConfigured && !m.caughtUp && !m.sqlRunning) return "replication not caught up (SQL thread stopped)";
    const maxLag = group.probe.type === "mysql" ? group.probe.maxLagSeconds : 5;
    if (m.secondsBehind !== null && m.secondsBehind > maxLag) return `replication lag ${m.secondsBehind}s > ${maxLag}s`;
    return null;
  },
  hold(s, group, node, now) {
    if (isGalera(group)) return null;
    const mem = memoryOf(s, group.name);
    const m = s.nodes[node]?.probes[group.name]?.mysql;
    // Applying what it received (within the lag limit): it will be there in a moment.
    if (m?.readOnly && m.replicaConfigured && !m.caughtUp) return { kind: "wait", reason: "replication catching up (SQL thread has not applied all it read)" };
    if (mem.forced?.node === node && mem.forced.epoch === null) return null;
    const w = mem.writer;
    if (m && w && w.node !== node && m.gtidBinlogState && m.serverId !== undefined) {
      const errant = errantGtids(m.gtidBinlogState, m.serverId, w.state);
      if (errant.length) return { kind: "unfit", reason: `has transactions the writer ${w.node} never had (${errant.join(",")}); not promoted automatically` };
    }
    const risk = promotionRisk(s, group, node, now);
    if (risk?.kind === "refused" && group.mysql?.promoteOnPossibleLoss) return null; // availability over safety (the grant says so)
    return risk;
  },
  observe,
  onGrant(ctx, group, node, epoch) {
    if (isGalera(group)) return;
    const s = ctx.state;
    const mem = memoryOf(s, group.name);
    const forced = mem.forced;
    if (forced && forced.node === node && forced.epoch === null) {
      const risk = promotionRisk(s, group, node, ctx.now, epoch - 1);
      s.mysql[group.name] = { ...mem, forced: { ...forced, epoch }, lossAcceptedEpoch: epoch };
      ctx.event("mysql.data-loss-accepted", "critical", `${forced.actor} promoted ${node} accepting possible data loss${risk ? `: ${risk.reason}` : " (no loss was detected)"}`, { group: group.name, node, epoch, actor: forced.actor, incident: `group:${group.name}` });
      return;
    }
    const risk = group.mysql?.promoteOnPossibleLoss ? promotionRisk(s, group, node, ctx.now, epoch - 1) : null;
    s.mysql[group.name] = { ...mem, forced: null, lossAcceptedEpoch: risk?.kind === "refused" ? epoch : null };
    if (risk?.kind === "refused") ctx.event("mysql.possible-loss-promotion", "critical", `promoting ${node} although ${risk.reason} (policy mysql.promoteOnPossibleLoss)`, { group: group.name, node, epoch, incident: `group:${group.name}` });
  },
  compare(a, b) {
    // Most received wins; incomparable positions never get here (both are refused).
    const o = compareGtid(a.report?.mysql ? receivedPos(a.report.mysql) : "", b.report?.mysql ? receivedPos(b.report.mysql) : "");
    return o === "after" ? -1 : o === "before" ? 1 : 0;
  },
  desiredExtras(state, group, node, isHolder) {
    const base = { topology: group.mysql?.topology ?? "dual-master", strictFence: group.mysql?.strictFence ?? false } as const;
    if (!isHolder || isGalera(group)) return { mysql: base };
    const mem = memoryOf(state, group.name);
    if (mem.lossAcceptedEpoch !== null && mem.lossAcceptedEpoch === state.groups[group.name]?.epoch) return { mysql: { ...base, acceptDataLoss: true } };
    // The applier's own last check: it promotes only once it applied the last writer's position.
    if (mem.writer && mem.writer.node !== node) return { mysql: { ...base, requiredGtid: mem.writer.pos } };
    return { mysql: base };
  },
};
