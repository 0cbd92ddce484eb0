// The agent as a node gets it: `npm run build:shim` builds the single executable (Node included);
// it prints its version, links only against glibc >= 2.28's libraries, heartbeats to a real
// control plane (wrangler dev), and installs, upgrades and uninstalls itself under a temporary
// root inside a network namespace this suite creates — uninstall removes only the shim's own
// addresses (<iface>:cha) and nftables table (ip chime_ha), nothing else of the host's.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadShimConfig } from "../../node-shim/config.js";
import type { ClusterStatus } from "../../protocol/status.js";
import { SHIM_SEA_NODE_OPTIONS } from "../../scripts/build-shim-flags.js";
import { REPO_ROOT } from "../support/control-plane.js";
import { adminGet, createLocalCluster, labSpec, startLocalControlPlane, type LocalControlPlane } from "./support/control-plane.js";
import { labUnavailable } from "./support/netns.js";

const exec = promisify(execFile);
const SEA = join(REPO_ROOT, `dist/chime-ha-shim-linux-${process.arch}`);
const missing = (await labUnavailable(["ip", "nft", "systemctl", "readelf", "objdump"])) ?? null;
if (missing && process.env.CI === "true") throw new Error(`single-executable suite cannot run: ${missing}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const dir = mkdtempSync(join(tmpdir(), "chime-sea-"));
const NS = `chs-i${process.pid % 100000}`;

describe.runIf(missing === null)("single executable: build, run, install, upgrade, uninstall", () => {
  let cp: LocalControlPlane | null = null;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    const t0 = Date.now();
    const out = await exec(process.execPath, [join(REPO_ROOT, "node_modules/tsx/dist/cli.mjs"), "scripts/build-shim.ts", "--sea"], { cwd: REPO_ROOT, timeout: 180_000, maxBuffer: 16 * 1024 * 1024 });
    console.log(`npm run build:shim took ${((Date.now() - t0) / 1000).toFixed(1)} s:\n${out.stdout.trim()}`);
  }, 200_000);

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    await cp?.stop();
    await exec("ip", ["netns", "del", NS]).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  it("prints its version and needs only glibc (>= 2.28) libraries", async () => {
    const version = (await exec(SEA, ["--version"])).stdout.trim();
    expect(version).toMatch(/^chime-ha-shim \d+\.\d+\.\d+ \(build [0-9a-f]{7,}(\+changes)? \d{4}-\d\d-\d\d; node v20\.\d+\.\d+ linux-\w+, single executable\)$/);
    const needed = [...(await exec("readelf", ["-d", SEA])).stdout.matchAll(/NEEDED.*\[(.+)\]/g)].map((m) => m[1]!.replace(/\.so.*$/, ""));
    expect(needed.filter((l) => !["libdl", "libstdc++", "libm", "libgcc_s", "libpthread", "libc", "ld-linux-x86-64", "ld-linux-aarch64"].includes(l))).toEqual([]);
    const glibc = [...new Set([...(await exec("objdump", ["-T", SEA], { maxBuffer: 64 * 1024 * 1024 })).stdout.matchAll(/GLIBC_(\d+)\.(\d+)/g)].map((m) => Number(m[1]) * 1000 + Number(m[2])))];
    expect(Math.max(...glibc)).toBeLessThanOrEqual(2028);
    console.log(`${SEA}: ${(statSync(SEA).size / 1024 / 1024).toFixed(1)} MB; ${version}; links ${needed.join(", ")}; newest glibc symbol 2.${Math.max(...glibc) - 2000}`);
  });

  it("heartbeats to a real control plane (the node is alive there) and stops cleanly on SIGTERM", { timeout: 120_000 }, async () => {
    cp = await startLocalControlPlane();
    const { id, tokens } = await createLocalCluster(cp, "sea", labSpec("10.231.66", { groups: [] }));
    const tokenFile = join(dir, "node-token");
    writeFileSync(tokenFile, `${tokens.server1}\n`, { mode: 0o600 });
    const cfg = join(dir, "shim.yaml");
    writeFileSync(cfg, [`controlPlaneUrl: ${cp.url}`, `cluster: ${id}`, "node: server1", "tokenFile: node-token", "interface: lo", "dryRun: true", ""].join("\n"));
    const shim = spawn(SEA, ["--config", cfg], { env: { ...process.env, NODE_OPTIONS: SHIM_SEA_NODE_OPTIONS.join(" ") }, stdio: ["ignore", "pipe", "pipe"] });
    children.push(shim);
    let out = "";
    shim.stdout!.on("data", (d: Buffer) => (out += String(d)));
    shim.stderr!.on("data", (d: Buffer) => (out += String(d)));
    let st: ClusterStatus | null = null;
    for (let i = 0; i < 100; i++) {
      st = (await adminGet(cp, `/v1/clusters/${id}/status`)) as ClusterStatus;
      if (st.nodes.find((n) => n.name === "server1")?.alive) break;
      await sleep(200);
    }
    expect(st!.nodes.find((n) => n.name === "server1")?.alive, out.slice(-2000)).toBe(true);
    expect(out).toContain('"msg":"version"');
    expect(out).toContain("single executable");
    // Everything is bundled: nothing asks the single executable's require() for a file.
    expect(out).not.toContain("only supports loading built-in modules");
    const exited = new Promise<number | null>((r) => shim.once("exit", (code) => r(code)));
    shim.kill("SIGTERM");
    expect(await exited).toBe(0);
  });

  it("installs under a temporary root (files, modes, enabled unit), upgrades, and uninstalls only its own addresses and rules", { timeout: 60_000 }, async () => {
    const root = join(dir, "root");
    const tokenFile = join(dir, "given-token");
    writeFileSync(tokenFile, "cha_node_installtest\n", { mode: 0o644 });
    // A host with its own address and nftables table, plus what a shim leaves behind.
    await exec("ip", ["netns", "add", NS]);
    const ns = (...args: string[]) => exec("ip", ["netns", "exec", NS, ...args]);
    // (A veth pair: this kernel has no dummy device type.)
    await ns("ip", "link", "add", "d0", "type", "veth", "peer", "name", "d1");
    await ns("ip", "link", "set", "d0", "up");
    await ns("ip", "addr", "add", "10.250.0.5/24", "dev", "d0");
    await ns("ip", "addr", "add", "10.250.0.10/24", "dev", "d0", "label", "d0:cha");
    await ns("ip", "addr", "add", "10.250.0.11/24", "dev", "d0", "label", "d0:other");
    await ns("nft", "add", "table", "ip", "chime_ha");
    await ns("nft", "add", "table", "ip", "site_firewall");
    const sea = (...args: string[]) => ns(SEA, ...args);

    const inst = await sea("install", "--root", root, "--control-plane", "https://ha.example.com", "--cluster", "dc1.chimestack", "--node", "server1", "--token-file", tokenFile, "--interface", "d0");
    expect(inst.stdout).toContain("service enabled under");
    const at = (p: string) => join(root, p);
    expect(statSync(at("etc/chime-ha/node-token")).mode & 0o777).toBe(0o600);
    expect(statSync(at("etc/chime-ha")).mode & 0o777).toBe(0o700);
    expect(readFileSync(at("etc/chime-ha/node-token"), "utf8")).toBe("cha_node_installtest\n");
    expect(statSync(at("opt/chime-ha/bin/chime-ha-shim")).mode & 0o777).toBe(0o755);
    expect(readFileSync(at("etc/systemd/system/chime-ha-shim.service"), "utf8")).toBe(readFileSync(join(REPO_ROOT, "node-shim/systemd/chime-ha-shim.service"), "utf8"));
    const link = at("etc/systemd/system/multi-user.target.wants/chime-ha-shim.service");
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readlinkSync(link)).toBe("/etc/systemd/system/chime-ha-shim.service");
    // The config is what the agent reads; its token file resolves next to it.
    const cfg = loadShimConfig(at("etc/chime-ha/shim.yaml"));
    expect(cfg).toMatchObject({ controlPlaneUrl: "https://ha.example.com", cluster: "dc1.chimestack", node: "server1", interface: "d0", tokenFile: at("etc/chime-ha/node-token") });
    // The installed executable runs.
    expect((await exec(at("opt/chime-ha/bin/chime-ha-shim"), ["--version"])).stdout).toMatch(/^chime-ha-shim /);

    // Upgrade: a new executable that runs replaces the old one; anything else changes nothing.
    expect((await sea("upgrade", "--root", root, "--binary", SEA)).stdout).toMatch(/binary \/opt\/chime-ha\/bin\/chime-ha-shim is now chime-ha-shim/);
    const notShim = await sea("upgrade", "--root", root, "--binary", "/bin/true").then(
      () => null,
      (e: { code: number; stderr: string }) => e,
    );
    expect(notShim?.code).toBe(1);
    expect(notShim?.stderr).toMatch(/is not chime-ha-shim .*nothing was changed/);

    const un = await sea("uninstall", "--root", root);
    expect(un.stdout).toContain("address 10.250.0.10/24 on d0");
    expect(un.stdout).toContain("nftables table ip chime_ha");
    const addrs = (await ns("ip", "-4", "-o", "addr", "show", "dev", "d0")).stdout;
    expect(addrs).toContain("10.250.0.5/24");
    expect(addrs).toContain("10.250.0.11/24");
    expect(addrs).not.toContain("10.250.0.10/24");
    const tables = (await ns("nft", "list", "tables")).stdout;
    expect(tables).toContain("table ip site_firewall");
    expect(tables).not.toContain("chime_ha");
    for (const p of ["etc/chime-ha/shim.yaml", "etc/chime-ha/node-token", "etc/systemd/system/chime-ha-shim.service", "opt/chime-ha/bin/chime-ha-shim"]) expect(existsSync(at(p)), p).toBe(false);
    expect(existsSync(link)).toBe(false);
  });
});
