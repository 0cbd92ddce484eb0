// The installed shim runs with --lite-mode (no WebAssembly), where the global fetch cannot load
// undici's parser and crashes the process; it also costs ~12 MB. Shim code (node-shim/, minus the
// operator CLI, which runs without those flags) uses node-shim/http-client.ts instead.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../support/control-plane.js";

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith(".ts") ? [p] : [];
  });
}

describe("the shim never uses the global fetch", () => {
  it("no fetch( call in node-shim outside the CLI", () => {
    const offenders: string[] = [];
    for (const f of files(join(REPO_ROOT, "node-shim"))) {
      const rel = relative(REPO_ROOT, f);
      if (rel.startsWith("node-shim/cli/") || rel === "node-shim/bin/chime-ha.ts") continue;
      readFileSync(f, "utf8")
        .split("\n")
        .forEach((line, i) => {
          if (/(^|[^\w.])fetch\(/.test(line) && !line.trim().startsWith("//")) offenders.push(`${rel}:${i + 1}: ${line.trim()}`);
        });
    }
    expect(offenders).toEqual([]);
  });

  it("and that is why: under --lite-mode a fetch kills the process", () => {
    let code = 0;
    let stderr = "";
    try {
      execFileSync(process.execPath, ["--lite-mode", "-e", 'fetch("http://127.0.0.1:1/").catch(() => {})'], { stdio: "pipe", timeout: 10_000 });
    } catch (err) {
      const e = err as { status: number; stderr: Buffer };
      code = e.status;
      stderr = String(e.stderr);
    }
    expect(code).not.toBe(0);
    expect(stderr).toContain("WebAssembly is not defined");
  });
});
