// The node agent as it is installed: the bundle builds, starts, and the systemd unit, the bundle's
// hashbang and bench:shim all run it with the same V8 flags.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SHIM_NODE_FLAGS } from "../../scripts/build-shim-flags.js";
import { REPO_ROOT } from "../support/control-plane.js";

describe("shim bundle", () => {
  it("builds one file that runs without node_modules' tsx and with the unit's flags", () => {
    execFileSync(process.execPath, [join(REPO_ROOT, "node_modules/tsx/dist/cli.mjs"), "scripts/build-shim.ts"], { cwd: REPO_ROOT, stdio: "pipe" });
    const file = join(REPO_ROOT, "dist/chime-ha-shim.mjs");
    const first = readFileSync(file, "utf8").split("\n", 1)[0];
    expect(first).toBe(`#!/usr/bin/env -S node ${SHIM_NODE_FLAGS.join(" ")}`);
    const help = execFileSync(process.execPath, [...SHIM_NODE_FLAGS, file, "--help"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    expect(help).toContain("--config");
    const unit = readFileSync(join(REPO_ROOT, "node-shim/systemd/chime-ha-shim.service"), "utf8");
    const exec = unit.split("\n").find((l) => l.startsWith("ExecStart="));
    expect(exec).toBe(`ExecStart=/usr/bin/node ${SHIM_NODE_FLAGS.join(" ")} /opt/chime-ha/dist/chime-ha-shim.mjs --config /etc/chime-ha/shim.yaml`);
  }, 60_000);
});
