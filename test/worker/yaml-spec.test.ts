// Spec bodies as YAML (create and update, the spec file as written), with path- and line-precise
// problems and the JSON depth guard's bounds; the events query's `since` and `last`; operator
// calls answer with the engine's own answer first and every decision they led to.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import exampleYaml from "../../examples/chimestack.yaml?raw";
import { MAX_JSON_DEPTH } from "../../worker/http/json-guard.js";
import { ALL_HEALTHY, beat, call, exampleSpec, heartbeat, newCluster, stateFingerprint, worker } from "./helpers.js";

let n = 0;
async function newSite(): Promise<string> {
  const site = `yaml${++n}-${Math.floor(Math.random() * 1e6)}`;
  expect((await call("POST", "/v1/sites", { body: { id: site } })).status).toBe(201);
  return site;
}

async function sendYaml(method: string, path: string, text: string, headers: Record<string, string> = {}, contentType = "application/yaml") {
  const res = await worker.fetch(new Request(`http://chime-ha.test${path}`, { method, headers: { authorization: "Bearer test-admin-token", "content-type": contentType, ...headers }, body: text }));
  const body = (await res.json()) as Record<string, unknown> & { errors?: { path: string; message: string; line?: number; column?: number }[]; detail?: string; limit?: number };
  return { status: res.status, body, headers: res.headers, type: res.headers.get("content-type") };
}

const tables = async () => {
  const rows = await Promise.all(["clusters", "nodes", "tokens", "events"].map((t) => env.DB.prepare(`SELECT COUNT(*) AS n FROM ${t}`).first<{ n: number }>()));
  return rows.map((r) => r!.n).join(",");
};

describe("YAML spec bodies", () => {
  it("create a cluster from the spec file as written (?site=), and update it with If-Match", async () => {
    const site = await newSite();
    const created = await sendYaml("POST", `/v1/clusters?site=${site}`, exampleYaml);
    expect(created.status).toBe(201);
    expect((created.body.cluster as { id: string }).id).toBe(`${site}.chimestack`);
    expect(Object.keys(created.body.nodeTokens as object)).toEqual(["server1", "server2", "node1", "node2"]);
    // The stored spec is the same as from the JSON form (comments and layout are not kept).
    const got = await call("GET", `/v1/clusters/${site}.chimestack`);
    expect((got.json.spec as unknown as { policy: { leaseTtlMs: number } }).policy.leaseTtlMs).toBe(3000);
    const etag = got.headers.get("etag")!;
    const edited = exampleYaml.replace("leaseTtlMs: 3000", "leaseTtlMs: 2500");
    expect((await sendYaml("PUT", `/v1/clusters/${site}.chimestack/spec`, edited)).status).toBe(428);
    const up = await sendYaml("PUT", `/v1/clusters/${site}.chimestack/spec`, edited, { "if-match": etag });
    expect(up.status).toBe(200);
    expect(up.headers.get("etag")).toBe('"v2"');
    expect((await sendYaml("PUT", `/v1/clusters/${site}.chimestack/spec`, edited, { "if-match": etag })).status).toBe(412);
    // The JSON body's shape works in YAML too, and text/yaml is accepted.
    const other = await newSite();
    const envelope = stringify({ site: other, spec: exampleSpec() });
    expect((await sendYaml("POST", "/v1/clusters", envelope, {}, "text/yaml; charset=utf-8")).status).toBe(201);
  });

  it("name the path and the line of every problem, and store nothing", async () => {
    const site = await newSite();
    const before = await tables();
    const bad = exampleYaml.replace("ip: 192.168.231.12,", "ip: 192.168.231.300,").replace("leaseTtlMs: 3000", "leaseTtlMs: 100");
    const r = await sendYaml("POST", `/v1/clusters?site=${site}`, bad);
    expect(r.status).toBe(400);
    expect(r.type).toBe("application/problem+json");
    const lineOf = (s: string) => bad.split("\n").findIndex((l) => l.includes(s)) + 1;
    expect(r.body.errors).toEqual(
      expect.arrayContaining([
        { path: "spec.nodes[1].ip", message: "must be a dotted IPv4 address like 192.168.231.11", line: lineOf("192.168.231.300"), column: expect.any(Number) },
        expect.objectContaining({ path: "spec.policy.leaseTtlMs", line: lineOf("leaseTtlMs: 100") }),
      ]),
    );
    // A YAML syntax error: its line, before anything else.
    const broken = await sendYaml("POST", `/v1/clusters?site=${site}`, exampleYaml.replace("  heartbeatIntervalMs: 1000", "  heartbeatIntervalMs: [1000"));
    expect(broken.status).toBe(400);
    expect(broken.body.title).toBe("Invalid YAML");
    expect(broken.body.errors![0]).toMatchObject({ path: "(yaml)", line: expect.any(Number) });
    expect(broken.body.detail).toMatch(/^line \d+: /);
    // The spec itself without ?site=: the missing site is named.
    const noSite = await sendYaml("POST", "/v1/clusters", exampleYaml);
    expect(noSite.status).toBe(400);
    expect(noSite.body.errors).toEqual([{ path: "site", message: expect.any(String) }]);
    // Two documents, a duplicate key: refused, not half-read.
    expect((await sendYaml("POST", `/v1/clusters?site=${site}`, `${exampleYaml}\n---\nname: other\n`)).body.errors![0]!.message).toBe("only one YAML document is allowed");
    expect((await sendYaml("POST", `/v1/clusters?site=${site}`, `${exampleYaml}\nname: again\n`)).body.errors![0]!.message).toBe("Map keys must be unique");
    // No body at all.
    const none = await worker.fetch(new Request(`http://chime-ha.test/v1/clusters?site=${site}`, { method: "POST", headers: { authorization: "Bearer test-admin-token" } }));
    expect(none.status).toBe(400);
    expect(await tables()).toBe(before);
  });

  it("are bounded like JSON bodies: nesting, aliases and size refused with 400/413 naming the limit, storing nothing", async () => {
    const c = await newCluster();
    const before = await stateFingerprint(c.id, { outbox: false, probes: true });
    const deepFlow = `name: x\ndescription: ${"[".repeat(5000)}${"]".repeat(5000)}\n`;
    const deepBlock = `name: x\n${Array.from({ length: 200 }, (_, i) => `${" ".repeat(i + 1)}a${i}:`).join("\n")} 1\n`;
    const compactSeq = `name: x\nnodes:\n${"- ".repeat(300)}x\n`;
    // Aliases: a "billion laughs" expansion, and a chain that is shallow as text but deep as a value.
    const laughs = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]', ...Array.from({ length: 8 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(9).fill(`*${String.fromCharCode(97 + i)}`).join(",")}]`)].join("\n");
    const chain = ["l0: &l0 [[[[[[[[[[1]]]]]]]]]]", ...Array.from({ length: 6 }, (_, i) => `l${i + 1}: &l${i + 1} [[[[[[[[[[*l${i}]]]]]]]]]]`)].join("\n");
    for (const [what, text] of Object.entries({ deepFlow, deepBlock, compactSeq, laughs, chain })) {
      for (const [method, path, headers] of [
        ["POST", `/v1/clusters?site=${c.site}`, {}],
        ["PUT", `/v1/clusters/${c.id}/spec`, { "if-match": "*" }],
      ] as const) {
        const r = await sendYaml(method, path, text, headers);
        expect(r.status, `${what} ${method}`).toBe(400);
        expect(r.type, what).toBe("application/problem+json");
        expect(typeof r.body.limit, `${what}: ${JSON.stringify(r.body)}`).toBe("number");
        if (what !== "laughs") expect(r.body.detail, what).toContain(`the limit is ${MAX_JSON_DEPTH}`);
      }
    }
    const big = `name: x\ndescription: "${"x".repeat(70 * 1024)}"\n`;
    const r = await sendYaml("POST", `/v1/clusters?site=${c.site}`, big);
    expect(r.status).toBe(413);
    expect(await stateFingerprint(c.id, { outbox: false, probes: true })).toBe(before);
    // Other content types are still refused as before.
    expect((await sendYaml("POST", `/v1/clusters?site=${c.site}`, exampleYaml, {}, "text/plain")).status).toBe(415);
  });
});

describe("events: since and last", () => {
  it("return the newest N (oldest first) and the events after a time", async () => {
    const c = await newCluster();
    for (let i = 0; i < 6; i++) expect((await call("POST", `/v1/clusters/${c.id}/maintenance`, { body: { on: i % 2 === 0 } })).status).toBe(200);
    const all = (await call("GET", `/v1/clusters/${c.id}/events?limit=500`)).json.events as unknown as { id: number; at: number; kind: string }[];
    expect(all.length).toBeGreaterThanOrEqual(7);
    const last3 = await call("GET", `/v1/clusters/${c.id}/events?last=3`);
    expect((last3.json.events as unknown as { id: number }[]).map((e) => e.id)).toEqual(all.slice(-3).map((e) => e.id));
    expect(last3.json.nextCursor).toBe(String(all.at(-1)!.id));
    const since = await call("GET", `/v1/clusters/${c.id}/events?since=${all[2]!.at}`);
    expect((since.json.events as unknown as { at: number }[]).every((e) => e.at >= all[2]!.at)).toBe(true);
    expect((await call("GET", `/v1/clusters/${c.id}/events?since=${Date.now() + 60_000}`)).json.events).toEqual([]);
    expect((await call("GET", `/v1/clusters/${c.id}/events?last=0`)).status).toBe(400);
  });
});

describe("operator calls", () => {
  it("answer with the engine's answer to the request first, and every decision it led to", async () => {
    const c = await newCluster((s) => {
      s.policy = { heartbeatIntervalMs: 1000, leaseTtlMs: 30_000, driftMarginMs: 1000 };
    });
    await heartbeat(c.id, "server1", c.tokens.server1!, beat({ seq: 0 }, ALL_HEALTHY));
    await heartbeat(c.id, "server2", c.tokens.server2!, beat({ seq: 0 }, ALL_HEALTHY));
    const r = await call("POST", `/v1/clusters/${c.id}/nodes/server1/maintenance`, { body: { on: true } });
    expect(r.status).toBe(200);
    expect(r.json.detail).toMatch(/^server1 maintenance on \(by admin:\S+\): its groups move away, then it is frozen$/);
    const decisions = r.json.decisions as unknown as string[];
    expect(decisions[0]).toBe(r.json.detail);
    // ALL_HEALTHY has no mysql/minio facts, so only these three had a holder to move.
    expect(decisions.filter((d) => d.includes("revoking"))).toEqual(["server-api", "portal", "influxdb"].map((g) => `server1 is in maintenance (drain); revoking ${g} epoch 1 from server1 for server2`));
  });
});
