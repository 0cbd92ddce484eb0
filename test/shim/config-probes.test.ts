// Shim config (path-precise errors, examples/shim.yaml is valid) and the built-in probes against
// real local servers on 127.0.0.1, plus the fall/rise rule of the ProbeScheduler.
import { createServer, type Server } from "node:http";
import { createServer as createTcpServer } from "node:net";
import type { AddressInfo } from "node:net";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CommandRunner } from "../../node-shim/command-runner.js";
import { ConfigError, parseShimConfig } from "../../node-shim/config.js";
import { setLogSink } from "../../node-shim/log.js";
import { createProbe } from "../../node-shim/probes/index.js";
import { ProbeScheduler } from "../../node-shim/probes/scheduler.js";
import { ProbeSpec } from "../../protocol/spec.js";

beforeAll(() => setLogSink(null));

const ctx = { host: "127.0.0.1", runner: new CommandRunner("real"), settings: {} };
const run = (spec: unknown, timeoutMs = 1000) => createProbe(ProbeSpec.parse(spec), ctx).run(AbortSignal.timeout(timeoutMs));

describe("shim config", () => {
  it("examples/shim.yaml is valid and fills defaults", () => {
    const cfg = parseShimConfig(readFileSync("examples/shim.yaml", "utf8"), "examples/shim.yaml");
    expect(cfg).toMatchObject({ node: "server1", cluster: "dc1.chimestack", interface: "eth0", releaseOnSigterm: true, localLeaseMarginMs: 200 });
    expect(cfg.probes["server-api"]).toMatchObject({ type: "http", port: 8801, path: "/health" });
  });

  it("names each problem by path", () => {
    const text = [
      "controlPlaneUrl: not a url",
      "cluster: dc1.chimestack",
      "node: Server_1",
      "token: abc",
      "interface: averyveryverylongname",
      "probes:",
      "  portal: { type: tcp, port: 99999 }",
      "localLeaseMarginMs: -5",
      "surprise: 1",
    ].join("\n");
    let err: unknown;
    try {
      parseShimConfig(text, "shim.yaml");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const paths = (err as ConfigError).problems.map((p) => p.path).sort();
    expect(paths).toEqual(["(root)", "controlPlaneUrl", "interface", "localLeaseMarginMs", "node", "probes.portal.port"]);
    expect((err as ConfigError).message).toContain("probes.portal.port (line 7): port must be 1-65535");
    // One line, naming the file.
    expect((err as ConfigError).message).toMatch(/^shim\.yaml: [^\n]+$/);
  });

  it("needs exactly one of token and tokenFile", () => {
    expect(() => parseShimConfig("controlPlaneUrl: http://127.0.0.1:1\ncluster: a.b\nnode: n1\n")).toThrow(/token: set exactly one of token or tokenFile/);
    expect(() => parseShimConfig("controlPlaneUrl: http://127.0.0.1:1\ncluster: a.b\nnode: n1\ntoken: x\ntokenFile: /x\n")).toThrow(/exactly one/);
  });

  it("reports YAML syntax errors as such", () => {
    expect(() => parseShimConfig("controlPlaneUrl: [unclosed\n")).toThrow(/\(yaml\)/);
  });
});

describe("probes against real local services", () => {
  let http: Server;
  let port = 0;
  let closedPort = 0;
  beforeAll(async () => {
    http = createServer((req, res) => {
      if (req.url === "/health") return res.end("chime-server OK");
      if (req.url === "/slow") return void setTimeout(() => res.end("late"), 500);
      res.statusCode = 503;
      res.end("down");
    });
    await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
    port = (http.address() as AddressInfo).port;
    // A port that was just free: nothing listens there.
    const tmp = createTcpServer();
    await new Promise<void>((r) => tmp.listen(0, "127.0.0.1", r));
    closedPort = (tmp.address() as AddressInfo).port;
    await new Promise((r) => tmp.close(r));
  });
  afterAll(() => new Promise((r) => http.close(r)));

  it("tcp: open vs refused", async () => {
    expect(await run({ type: "tcp", port })).toMatchObject({ ok: true });
    const down = await run({ type: "tcp", port: closedPort });
    expect(down.ok).toBe(false);
    expect(down.detail).toContain("ECONNREFUSED");
  });

  it("http: status, body match, wrong status, timeout", async () => {
    expect(await run({ type: "http", port, path: "/health", bodyMatch: "OK" })).toMatchObject({ ok: true });
    const noMatch = await run({ type: "http", port, path: "/health", bodyMatch: "READY" });
    expect(noMatch).toMatchObject({ ok: false });
    expect(noMatch.detail).toContain("without 'READY'");
    const bad = await run({ type: "http", port, path: "/other" });
    expect(bad.detail).toContain("http 503");
    expect(await run({ type: "http", port, path: "/other", expectStatus: [503] })).toMatchObject({ ok: true });
    const slow = await createProbe(ProbeSpec.parse({ type: "http", port, path: "/slow", timeoutMs: 100 }), ctx).run(AbortSignal.timeout(100));
    expect(slow.ok).toBe(false);
    expect(slow.detail).toContain("timed out");
  });

  it("exec: exit status decides", async () => {
    expect(await run({ type: "exec", command: ["true"] })).toMatchObject({ ok: true });
    const r = await run({ type: "exec", command: ["sh", "-c", "echo replica lag too high; exit 3"] });
    expect(r).toEqual({ ok: false, detail: "exec exited 3: replica lag too high" });
  });
});

describe("ProbeScheduler fall/rise", () => {
  it("first result decides, then `fall` failures to go down and `rise` successes to come back", () => {
    const changes: boolean[] = [];
    const spec = ProbeSpec.parse({ type: "tcp", port: 1, fall: 3, rise: 2 });
    const s = new ProbeScheduler("svc", spec, { run: async () => ({ ok: true, detail: "" }) }, (_n, r) => changes.push(r.healthy));
    const feed = (...oks: boolean[]) => oks.forEach((ok) => s.observe({ ok, detail: ok ? "up" : "down" }));
    feed(true);
    expect(changes).toEqual([true]);
    feed(false, false, true, false, false);
    expect(changes).toEqual([true]); // never 3 failures in a row
    feed(false);
    expect(changes).toEqual([true, false]);
    // Down, dated from the start of the last good run (fed just before, so a few ms at most).
    const down = s.report();
    expect(down).toMatchObject({ healthy: false, detail: "down" });
    expect(Object.keys(down).sort()).toEqual(["detail", "downForMs", "healthy"]);
    expect(down.downForMs).toBeGreaterThanOrEqual(0);
    expect(down.downForMs).toBeLessThan(1000);
    feed(true, false, true);
    expect(changes).toEqual([true, false]);
    feed(true);
    expect(changes).toEqual([true, false, true]);
  });

  it("runs at its cadence and reports a change at once", async () => {
    let ok = true;
    const seen: boolean[] = [];
    const spec = ProbeSpec.parse({ type: "tcp", port: 1, intervalMs: 100, fall: 1, rise: 1 });
    const s = new ProbeScheduler("svc", spec, { run: async () => ({ ok, detail: String(ok) }) }, (_n, r) => seen.push(r.healthy));
    s.start();
    await new Promise((r) => setTimeout(r, 150));
    ok = false;
    const t0 = performance.now();
    while (seen.length < 2 && performance.now() - t0 < 2000) await new Promise((r) => setTimeout(r, 10));
    await s.stop();
    expect(seen).toEqual([true, false]);
  });
});
