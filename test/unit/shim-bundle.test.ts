// The node agent as it is shipped: the bundle builds and runs without tsx, carries the systemd
// unit it installs and the build it reports; the unit runs the single executable with the V8
// options bench:shim measures. (test/shim/sea.test.ts builds and starts the single executable.)
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SHIM_NODE_FLAGS, SHIM_SEA_NODE_OPTIONS } from "../../scripts/build-shim-flags.js";
import { REPO_ROOT } from "../support/control-plane.js";

describe("shim bundle", () => {
  it("builds one file that runs without node_modules' tsx and with the bundle's flags", () => {
    execFileSync(process.execPath, [join(REPO_ROOT, "node_modules/tsx/dist/cli.mjs"), "scripts/build-shim.ts"], { cwd: REPO_ROOT, stdio: "pipe" });
    const file = join(REPO_ROOT, "dist/chime-ha-shim.mjs");
    const first = readFileSync(file, "utf8").split("\n", 1)[0];
    expect(first).toBe(`#!/usr/bin/env -S node ${SHIM_NODE_FLAGS.join(" ")}`);
    const run = (...args: string[]) => execFileSync(process.execPath, [...SHIM_NODE_FLAGS, file, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    expect(run("--help")).toMatch(/run \[options\][\s\S]*install \[options\][\s\S]*uninstall \[options\][\s\S]*upgrade \[options\]/);
    expect(run("run", "--help")).toContain("--config");
    expect(run("--version").trim()).toMatch(/^chime-ha-shim \d+\.\d+\.\d+ \(build [0-9a-f]{7,}(\+changes)? \d{4}-\d\d-\d\d; node v20\.\d+\.\d+ linux-\w+\)$/);
    // The unit the installer writes is embedded: the bundle's text equals the source file.
    const unit = readFileSync(join(REPO_ROOT, "node-shim/systemd/chime-ha-shim.service"), "utf8");
    expect(readFileSync(file, "utf8")).toContain(JSON.stringify(unit).slice(1, 200));
  }, 60_000);

  it("the unit runs the single executable with the options bench:shim measures", () => {
    const unit = readFileSync(join(REPO_ROOT, "node-shim/systemd/chime-ha-shim.service"), "utf8").split("\n");
    expect(unit.find((l) => l.startsWith("ExecStart="))).toBe("ExecStart=/opt/chime-ha/bin/chime-ha-shim --config /etc/chime-ha/shim.yaml");
    expect(unit.find((l) => l.startsWith("Environment=") && l.includes("NODE_OPTIONS"))).toBe(`Environment="NODE_OPTIONS=${SHIM_SEA_NODE_OPTIONS.join(" ")}"`);
    // Both options are allowed in NODE_OPTIONS (a single executable takes no flags on its command line).
    for (const o of SHIM_SEA_NODE_OPTIONS) expect(process.allowedNodeEnvironmentFlags.has(o.split("=")[0]!), o).toBe(true);
    expect(unit).toContain("RuntimeDirectoryPreserve=restart");
  });
});
