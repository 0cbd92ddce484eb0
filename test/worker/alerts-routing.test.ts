// Alert routing and delivery rules, driven directly with synthetic events against the real D1:
// routing rules (site, cluster, severity), grouping per incident (open once, fold updates, send
// an escalation, resolve once), dedupe, idempotent re-routing, the per-destination rate limit
// and exponential backoff.
import { createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, inject, it } from "vitest";
import { backoffSeconds, deliverOne, deliveryConfig } from "../../worker/alerts/delivery.js";
import { routeEvent } from "../../worker/alerts/routing.js";
import type { AlertEvent } from "../../worker/alerts/types.js";
import worker from "../../worker/index.js";
import { SWEEP_AGE_MS } from "../../worker/alerts/sweep.js";
import { call, newCluster } from "./helpers.js";

let nextId = 1_000_000;
function ev(cluster: { id: string; site: string }, fields: Partial<AlertEvent>): AlertEvent {
  return { id: nextId++, at: Date.now(), siteId: cluster.site, clusterId: cluster.id, kind: "node.lost", severity: "critical", group: null, node: "server1", epoch: null, reason: "server1 missed heartbeats", actor: "engine", ...fields };
}
async function hook(body: Record<string, unknown>) {
  const r = await call("POST", "/v1/webhooks", { body: { format: "generic-json", url: `${inject("receiverUrl")}/hook/routing-${Math.random()}`, ...body } });
  expect(r.status, JSON.stringify(r.json)).toBe(201);
  return (r.json.webhook as unknown as { id: string }).id;
}
async function phases(webhookId: string) {
  const r = await env.DB.prepare("SELECT phase, incident FROM alert_outbox WHERE webhook_id = ? ORDER BY id").bind(webhookId).all<{ phase: string; incident: string }>();
  return r.results.map((x) => `${x.phase} ${x.incident}`);
}

describe("alert routing", () => {
  it("routes by site, cluster and minimum severity", async () => {
    const a = await newCluster();
    const b = await newCluster();
    const siteA = await hook({ site: a.site, minSeverity: "warning" });
    const clusterB = await hook({ cluster: b.id, minSeverity: "critical" });
    const everything = await hook({ minSeverity: "info" });
    await routeEvent(env, ev(a, { severity: "warning", kind: "probe.failed", incident: "probe:x:server1" }), Date.now());
    await routeEvent(env, ev(b, { severity: "warning", kind: "probe.failed", incident: "probe:x:server1" }), Date.now());
    await routeEvent(env, ev(b, { severity: "critical", incident: "node:server1" }), Date.now());
    await routeEvent(env, ev(a, { severity: "info", kind: "node.restarted" }), Date.now());
    expect(await phases(siteA)).toEqual(["opened probe:x:server1"]);
    expect(await phases(clusterB)).toEqual(["opened node:server1"]);
    const all = await phases(everything);
    expect(all.filter((p) => p.startsWith("opened")).length).toBeGreaterThanOrEqual(3);
    expect(all.some((p) => p.startsWith("notice"))).toBe(true);
    // Later tests count their own destination's rows only.
    expect((await call("DELETE", `/v1/webhooks/${everything}`)).status).toBe(204);
  });

  it("opens an incident once, folds updates, sends an escalation, drops repeats, resolves once", async () => {
    const c = await newCluster();
    const w = await hook({ cluster: c.id, minSeverity: "warning" });
    const inc = { incident: "probe:server-api:server1", group: "server-api", kind: "probe.failed" };
    await routeEvent(env, ev(c, { ...inc, severity: "warning", reason: "connection refused" }), Date.now());
    await routeEvent(env, ev(c, { ...inc, severity: "warning", reason: "connection refused" }), Date.now()); // repeat: dropped
    await routeEvent(env, ev(c, { ...inc, severity: "warning", reason: "timeout" }), Date.now()); // update: folded
    await routeEvent(env, ev(c, { ...inc, severity: "critical", reason: "timeout, 5 in a row" }), Date.now()); // escalation: sent
    await routeEvent(env, ev(c, { ...inc, severity: "info", kind: "probe.recovered", reason: "ok", resolves: true }), Date.now());
    await routeEvent(env, ev(c, { ...inc, severity: "info", kind: "probe.recovered", reason: "ok", resolves: true }), Date.now()); // nothing open
    expect(await phases(w)).toEqual([`opened ${inc.incident}`, `update ${inc.incident}`, `resolved ${inc.incident}`]);
    const resolved = await env.DB.prepare("SELECT alert FROM alert_outbox WHERE webhook_id = ? AND phase = 'resolved'").bind(w).first<{ alert: string }>();
    expect(JSON.parse(resolved!.alert).updates).toBe(2);
    // A new problem after the resolution opens a new incident message.
    await routeEvent(env, ev(c, { ...inc, severity: "warning", reason: "connection refused" }), Date.now());
    expect((await phases(w)).at(-1)).toBe(`opened ${inc.incident}`);
  });

  it("routes an event once even if the queue delivers it twice", async () => {
    const c = await newCluster();
    const w = await hook({ cluster: c.id });
    const e = ev(c, { incident: "node:server2", node: "server2" });
    const first = await routeEvent(env, e, Date.now());
    const again = await routeEvent(env, e, Date.now());
    expect(first).toHaveLength(1);
    expect(again).toEqual(first); // still pending: handed out for delivery again, not duplicated
    expect(await phases(w)).toEqual(["opened node:server2"]);
  });
});

describe("delivery rules", () => {
  it("backs off exponentially, capped", () => {
    const cfg = { ...deliveryConfig(env), baseDelaySeconds: 5, maxDelaySeconds: 600 };
    expect([1, 2, 3, 4, 5, 10, 20].map((n) => backoffSeconds(cfg, n))).toEqual([5, 10, 20, 40, 80, 600, 600]);
  });

  it("holds a destination to its rate limit (delays, never drops)", async () => {
    const c = await newCluster();
    const w = await hook({ cluster: c.id, ratePerMinute: 1 });
    const ids = [
      ...(await routeEvent(env, ev(c, { incident: "node:server1" }), Date.now())),
      ...(await routeEvent(env, ev(c, { incident: "node:server2", node: "server2" }), Date.now())),
    ];
    expect(ids).toHaveLength(2);
    const cfg = deliveryConfig(env);
    expect(await deliverOne(env, ids[0]!, Date.now(), cfg)).toEqual({ ack: true, result: "delivered" });
    const second = await deliverOne(env, ids[1]!, Date.now(), cfg);
    expect(second).toMatchObject({ ack: false, result: "rate-limited" });
    expect(await phases(w)).toHaveLength(2);
    const row = await env.DB.prepare("SELECT status, attempts FROM alert_outbox WHERE id = ?").bind(ids[1]).first();
    expect(row).toEqual({ status: "pending", attempts: 0 });
    // A minute later it goes out.
    expect(await deliverOne(env, ids[1]!, Date.now() + 61_000, cfg)).toEqual({ ack: true, result: "delivered" });
    // Delivered rows are never sent twice (a redelivered queue message).
    expect(await deliverOne(env, ids[1]!, Date.now() + 62_000, cfg)).toEqual({ ack: true, result: "skipped" });
  });
});

describe("stuck alert sweep (cron)", () => {
  it("re-queues a pending alert whose queue message was lost, and it is delivered once", async () => {
    const c = await newCluster();
    const name = `sweep-${Math.random()}`;
    const r = await call("POST", "/v1/webhooks", { body: { format: "generic-json", url: `${inject("receiverUrl")}/hook/${name}`, cluster: c.id } });
    expect(r.status).toBe(201);
    // An outbox row as if routed long ago, with its queue message lost (never enqueued here).
    const [id] = await routeEvent(env, ev(c, { incident: "node:server1" }), Date.now() - SWEEP_AGE_MS - 1000);
    await env.DB.prepare("UPDATE alert_outbox SET created_at = ? WHERE id = ?").bind(Date.now() - SWEEP_AGE_MS - 1000, id).run();
    const fresh = await routeEvent(env, ev(c, { incident: "node:server2", node: "server2" }), Date.now());
    await worker.scheduled(createScheduledController({ scheduledTime: Date.now(), cron: "*/10 * * * *" }), env);
    const end = Date.now() + 20_000;
    let status = "";
    while (Date.now() < end && status !== "delivered") {
      await new Promise((res) => setTimeout(res, 200));
      status = (await env.DB.prepare("SELECT status FROM alert_outbox WHERE id = ?").bind(id).first<{ status: string }>())!.status;
    }
    expect(status).toBe("delivered");
    // Only the old row was swept: the fresh one (whose message is "in flight") stays pending.
    expect((await env.DB.prepare("SELECT status FROM alert_outbox WHERE id = ?").bind(fresh[0]).first<{ status: string }>())!.status).toBe("pending");
    const log = (await (await fetch(`${inject("receiverUrl")}/_log/${name}`)).json()) as { body: string }[];
    expect(log.map((l) => (JSON.parse(l.body) as { id: number }).id)).toEqual([id]);
  });
});
