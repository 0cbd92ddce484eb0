// Secrets at rest: generic-json signing secrets and fence credentials are stored as AES-GCM
// envelopes (worker/secrets/) in D1 and in the Durable Object; the plaintext is in no row and no
// storage value, the API never shows it again, the executing node gets it in its heartbeat reply
// (v2 shims only), and a key rotation re-seals everything under the new key.
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, inject, it } from "vitest";
import type { Operation } from "../../protocol/heartbeat.js";
import { open, parseKeys, seal, sealedWith } from "../../worker/secrets/keyring.js";
import { REDACTED } from "../../worker/secrets/spec-secrets.js";
import { ALL_HEALTHY, beat, call, exampleSpec, heartbeat, newCluster } from "./helpers.js";

const RECEIVER = inject("receiverUrl");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const K1_ONLY = { CHIME_SECRET_KEYS: env.CHIME_SECRET_KEYS!.split(",")[1]! };
const IPMI_PASSWORD = "ipmi-pw-3f9a1c";
const PDU_AUTH = "Bearer pdu-token-77d2";

async function dumpStorage(clusterId: string): Promise<string> {
  return runInDurableObject(env.CLUSTER.get(env.CLUSTER.idFromName(clusterId)), async (_o, state) => JSON.stringify([...(await state.storage.list()).entries()]));
}
const d1Text = async (sql: string, ...args: unknown[]) => JSON.stringify((await env.DB.prepare(sql).bind(...args).all()).results);

describe("keyring", () => {
  it("seals with the first key, opens with any listed key, binds an envelope to its place", async () => {
    const sealed = await seal(env, "s3cret", "webhook:a:secret");
    expect(sealed).toMatch(/^enc:v1:k2:/);
    expect(sealed).not.toContain("s3cret");
    expect(await open(env, sealed, "webhook:a:secret")).toBe("s3cret");
    await expect(open(env, sealed, "webhook:b:secret")).rejects.toThrow(/does not open with key 'k2' \(altered, or moved from another place\)/);
    const old = await seal(K1_ONLY, "older", "x");
    expect(await open(env, old, "x")).toBe("older");
    await expect(open({ CHIME_SECRET_KEYS: env.CHIME_SECRET_KEYS!.split(",")[0]! }, old, "x")).rejects.toThrow(/key 'k1', which is not in CHIME_SECRET_KEYS/);
    const flipped = sealed.slice(0, -2) + (sealed.at(-2) === "A" ? "B" : "A") + sealed.at(-1);
    await expect(open(env, flipped, "webhook:a:secret")).rejects.toThrow(/does not open/);
    expect(() => parseKeys("k1:c2hvcnQ=")).toThrow(/must be 32 bytes/);
  });
});

describe("generic-json signing secrets", () => {
  it("are stored sealed (the D1 row does not contain the secret) and still sign deliveries", { timeout: 30_000 }, async () => {
    const c = await newCluster();
    const name = `sealed-${Math.floor(Math.random() * 1e6)}`;
    const r = await call("POST", "/v1/webhooks", { body: { format: "generic-json", url: `${RECEIVER}/hook/${name}`, cluster: c.id, secret: "my-signing-secret-0123456789" } });
    expect(r.status).toBe(201);
    const id = (r.json.webhook as unknown as { id: string }).id;
    const row = await d1Text("SELECT * FROM webhooks WHERE id = ?", id);
    expect(row).not.toContain("my-signing-secret-0123456789");
    expect(row).toMatch(/enc:v1:k2:/);
    expect(JSON.stringify((await call("GET", `/v1/webhooks/${id}`)).json)).not.toContain("my-signing-secret");
    expect((await call("POST", `/v1/webhooks/${id}/test`)).status).toBe(202);
    let log: { headers: Record<string, string>; body: string }[] = [];
    for (let i = 0; i < 100 && log.length === 0; i++) {
      await sleep(100);
      log = (await (await fetch(`${RECEIVER}/_log/${name}`)).json()) as typeof log;
    }
    const { headers, body } = log[0]!;
    const t = headers["x-chime-timestamp"]!;
    const key = await crypto.subtle.importKey("raw", new TextEncoder().encode("my-signing-secret-0123456789"), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    const mac = [...new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`${t}.${body}`)))].map((b) => b.toString(16).padStart(2, "0")).join("");
    expect(headers["x-chime-signature"]).toBe(`t=${t},v1=${mac}`);
  });

  it("an envelope copied into another webhook's row does not open there: the delivery fails loudly", { timeout: 30_000 }, async () => {
    const c = await newCluster();
    const mk = async () => (await call("POST", "/v1/webhooks", { body: { format: "generic-json", url: `${RECEIVER}/hook/copy-${Math.random()}`, cluster: c.id } })).json.webhook as unknown as { id: string };
    const [a, b] = [await mk(), await mk()];
    await env.DB.prepare("UPDATE webhooks SET secret = (SELECT secret FROM webhooks WHERE id = ?) WHERE id = ?").bind(a.id, b.id).run();
    expect((await call("POST", `/v1/webhooks/${b.id}/test`)).status).toBe(202);
    let err: string | null = null;
    for (let i = 0; i < 100 && !err; i++) {
      await sleep(100);
      err = (await env.DB.prepare("SELECT last_error FROM alert_outbox WHERE webhook_id = ?").bind(b.id).first<{ last_error: string | null }>())?.last_error ?? null;
    }
    expect(err).toMatch(new RegExp(`webhook:${b.id}:secret does not open`));
    expect((await call("DELETE", `/v1/webhooks/${b.id}`)).status).toBe(204);
  });
});

/** A cluster whose compute nodes carry control-plane-held fence credentials. */
async function fencedCluster() {
  return newCluster((s) => {
    s.policy = { ...s.policy, heartbeatIntervalMs: 300, leaseTtlMs: 1000, driftMarginMs: 200, deadAfterMs: 1000 };
    s.nodes[2]!.fence = { type: "ipmi", host: "10.0.9.101", user: "fencer", password: IPMI_PASSWORD };
    s.nodes[3]!.fence = { type: "webhook", url: "https://pdu.dc1.example/off", authorization: PDU_AUTH };
  });
}

describe("fence credentials", () => {
  it("are in no D1 row and no Durable Object storage value; the API shows them redacted", async () => {
    const c = await fencedCluster();
    for (const text of [await d1Text("SELECT * FROM clusters WHERE id = ?", c.id), await dumpStorage(c.id)]) {
      expect(text).not.toContain(IPMI_PASSWORD);
      expect(text).not.toContain("pdu-token-77d2");
      expect(text.match(/enc:v1:k2:/g)).toHaveLength(2);
    }
    expect(await d1Text("SELECT * FROM events WHERE cluster_id = ?", c.id)).not.toMatch(/ipmi-pw|pdu-token/);
    const got = (await call("GET", `/v1/clusters/${c.id}`)).json as unknown as { spec: { nodes: { fence?: { password?: string; authorization?: string } }[] } };
    expect(got.spec.nodes[2]!.fence!.password).toBe(REDACTED);
    expect(got.spec.nodes[3]!.fence!.authorization).toBe(REDACTED);
  });

  it("reach only the node that runs the fence, opened, in a v2 reply; a v1 shim is not asked to run that fence", { timeout: 20_000 }, async () => {
    const c = await fencedCluster();
    // node1 is heard once, then goes silent: after deadAfterMs it is fenced from the server-api holder.
    expect((await heartbeat(c.id, "node1", c.tokens.node1!, beat({ seq: 1 }, { "chime-agent": true }))).status).toBe(200);
    let ops: Operation[] = [];
    let v1Ops: Operation[] = [];
    for (let seq = 1; seq < 60 && ops.length === 0; seq++) {
      const v2 = await call("POST", `/v1/clusters/${c.id}/nodes/server1/heartbeat`, { token: c.tokens.server1!, body: { ...beat({ seq: 2 * seq }, ALL_HEALTHY), protocol: 2 } });
      const v1 = await heartbeat(c.id, "server1", c.tokens.server1!, beat({ seq: 2 * seq + 1 }, ALL_HEALTHY));
      ops = ((v2.json.desired as unknown as { operations: Operation[] }).operations ?? []).filter((o) => o.kind === "fence-ipmi");
      v1Ops = v1.reply.desired.operations.filter((o) => o.kind === "fence-ipmi");
      await sleep(150);
    }
    expect(ops).toHaveLength(1);
    expect(ops[0]).toMatchObject({ kind: "fence-ipmi", target: "node1", host: "10.0.9.101", user: "fencer", password: IPMI_PASSWORD });
    expect(v1Ops).toEqual([]);
    // The other server is not the executor and gets nothing.
    const s2 = await call("POST", `/v1/clusters/${c.id}/nodes/server2/heartbeat`, { token: c.tokens.server2!, body: { ...beat({ seq: 1 }, ALL_HEALTHY), protocol: 2 } });
    expect(JSON.stringify(s2.json)).not.toContain(IPMI_PASSWORD);
  });

  it("a spec sent back with the redacted values keeps them; envelopes and both-or-neither IPMI passwords are refused", async () => {
    const c = await fencedCluster();
    const before = await d1Text("SELECT spec FROM clusters WHERE id = ?", c.id);
    const got = (await call("GET", `/v1/clusters/${c.id}`)).json as unknown as { spec: ReturnType<typeof exampleSpec> };
    const spec = { ...got.spec, description: "v2" };
    const put = await call("PUT", `/v1/clusters/${c.id}/spec`, { body: { spec }, headers: { "if-match": '"v1"' } });
    expect(put.status, JSON.stringify(put.json)).toBe(200);
    const after = await d1Text("SELECT spec FROM clusters WHERE id = ?", c.id);
    const envelopes = (t: string) => t.match(/enc:v1:[^"\\]+/g)!.sort();
    expect(envelopes(after)).toEqual(envelopes(before));

    const sneaky = structuredClone(spec);
    (sneaky.nodes[2]!.fence as { password: string }).password = envelopes(before)[0]!;
    expect((await call("PUT", `/v1/clusters/${c.id}/spec`, { body: { spec: sneaky }, headers: { "if-match": '"v2"' } })).status).toBe(400);
    const both = exampleSpec((s) => (s.nodes[2]!.fence = { type: "ipmi", host: "h", user: "u", password: "p", passwordEnv: "P" }));
    const r = await call("PUT", `/v1/clusters/${c.id}/spec`, { body: { spec: both }, headers: { "if-match": '"v2"' } });
    expect(r.status).toBe(400);
    expect(JSON.stringify(r.json.errors)).toContain("spec.nodes[2].fence");
    const fresh = await newCluster();
    const noStored = structuredClone(spec);
    const bad = await call("PUT", `/v1/clusters/${fresh.id}/spec`, { body: { spec: noStored }, headers: { "if-match": '"v1"' } });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.json.errors)).toContain("keeps a stored value, but node node1 has none");
  });
});

describe("key rotation", () => {
  it("re-seals webhook secrets and fence credentials (D1 and Durable Object) under the current key; values keep working", { timeout: 30_000 }, async () => {
    const c = await fencedCluster();
    // Data from before the rotation: one webhook secret sealed with k1, one stored before encryption.
    const mk = async () => (await call("POST", "/v1/webhooks", { body: { format: "generic-json", url: `${RECEIVER}/hook/rot-${Math.random()}`, cluster: c.id } })).json.webhook as unknown as { id: string };
    const [w1, w0] = [await mk(), await mk()];
    await env.DB.prepare("UPDATE webhooks SET secret = ? WHERE id = ?").bind(await seal(K1_ONLY, "old-k1-secret", `webhook:${w1.id}:secret`), w1.id).run();
    await env.DB.prepare("UPDATE webhooks SET secret = ? WHERE id = ?").bind("legacy-plain-secret", w0.id).run();
    // The cluster's IPMI password sealed with k1, in D1 and in the Durable Object (then reloaded).
    const ctx = `cluster:${c.id}:nodes.node1.fence.password`;
    const k1Password = await seal(K1_ONLY, IPMI_PASSWORD, ctx);
    const spec = JSON.parse((await env.DB.prepare("SELECT spec FROM clusters WHERE id = ?").bind(c.id).first<{ spec: string }>())!.spec) as { nodes: { fence?: { password?: string } }[] };
    spec.nodes[2]!.fence!.password = k1Password;
    await env.DB.prepare("UPDATE clusters SET spec = ? WHERE id = ?").bind(JSON.stringify(spec), c.id).run();
    const stub = env.CLUSTER.get(env.CLUSTER.idFromName(c.id));
    await runInDurableObject(stub, async (_o, state) => {
      const st = (await state.storage.get<{ spec: typeof spec }>("state"))!;
      st.spec.nodes[2]!.fence!.password = k1Password;
      await state.storage.put("state", st);
    });
    await runInDurableObject(stub, (_o, state) => state.abort("reload")).catch(() => undefined);

    const before = (await call("GET", "/v1/admin/secrets")).json as unknown as { byKey: Record<string, number> };
    expect(before.byKey.k1).toBeGreaterThanOrEqual(2);
    expect(before.byKey["(not encrypted)"]).toBeGreaterThanOrEqual(1);
    const rotated = await call("POST", "/v1/admin/secrets/rotate");
    expect(rotated.status).toBe(200);
    const report = rotated.json as unknown as { currentKey: string; byKey: Record<string, number>; resealed: number; failed: unknown[] };
    expect(report.currentKey).toBe("k2");
    expect(report.failed).toEqual([]);
    expect(Object.keys(report.byKey)).toEqual(["k2"]);
    expect(report.resealed).toBeGreaterThanOrEqual(3);
    // Everything opens under k2 alone now; the old key can go.
    const K2_ONLY = { CHIME_SECRET_KEYS: env.CHIME_SECRET_KEYS!.split(",")[0]! };
    const secretOf = async (id: string) => (await env.DB.prepare("SELECT secret FROM webhooks WHERE id = ?").bind(id).first<{ secret: string }>())!.secret;
    expect(await open(K2_ONLY, await secretOf(w1.id), `webhook:${w1.id}:secret`)).toBe("old-k1-secret");
    expect(await open(K2_ONLY, await secretOf(w0.id), `webhook:${w0.id}:secret`)).toBe("legacy-plain-secret");
    const stored = await dumpStorage(c.id);
    expect(stored).not.toContain(k1Password);
    const env2 = [...stored.matchAll(/enc:v1:[^"\\]+/g)].map((m) => m[0]);
    expect(env2.every((e) => sealedWith(e) === "k2")).toBe(true);
    expect(await d1Text("SELECT * FROM events WHERE kind = 'secrets.rotated'")).toContain("re-sealed under key k2");
    // Only unscoped admins.
    const viewer = (await call("POST", "/v1/tokens", { body: { role: "viewer" } })).json.token as unknown as string;
    expect((await call("POST", "/v1/admin/secrets/rotate", { token: viewer })).status).toBe(403);
  });
});
