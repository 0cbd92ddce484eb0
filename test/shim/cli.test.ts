// The BUILT `chime-ha` (one file, as `npm install -g` installs it) against the real control plane
// (wrangler dev: Worker, Durable Objects, D1), every command with its exit code and output. Two
// stand-in shims heartbeat through the real API (release on revoke, report operation results
// and apply failures), so switchover/maintenance --wait see real moves. Contexts live in a temp
// XDG_CONFIG_HOME; nothing of the caller's environment leaks in.
import { execFileSync, spawn } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import type { EventRow } from "../../protocol/api.js";
import type { ApplyError, HeartbeatReply, HeartbeatRequestInput, OperationResult, ProbeReport } from "../../protocol/heartbeat.js";
import type { ClusterStatus } from "../../protocol/status.js";
import { api, type ControlPlane, REPO_ROOT, startControlPlane } from "../support/control-plane.js";

const dir = mkdtempSync(join(tmpdir(), "chs-cli-"));
/** A port nothing listens on (taken, then closed). */
const closedPort = await new Promise<number>((resolve) => {
  const s = createServer().listen(0, "127.0.0.1", () => {
    const port = (s.address() as { port: number }).port;
    s.close(() => resolve(port));
  });
});
const NOWHERE = `http://127.0.0.1:${closedPort}`;
const BIN = join(dir, "bin", "chime-ha.mjs");
const HOME = join(dir, "home");
const EXAMPLE = readFileSync(join(REPO_ROOT, "examples/chimestack.yaml"), "utf8");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs the built CLI with a clean environment (only PATH, HOME, XDG_CONFIG_HOME and `env`). */
function cli(args: string[], env: Record<string, string> = {}, timeoutMs = 30_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn(process.execPath, [BIN, ...args], { cwd: dir, env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME, XDG_CONFIG_HOME: join(HOME, ".config"), ...env } });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (b: Buffer) => (stdout += b));
    p.stderr.on("data", (b: Buffer) => (stderr += b));
    const timer = setTimeout(() => p.kill("SIGKILL"), timeoutMs);
    p.once("error", reject);
    p.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: performance.now() - t0 });
    });
  });
}

/** An error is exactly one line on stderr, with no stack trace. */
function oneLineError(r: Run, code: number, text: string | RegExp): void {
  expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(code);
  const lines = r.stderr.trimEnd().split("\n");
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^chime-ha: /);
  if (typeof text === "string") expect(lines[0]).toContain(text);
  else expect(lines[0]).toMatch(text);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

const OK: ProbeReport = { healthy: true, detail: "ok" };
const PROBES: Record<string, ProbeReport> = {
  "server-api": OK,
  portal: OK,
  mysql: {
    healthy: true,
    detail: "ok",
    // Fresh facts of a healthy semi-sync dual master in step: a promotion provably loses nothing.
    factsAgeMs: 0,
    factsRunMs: 5,
    mysql: {
      readOnly: true,
      replicaConfigured: true,
      ioRunning: true,
      sqlRunning: true,
      caughtUp: true,
      secondsBehind: 0,
      gtidCurrentPos: "0-1-9",
      gtidBinlogPos: "0-1-9",
      gtidSlavePos: "0-1-9",
      errantTransactions: false,
      semiSync: { masterEnabled: true, masterStatus: true, clients: 1, noTx: 0, yesTx: 9, waitSessions: 0, slaveEnabled: true },
    },
  },
  influxdb: OK,
  minio: { healthy: true, detail: "ok", minio: { live: true, writeQuorum: true, readQuorum: true } },
};

/**
 * A stand-in shim: heartbeats through the real API every 400 ms, confirms releases (unless told
 * not to), answers operations with `answer`, and reports `applyErrors`.
 */
class FakeShim {
  private seq = 0;
  private released: { group: string; epoch: number }[] = [];
  private results: OperationResult[] = [];
  private done = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  applyErrors: ApplyError[] = [];
  probes: Record<string, ProbeReport>;
  answer: (op: { id: string; kind: string }) => OperationResult = (op) => ({ id: op.id, ok: true, detail: `${op.kind} done` });
  last: HeartbeatReply | null = null;
  failures = 0;

  constructor(
    readonly url: string,
    readonly cluster: string,
    readonly node: string,
    public token: string,
    probes: Record<string, ProbeReport> = PROBES,
  ) {
    this.probes = probes;
  }

  /** Like the real shim: the mysql writer (the group's holder) is writable, everyone else read-only. */
  private reportedProbes(): Record<string, ProbeReport> {
    const m = this.probes.mysql;
    if (!m?.mysql) return this.probes;
    const writer = this.last?.desired.groups.some((g) => g.name === "mysql" && g.role === "holder") ?? false;
    return { ...this.probes, mysql: { ...m, mysql: { ...m.mysql, readOnly: !writer } } };
  }

  async beat(): Promise<void> {
    const body: HeartbeatRequestInput = { bootId: `fake-${this.node}`, seq: this.seq++, probes: this.reportedProbes(), released: this.released, operations: this.results, ...(this.applyErrors.length ? { applyErrors: this.applyErrors } : {}) };
    this.released = [];
    this.results = [];
    try {
      const reply = (await api(this.url, this.token, "POST", `/v1/clusters/${this.cluster}/nodes/${this.node}/heartbeat`, body)) as HeartbeatReply;
      this.last = reply;
      for (const g of reply.desired.groups) if (g.role === "release") this.released.push({ group: g.name, epoch: g.epoch });
      for (const op of reply.desired.operations) {
        if (this.done.has(op.id)) continue;
        this.done.add(op.id);
        this.results.push(this.answer(op));
      }
    } catch {
      this.failures++;
    }
  }

  start(): void {
    const loop = async () => {
      await this.beat();
      if (this.timer !== null) this.timer = setTimeout(loop, this.released.length || this.results.length ? 20 : 400);
    };
    this.timer = setTimeout(loop, 0);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}

describe("chime-ha (built) against the real control plane", () => {
  let cp: ControlPlane;
  const shims: FakeShim[] = [];
  let tokens: Record<string, string> = {};
  let quietCreatedAt = 0;

  beforeAll(async () => {
    execFileSync(process.execPath, [join(REPO_ROOT, "node_modules/tsx/dist/cli.mjs"), "scripts/build-cli.ts", "--out", BIN], { cwd: REPO_ROOT, stdio: "pipe" });
    mkdirSync(HOME, { recursive: true });
    cp = await startControlPlane({ logLevel: "warn" });
    writeFileSync(join(dir, "admin.token"), `${cp.adminToken}\n`, { mode: 0o600 });
  }, 120_000);

  afterAll(async () => {
    for (const s of shims) s.stop();
    await cp?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("starts fast (printed), and every error is one line with a non-zero exit code", async () => {
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await cli(["--version"]);
      expect(r.code).toBe(0);
      expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
      times.push(r.ms);
    }
    times.sort((a, b) => a - b);
    console.log(`chime-ha --version (built, spawned from node): median ${times[2]!.toFixed(0)} ms, min ${times[0]!.toFixed(0)} ms over 5 runs (npm run bench:cli compares it with bare node)`);
    oneLineError(await cli(["status"]), 2, "no control plane URL");
    oneLineError(await cli(["bogus"]), 2, "unknown command 'bogus'");
    oneLineError(await cli(["switchover", "x"]), 2, "missing required argument 'group'");
    oneLineError(await cli(["events", "--bogus"]), 2, "unknown option '--bogus'");
    oneLineError(await cli(["status", "--url", cp.url, "--token-file", join(dir, "missing.token")]), 2, `cannot read the token file ${join(dir, "missing.token")} (--token-file): ENOENT`);
    oneLineError(await cli(["status", "--url", cp.url, "--token", "nope"]), 1, /Unauthorized.*\[HTTP 401\]/);
    oneLineError(await cli(["status", "--url", NOWHERE, "--token", "x"]), 1, `cannot reach the control plane at ${NOWHERE}: ECONNREFUSED`);
    oneLineError(await cli(["events", "--since", "yesterday", "--url", cp.url, "--token", "x"]), 2, "--since: 'yesterday' is not a duration");
    // A broken config file is named, with the field.
    mkdirSync(join(HOME, ".config/chime-ha"), { recursive: true });
    writeFileSync(join(HOME, ".config/chime-ha/config.yaml"), "contexts:\n  local:\n    url: not-a-url\n    tokenFile: x\n");
    oneLineError(await cli(["status"]), 2, `${join(HOME, ".config/chime-ha/config.yaml")}: contexts.local.url:`);
    rmSync(join(HOME, ".config/chime-ha/config.yaml"));
  });

  it("config: contexts with a URL and a token file; environment variables override them", async () => {
    let r = await cli(["config", "set-context", "local", "--url", cp.url, "--token-file", join(dir, "admin.token"), "--site", "dc1"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`context local saved in ${join(HOME, ".config/chime-ha/config.yaml")}`);
    expect((await cli(["config", "set-context", "broken", "--url", cp.url, "--token-file", join(dir, "nope.token")])).code).toBe(0);
    r = await cli(["config", "get-contexts"]);
    expect(r.stdout).toMatch(/^\*\s+local\s+http:\/\/127\.0\.0\.1:\d+/m);
    expect((await cli(["config", "current-context"])).stdout.trim()).toBe("local");
    // The config file is private.
    expect(execFileSync("stat", ["-c", "%a", join(HOME, ".config/chime-ha/config.yaml")], { encoding: "utf8" }).trim()).toBe("600");
    expect((await cli(["get", "clusters"])).stdout.trim()).toBe("no clusters");
    oneLineError(await cli(["get", "clusters", "--context", "broken"]), 2, `cannot read the token file ${join(dir, "nope.token")} (context broken in`);
    oneLineError(await cli(["get", "clusters", "--context", "elsewhere"]), 2, "no context 'elsewhere'");
    // CHIME_HA_URL beats the context's URL; CHIME_HA_CONTEXT picks another context.
    oneLineError(await cli(["get", "clusters"], { CHIME_HA_URL: NOWHERE }), 1, `cannot reach the control plane at ${NOWHERE}`);
    oneLineError(await cli(["get", "clusters"], { CHIME_HA_CONTEXT: "broken" }), 2, "nope.token");
    expect((await cli(["config", "delete-context", "broken"])).code).toBe(0);
  });

  it("apply: --dry-run shows the plan, then creates (site too), prints node tokens once; again: no changes; an edit: the diff, then If-Match", async () => {
    const spec = join(dir, "chimestack.yaml");
    writeFileSync(spec, EXAMPLE);
    let r = await cli(["apply", "-f", spec, "--dry-run"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe("+ site dc1, cluster dc1.chimestack: 4 nodes (server1, server2, node1, node2), 5 groups (server-api, portal, mysql, influxdb, minio)\ndry run: nothing sent\n");
    expect((await cli(["get", "sites"])).stdout.trim()).toBe("no sites");
    r = await cli(["apply", "-f", spec]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("dc1.chimestack: created (spec v1)");
    tokens = Object.fromEntries([...r.stdout.matchAll(/^ {2}(\S+)\s+(cha_node_\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
    expect(Object.keys(tokens)).toEqual(["server1", "server2", "node1", "node2"]);
    expect((await cli(["apply", "-f", spec])).stdout).toBe("dc1.chimestack: no changes (spec v1)\n");
    // A second cluster that never gets a shim: it must stay quiet (checked at the end).
    const quiet = join(dir, "quiet.yaml");
    writeFileSync(quiet, EXAMPLE.replace("name: chimestack", "name: quiet"));
    r = await cli(["apply", "-f", quiet, "--site", "dc2"]);
    expect(r.code, r.stderr).toBe(0);
    quietCreatedAt = Date.now();
    // Edit: a shorter dead-after for compute nodes (the ack-fence test needs it).
    writeFileSync(spec, EXAMPLE.replace("deadAfterMs: 15000", "deadAfterMs: 2000").replace("holdDownMs: 10000", "holdDownMs: 0"));
    r = await cli(["apply", "-f", spec, "--dry-run"]);
    expect(r.stdout).toBe("dc1.chimestack: spec v1 -> v2, 2 changes:\n  ~ policy.holdDownMs: 10000 -> 0\n  ~ policy.deadAfterMs: 15000 -> 2000\ndry run: nothing sent\n");
    r = await cli(["apply", "-f", spec]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("dc1.chimestack: spec v2 applied");
    // A bad file: one line, every problem with its path and line.
    const bad = join(dir, "bad.yaml");
    writeFileSync(bad, EXAMPLE.replace("ip: 192.168.231.12,", "ip: 192.168.231.300,").replace("leaseTtlMs: 3000", "leaseTtlMs: 3000000"));
    const lineOf = (s: string) => EXAMPLE.split("\n").findIndex((l) => l.includes(s)) + 1;
    oneLineError(
      await cli(["apply", "-f", bad]),
      1,
      new RegExp(`bad\\.yaml: 7 problems: policy\\.leaseTtlMs \\(line ${lineOf("leaseTtlMs")}\\): .*; nodes\\[1\\]\\.ip \\(line ${lineOf("192.168.231.12,")}\\): must be a dotted IPv4 address`),
    );
    oneLineError(await cli(["apply", "-f", join(dir, "none.yaml")]), 1, "cannot read");
  });

  it("get clusters|sites|tokens|webhooks, and a cluster's spec as YAML that apply takes back", async () => {
    let r = await cli(["get", "clusters"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^CLUSTER\s+SITE\s+NAME\s+SPEC\s+UPDATED\n/);
    expect(r.stdout).toMatch(/^dc1\.chimestack\s+dc1\s+chimestack\s+v2\s/m);
    expect(r.stdout).toMatch(/^dc2\.quiet\s+dc2\s+quiet\s+v1\s/m);
    expect(JSON.parse((await cli(["get", "sites", "-o", "json"])).stdout).map((s: { id: string }) => s.id)).toEqual(["dc1", "dc2"]);
    r = await cli(["get", "tokens"]);
    expect(r.stdout).toMatch(/^tok_\S+\s+node\s+dc1\.chimestack\/server1\s/m);
    expect((await cli(["get", "webhooks"])).stdout.trim()).toBe("no webhooks");
    r = await cli(["get", "cluster", "chimestack", "-o", "yaml"]);
    expect(r.code).toBe(0);
    expect(parse(r.stdout).policy.deadAfterMs).toBe(2000);
    writeFileSync(join(dir, "roundtrip.yaml"), r.stdout);
    expect((await cli(["apply", "-f", join(dir, "roundtrip.yaml")])).stdout).toBe("dc1.chimestack: no changes (spec v2)\n");
    oneLineError(await cli(["get", "things"]), 2, "unknown kind 'things'");
    oneLineError(await cli(["get", "cluster", "nope"]), 1, "no cluster 'nope' (clusters: dc1.chimestack, dc2.quiet)");
  });

  it("status before any shim: the fleet waits for first heartbeats; each group says why, once", async () => {
    let r = await cli(["status"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^dc1\.chimestack\s+dc1\s+v2\s+0\/5 ok\s+0\/4 alive\s+waiting for first heartbeats$/m);
    expect(r.stdout).not.toContain("\x1b["); // not a terminal: no colour
    r = await cli(["status", "chimestack"]);
    expect(r.stdout).toMatch(/^server-api\s+active-standby\s+192\.168\.231\.10\s+-\s+0\s+-\s+waiting$/m);
    expect(r.stdout).toMatch(/^node1\s+compute\s+waiting\s+never\s+-$/m);
    expect(r.stdout).toMatch(/^ {2}mysql +waiting for the first heartbeat from server1 and server2$/m);
    expect(r.stdout).toMatch(/^ {2}server1 +waiting for its first heartbeat \(is its shim installed and running\?\)$/m);
    expect((await cli(["status", "chimestack"], { FORCE_COLOR: "1" })).stdout).toContain("\x1b[36mwaiting\x1b[39m");
    const json = JSON.parse((await cli(["status", "chimestack", "--json"])).stdout) as { status: ClusterStatus };
    expect(json.status.groups.map((g) => g.health)).toEqual(["waiting", "waiting", "waiting", "waiting", "waiting"]);
  });

  it("status with shims: held and ok; a director that cannot program its balancer is shown degraded with the command", async () => {
    for (const n of ["server1", "server2"]) shims.push(new FakeShim(cp.url, "dc1.chimestack", n, tokens[n]!));
    shims.forEach((s) => s.start());
    let st = "";
    for (let i = 0; i < 100 && !/^portal\s.*\sok\s/m.test(st); i++) {
      await sleep(200);
      st = (await cli(["status", "chimestack"])).stdout;
    }
    expect(st).toMatch(/^server-api\s+active-standby\s+192\.168\.231\.10\s+server1\s+1\s+\S+\s+ok$/m);
    expect(st).toMatch(/^portal\s+active-active-lb\s+192\.168\.231\.20\s+server1\s+1\s+\S+\s+ok\s+server1,server2$/m);
    expect(st).toMatch(/^server1\s+server\s+ok\s+\S+ ago\s+server-api ok, portal ok, mysql ok, influxdb ok, minio ok$/m);
    shims[0]!.applyErrors = [{ group: "portal", target: "lb", command: "ipvsadm -A -t 192.168.231.20:80 -s wrr", exitCode: 2, stderrTail: "Can't initialize ipvs: Protocol not available", since: Date.now() }];
    for (let i = 0; i < 60 && !/^portal\s.*degraded/m.test(st); i++) {
      await sleep(250);
      st = (await cli(["status", "chimestack"])).stdout;
    }
    expect(st).toMatch(/^portal\s+active-active-lb\s+192\.168\.231\.20\s+server1\s+1\s+\S+\s+degraded\s+server1,server2$/m);
    expect(st).toMatch(/^ {2}portal +degraded: server1 cannot apply lb for portal: `ipvsadm -A -t 192\.168\.231\.20:80 -s wrr` exited 2 \(Can't initialize ipvs: Protocol not available\), failing since \S+Z$/m);
    expect(st).toMatch(/^ {2}server1 +cannot apply lb for portal: `ipvsadm/m);
    const fleet = (await cli(["status"])).stdout;
    expect(fleet).toMatch(/^dc1\.chimestack\s+dc1\s+v2\s+4\/5 ok\s+2\/4 alive\s+\d+ problems?$/m);
    // Status judges "persistent" at read time; the event is raised by the next heartbeat after that
    // and lands in D1 just after the step, so it may trail the status line by a beat.
    const applyFailed = /CRITICAL apply\.failed group=portal node=server1 \(engine\): server1 cannot apply lb for portal/;
    let ev = "";
    for (let i = 0; i < 40 && !applyFailed.test(ev); i++) {
      if (i > 0) await sleep(250);
      ev = (await cli(["events", "chimestack", "-n", "50"])).stdout;
    }
    expect(ev).toMatch(applyFailed);
    shims[0]!.applyErrors = [];
  });

  it("status --watch redraws until interrupted", async () => {
    const p = spawn(process.execPath, [BIN, "status", "chimestack", "--watch", "--interval", "300ms"], { env: { PATH: process.env.PATH, HOME, XDG_CONFIG_HOME: join(HOME, ".config") } });
    let text = "";
    p.stdout.on("data", (b: Buffer) => (text += b));
    for (let i = 0; i < 100 && (text.match(/^--- every/gm) ?? []).length < 2; i++) await sleep(100);
    p.kill("SIGINT");
    const code = await new Promise((r) => p.once("close", r));
    expect(code).toBe(0);
    expect((text.match(/^cluster dc1\.chimestack/gm) ?? []).length).toBeGreaterThanOrEqual(2);
  });

  it("switchover --wait says who holds the group now; a refused or stuck move exits 1 with the reason", async () => {
    let r = await cli(["switchover", "chimestack", "server-api", "--to", "server2", "--wait"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^switchover requested by admin:\S+; revoking server-api epoch 1 from server1 for server2\n/);
    expect(r.stdout).toMatch(/^server-api now held by server2 \(epoch 2; was server1\), after \d+\.\d s$/m);
    oneLineError(await cli(["switchover", "chimestack", "server-api", "--to", "server2"]), 1, "Conflict: server2 already holds server-api [HTTP 409]");
    oneLineError(await cli(["switchover", "chimestack", "nope"]), 1, "no group 'nope' in cluster dc1.chimestack");
    // A holder that never confirms the release: the move waits for its lease, longer than 1 s.
    shims[1]!.probes = { ...PROBES };
    const stubborn = shims[1]!;
    const orig = stubborn.beat.bind(stubborn);
    stubborn.beat = async () => {
      await orig();
      (stubborn as unknown as { released: unknown[] }).released = [];
    };
    r = await cli(["switchover", "chimestack", "server-api", "--wait", "--timeout", "1s"]);
    oneLineError(r, 1, /^chime-ha: server-api did not move within 1\.0 s: it is held by server2 \(epoch 2, revoking\); moving from server2 to server1/);
    stubborn.beat = orig;
    for (let i = 0; i < 50; i++) {
      const s = JSON.parse((await cli(["status", "chimestack", "--json"])).stdout) as { status: ClusterStatus };
      if (s.status.groups[0]!.phase === "held") break;
      await sleep(200);
    }
  });

  it("maintenance --wait: a drain says where each group went; cluster maintenance on and off", async () => {
    const st = JSON.parse((await cli(["status", "chimestack", "--json"])).stdout) as { status: ClusterStatus };
    const onServer1 = st.status.groups.filter((g) => g.holder === "server1").map((g) => g.name);
    let r = await cli(["maintenance", "chimestack", "on", "--node", "server1", "--wait", "--timeout", "20s"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split("\n")[0]).toMatch(/^server1 maintenance on \(by admin:\S+\): its groups move away, then it is frozen$/);
    for (const g of onServer1) expect(r.stdout).toMatch(new RegExp(`^${g} now held by server2 \\(epoch \\d+\\)$`, "m"));
    expect(r.stdout).toMatch(/^server1 drained after \d+\.\d s: it holds no group$/m);
    r = await cli(["maintenance", "chimestack", "off", "--node", "server1", "--wait"]);
    expect(r.stdout).toContain("server1: maintenance off; it is a candidate again");
    r = await cli(["maintenance", "chimestack", "on", "--wait"]);
    expect(r.stdout).toMatch(/^maintenance on \(by admin:\S+\): automatic decisions frozen\ndc1\.chimestack: maintenance on; automatic failover frozen/);
    expect((await cli(["status", "chimestack"])).stdout).toContain("MAINTENANCE (automatic failover frozen)");
    expect((await cli(["maintenance", "chimestack", "off", "--wait"])).stdout).toContain("maintenance off; automatic failover resumes");
    oneLineError(await cli(["maintenance", "chimestack", "maybe"]), 2, "expected 'on' or 'off', got 'maybe'");
    // A drain nobody can take over from: exits 1 with the reason after the timeout.
    shims[0]!.probes = { ...PROBES, "server-api": { healthy: false, detail: "http 503" } };
    await sleep(1500);
    r = await cli(["maintenance", "chimestack", "on", "--node", "server2", "--wait", "--timeout", "2s"]);
    oneLineError(r, 1, /^chime-ha: server2 still holds server-api/);
    shims[0]!.probes = PROBES;
    expect((await cli(["maintenance", "chimestack", "off", "--node", "server2"])).code).toBe(0);
  });

  it("events: -n, --since, --json, a bare name, every cluster; --follow rides out a control-plane restart; | head exits cleanly", async () => {
    let r = await cli(["events", "chimestack", "-n", "5"]);
    expect(r.code).toBe(0);
    expect(r.stdout.trimEnd().split("\n")).toHaveLength(5);
    expect(r.stdout).toMatch(/^\d{4}-\d\d-\d\dT\S+Z (INFO|WARNING|CRITICAL) +\S+/);
    const json = (await cli(["events", "dc1.chimestack", "-n", "3", "--json"])).stdout.trimEnd().split("\n").map((l) => JSON.parse(l) as EventRow);
    expect(json).toHaveLength(3);
    expect(json[0]!.id).toBeLessThan(json[2]!.id);
    r = await cli(["events", "chimestack", "--since", "10m"]);
    expect(r.stdout.split("\n").length).toBeGreaterThan(10);
    expect((await cli(["events", "chimestack", "--since", "2099-01-01T00:00:00Z"])).stdout).toBe("");
    r = await cli(["events", "-n", "500"]);
    expect(r.stdout).toContain(" dc2.quiet ");
    expect(r.stdout).toContain(" dc1.chimestack ");
    oneLineError(await cli(["events", "nope"]), 1, "no cluster 'nope'");

    // | head: the reader goes away; the next write ends the follower quietly, exit 0.
    const pipe = spawn("bash", ["-c", `set -o pipefail; "${process.execPath}" "${BIN}" events chimestack -f -n 20 --interval 200ms | head -3`], { env: { PATH: process.env.PATH, HOME, XDG_CONFIG_HOME: join(HOME, ".config") } });
    let headOut = "";
    let pipeErr = "";
    pipe.stdout.on("data", (b: Buffer) => (headOut += b));
    pipe.stderr.on("data", (b: Buffer) => (pipeErr += b));
    const pipeDone = new Promise<number | null>((res) => pipe.once("close", res));
    for (let i = 0; i < 50 && headOut.split("\n").length < 4; i++) await sleep(100);
    await cli(["maintenance", "chimestack", "on"]);
    await cli(["maintenance", "chimestack", "off"]);
    const pipeCode = await Promise.race([pipeDone, sleep(10_000).then(() => "hung")]);
    expect(pipeCode).toBe(0);
    expect(headOut.trimEnd().split("\n")).toHaveLength(3);
    expect(pipeErr).toBe("");

    // --follow across a control-plane restart: says it lost and found the connection, shows what came after.
    const f = spawn(process.execPath, [BIN, "events", "chimestack", "-f", "-n", "1", "--interval", "250ms"], { env: { PATH: process.env.PATH, HOME, XDG_CONFIG_HOME: join(HOME, ".config") } });
    let fout = "";
    let ferr = "";
    f.stdout.on("data", (b: Buffer) => (fout += b));
    f.stderr.on("data", (b: Buffer) => (ferr += b));
    for (let i = 0; i < 50 && !fout.includes("\n"); i++) await sleep(100);
    expect(fout.trimEnd().split("\n")).toHaveLength(1);
    for (const s of shims) s.stop();
    await cp.restart();
    for (const s of shims) s.start();
    for (let i = 0; i < 100 && !ferr.includes("reconnected"); i++) await sleep(100);
    await cli(["maintenance", "chimestack", "on"]);
    for (let i = 0; i < 100 && !fout.includes("maintenance on (by admin"); i++) await sleep(100);
    await cli(["maintenance", "chimestack", "off"]);
    f.kill("SIGINT");
    expect(await new Promise((res) => f.once("close", res))).toBe(0);
    expect(ferr).toMatch(/^chime-ha: (cannot reach the control plane|the control plane at) .*; retrying in 0\.5 s$/m);
    expect(ferr).toContain("chime-ha: reconnected; continuing where it stopped");
    expect(ferr).not.toMatch(/Warning|MaxListeners|\n\s+at /);
    expect(fout).toContain("cluster.maintenance");
    // Nothing twice: event ids only grow.
    const ids = [...fout.matchAll(/^\S+Z/gm)].length;
    expect(ids).toBeGreaterThanOrEqual(2);
  }, 90_000);

  it("ack-fence: refused for a live node, accepted for a dead one without a fence (then evacuated)", async () => {
    oneLineError(await cli(["ack-fence", "chimestack", "node1"]), 1, "Conflict: node1 is alive; there is no fence to acknowledge [HTTP 409]");
    oneLineError(await cli(["ack-fence", "chimestack", "server1"]), 1, "server1 is a server node; only compute nodes are fenced");
    // node1 heartbeats once, then falls silent for deadAfterMs (2 s in the applied spec).
    await new FakeShim(cp.url, "dc1.chimestack", "node1", tokens.node1!, { "chime-agent": OK }).beat();
    let st = "";
    for (let i = 0; i < 60 && !/fence-failed/.test(st); i++) {
      await sleep(200);
      st = (await cli(["status", "chimestack"])).stdout;
    }
    expect(st).toMatch(/^node1\s+compute\s+fence-failed\s/m);
    const r = await cli(["ack-fence", "chimestack", "node1"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^admin:\S+ acknowledged that node1 is fenced\n/);
    expect(r.stdout).toMatch(/node1 fenced \(acknowledged by admin:\S+\); asking chime-server on server\d to evacuate its VMs/);
  });

  it("operation heal/backfill --wait: the node's result, exit 0 when it worked, 1 when it failed", async () => {
    let r = await cli(["operation", "heal", "chimestack", "--group", "minio", "--alias", "local", "--wait", "--timeout", "20s"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^admin:\S+ asked server\d to run mc admin heal on alias local \(operation (op-\d+-minio-heal)\)\n/);
    expect(r.stdout).toMatch(/^minio-heal on server\d finished: minio-heal done \(operation op-\d+-minio-heal\), after \d+\.\d s$/m);
    for (const s of shims) s.answer = (op) => ({ id: op.id, ok: false, detail: "no such database: chime" });
    r = await cli(["operation", "backfill", "chimestack", "--group", "influxdb", "--node", "server2", "--database", "chime", "--start", "1h", "--wait", "--timeout", "20s"]);
    oneLineError(r, 1, /^chime-ha: influxdb-backfill on server2 failed: no such database: chime \(operation op-\d+-influxdb-backfill\)$/);
    oneLineError(await cli(["operation", "heal", "chimestack", "--group", "server-api", "--alias", "x"]), 1, "minio-heal needs a minio group; server-api is active-standby");
    oneLineError(await cli(["operation", "backfill", "chimestack", "--group", "influxdb", "--node", "server2", "--database", "x"]), 2, "required option '--start <time>' not specified");
  });

  it("token rotate / create / revoke: the token alone on stdout; a viewer may look but not change", async () => {
    let r = await cli(["token", "rotate", "chimestack", "server1"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^cha_node_\S+\n$/);
    expect(r.stderr).toMatch(/^new token for server1 of dc1\.chimestack \(shown once; the old one works until \S+Z\)/);
    shims[0]!.token = r.stdout.trim();
    r = await cli(["token", "rotate", "chimestack", "server1", "--grace", "0"]);
    expect(r.stderr).toContain("(shown once; the old one no longer works)");
    shims[0]!.token = r.stdout.trim();
    r = await cli(["token", "create", "--role", "viewer", "--label", "cli test", "--expires", "1d"]);
    expect(r.code, r.stderr).toBe(0);
    const viewer = r.stdout.trim();
    const id = /viewer token (tok_\S+)/.exec(r.stderr)![1]!;
    writeFileSync(join(dir, "viewer.token"), viewer);
    const asViewer = ["--token-file", join(dir, "viewer.token")];
    expect((await cli(["status", "chimestack", ...asViewer])).code).toBe(0);
    oneLineError(await cli(["maintenance", "chimestack", "on", ...asViewer]), 1, "[HTTP 403]");
    oneLineError(await cli(["token", "create", "--role", "boss"]), 2, "--role: expected admin, operator or viewer");
    expect((await cli(["token", "revoke", id])).stdout).toBe(`token ${id} revoked\n`);
    oneLineError(await cli(["status", "chimestack", ...asViewer]), 1, "[HTTP 401]");
  });

  it("delete: a cluster needs --yes; sites with clusters are refused; tokens, webhooks, clusters go", async () => {
    const hook = (await api(cp.url, cp.adminToken, "POST", "/v1/webhooks", { format: "generic-json", url: "http://127.0.0.1:9/hook" })) as { webhook: { id: string } };
    expect((await cli(["get", "webhooks"])).stdout).toContain(hook.webhook.id);
    expect((await cli(["delete", "webhook", hook.webhook.id])).stdout).toBe(`webhook ${hook.webhook.id} deleted\n`);
    oneLineError(await cli(["delete", "site", "dc2"]), 1, "site 'dc2' still has clusters; delete them first");
    oneLineError(await cli(["delete", "cluster", "quiet"]), 2, "refusing to delete cluster dc2.quiet without --yes");
    oneLineError(await cli(["delete", "planet", "x"]), 2, "unknown kind 'planet'");
    // First: the never-shimmed cluster stayed quiet all along (one info per group, one warning per fenceless compute node).
    const quiet = (await cli(["events", "quiet", "--all", "--json"])).stdout.trimEnd().split("\n").map((l) => JSON.parse(l) as EventRow);
    const byEngine = quiet.filter((e) => e.actor === "engine");
    console.log(`dc2.quiet: ${byEngine.length} engine events in ${((Date.now() - quietCreatedAt) / 1000).toFixed(0)} s without shims (incl. a control-plane restart)`);
    for (const g of ["server-api", "portal", "mysql", "influxdb", "minio"]) {
      expect(byEngine.filter((e) => e.group === g).map((e) => [e.kind, e.severity])).toEqual([["group.waiting", "info"]]);
    }
    expect(byEngine.filter((e) => e.group === null).map((e) => [e.kind, e.severity, e.node])).toEqual([
      ["compute.no-fence", "warning", "node1"],
      ["compute.no-fence", "warning", "node2"],
    ]);
    const r = await cli(["delete", "cluster", "quiet", "--yes"]);
    expect(r.stdout).toBe("cluster dc2.quiet deleted; its node tokens are revoked\n");
    expect((await cli(["delete", "site", "dc2"])).stdout).toBe("site dc2 deleted\n");
    expect((await cli(["get", "clusters"])).stdout).not.toContain("quiet");
  });

  it("completion: a bash script, and candidates for commands, clusters, groups and values", async () => {
    const r = await cli(["completion", "bash"]);
    expect(r.stdout).toContain("complete -o default -o nosort -F _chime_ha chime-ha");
    execFileSync("bash", ["-n"], { input: r.stdout });
    const comp = async (...words: string[]) => (await cli(["__complete", String(words.length), ...words])).stdout.trim().split("\n").filter(Boolean);
    expect(await comp("sw")).toEqual(["switchover"]);
    expect(await comp("status", "chi")).toEqual(["chimestack"]);
    expect(await comp("switchover", "chimestack", "")).toEqual(["server-api", "portal", "mysql", "influxdb", "minio"]);
    expect(await comp("switchover", "chimestack", "portal", "--to", "")).toEqual(["server1", "server2", "node1", "node2"]);
    expect(await comp("maintenance", "dc1.chimestack", "o")).toEqual(["on", "off"]);
    expect(await comp("get", "")).toContain("webhooks");
    expect(await comp("events", "--f")).toEqual(["--follow"]);
    expect(await comp("--context", "")).toEqual(["local"]);
    oneLineError(await cli(["completion", "fish"]), 2, "only bash");
  });

  it("installs with npm from a clone and from the packed tarball, and runs from any directory", async () => {
    // A clone: the files a checkout has (node_modules linked), built and packed by npm itself.
    const clone = join(dir, "clone");
    for (const p of ["package.json", "package-lock.json", "tsconfig.json", "README.md", "scripts", "node-shim", "protocol", "examples", "test/support"]) cpSync(join(REPO_ROOT, p), join(clone, p), { recursive: true });
    symlinkSync(join(REPO_ROOT, "node_modules"), join(clone, "node_modules"));
    const npm = (args: string[], cwd: string) => execFileSync("npm", [...args, "--no-audit", "--no-fund", "--loglevel=error"], { cwd, encoding: "utf8", env: { ...process.env, npm_config_cache: join(dir, "npm-cache"), npm_config_update_notifier: "false" } });
    const packed = npm(["pack", "--pack-destination", dir], clone).trim().split("\n").at(-1)!;
    const listing = execFileSync("tar", ["-tzf", join(dir, packed)], { encoding: "utf8" });
    expect(listing).toContain("package/dist/chime-ha.mjs");
    expect(listing).toContain("package/dist/chime-ha-shim.mjs");
    expect(listing).not.toContain("package/node-shim/cli/");
    const elsewhere = mkdtempSync(join(tmpdir(), "chs-elsewhere-"));
    try {
      for (const [what, source] of [
        ["tarball", join(dir, packed)],
        ["clone", clone],
      ] as const) {
        const prefix = join(dir, `prefix-${what}`);
        npm(["install", "-g", "--prefix", prefix, source], elsewhere);
        const version = execFileSync(join(prefix, "bin/chime-ha"), ["--version"], { cwd: elsewhere, encoding: "utf8", env: { PATH: process.env.PATH } });
        expect(version.trim(), what).toMatch(/^\d+\.\d+\.\d+$/);
        const st = execFileSync(join(prefix, "bin/chime-ha"), ["get", "clusters", "--url", cp.url, "--token-file", join(dir, "admin.token")], { cwd: elsewhere, encoding: "utf8", env: { PATH: process.env.PATH } });
        expect(st, what).toContain("dc1.chimestack");
        expect(execFileSync(join(prefix, "bin/chime-ha-shim"), ["--help"], { cwd: elsewhere, encoding: "utf8" }), what).toContain("chime-ha node agent");
      }
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
    }
  }, 120_000);
});
