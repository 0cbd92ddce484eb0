// Alert delivery end to end: real engine events (maintenance on/off through the API) go from the
// cluster's Durable Object to the alerts Queue, are routed and delivered by the queue consumer to
// a real HTTP receiver on 127.0.0.1 (test/worker/receiver.ts), with retries, backoff, dead letters
// and replay. Retry base 1 s and 4 attempts (test/worker/vitest.config.ts).
import { env } from "cloudflare:workers";
import { describe, expect, inject, it } from "vitest";
import type { Alert } from "../../protocol/api.js";
import { call, newCluster } from "./helpers.js";

const RECEIVER = inject("receiverUrl");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Logged {
  at: number;
  status: number;
  headers: Record<string, string>;
  body: string;
}
async function received(name: string): Promise<Logged[]> {
  const r = await fetch(`${RECEIVER}/_log/${name}`);
  return (await r.json()) as Logged[];
}
async function control(name: string, cmd: object): Promise<void> {
  const r = await fetch(`${RECEIVER}/_control/${name}`, { method: "POST", body: JSON.stringify(cmd) });
  expect(r.status).toBe(200);
}
/** Poll (bounded) until `check` holds; returns its last value. */
async function until<T>(what: string, get: () => Promise<T>, check: (v: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let v = await get();
  while (!check(v)) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v).slice(0, 2000)}`);
    await sleep(200);
    v = await get();
  }
  return v;
}

let hooks = 0;
async function addWebhook(format: string, cluster: string, extra: Record<string, unknown> = {}) {
  const name = `${format}-${++hooks}-${Math.floor(Math.random() * 1e6)}`;
  const r = await call("POST", "/v1/webhooks", { body: { format, url: `${RECEIVER}/hook/${name}`, cluster, minSeverity: "warning", ...extra } });
  expect(r.status, JSON.stringify(r.json)).toBe(201);
  const out = r.json as unknown as { webhook: { id: string }; secret: string | null };
  return { name, id: out.webhook.id, secret: out.secret };
}

/** Outbox rows of a destination straight from D1 (the truth the queue consumer works from). */
async function outbox(webhookId: string) {
  const r = await env.DB.prepare("SELECT id, incident, phase, status, attempts FROM alert_outbox WHERE webhook_id = ? ORDER BY id").bind(webhookId).all<{ id: number; incident: string; phase: string; status: string; attempts: number }>();
  return r.results;
}

/** One incident opened and resolved on each of two subjects: cluster and node maintenance. */
async function twoIncidents(cluster: string) {
  for (const [path, on] of [
    [`/v1/clusters/${cluster}/maintenance`, true],
    [`/v1/clusters/${cluster}/nodes/server2/maintenance`, true],
    [`/v1/clusters/${cluster}/maintenance`, false],
    [`/v1/clusters/${cluster}/nodes/server2/maintenance`, false],
  ] as const) {
    const r = await call("POST", path, { body: { on } });
    expect(r.status, JSON.stringify(r.json)).toBe(200);
  }
}
const MAINT_INCIDENTS = ["cluster:maintenance", "node-maintenance:server2"];

function alertsOf(log: Logged[]): Alert[] {
  // The generic-json body is the Alert itself.
  return log.filter((l) => l.status === 200).map((l) => JSON.parse(l.body) as Alert);
}

async function hmacHex(secret: string, text: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const sig = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(text));
  return [...new Uint8Array(sig)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function expectOncePerAlertInOrder(alerts: Alert[]) {
  const ids = alerts.map((a) => a.id);
  expect(new Set(ids).size, `duplicates in ${ids}`).toBe(ids.length);
  for (const inc of MAINT_INCIDENTS) {
    const mine = alerts.filter((a) => a.incident === inc);
    expect(mine.map((a) => a.phase), inc).toEqual(["opened", "resolved"]);
    expect(mine[0]!.id).toBeLessThan(mine[1]!.id);
  }
}

describe("alert delivery", () => {
  it("delivers a readable message in each chat format, and a signed generic-json one", async () => {
    const c = await newCluster();
    const formats = ["slack", "discord", "teams", "google-chat", "generic-json"] as const;
    const hooksBy = Object.fromEntries(await Promise.all(formats.map(async (f) => [f, await addWebhook(f, c.id)] as const)));
    await twoIncidents(c.id);
    for (const f of formats) {
      const log = await until(`${f} gets both resolved messages`, () => received(hooksBy[f]!.name), (l) => l.filter((x) => x.body.includes("[RESOLVED]")).length >= 2);
      // One message per incident opening and one per resolution; the rest are notices (no incident).
      const phases = log.filter((l) => l.status === 200).map((l) => l.body);
      expect(phases.filter((t) => t.includes("[RESOLVED]")).length, f).toBe(2);
      expect(phases.filter((t) => t.includes("[WARNING] cluster maintenance") || t.includes("[WARNING] node maintenance")).length, f).toBe(2);
      const texts = log.map((l) => l.body);
      const opened = texts.find((t) => t.includes("maintenance on") && t.includes("cluster maintenance"))!;
      expect(opened, `${f}: opened message`).toBeDefined();
      // What happened and where (title), why (the engine's reason), what to do.
      expect(opened, f).toContain(`cluster maintenance on ${c.id}`);
      expect(opened, f).toContain("automatic decisions frozen");
      expect(opened, f).toContain("Automatic failover is frozen while maintenance is on");
      expect(texts.some((t) => t.includes("[RESOLVED] cluster maintenance")), `${f}: resolved message`).toBe(true);
      expect(log[0]!.headers["content-type"]).toMatch(/^application\/json/);
    }
    const bodies: Record<string, string> = {};
    for (const f of formats) bodies[f] = (await received(hooksBy[f]!.name))[0]!.body;
    const shape = (f: string) => JSON.parse(bodies[f]!) as Record<string, unknown>;
    expect(shape("slack")).toHaveProperty("text");
    expect((shape("slack").attachments as { blocks: unknown[] }[])[0]!.blocks.length).toBeGreaterThan(0);
    expect((shape("discord").embeds as { fields: { name: string }[] }[])[0]!.fields.map((x) => x.name)).toEqual(expect.arrayContaining(["Where", "Why", "What to do"]));
    expect((shape("teams").attachments as { contentType: string; content: { type: string } }[])[0]).toMatchObject({ contentType: "application/vnd.microsoft.card.adaptive", content: { type: "AdaptiveCard" } });
    expect(shape("google-chat")).toHaveProperty("cardsV2");

    // generic-json: the body is the Alert, signed over `${timestamp}.${body}`.
    const g = hooksBy["generic-json"]!;
    const log = await received(g.name);
    for (const l of log) {
      const ts = l.headers["x-chime-timestamp"]!;
      expect(l.headers["x-chime-signature"]).toBe(`t=${ts},v1=${await hmacHex(g.secret!, `${ts}.${l.body}`)}`);
      expect(Math.abs(Date.now() / 1000 - Number(ts))).toBeLessThan(120);
      // A tampered body does not verify.
      expect(l.headers["x-chime-signature"]).not.toBe(`t=${ts},v1=${await hmacHex(g.secret!, `${ts}.${l.body} `)}`);
    }
    expectOncePerAlertInOrder(alertsOf(log));
    const a = alertsOf(log).find((x) => x.phase === "opened" && x.incident === "cluster:maintenance")!;
    expect(a).toMatchObject({ cluster: c.id, site: c.site, kind: "cluster.maintenance", severity: "warning" });
    expect(a.eventId).toBeGreaterThan(0);
  });

  it("POST /v1/webhooks/:id/test delivers a test message", async () => {
    const c = await newCluster();
    const h = await addWebhook("slack", c.id);
    const r = await call("POST", `/v1/webhooks/${h.id}/test`);
    expect(r.status).toBe(202);
    const log = await until("test message", () => received(h.name), (l) => l.length >= 1);
    expect(log[0]!.body).toContain("[TEST]");
    expect(log[0]!.body).toContain(`alert #${r.json.alertId}`);
  });

  it("a receiver that fails for a while gets every alert once, in order per incident, after it recovers", { timeout: 60_000 }, async () => {
    const c = await newCluster();
    const h = await addWebhook("generic-json", c.id);
    await control(h.name, { failForMs: 2500 });
    await twoIncidents(c.id);
    const log = await until("all 4 delivered", () => received(h.name), (l) => alertsOf(l).filter((a) => MAINT_INCIDENTS.includes(a.incident)).length >= 4, 40_000);
    expect(log.filter((l) => l.status === 503).length, "the receiver really refused some").toBeGreaterThan(0);
    // Retried with backoff: at least 1 s between a refused attempt and the retry of the same alert.
    const tries = new Map<number, number[]>();
    for (const l of log) {
      const id = (JSON.parse(l.body) as Alert).id;
      tries.set(id, [...(tries.get(id) ?? []), l.at]);
    }
    for (const ats of tries.values()) for (let i = 1; i < ats.length; i++) expect(ats[i]! - ats[i - 1]!).toBeGreaterThanOrEqual(900);
    const refused = log.filter((l) => l.status === 503);
    const ok = log.filter((l) => l.status === 200);
    console.log(
      `outage recovery: ${refused.length} refused attempts over ${refused.at(-1)!.at - refused[0]!.at} ms; ` +
        `${ok.length} alerts delivered, the last ${ok.at(-1)!.at - refused.at(-1)!.at} ms after the last refusal; ` +
        `max attempts for one alert ${Math.max(...[...tries.values()].map((t) => t.length))}`,
    );
    await sleep(1500); // nothing more arrives (no duplicates from queue redelivery)
    const final = alertsOf(await received(h.name));
    expectOncePerAlertInOrder(final);
    // Everything routed to this destination arrived, once (the live cluster may raise more meanwhile).
    const settled = await until(
      "receiver and outbox agree",
      async () => ({ rows: await outbox(h.id), got: alertsOf(await received(h.name)).map((a) => a.id) }),
      (v) => v.rows.every((r) => r.status === "delivered") && v.rows.length === v.got.length,
    );
    expect(new Set(settled.got)).toEqual(new Set(settled.rows.map((r) => r.id)));
    expect(new Set(settled.got).size).toBe(settled.got.length);
    const dead = await call("GET", `/v1/dead-letters?webhook=${h.id}`);
    expect(dead.json.deadLetters).toEqual([]);
  });

  it("a receiver that never recovers leaves the alerts in the dead-letter table; replay delivers them in order", { timeout: 90_000 }, async () => {
    const c = await newCluster();
    const h = await addWebhook("generic-json", c.id);
    await control(h.name, { failAlways: true });
    const t0 = Date.now();
    await twoIncidents(c.id);
    const rows = await until("all dead-lettered", () => outbox(h.id), (r) => r.length >= 4 && r.every((x) => x.status === "dead"), 40_000);
    // The first alert of each incident used all 4 attempts; the ones behind it were held back.
    for (const inc of MAINT_INCIDENTS) expect(rows.find((r) => r.incident === inc)!.attempts).toBe(4);
    expect(alertsOf(await received(h.name))).toEqual([]);
    const dl = await call("GET", `/v1/dead-letters?webhook=${h.id}`);
    expect(dl.status).toBe(200);
    const letters = dl.json.deadLetters as unknown as { alertId: number; lastError: string; replayedAt: number | null }[];
    expect(letters.map((l) => l.alertId).sort()).toEqual(rows.map((r) => r.id).sort());
    expect(letters.some((l) => l.lastError.includes("HTTP 503"))).toBe(true);

    const metrics = await call("GET", "/v1/metrics");
    expect(metrics.json as unknown as string).toMatch(new RegExp(`chime_ha_alert_dead_letters\\{webhook="${h.id}",format="generic-json"\\} ${rows.length}`));
    expect(metrics.json as unknown as string).toMatch(new RegExp(`chime_ha_alert_delivery_failures_total\\{webhook="${h.id}",format="generic-json"\\} [1-9]`));

    const tDead = Date.now();
    await control(h.name, { ok: true });
    const replay = await call("POST", "/v1/dead-letters/replay", { body: { webhook: h.id } });
    expect(replay.status).toBe(200);
    expect(replay.json.replayed).toBe(rows.length);
    await until("replayed alerts delivered", () => outbox(h.id), (r) => r.every((x) => x.status === "delivered"), 30_000);
    console.log(`dead letters: ${rows.length} alerts dead-lettered ${tDead - t0} ms after the first event (4 attempts, backoff 1-2-4 s); replay delivered them all in ${Date.now() - tDead} ms`);
    await sleep(1000);
    const final = alertsOf(await received(h.name));
    expectOncePerAlertInOrder(final);
    // Every dead letter arrived (plus any alert the still-running cluster raised since), once.
    const settled = await until(
      "receiver and outbox agree",
      async () => ({ rows: await outbox(h.id), got: alertsOf(await received(h.name)).map((a) => a.id) }),
      (v) => v.rows.every((r) => r.status === "delivered") && v.rows.length === v.got.length,
    );
    expect(new Set(settled.got)).toEqual(new Set(settled.rows.map((r) => r.id)));
    expect(new Set(settled.got).size).toBe(settled.got.length);
    for (const r of rows) expect(final.some((a) => a.id === r.id), `dead letter #${r.id} delivered`).toBe(true);
    // Replayed once: a second replay finds nothing.
    expect((await call("POST", "/v1/dead-letters/replay", { body: { webhook: h.id } })).json.replayed).toBe(0);
  });
});
