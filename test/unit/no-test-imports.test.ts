// Production code (the Worker, the shim and CLI, the shared protocol, the console, the scripts
// behind npm start/deploy/build) never imports test code.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../../scripts/lib/control-plane.js";

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : /\.(ts|tsx|mts)$/.test(f) ? [p] : [];
  });
}

describe("production code", () => {
  it("imports nothing from test/", () => {
    const offenders: string[] = [];
    for (const top of ["worker", "node-shim", "protocol", "console", "scripts"]) {
      for (const f of files(join(REPO_ROOT, top))) {
        for (const m of readFileSync(f, "utf8").matchAll(/(?:from|import)\s*\(?\s*["']([^"']+)["']/g)) {
          const spec = m[1]!;
          if (!spec.startsWith(".")) continue;
          const target = relative(REPO_ROOT, resolve(f, "..", spec));
          if (target.startsWith("test/") || target === "test") offenders.push(`${relative(REPO_ROOT, f)} -> ${spec}`);
        }
      }
    }
    expect(offenders).toEqual([]);
  });
});
