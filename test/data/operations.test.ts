// Operation handlers and probes against local stand-ins: failure paths of the fences and the
// evacuation (never reported ok without proof), and the influxdb probe's 2.x /health path.
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CommandRunner } from "../../node-shim/command-runner.js";
import { evacuate } from "../../node-shim/operations/evacuate.js";
import { fenceIpmi } from "../../node-shim/operations/fence-ipmi.js";
import { fenceWebhook } from "../../node-shim/operations/fence-webhook.js";
import { backfillForOutage } from "../../node-shim/operations/influxdb-backfill.js";
import { createProbe } from "../../node-shim/probes/index.js";
import { freePort } from "../shim/support/control-plane.js";
import { Recorder } from "./support/stand-ins.js";

const ctx = (runner = new CommandRunner("recording"), settings: Record<string, unknown> = {}) => ({ runner, settings });

describe("fence and evacuation handlers", () => {
  const hook = new Recorder();
  beforeAll(() => hook.start());
  afterAll(() => hook.stop());

  it("fence-ipmi: no password, a refused or hung power-off, or a BMC that never reports off are failures, with the command's output", async () => {
    const op = { id: "op-1", kind: "fence-ipmi" as const, target: "node1", host: "10.9.9.9", user: "u", passwordEnv: "CHD_TEST_NO_SUCH_VAR" };
    delete process.env.CHD_TEST_NO_SUCH_VAR;
    const r0 = new CommandRunner("recording");
    expect(await fenceIpmi(op, ctx(r0))).toEqual({ ok: false, detail: "cannot fence node1: environment variable CHD_TEST_NO_SUCH_VAR (its IPMI password) is not set for the shim" });
    expect(r0.recorded).toEqual([]);

    process.env.CHD_TEST_IPMI = "pw";
    const refused = new CommandRunner("recording").respond(["ipmitool"], { code: 1, stderr: "Error: Unable to establish IPMI v2 / RMCP+ session" });
    const r1 = await fenceIpmi({ ...op, passwordEnv: "CHD_TEST_IPMI" }, ctx(refused, { ipmi: { interface: "lan" } }));
    expect(r1).toEqual({ ok: false, detail: "ipmitool chassis power off on 10.9.9.9 exited 1: Error: Unable to establish IPMI v2 / RMCP+ session" });
    expect(refused.lines()).toEqual(["ipmitool -I lan -H 10.9.9.9 -U u -E chassis power off"]);

    const stuck = new CommandRunner("recording").respond(["ipmitool"], { code: 0, stdout: "Chassis Power is on" });
    const started = performance.now();
    const r2 = await fenceIpmi({ ...op, passwordEnv: "CHD_TEST_IPMI" }, ctx(stuck));
    expect(r2.ok).toBe(false);
    expect(r2.detail).toBe("power off sent to 10.9.9.9, but the BMC does not report it off after 5 checks: Chassis Power is on");
    expect(stuck.lines().filter((l) => l.endsWith("status"))).toHaveLength(5);
    expect(performance.now() - started).toBeGreaterThan(3500);

    // A BMC that hangs: the runner's timeout (exit 124) is named, with what the command printed.
    const hung = new CommandRunner("recording").respond(["ipmitool"], { code: 124, stderr: "Command failed: ipmitool -I lanplus -H 10.9.9.9 -U u -E chassis power off\n" });
    expect(await fenceIpmi({ ...op, passwordEnv: "CHD_TEST_IPMI" }, ctx(hung))).toEqual({
      ok: false,
      detail: "ipmitool chassis power off on 10.9.9.9 timed out after 20 s: Command failed: ipmitool -I lanplus -H 10.9.9.9 -U u -E chassis power off",
    });
    // Off accepted, but status checks fail or time out: every distinct answer is in the alert.
    const flaky = new CommandRunner("recording")
      .respond(["ipmitool", "-I", "lanplus", "-H", "10.9.9.9", "-U", "u", "-E", "chassis", "power", "off"], { code: 0, stdout: "Chassis Power Control: Down/Off" })
      .respond((c) => (c.args.at(-1) === "status" ? { code: 124, stderr: "Get Chassis Power Status failed: Timeout" } : undefined));
    const r3 = await fenceIpmi({ ...op, passwordEnv: "CHD_TEST_IPMI" }, ctx(flaky));
    expect(r3).toEqual({ ok: false, detail: "power off sent to 10.9.9.9, but the BMC does not report it off after 5 checks: timed out after 20 s: Get Chassis Power Status failed: Timeout" });
    // A BMC that reports off on the second check: fenced, with its answer.
    let checks = 0;
    const late = new CommandRunner("recording")
      .respond(["ipmitool", "-I", "lanplus", "-H", "10.9.9.9", "-U", "u", "-E", "chassis", "power", "off"], { code: 0, stdout: "Chassis Power Control: Down/Off" })
      .respond((c) => (c.args.at(-1) === "status" ? { code: 0, stdout: ++checks < 2 ? "Chassis Power is on\n" : "Chassis Power is off\n" } : undefined));
    expect(await fenceIpmi({ ...op, passwordEnv: "CHD_TEST_IPMI" }, ctx(late))).toEqual({ ok: true, detail: "node1 powered off through IPMI 10.9.9.9 (Chassis Power is off)" });
    expect(late.lines().filter((l) => l.endsWith("status"))).toHaveLength(2);
  });

  it("fence-webhook and evacuate: only a 2xx counts; bearer tokens come from the shim's environment", async () => {
    process.env.CHD_TEST_TOKEN = "tok-1";
    hook.status = 500;
    hook.reply = "pdu offline";
    const w = await fenceWebhook({ id: "op-2", kind: "fence-webhook", target: "node2", url: hook.url("/fence") }, ctx(undefined, { fenceWebhook: { tokenEnv: "CHD_TEST_TOKEN" } }));
    expect(w).toEqual({ ok: false, detail: `fence webhook ${hook.url("/fence")} answered 500: pdu offline` });
    const e = await evacuate({ id: "op-3", kind: "evacuate", target: "node2", url: hook.url("/evac"), method: "PUT", body: '{"host":"node2"}' }, ctx());
    expect(e).toEqual({ ok: false, detail: `evacuation request PUT ${hook.url("/evac")} answered 500: pdu offline` });
    hook.status = 202;
    hook.reply = "";
    expect(await evacuate({ id: "op-4", kind: "evacuate", target: "node2", url: hook.url("/evac"), method: "PUT", body: '{"host":"node2"}' }, ctx())).toEqual({ ok: true, detail: "http 202" });
    expect(hook.requests.map((r) => [r.method, r.path, r.body])).toEqual([
      ["POST", "/fence", '{"action":"power-off","node":"node2","requestId":"op-2"}'],
      ["PUT", "/evac", '{"host":"node2"}'],
      ["PUT", "/evac", '{"host":"node2"}'],
    ]);
    expect(hook.requests.map((r) => r.authorization)).toEqual(["Bearer tok-1", undefined, undefined]);
    const closed = await freePort();
    const down = await fenceWebhook({ id: "op-5", kind: "fence-webhook", target: "node2", url: `http://127.0.0.1:${closed}/fence` }, ctx());
    expect(down).toEqual({ ok: false, detail: `fence webhook http://127.0.0.1:${closed}/fence: ECONNREFUSED` });
  });

  it("a backfill window comes from the outage event, exactly (no padding that would hide a wrong window)", () => {
    const op = backfillForOutage(
      { kind: "influxdb.outage-window", group: "influxdb", node: "server1", reason: "influxdb on server1 missed writes from 2026-11-25T12:00:01.000Z to 2026-11-25T12:01:01.000Z (60.0 s); copying it back from a healthy peer" },
      { node: "server2", url: "http://192.168.231.12:8086" },
      "chime",
    );
    expect(op).toEqual({ id: `backfill-influxdb-server1-${Date.parse("2026-11-25T12:00:01.000Z")}`, kind: "influxdb-backfill", group: "influxdb", fromNode: "server2", fromUrl: "http://192.168.231.12:8086", database: "chime", startMs: Date.parse("2026-11-25T12:00:01.000Z"), endMs: Date.parse("2026-11-25T12:01:01.000Z") });
    expect(() => backfillForOutage({ kind: "probe.failed", reason: "x" }, { node: "a", url: "b" }, "c")).toThrow(/not an influxdb outage window/);
  });
});

describe("influxdb probe, 2.x /health", () => {
  let server: Server;
  let port = 0;
  let health: { status: number; body: string } = { status: 200, body: '{"name":"influxdb","status":"pass","version":"2.7.1"}' };
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === "/health") res.writeHead(health.status, { "content-type": "application/json", "x-influxdb-version": "v2.7.1" }).end(health.body);
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as { port: number }).port;
  });
  afterAll(() => new Promise((r) => server.close(r)));

  it("passes on status pass, fails on anything else", async () => {
    const probe = createProbe({ type: "influxdb", port, intervalMs: 1000, timeoutMs: 800, fall: 1, rise: 1 }, { host: "127.0.0.1", runner: new CommandRunner("recording"), settings: {} });
    const ok = await probe.run(AbortSignal.timeout(1000));
    expect(ok.ok).toBe(true);
    expect(ok.detail).toMatch(/^influxdb v2\.7\.1 \/health pass in \d+ ms$/);
    health = { status: 503, body: '{"status":"fail","message":"not ready"}' };
    expect(await probe.run(AbortSignal.timeout(1000))).toEqual({ ok: false, detail: `influxdb http://127.0.0.1:${port}/health: http 503` });
    health = { status: 200, body: '{"status":"fail"}' };
    expect(await probe.run(AbortSignal.timeout(1000))).toEqual({ ok: false, detail: `influxdb http://127.0.0.1:${port}/health: status 'fail'` });
  });
});
