// The operator CLI's commands that need no control plane, run through the BUILT one-file
// `chime-ha` (as installed): `plan` reproduces the HA guide's two tables from
// examples/chimestack.yaml row for row, `validate` names each problem by path and line and exits
// 1, contexts and completion work offline, usage errors are one line with exit 2. And the shim's
// config: examples/shim.yaml fits the example spec, and config errors are one line naming the
// file and the field.
import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { ConfigError, loadShimConfig, parseShimConfig, resolveToken } from "../../node-shim/config.js";
import { readSpecFile } from "../../node-shim/cli/spec-file.js";
import { planTables } from "../../node-shim/cli/plan.js";
import { validateCommand } from "../../node-shim/cli/validate.js";
import { mysqlSettings } from "../../node-shim/probes/mysql.js";
import { REPO_ROOT } from "../support/control-plane.js";

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), "chs-cli-"));
const BIN = join(dir, "chime-ha.mjs");
const HOME = join(dir, "home");
beforeAll(() => {
  execFileSync(process.execPath, [join(REPO_ROOT, "node_modules/tsx/dist/cli.mjs"), "scripts/build-cli.ts", "--out", BIN], { cwd: REPO_ROOT, stdio: "pipe" });
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [BIN, ...args], { cwd: REPO_ROOT, timeout: 20_000, env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME, XDG_CONFIG_HOME: join(HOME, ".config"), ...env } });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

// The guide's tables (2.4 High Availability Setting), verbatim.
const GUIDE_NODES = [
  ["ServerNode1", "server1.chime.com", "192.168.231.11", "master node of management service"],
  ["ServerNode2", "server2.chime.com", "192.168.231.12", "slave node of management service"],
  ["Node1", "node1.chime.com", "192.168.231.101", "computing node1"],
  ["Node2", "node2.chime.com", "192.168.231.102", "computing node2"],
];
const GUIDE_ENDPOINTS = [
  ["192.168.231.11:8801", "chime-server", "Server1 API's real endpoint"],
  ["192.168.231.12:8801", "chime-server", "Server2 API's real endpoint"],
  ["192.168.231.10:8801", "chime-server", "Server API's VIP endpoint"],
  ["192.168.231.11:8802", "chime-server", "Server1 grpc's real endpoint"],
  ["192.168.231.12:8802", "chime-server", "Server2 grpc's real endpoint"],
  ["192.168.231.10:8802", "chime-server", "Server grpc's VIP endpoint"],
  ["192.168.231.11:8033", "chime-portal", "Server1 web UI's real endpoint"],
  ["192.168.231.12:8033", "chime-portal", "Server2 web UI's real endpoint"],
  ["192.168.231.20:80", "chime-portal", "web UI's VIP endpoint"],
  ["192.168.231.11:3306", "mysql", "Server1's mysql's real endpoint"],
  ["192.168.231.12:3306", "mysql", "Server2's mysql's real endpoint"],
  ["192.168.231.30:3306", "mysql", "mysql's VIP endpoint"],
  ["192.168.231.11:8086", "influxdb", "Server1's influxdb's real endpoint"],
  ["192.168.231.12:8086", "influxdb", "Server2's influxdb's real endpoint"],
  ["192.168.231.40:8086", "influxdb", "influxdb's VIP endpoint"],
  ["192.168.231.11:9000", "minio", "Server1's minio's real endpoint"],
  ["192.168.231.12:9000", "minio", "Server2's minio's real endpoint"],
  ["192.168.231.50:9000", "minio", "minio's VIP endpoint"],
];

/** Cells of the markdown table rows in `text` that follow the header starting with `first`. */
function tableRows(text: string, first: string): string[][] {
  const lines = text.split("\n");
  const start = lines.findIndex((l) => l.startsWith(`| ${first} `));
  const rows: string[][] = [];
  for (const l of lines.slice(start + 2)) {
    if (!l.startsWith("|")) break;
    rows.push(l.slice(1, -1).split("|").map((c) => c.trim()));
  }
  return rows;
}

describe("chime-ha plan", () => {
  it("prints the guide's two tables exactly for examples/chimestack.yaml", async () => {
    const r = await cli(["plan", "examples/chimestack.yaml"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("| Node ");
    expect(tableRows(r.stdout, "Node")).toEqual(GUIDE_NODES);
    expect(tableRows(r.stdout, "IP:Port")).toEqual(GUIDE_ENDPOINTS);
  });

  it("derives the rows from any spec: three servers, an unlabelled group, generated node names", () => {
    const base = readSpecFile("examples/chimestack.yaml");
    if (!base.ok) throw new Error("example spec must be valid");
    const spec = structuredClone(base.spec);
    spec.nodes.push({ name: "server3", hostname: "server3.chime.com", ip: "192.168.231.13", prefix: 24, role: "server", priority: 90 });
    spec.groups = [
      { ...spec.groups[0]!, ports: [{ port: 8801, protocol: "tcp", label: "API" }] },
      { ...spec.groups[1]!, ports: [{ port: 443, realPort: 8443, protocol: "tcp" }], members: ["server1", "server3"] },
    ];
    const t = planTables(spec);
    expect(t.nodes.at(-1)).toEqual({ node: "ServerNode3", hostname: "server3.chime.com", ip: "192.168.231.13", description: "server node 3" });
    expect(t.endpoints.map((e) => [e.endpoint, e.description])).toEqual([
      ["192.168.231.11:8801", "Server1 API's real endpoint"],
      ["192.168.231.12:8801", "Server2 API's real endpoint"],
      ["192.168.231.13:8801", "Server3 API's real endpoint"],
      ["192.168.231.10:8801", "Server API's VIP endpoint"],
      ["192.168.231.11:8443", "Server1's chime-portal's real endpoint"],
      ["192.168.231.13:8443", "Server3's chime-portal's real endpoint"],
      ["192.168.231.20:443", "chime-portal's VIP endpoint"],
    ]);
  });
});

describe("chime-ha validate", () => {
  it("accepts the example spec (exit 0)", async () => {
    const r = await cli(["validate", "examples/chimestack.yaml"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/valid \(cluster chimestack: 2 server \+ 2 compute nodes, 5 groups\)/);
  });

  it("names every problem by path and exits 1", async () => {
    const base = readSpecFile("examples/chimestack.yaml");
    if (!base.ok) throw new Error("example spec must be valid");
    const bad = structuredClone(base.spec) as unknown as { nodes: { ip: string }[]; groups: { vip: string; ports: { port: number }[] }[] };
    bad.nodes[1]!.ip = "192.168.231.300";
    bad.groups[2]!.vip = "192.168.231.10";
    bad.groups[0]!.ports[1]!.port = 70000;
    const file = join(dir, "bad.yaml");
    writeFileSync(file, stringify(bad));
    const r = await cli(["validate", file]);
    expect(r.code).toBe(1);
    const lineOf = (text: string, from = 0) => stringify(bad).split("\n").findIndex((l, i) => i >= from && l.includes(text)) + 1;
    expect(r.stderr).toContain(`nodes[1].ip (line ${lineOf("192.168.231.300")}): must be a dotted IPv4 address`);
    expect(r.stderr).toMatch(/groups\[0\]\.ports\[1\]\.port \(line \d+\): port must be 1-65535/);
    const direct = validateCommand(file);
    expect(direct.ok).toBe(false);
  });

  it("reports a cross-field rule with its path, and YAML syntax errors with line and column", () => {
    const base = readSpecFile("examples/chimestack.yaml");
    if (!base.ok) throw new Error("example spec must be valid");
    const dup = structuredClone(base.spec);
    dup.groups[2]!.vip = "192.168.231.10";
    const f1 = join(dir, "dup.yaml");
    writeFileSync(f1, stringify(dup));
    expect(validateCommand(f1).text).toMatch(/groups\[2\]\.vip \(line \d+\): VIP 192\.168\.231\.10 is already used by groups\[0\]/);
    const f2 = join(dir, "broken.yaml");
    writeFileSync(f2, "apiVersion: chime-ha/v1\nnodes: [\n  - a\n");
    const out = validateCommand(f2);
    expect(out.ok).toBe(false);
    expect(out.text).toMatch(/\(yaml\) \(line \d+\): /);
  });
});

describe("chime-ha without a control plane", () => {
  it("--help and --version exit 0; usage errors are one line with exit 2", async () => {
    expect((await cli(["--help"])).code).toBe(0);
    expect((await cli(["--version"])).stdout.trim()).toBe((JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { version: string }).version);
    for (const [args, text] of [
      [["status"], "no control plane URL: pass --url, set CHIME_HA_URL, or add a context"],
      [["nope"], "unknown command 'nope'"],
      [["switchover"], "missing required argument 'cluster'"],
      [["status", "--url", "http://127.0.0.1:9999", "--token-file", "/nonexistent/token"], "cannot read the token file /nonexistent/token (--token-file): ENOENT"],
    ] as const) {
      const r = await cli([...args]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr.trimEnd().split("\n")).toEqual([expect.stringContaining(text)]);
    }
  });

  it("contexts: set, list, use, delete — in $XDG_CONFIG_HOME/chime-ha/config.yaml", async () => {
    expect((await cli(["config", "path"])).stdout.trim()).toBe(join(HOME, ".config/chime-ha/config.yaml"));
    expect((await cli(["config", "set-context", "a", "--url", "http://127.0.0.1:1", "--token-file", "~/a.token"])).code).toBe(0);
    expect((await cli(["config", "set-context", "b", "--url", "https://b.example", "--token-file", "b.token", "--site", "dc2"])).code).toBe(0);
    let r = await cli(["config", "get-contexts"]);
    expect(r.stdout).toMatch(/^\*\s+a\s+http:\/\/127\.0\.0\.1:1\s+~\/a\.token\s+-$/m);
    expect(r.stdout).toMatch(/^\s+b\s+https:\/\/b\.example\s+b\.token\s+dc2$/m);
    expect((await cli(["config", "use-context", "b"])).code).toBe(0);
    expect((await cli(["config", "current-context"])).stdout.trim()).toBe("b");
    // The token file of context b is relative to the config file; ~ is the home directory.
    r = await cli(["status"]);
    expect(r.stderr).toContain(`cannot read the token file ${join(HOME, ".config/chime-ha/b.token")} (context b in`);
    expect((await cli(["status", "--context", "a"])).stderr).toContain(`cannot read the token file ${join(HOME, "a.token")}`);
    r = await cli(["config", "set-context", "c", "--url", "not a url"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("a new context needs --url and --token-file");
    expect((await cli(["config", "delete-context", "b"])).code).toBe(0);
    expect((await cli(["config", "use-context", "b"])).stderr).toContain("no context 'b' (contexts: a)");
    const file = parse(readFileSync(join(HOME, ".config/chime-ha/config.yaml"), "utf8")) as unknown;
    expect(file).toEqual({ contexts: { a: { url: "http://127.0.0.1:1", tokenFile: "~/a.token" } } });
  });

  it("completion: a bash script that bash accepts; commands and option values offline", async () => {
    const script = (await cli(["completion", "bash"])).stdout;
    execFileSync("bash", ["-n"], { input: script });
    const comp = async (...w: string[]) => (await cli(["__complete", String(w.length), ...w])).stdout.trim().split("\n").filter(Boolean);
    expect(await comp("ma")).toEqual(["maintenance"]);
    expect(await comp("get", "-o", "")).toEqual(["table", "json", "yaml"]);
    expect(await comp("operation", "")).toEqual(["backfill", "heal"]);
    expect(await comp("status", "--w")).toEqual(["--watch"]);
    // No control plane: cluster names are simply not offered (no error, no delay worth noting).
    expect(await comp("status", "")).toEqual([]);
  });
});

describe("shim config", () => {
  it("examples/shim.yaml fits examples/chimestack.yaml: its node, its cluster, a mysql settings block, probe overrides for real groups", () => {
    const cfg = loadShimConfig(join(REPO_ROOT, "examples/shim.yaml"));
    const spec = readSpecFile(join(REPO_ROOT, "examples/chimestack.yaml"));
    if (!spec.ok) throw new Error("example spec must be valid");
    expect(cfg.cluster).toBe(`dc1.${spec.spec.name}`);
    expect(spec.spec.nodes.map((n) => n.name)).toContain(cfg.node);
    for (const g of Object.keys(cfg.probes)) expect(spec.spec.groups.map((x) => x.name)).toContain(g);
    if (spec.spec.groups.some((g) => g.mode === "mysql-writer")) expect(mysqlSettings(cfg.settings)).toMatchObject({ user: expect.any(String) });
    expect(mysqlSettings(cfg.settings).peer?.host).toBe(spec.spec.nodes.find((n) => n.name === "server2")!.ip);
  });

  it("errors are one line naming the file, the field and its line; a missing config or token file too", async () => {
    const file = join(dir, "shim.yaml");
    writeFileSync(file, "controlPlaneUrl: http://127.0.0.1:1\ncluster: a.b\nnode: n1\ntokenFile: /nonexistent/node-token\nprobes:\n  portal: { type: tcp, port: 99999 }\n");
    expect(() => loadShimConfig(file)).toThrow(new ConfigError(file, [{ path: "probes.portal.port", message: "port must be 1-65535", line: 6 }]));
    expect(() => loadShimConfig(file)).toThrow(`${file}: probes.portal.port (line 6): port must be 1-65535`);
    writeFileSync(file, "controlPlaneUrl: http://127.0.0.1:1\ncluster: a.b\nnode: n1\ntokenFile: /nonexistent/node-token\nsettings:\n  mysql: { usr: x }\n");
    expect(() => loadShimConfig(file)).toThrow(`${file}: settings.mysql.user: Invalid input: expected string, received undefined; settings.mysql: Unrecognized key: "usr"`);
    writeFileSync(file, "controlPlaneUrl: http://127.0.0.1:1\ncluster: a.b\nnode: n1\ntokenFile: /nonexistent/node-token\n");
    const cfg = parseShimConfig(readFileSync(file, "utf8"), file);
    expect(() => resolveToken(cfg, file)).toThrow(`${file}: tokenFile: cannot read /nonexistent/node-token: ENOENT`);
    expect(() => loadShimConfig(join(dir, "none.yaml"))).toThrow(`${join(dir, "none.yaml")}: cannot read it: ENOENT`);
    // A missing settings.mysql on a node that gets a mysql group: the probe's one clear sentence.
    expect(() => mysqlSettings({})).toThrow("settings.mysql is missing from the shim config: the mysql probe needs the agent's own account");
    // The shim's own entry point: one line on stderr, exit 2, no stack trace.
    for (const [config, text] of [
      [join(dir, "none.yaml"), "cannot read it: ENOENT"],
      [file, "tokenFile: cannot read /nonexistent/node-token: ENOENT"],
    ]) {
      let r: { code: number; stderr: string };
      try {
        await run(process.execPath, ["--import", "tsx", join(REPO_ROOT, "node-shim/bin/chime-ha-shim.ts"), "--config", config!], { cwd: REPO_ROOT, timeout: 30_000 });
        r = { code: 0, stderr: "" };
      } catch (err) {
        r = err as { code: number; stderr: string };
      }
      expect(r.code).toBe(2);
      expect(r.stderr.trimEnd().split("\n")).toEqual([`chime-ha-shim: ${config}: ${text}`]);
    }
  }, 60_000);
});
