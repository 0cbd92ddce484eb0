// The mysql failover scenarios of issue 16, shared by the data suite (each once, with assertions)
// and `npm run bench:mysql-failover` (each 5 times, figures printed). Every run: fresh servers and
// cluster in the lab's namespaces, 8 connections inserting through the writer VIP, every
// acknowledged insert recorded, read_only of both servers sampled in one instant every ~2 ms.
// A run returns facts; the caller asserts or prints them.
import { spawnSync } from "node:child_process";
import type { EventRow } from "../../../protocol/api.js";
import { waitFor } from "./cluster.js";
import { readOnlyOf, seqsOn } from "./mariadb.js";
import { clock, type MysqlLab, NET, type SamplerSummary, type Scenario, shimLog } from "./mysql-lab.js";

export interface Run {
  scenario: string;
  /** The engine promoted automatically (or by policy / operator where the scenario says so). */
  promoted: boolean;
  /** The refusal event's reason when the engine refused. */
  refused: string | null;
  /** Fault -> first insert acknowledged by the new writer through the VIP (ms). */
  unavailableMs: number | null;
  acked: number;
  lost: number;
  /** Inserts per second through the VIP before the fault. */
  rate: number;
  sampler: SamplerSummary;
  events: EventRow[];
  /** Scenario-specific facts for the suite's assertions and the benchmark's notes. */
  facts: Record<string, unknown>;
  /** When the fault was injected (ms, timeOrigin-based, like event times). */
  faultAt?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function finish(sc: Scenario, scenario: string, base: Omit<Run, "scenario" | "sampler" | "events" | "acked"> & { sampler?: SamplerSummary | null }): Promise<Run> {
  const sampler = base.sampler ?? (await sc.stopLoad());
  return { ...base, scenario, sampler, acked: sc.load?.acks.length ?? 0, events: await sc.events() };
}

/** Wait until the engine names a refusal for mysql; its reason. */
async function refusal(sc: Scenario, after: number): Promise<string> {
  const e = await waitFor("the engine to refuse the promotion", async () => (await sc.events("group.promotion-refused")).find((x) => x.at >= after - 1000), 20_000, 100);
  return e.reason;
}

/** The writer's mysqld SIGKILLed under load (the shim and host stay). `domains`: one GTID domain, or one per server. */
export async function writerKill(lab: MysqlLab, domains: "one" | "two" = "one"): Promise<Run> {
  const two = domains === "two";
  const sc = await lab.scenario(two ? "two-domains" : "kill", two ? { a: { domainId: 1 }, b: { domainId: 2 } } : {});
  try {
    const { rate } = await sc.startLoad();
    const epoch = (await sc.cl.group("mysql")).epoch;
    const t0 = clock();
    await sc.dm.a.kill();
    const first = await waitFor("an insert acknowledged by db2 through the VIP", async () => sc.firstAckAfter(t0, 2), 30_000, 10);
    await sleep(1000);
    const sampler = await sc.stopLoad();
    const g = await sc.cl.group("mysql");
    const lost = await sc.lost(sc.dm.b);
    const facts: Record<string, unknown> = { holder: g.holder, epochMoved: g.epoch > epoch, db2ReadOnly: await readOnlyOf(sc.dm.b), ...(await sc.timeline(t0)) };
    if (two) {
      // The old writer rejoins read-only, replicates db2's domain and has nothing db2 lacks.
      await sc.dm.a.start(true);
      // Right after start db1 can still reset connections on its socket (CI saw ECONNRESET):
      // that is "not caught up yet", not a failure; the wait stays bounded.
      await waitFor("db1 to catch up with db2", async () => {
        const both = await Promise.all([seqsOn(sc.dm.a), seqsOn(sc.dm.b)]).catch(() => null);
        return both !== null && [...both[1]].every((x) => both[0].has(x));
      }, 30_000, 200);
      await sleep(1500);
      // What db1 wrote but never sent before it died (unacknowledged): reported as errant, not merged.
      const [onA, onB] = await Promise.all([seqsOn(sc.dm.a), seqsOn(sc.dm.b)]);
      const acked = new Set(sc.load!.acks.map((x) => x.seq));
      const tail = [...onA].filter((x) => !onB.has(x));
      facts.rejoin = {
        db1ReadOnly: await readOnlyOf(sc.dm.a),
        holder: (await sc.cl.group("mysql")).holder,
        errantEvents: (await sc.events("mysql.errant-transactions")).filter((e) => e.severity === "critical").length,
        unacknowledgedTail: tail.length,
        acknowledgedInTail: tail.filter((x) => acked.has(x)).length,
        positions: (await sc.dm.a.sql<{ p: string }>("SELECT @@global.gtid_current_pos AS p"))[0]!.p,
      };
    }
    return await finish(sc, two ? "two GTID domains (writer SIGKILL, then it rejoins)" : "writer SIGKILL", { promoted: g.holder === "server2", refused: null, unavailableMs: Math.round(first.at - t0), lost: lost.length, rate, sampler, facts, faultAt: t0 });
  } finally {
    await sc.cleanup();
  }
}

/** The whole writer node: mysqld SIGKILLed, its shim gone without a word, its link down. The lease is on the path. */
export async function nodeCrash(lab: MysqlLab): Promise<Run> {
  const sc = await lab.scenario("crash");
  try {
    const { rate } = await sc.startLoad();
    const t0 = clock();
    await Promise.all([sc.dm.a.kill(), sc.agent("server1").stop(false), lab.setLink("s1", false)]);
    const first = await waitFor("an insert acknowledged by db2 through the VIP", async () => sc.firstAckAfter(t0, 2), 30_000, 10);
    await sleep(1000);
    const sampler = await sc.stopLoad();
    const g = await sc.cl.group("mysql");
    const lost = await sc.lost(sc.dm.b);
    return await finish(sc, "whole writer node crash (lease on the path)", { promoted: g.holder === "server2", refused: null, unavailableMs: Math.round(first.at - t0), lost: lost.length, rate, sampler, facts: { holder: g.holder, ...(await sc.timeline(t0)) } });
  } finally {
    await sc.cleanup();
  }
}

/**
 * The standby's IO thread stopped; the writer falls back to asynchronous commits; then it is
 * killed. The engine must refuse. Then: the old writer restarts and gets the group back with
 * every acknowledged insert (0 lost); it is killed again, an operator forces the standby
 * (acceptDataLoss), and when the old writer rejoins its unreplicated tail is reported, not merged.
 */
export async function ioStopped(lab: MysqlLab): Promise<{ refused: Run; forced: Run }> {
  const sc = await lab.scenario("io-stopped");
  try {
    const { rate } = await sc.startLoad();
    await sc.dm.b.sql("STOP SLAVE IO_THREAD");
    const stoppedAt = clock();
    // Longer than rpl_semi_sync_master_timeout: the writer gives up waiting and acknowledges alone.
    await sleep(4000);
    const asyncAcks = sc.load!.acks.filter((a) => a.at > stoppedAt + 2500).length;
    const t0 = clock();
    await sc.dm.a.kill();
    const reason = await refusal(sc, t0);
    await sleep(3000);
    const stillReadOnly = await readOnlyOf(sc.dm.b);
    const promotedMeanwhile = sc.firstAckAfter(t0, 2) !== null || (await sc.cl.group("mysql")).holder === "server2";
    // The old writer comes back (read-only, as recommended): the group returns to it; nothing acknowledged is missing.
    const ackedBeforeKill = sc.load!.acks.filter((a) => a.at <= t0).map((a) => a.seq);
    await sc.dm.a.start(true);
    const back = await waitFor("inserts acknowledged by db1 again", async () => sc.firstAckAfter(t0, 1), 30_000, 20);
    const onA = await seqsOn(sc.dm.a);
    const lostRefused = ackedBeforeKill.filter((x) => !onA.has(x)).length;
    const refused: Run = {
      scenario: "standby IO thread stopped, then writer SIGKILL",
      promoted: promotedMeanwhile,
      refused: reason,
      unavailableMs: null,
      acked: ackedBeforeKill.length,
      lost: lostRefused,
      rate,
      sampler: { samples: 0, durationMs: 0, maxGapMs: 0, maxSpreadMs: 0, doubleWritable: [], writableFrom: [[], []], writableUntil: [[], []] },
      events: [],
      facts: { asyncAcks, db2ReadOnly: stillReadOnly, backOnDb1Ms: Math.round(back.at - t0) },
    };

    // Still no standby (its IO thread is stopped): kill again, refused again; the operator forces it.
    await sleep(1500);
    const t1 = clock();
    await sc.dm.a.kill();
    await sleep(2500);
    if ((await readOnlyOf(sc.dm.b)) !== true || sc.firstAckAfter(t1, 2)) throw new Error("db2 was promoted without the operator although db1's tail was asynchronous");
    const sw = await sc.cl.call("POST", `/v1/clusters/${sc.cl.id}/switchover`, { group: "mysql", to: "server2", acceptDataLoss: true });
    const first = await waitFor("an insert acknowledged by db2 after the forced switchover", async () => sc.firstAckAfter(t1, 2), 30_000, 10);
    await sleep(500);
    const ackedBefore = sc.load!.acks.filter((a) => a.at <= t1).map((a) => a.seq);
    const onB = await seqsOn(sc.dm.b);
    const lostForced = ackedBefore.filter((x) => !onB.has(x)).length;
    // The old writer rejoins with its asynchronous tail: reported, never merged, never promoted.
    await sc.dm.a.start(true);
    const errant = await waitFor("the errant-transactions event for server1", async () => (await sc.events("mysql.errant-transactions")).find((e) => e.node === "server1" && e.severity === "critical"), 20_000, 100);
    await sleep(3000);
    const sampler = await sc.stopLoad();
    const onBAfter = await seqsOn(sc.dm.b);
    const onAAfter = await seqsOn(sc.dm.a);
    const tailOnlyOnA = [...onAAfter].filter((x) => !onBAfter.has(x)).length;
    const g = await sc.cl.group("mysql");
    const forced: Run = await finish(sc, "forced switchover (acceptDataLoss), old writer rejoins with unreplicated transactions", {
      promoted: g.holder === "server2",
      refused: null,
      unavailableMs: Math.round(first.at - t1),
      lost: lostForced,
      rate,
      sampler,
      facts: { switchover: sw, errant: errant!.reason, tailOnlyOnA, db1ReadOnly: await readOnlyOf(sc.dm.a), holder: g.holder },
    });
    refused.sampler = sampler;
    refused.events = forced.events;
    return { refused, forced };
  } finally {
    await sc.cleanup();
  }
}

/** The two servers partitioned from each other past the semi-sync timeout, then the writer killed. */
export async function partition(lab: MysqlLab): Promise<Run> {
  const sc = await lab.scenario("partition");
  try {
    const { rate } = await sc.startLoad();
    await lab.partition(true);
    await sleep(4000);
    const t0 = clock();
    await sc.dm.a.kill();
    let reason: string | null = null;
    let unavailableMs: number | null = null;
    let lost: number;
    const outcome = await waitFor("a refusal or a promotion", async () => {
      const r = (await sc.events("group.promotion-refused")).find((x) => x.at >= t0 - 1000);
      if (r) return { refused: r.reason as string | null };
      return sc.firstAckAfter(t0, 2) ? { refused: null } : null;
    }, 30_000, 50);
    if (outcome.refused !== null) {
      reason = outcome.refused;
      await sleep(2000);
      await lab.partition(false);
      const ackedBefore = sc.load!.acks.filter((a) => a.at <= t0).map((a) => a.seq);
      await sc.dm.a.start(true);
      await waitFor("inserts acknowledged by db1 again", async () => sc.firstAckAfter(t0, 1), 30_000, 20);
      const onA = await seqsOn(sc.dm.a);
      lost = ackedBefore.filter((x) => !onA.has(x)).length;
    } else {
      unavailableMs = Math.round(sc.firstAckAfter(t0, 2)!.at - t0);
      await sleep(1000);
      lost = (await sc.lost(sc.dm.b)).length;
    }
    const sampler = await sc.stopLoad();
    return await finish(sc, "partition between the servers past the semi-sync timeout, then writer SIGKILL", { promoted: reason === null, refused: reason, unavailableMs, lost, rate, sampler, facts: {} });
  } finally {
    await lab.partition(false);
    await sc.cleanup();
  }
}

/**
 * The writer's host stays up but its shim cannot reach the control plane: its lease runs out,
 * it drops the VIP and fences mysqld (read_only, sessions killed) before the standby is made
 * writable. The sampler must never see both writable, and must see db1 read-only first.
 */
export async function cutOff(lab: MysqlLab): Promise<Run> {
  const sc = await lab.scenario("cut-off", { cutProxyForServer1: true });
  try {
    const { rate } = await sc.startLoad();
    const t0 = clock();
    sc.proxy!.cut();
    const first = await waitFor("an insert acknowledged by db2 through the VIP", async () => sc.firstAckAfter(t0, 2), 30_000, 10);
    await sleep(1000);
    const sampler = await sc.stopLoad();
    const g = await sc.cl.group("mysql");
    const lost = await sc.lost(sc.dm.b);
    const db1ReadOnlyAt = sampler.writableUntil[0].find((x) => x >= t0) ?? null;
    const db2WritableAt = sampler.writableFrom[1].find((x) => x >= t0) ?? null;
    return await finish(sc, "old writer alive, cut off from the control plane", {
      promoted: g.holder === "server2",
      refused: null,
      unavailableMs: Math.round(first.at - t0),
      lost: lost.length,
      rate,
      sampler,
      facts: { ...(await sc.timeline(t0)), db1ReadOnlyAfterCutMs: db1ReadOnlyAt && Math.round(db1ReadOnlyAt - t0), db2WritableAfterCutMs: db2WritableAt && Math.round(db2WritableAt - t0), db1StillUp: (await readOnlyOf(sc.dm.a)) !== null },
    });
  } finally {
    await sc.cleanup();
  }
}

/**
 * Control run: semi-sync off, the standby lagging (its IO thread stopped 1 s before the kill),
 * and the group set to availability (promoteOnPossibleLoss), so the engine promotes anyway. The
 * checker must count lost inserts: the tests can fail.
 */
export async function controlSemiSyncOff(lab: MysqlLab): Promise<Run> {
  const sc = await lab.scenario("control", { a: { semiSync: false }, b: { semiSync: false }, promoteOnPossibleLoss: true });
  try {
    const { rate } = await sc.startLoad();
    await sc.dm.b.sql("STOP SLAVE IO_THREAD");
    await sleep(1000);
    const t0 = clock();
    await sc.dm.a.kill();
    // The standby's replication is stopped on purpose here; the shim restarts a stopped channel
    // only on a standby, and promotion stops it anyway.
    const first = await waitFor("an insert acknowledged by db2 through the VIP", async () => sc.firstAckAfter(t0, 2), 30_000, 10);
    await sleep(1000);
    const sampler = await sc.stopLoad();
    const g = await sc.cl.group("mysql");
    const lost = await sc.lost(sc.dm.b);
    return await finish(sc, "control: semi-sync off, standby lagging, promoteOnPossibleLoss", { promoted: g.holder === "server2", refused: null, unavailableMs: Math.round(first.at - t0), lost: lost.length, rate, sampler, facts: await sc.timeline(t0) });
  } finally {
    await sc.cleanup();
  }
}

/** Galera: the writer node fails one way or another; the writer VIP goes to the other Synced node in the Primary component. */
export async function galeraFault(lab: MysqlLab, fault: "kill" | "stop" | "partition"): Promise<Run> {
  const sc = await lab.galeraScenario(`galera-${fault}`);
  const gc = sc.galera!;
  try {
    const { rate } = await sc.startLoad();
    const t0 = clock();
    if (fault === "kill") await sc.dm.a.kill();
    else if (fault === "stop") sc.dm.a.pause(true);
    else await lab.partition(true, [`${NET}.12`, `${NET}.13`]);
    const first = await waitFor("an insert acknowledged by db2 through the VIP", async () => sc.firstAckAfter(t0, 2), 30_000, 10).catch(async (err: Error) => {
      throw new Error(`${err.message}\n${await galeraStory(sc, t0)}`);
    });
    await sleep(1000);
    const sampler = await sc.stopLoad();
    const g = await sc.cl.group("mysql");
    const lost = await sc.lost(sc.dm.b);
    const facts = { holder: g.holder, ...(await sc.timeline(t0)), db2: await gc.state(sc.dm.b), clusterSize: await gc.size(sc.dm.b), db1: fault === "stop" ? "stopped" : await gc.state(sc.dm.a) };
    const names = { kill: "galera: writer node's mariadbd SIGKILL", stop: "galera: writer node's mariadbd SIGSTOP (hung)", partition: "galera: writer node partitioned from the other node and garbd" };
    return await finish(sc, names[fault], { promoted: g.holder === "server2", refused: null, unavailableMs: Math.round(first.at - t0), lost: lost.length, rate, sampler, facts, faultAt: t0 });
  } finally {
    if (fault === "stop") sc.dm.a.pause(false);
    if (fault === "partition") await lab.partition(false);
    await sc.cleanup();
  }
}

/** What the control plane, db2 and the shims said since `t0`: the message of a failover that did not happen. */
async function galeraStory(sc: Scenario, t0: number): Promise<string> {
  const lines: string[] = [];
  const at = (x: number) => `${Math.round(x - t0)} ms`;
  try {
    const g = await sc.cl.group("mysql");
    lines.push(`group mysql: holder ${g.holder} epoch ${g.epoch} phase ${g.phase} health ${g.health}${g.reason ? ` (${g.reason})` : ""}; members ${JSON.stringify(g.members ?? [])}`);
  } catch (e) {
    lines.push(`status: ${(e as Error).message}`);
  }
  lines.push(`db2: ${await sc.galera!.state(sc.dm.b).catch((e: Error) => e.message)}, cluster size ${await sc.galera!.size(sc.dm.b).catch((e: Error) => e.message)}`);
  lines.push(`client errors (newest last): ${(sc.load?.lastErrors ?? []).slice(-12).join(" | ")}`);
  for (const [ns, args] of [["client", ["neigh", "show"]], ["s1", ["-br", "addr"]], ["s2", ["-br", "addr"]]] as const) {
    const r = spawnSync("ip", ["-n", sc.lab.ns(ns), ...args], { encoding: "utf8", timeout: 5000 });
    lines.push(`ip -n ${ns} ${args.join(" ")}: ${(r.stdout || r.stderr || "").trim().replace(/\n/g, " | ")}`);
  }
  for (const e of await sc.cl.events().catch(() => [])) if (e.at >= t0 - 1000) lines.push(`${at(e.at)} event ${e.kind} ${e.node ?? ""}: ${e.reason.slice(0, 240)}`);
  const log = shimLog.filter((l) => l.at >= t0 - 500 && l.line.msg !== "command" && l.line.msg !== "heartbeat");
  for (const l of log.slice(-80)) lines.push(`${at(l.at)} shim ${JSON.stringify(l.line).slice(0, 240)}`);
  return lines.join("\n");
}

/** Galera: a desynced (donor) node is never given the writer VIP, even when the writer dies; once Synced again it is. */
export async function galeraDesynced(lab: MysqlLab): Promise<Run & { heldBack: { ms: number; holder: string | null; reason: string; db2: string | null; acksOnDb2: boolean } }> {
  const sc = await lab.galeraScenario("galera-desync");
  const gc = sc.galera!;
  try {
    const { rate } = await sc.startLoad();
    await sc.dm.b.sql("SET GLOBAL wsrep_desync = ON");
    await waitFor("server2 reported not Synced", async () => /Donor\/Desynced/.test((await sc.cl.status()).nodes.find((n) => n.name === "server2")?.probes.mysql?.detail ?? ""), 10_000, 50);
    const t0 = clock();
    await sc.dm.a.kill();
    await sleep(3000);
    const group = await sc.cl.group("mysql");
    const why = group.members?.find((m) => m.node === "server2")?.why ?? "";
    const heldBack = { ms: 3000, holder: group.holder, reason: why, db2: await gc.state(sc.dm.b), acksOnDb2: sc.firstAckAfter(t0, 2) !== null };
    const t1 = clock();
    await sc.dm.b.sql("SET GLOBAL wsrep_desync = OFF");
    const first = await waitFor("an insert acknowledged by db2 once it is Synced", async () => sc.firstAckAfter(t1, 2), 30_000, 10);
    await sleep(500);
    const sampler = await sc.stopLoad();
    const lost = await sc.lost(sc.dm.b);
    const g = await sc.cl.group("mysql");
    const run = await finish(sc, "galera: the other node desynced (donor) when the writer dies", { promoted: g.holder === "server2", refused: null, unavailableMs: Math.round(first.at - t0), lost: lost.length, rate, sampler, facts: { heldBack, resyncedToFirstAckMs: Math.round(first.at - t1) }, faultAt: t0 });
    return { ...run, heldBack: { ...heldBack } };
  } finally {
    await sc.cleanup();
  }
}
