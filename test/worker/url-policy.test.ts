// Where the control plane sends requests (worker/net/url-policy.ts, resolve.ts): alert webhooks
// must be https to public addresses — literal addresses in every spelling the URL parser accepts,
// names that are internal by convention or spell an address, and names that resolve inward (a
// stand-in DNS-over-HTTPS resolver, test/worker/dns-stand-in.ts) are refused when saved and again
// before each delivery. Spec URLs the nodes call must be https or the node's own loopback. Each
// destination has its own delivery timeout.
import { env } from "cloudflare:workers";
import { describe, expect, inject, it } from "vitest";
import { blockedAddress, internalName, nodeUrlProblem, webhookUrlProblem } from "../../worker/net/url-policy.js";
import { call, exampleSpec, newCluster } from "./helpers.js";

const RECEIVER = inject("receiverUrl");
const PROD = {}; // no loopback test mode
const TEST = { CHIME_LOOPBACK_TEST_MODE: "true" };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("webhook URL rules (no DNS)", () => {
  it.each([
    ["http://hooks.slack.com/services/x", /must be an https URL/],
    ["https://127.0.0.1/x", /loopback/],
    ["https://0x7f.1/x", /127\.0\.0\.1 is loopback/],
    ["https://2130706433/x", /127\.0\.0\.1 is loopback/],
    ["https://10.0.0.8/x", /private \(RFC 1918\)/],
    ["https://172.20.1.1/x", /private/],
    ["https://192.168.231.10/x", /private/],
    ["https://100.100.1.1/x", /CGNAT/],
    ["https://169.254.169.254/latest/meta-data/", /cloud metadata service/],
    ["https://169.254.10.1/", /link-local/],
    ["https://0.0.0.0/", /this network/],
    ["https://224.0.0.1/", /multicast/],
    ["https://[::1]/x", /loopback/],
    ["https://[::ffff:10.0.0.1]/x", /IPv4-mapped private/],
    ["https://[::ffff:7f00:1]/x", /IPv4-mapped loopback/],
    ["https://[64:ff9b::a9fe:a9fe]/x", /NAT64 of link-local/],
    ["https://[fd00:ec2::254]/x", /cloud metadata service/],
    ["https://[fc12::1]/x", /unique local/],
    ["https://[fe80::1]/x", /link-local/],
    ["https://localhost/x", /localhost/],
    ["https://api.localhost/x", /localhost/],
    ["https://intranet/x", /single-label/],
    ["https://metadata.google.internal/computeMetadata/v1/", /internal name/],
    ["https://printer.local/x", /internal name/],
    ["https://nas.home.arpa/x", /internal name/],
    ["https://10.0.0.1.nip.io/x", /spells 10\.0\.0\.1/],
    ["https://app-169-254-169-254.sslip.io/x", /spells 169\.254\.169\.254/],
    ["https://user:pw@hooks.example.com/x", /credentials/],
    ["not a url", /absolute https URL/],
  ])("refuses %s", (url, why) => {
    expect(webhookUrlProblem(url, PROD)).toMatch(why);
  });

  it.each(["https://hooks.slack.com/services/T0/B0/x", "https://discord.com/api/webhooks/1/x", "https://93.184.216.34/x", "https://[2606:4700::1111]/x", "https://8-8-8-8.example.com/x"])("accepts %s", (url) => {
    expect(webhookUrlProblem(url, PROD)).toBeNull();
  });

  it("loopback test mode allows http to loopback only, never to private or metadata addresses", () => {
    expect(webhookUrlProblem("http://127.0.0.1:9999/hook", TEST)).toBeNull();
    expect(webhookUrlProblem("http://localhost:9999/hook", TEST)).toBeNull();
    expect(webhookUrlProblem("http://127.0.0.1:9999/hook", PROD)).toMatch(/https/);
    expect(webhookUrlProblem("http://10.0.0.1/hook", TEST)).toMatch(/https/);
    expect(webhookUrlProblem("https://169.254.169.254/", TEST)).toMatch(/metadata/);
  });

  it("address and name classification", () => {
    expect(blockedAddress("8.8.8.8")).toBeNull();
    expect(blockedAddress("2001:db8::1")).toMatch(/documentation/);
    expect(internalName("hooks.slack.com")).toBeNull();
  });
});

describe("webhook destinations through the API", () => {
  const create = (url: string) => call("POST", "/v1/webhooks", { body: { format: "slack", url, enabled: false } });

  it("refuses literal inward addresses with the path of the field", async () => {
    for (const url of ["https://169.254.169.254/latest/meta-data/", "https://[::ffff:192.168.0.1]/", "http://hooks.slack.com/x"]) {
      const r = await create(url);
      expect(r.status, url).toBe(400);
      expect((r.json.errors as unknown as { path: string }[])[0]!.path).toBe("url");
    }
  });

  it("resolves host names and refuses any inward answer (A or AAAA), unknown names too", async () => {
    for (const [name, why] of [
      ["private.example.test", /resolves to 10\.1\.2\.3, which is private/],
      ["metadata.example.test", /resolves to 169\.254\.169\.254, which is link-local \(the cloud metadata service\)/],
      ["mixed.example.test", /resolves to 192\.168\.1\.7/],
      ["ula.example.test", /fd00:ec2::254, which is unique local \(the cloud metadata service\)/],
      ["mapped.example.test", /IPv4-mapped loopback/],
      ["nowhere.example.test", /does not exist \(NXDOMAIN\)/],
    ] as const) {
      const r = await create(`https://${name}/hook`);
      expect(r.status, name).toBe(400);
      expect(String(r.json.detail), name).toMatch(why);
    }
    expect((await create("https://public.example.test/hook")).status).toBe(201);
  });

  it("a PATCH to an inward URL is refused and changes nothing", async () => {
    const w = (await create("https://public.example.test/a")).json.webhook as unknown as { id: string };
    const r = await call("PATCH", `/v1/webhooks/${w.id}`, { body: { url: "https://private.example.test/a" } });
    expect(r.status).toBe(400);
    expect(((await call("GET", `/v1/webhooks/${w.id}`)).json as unknown as { url: string }).url).toBe("https://public.example.test/a");
  });

  it("a name that turns inward after it was saved is refused at delivery, and nothing is sent", { timeout: 30_000 }, async () => {
    const name = `rebind-${Math.floor(Math.random() * 1e9)}.example.test`;
    const set = (a: string[]) => fetch(env.DNS_RESOLVER_URL!.replace("/dns-query", "/_set"), { method: "POST", body: JSON.stringify({ name, a }) });
    await set(["93.184.216.34"]);
    const c = await newCluster();
    const w = await call("POST", "/v1/webhooks", { body: { format: "generic-json", url: `https://${name}/hook`, cluster: c.id } });
    expect(w.status).toBe(201);
    await set(["10.9.9.9"]);
    const id = (w.json.webhook as unknown as { id: string }).id;
    expect((await call("POST", `/v1/webhooks/${id}/test`)).status).toBe(202);
    let row: { attempts: number; last_error: string | null } | null = null;
    for (let i = 0; i < 100 && !row?.last_error; i++) {
      await sleep(100);
      row = await env.DB.prepare("SELECT attempts, last_error FROM alert_outbox WHERE webhook_id = ?").bind(id).first();
    }
    expect(row?.last_error).toMatch(new RegExp(`refused: ${name.replace(/\./g, "\\.")} resolves to 10\\.9\\.9\\.9, which is private`));
  });
});

describe("spec URLs the nodes call", () => {
  it("https anywhere, http only to the node's own loopback", () => {
    expect(nodeUrlProblem("https://chime-server.dc1.example/v1/evacuate")).toBeNull();
    expect(nodeUrlProblem("https://192.168.231.10:8801/v1/evacuate")).toBeNull();
    expect(nodeUrlProblem("http://127.0.0.1:8801/api/v1/hosts/{hostname}/evacuate")).toBeNull();
    expect(nodeUrlProblem("http://192.168.231.10:8801/v1/evacuate")).toMatch(/must be https/);
  });

  it("a spec with an http evacuation or fence URL over the network is refused with its path; nothing is stored", async () => {
    const site = `urls-${Math.floor(Math.random() * 1e6)}`;
    expect((await call("POST", "/v1/sites", { body: { id: site } })).status).toBe(201);
    const spec = exampleSpec((s) => {
      s.evacuation = { url: "http://192.168.231.10:8801/api/v1/hosts/{hostname}/evacuate" };
      s.nodes[2]!.fence = { type: "webhook", url: "http://pdu.dc1.example/off" };
    });
    const r = await call("POST", "/v1/clusters", { body: { site, spec } });
    expect(r.status).toBe(400);
    expect((r.json.errors as unknown as { path: string }[]).map((e) => e.path).sort()).toEqual(["spec.evacuation.url", "spec.nodes[2].fence.url"]);
    expect((await call("GET", `/v1/clusters/${site}.${spec.name}`)).status).toBe(404);
  });
});

describe("per-destination timeouts", () => {
  it("a slow receiver fails a webhook with a short timeout and not one with a longer timeout", { timeout: 40_000 }, async () => {
    const c = await newCluster();
    const hook = `slow-${Math.floor(Math.random() * 1e6)}`;
    expect((await fetch(`${RECEIVER}/_control/${hook}`, { method: "POST", body: JSON.stringify({ delayMs: 1500 }) })).status).toBe(200);
    const mk = async (timeoutMs: number) => {
      const r = await call("POST", "/v1/webhooks", { body: { format: "generic-json", url: `${RECEIVER}/hook/${hook}`, cluster: c.id, timeoutMs } });
      expect(r.status, JSON.stringify(r.json)).toBe(201);
      expect((r.json.webhook as unknown as { timeoutMs: number }).timeoutMs).toBe(timeoutMs);
      return (r.json.webhook as unknown as { id: string }).id;
    };
    const short = await mk(500);
    const long = await mk(5000);
    for (const id of [short, long]) expect((await call("POST", `/v1/webhooks/${id}/test`)).status).toBe(202);
    const row = (id: string) => env.DB.prepare("SELECT status, attempts, last_error FROM alert_outbox WHERE webhook_id = ?").bind(id).first<{ status: string; attempts: number; last_error: string | null }>();
    let s: Awaited<ReturnType<typeof row>> = null;
    let l: Awaited<ReturnType<typeof row>> = null;
    for (let i = 0; i < 150 && !(s?.last_error && l?.status === "delivered"); i++) {
      await sleep(100);
      [s, l] = [await row(short), await row(long)];
    }
    expect(s?.last_error).toMatch(/TimeoutError|timed out|aborted/i);
    expect(l?.status).toBe("delivered");
    expect((await call("POST", "/v1/webhooks", { body: { format: "slack", url: `${RECEIVER}/hook/x`, timeoutMs: 60_000 } })).status).toBe(400);
  });
});
