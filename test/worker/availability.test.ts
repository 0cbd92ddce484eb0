// The availability ledger through the real Durable Object and API: steady heartbeats write nothing
// with the ledger on, an outage is recorded with its reasons in the month's own storage key and
// survives a restart, the fleet roll-up is worst first, metrics carry availability and budget,
// and drills asked through the API run (or are refused with the reason).
import { env, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import type { ClusterAvailability, FleetAvailability } from "../../protocol/availability.js";
import type { GroupEpoch } from "../../protocol/heartbeat.js";
import type { ClusterSpecInput } from "../../protocol/spec.js";
import { monthOf } from "../../worker/engine/ledger.js";
import { beat, call, heartbeat, newCluster } from "./helpers.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const stubOf = (id: string) => env.CLUSTER.get(env.CLUSTER.idFromName(id));

// Two groups, leases long enough that a loaded machine does not let one lapse by accident.
const SPEC = (s: ClusterSpecInput) => {
  s.groups = (s.groups ?? []).filter((g) => g.name === "server-api" || g.name === "portal");
  s.policy = { heartbeatIntervalMs: 200, leaseTtlMs: 2000, driftMarginMs: 300, holdDownMs: 0 };
};

/** Both servers behaving like shims: heartbeat every 200 ms, report what they hold, release when told. */
class Shims {
  private held: Record<string, Map<string, number>> = { server1: new Map(), server2: new Map() };
  private released: Record<string, GroupEpoch[]> = { server1: [], server2: [] };
  private seq = 0;
  private stopped = false;
  private loop: Promise<void> = Promise.resolve();
  healthy: Record<string, Record<string, boolean>> = { server1: { "server-api": true, portal: true }, server2: { "server-api": true, portal: true } };

  constructor(readonly c: { id: string; tokens: Record<string, string> }) {}

  async beat(node: string): Promise<void> {
    const held = this.held[node]!;
    const body = beat({ seq: ++this.seq, bootId: `${node}-boot`, holding: [...held].map(([group, epoch]) => ({ group, epoch })), released: this.released[node]!.splice(0) });
    body.probes = Object.fromEntries(Object.entries(this.healthy[node]!).map(([g, ok]) => [g, ok ? { healthy: true, detail: "ok" } : { healthy: false, detail: "down", downForMs: 0 }]));
    const r = await heartbeat(this.c.id, node, this.c.tokens[node]!, body);
    if (r.status !== 200) return;
    let again = false;
    for (const d of r.reply.desired.groups) {
      if (d.role === "release" && held.has(d.name)) {
        this.released[node]!.push({ group: d.name, epoch: held.get(d.name)! });
        held.delete(d.name);
        again = true;
      }
    }
    for (const g of r.reply.grants) {
      if (held.get(g.group) !== g.epoch) again = true;
      held.set(g.group, g.epoch);
    }
    for (const [g] of [...held]) if (!r.reply.grants.some((x) => x.group === g) && r.reply.desired.groups.find((d) => d.name === g)?.role !== "holder") held.delete(g);
    // A release is reported at once, a new group as soon as it is taken (like the shim).
    if (again) await this.beat(node);
  }

  start(): this {
    const deadline = Date.now() + 120_000;
    this.loop = (async () => {
      while (!this.stopped && Date.now() < deadline) {
        await Promise.all(["server1", "server2"].map((n) => this.beat(n)));
        await sleep(200);
      }
    })();
    return this;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }
}

let running: Shims[] = [];
afterEach(async () => {
  await Promise.all(running.map((s) => s.stop()));
  running = [];
});

async function availability(id: string, q = ""): Promise<ClusterAvailability> {
  const r = await call("GET", `/v1/clusters/${id}/availability${q}`);
  expect(r.status, JSON.stringify(r.json)).toBe(200);
  return r.json as unknown as ClusterAvailability;
}

async function until<T>(what: string, f: () => Promise<T | null | undefined | false>, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

async function servingCluster() {
  const c = await newCluster(SPEC);
  const shims = new Shims(c);
  // server1 first, so it is the first holder.
  await shims.beat("server1");
  shims.start();
  running.push(shims);
  await until("server-api in service", async () => (await availability(c.id)).groups.find((g) => g.group === "server-api")!.since !== null);
  return { ...c, shims };
}

describe("availability ledger in the Durable Object", () => {
  it("steady heartbeats with the ledger on: 0 storage writes", { timeout: 30_000 }, async () => {
    const c = await servingCluster();
    await until("both groups in service", async () => (await availability(c.id)).groups.every((g) => g.since !== null));
    const before = (await stubOf(c.id).status())!;
    await sleep(3000); // ~30 heartbeats of each server
    const after = (await stubOf(c.id).status())!;
    expect(after.storage.heartbeats - before.storage.heartbeats).toBeGreaterThanOrEqual(20);
    expect(after.storage.statePuts).toBe(before.storage.statePuts);
    const r = await availability(c.id);
    for (const g of r.groups) expect([g.group, g.availability, g.downMs, g.intervals.map((i) => i.kind)]).toEqual([g.group, 100, 0, ["up"]]);
  });

  it("an outage is one interval with its reasons, in its month's own key; it survives a restart", { timeout: 40_000 }, async () => {
    const c = await servingCluster();
    c.shims.healthy.server1!["server-api"] = false;
    const report = await until("the outage closed", async () => {
      const r = await availability(c.id);
      const g = r.groups.find((x) => x.group === "server-api")!;
      return g.intervals.some((i) => i.kind === "down" && i.end !== null) ? r : null;
    });
    const g = report.groups.find((x) => x.group === "server-api")!;
    const down = g.intervals.find((i) => i.kind === "down")!;
    const all = JSON.stringify(g.intervals);
    expect([down.startReason, down.endReason, down.grantedTo], all).toEqual(["server1's probe for server-api is failing (down)", "server2 serves server-api at epoch 2", "server2"]);
    expect(down.timeToGrantMs!).toBeGreaterThanOrEqual(0);
    expect(down.timeToRecoverMs!).toBeGreaterThanOrEqual(down.timeToGrantMs!);
    expect(g.downMs).toBeGreaterThan(0);
    expect(g.outages, all).toBe(1);
    expect(g.availability!).toBeLessThan(100);
    expect(g.budget.month.usedMs).toBe(g.downMs);
    // Stored under its month's key, apart from the snapshot.
    const keys = await runInDurableObject(stubOf(c.id), async (_o, state) => [...(await state.storage.list({ prefix: "ledger:" })).keys()]);
    expect(keys).toEqual([`ledger:${monthOf(down.start)}`]);
    // A restart: the same figures from storage.
    await c.shims.stop();
    await runInDurableObject(stubOf(c.id), (_o, state) => state.abort("restart")).catch(() => undefined);
    const again = await availability(c.id, `?from=${report.from}&to=${report.now}`);
    const g2 = again.groups.find((x) => x.group === "server-api")!;
    expect(g2.intervals.find((i) => i.kind === "down"), JSON.stringify(g2.intervals)).toEqual(down);
    // Within 2 ms: about one run in ten the live report's total differs from the restarted one's by
    // 1 ms (seen 245 vs 246, 305 vs 306), once by 2 ms (a 233 ms outage), while the intervals are
    // identical — an open question (README, Availability), not a loss of the outage.
    expect(Math.abs(g2.downMs - (down.end! - down.start)), JSON.stringify(g2.intervals)).toBeLessThanOrEqual(2);
    expect(Math.abs(g2.downMs - g.downMs), JSON.stringify(g2.intervals)).toBeLessThanOrEqual(2);
  });

  it("validates the window: not a time, from after to, longer than 400 days", async () => {
    const c = await newCluster(SPEC);
    const bad = await call("GET", `/v1/clusters/${c.id}/availability?from=yesterday`);
    expect(bad.status).toBe(400);
    expect(bad.json.errors).toEqual([{ path: "query.from", message: "must be epoch milliseconds or an ISO 8601 date/time like 2026-11-01 or 2026-11-01T02:00:00Z" }]);
    expect((await call("GET", `/v1/clusters/${c.id}/availability?from=2026-11-02&to=2026-11-01`)).status).toBe(400);
    expect((await call("GET", `/v1/clusters/${c.id}/availability?from=2025-01-01&to=2026-11-01`)).status).toBe(400);
    const month = await availability(c.id, "?from=2026-11-01&to=2026-12-01");
    expect([month.from, month.to]).toEqual([Date.UTC(2026, 10, 1), Date.UTC(2026, 11, 1)]);
    expect(month.groups.map((g) => [g.group, g.since, g.availability, g.target])).toEqual([
      ["server-api", null, null, 99.5],
      ["portal", null, null, 99.5],
    ]);
  });

  it("fleet roll-up worst first; metrics with availability and budget left", { timeout: 40_000 }, async () => {
    const good = await servingCluster();
    const bad = await servingCluster();
    bad.shims.healthy.server1!["server-api"] = false;
    await until("bad's outage closed", async () => (await availability(bad.id)).groups[0]!.intervals.some((i) => i.kind === "down" && i.end !== null));
    const r = await call("GET", "/v1/availability");
    expect(r.status).toBe(200);
    const fleet = r.json as unknown as FleetAvailability;
    const order = fleet.clusters.map((x) => x.id);
    expect(order.indexOf(bad.id)).toBeGreaterThanOrEqual(0);
    expect(order.indexOf(bad.id)).toBeLessThan(order.indexOf(good.id));
    const worst = fleet.clusters.find((x) => x.id === bad.id)!.worst!;
    expect(worst.group).toBe("server-api");
    expect(worst.rolling30d.leftRatio).toBeLessThan(1);
    expect(fleet.clusters.find((x) => x.id === good.id)!.worst!.rolling30d).toMatchObject({ usedMs: 0, leftRatio: 1, availability: 100 });
    // Site scope.
    const scoped = (await call("GET", `/v1/availability?site=${good.site}`)).json as unknown as FleetAvailability;
    expect(scoped.clusters.map((x) => x.id)).toEqual([good.id]);
    const metrics = await call("GET", "/v1/metrics");
    const text = metrics.json as unknown as string;
    const line = (name: string, cluster: string, group: string, window: string) =>
      text.split("\n").find((l) => l.startsWith(`${name}{`) && l.includes(`cluster="${cluster}"`) && l.includes(`group="${group}"`) && l.includes(`window="${window}"`));
    expect(line("chime_ha_group_availability_ratio", good.id, "server-api", "30d")).toMatch(/ 1$/);
    expect(Number(line("chime_ha_group_availability_ratio", bad.id, "server-api", "month")!.split(" ").at(-1))).toBeLessThan(1);
    expect(Number(line("chime_ha_group_error_budget_remaining_ratio", bad.id, "server-api", "30d")!.split(" ").at(-1))).toBeLessThan(1);
    expect(text).toContain(`chime_ha_group_sla_target_ratio{site="${good.site}",cluster="${good.id}",group="server-api"} 0.995`);
  });
});

describe("drills through the API", () => {
  it("moves the group and back, the result an event; refused with the reason while a member is unhealthy", { timeout: 40_000 }, async () => {
    const c = await servingCluster();
    await until("both groups in service", async () => (await availability(c.id)).groups.every((g) => g.since !== null));
    const r = await call("POST", `/v1/clusters/${c.id}/drills`, { body: { group: "server-api", returnAfterMs: 1000 } });
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    expect(r.json.detail).toMatch(/^failover drill \(asked by admin:admin:bootstrap\): server-api moves to server2 and back to server1 after 1\.0 s; revoking server-api epoch 1 from server1 for server2$/);
    const passed = await until("drill.passed", async () => {
      const ev = await call("GET", `/v1/clusters/${c.id}/events?last=50`);
      return (ev.json.events as unknown as { kind: string; reason: string }[]).find((e) => e.kind === "drill.passed");
    });
    expect(passed.reason).toMatch(/^drill of server-api passed: moved server1 -> server2 in \d+ ms \(\d+ ms without service\); back server2 -> server1 in \d+ ms \(\d+ ms without service\) after 1\.\d s$/);
    const g = (await availability(c.id)).groups.find((x) => x.group === "server-api")!;
    expect(g.downMs).toBe(0);
    expect(g.plannedMs).toBeGreaterThan(0);
    expect(g.intervals.filter((i) => i.kind === "planned").map((i) => i.plannedBy)).toEqual(["drill", "drill"]);
    expect(g.drill).toMatchObject({ lastOk: true, running: null });

    c.shims.healthy.server2!["server-api"] = false;
    await sleep(600);
    const refused = await call("POST", `/v1/clusters/${c.id}/drills`, { body: { group: "server-api" } });
    expect(refused.status).toBe(409);
    expect(refused.json.detail).toBe("drill of server-api refused: server2's probe for server-api is failing (down)");
    const ev = await until("drill.refused", async () => {
      const e = await call("GET", `/v1/clusters/${c.id}/events?last=50`);
      return (e.json.events as unknown as { kind: string; reason: string; severity: string }[]).find((x) => x.kind === "drill.refused");
    });
    expect(ev).toMatchObject({ severity: "warning", reason: "drill of server-api refused: server2's probe for server-api is failing (down)" });
  });
});
