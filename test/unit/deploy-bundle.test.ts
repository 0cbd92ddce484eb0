// What `wrangler deploy` would upload: the production Worker (top-level environment) has only
// the production bindings and none of the benchmark's parts; the `bench` environment adds them.
// Runs wrangler's own dry run, so the check follows wrangler.toml as wrangler reads it.
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { REPO_ROOT, WRANGLER_ENV } from "../support/control-plane.js";

const run = promisify(execFile);
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

async function dryRun(env: string): Promise<{ output: string; bundle: string }> {
  const outdir = mkdtempSync(join(tmpdir(), "chime-deploy-"));
  dirs.push(outdir);
  const { stdout, stderr } = await run(process.execPath, [join(REPO_ROOT, "node_modules/wrangler/bin/wrangler.js"), "deploy", "--dry-run", "--outdir", outdir, `--env=${env}`], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...WRANGLER_ENV },
    timeout: 90_000,
    maxBuffer: 8 * 1024 * 1024,
  });
  const js = readdirSync(outdir).filter((f) => f.endsWith(".js"));
  const bundle = js.map((f) => readFileSync(join(outdir, f), "utf8")).join("\n");
  return { output: `${stdout}\n${stderr}`, bundle };
}

describe("wrangler deploy --dry-run", () => {
  it("the production Worker binds no benchmark parts and bundles none", { timeout: 120_000 }, async () => {
    const { output, bundle } = await dryRun("");
    const bindings = output.slice(output.indexOf("Binding"), output.indexOf("--dry-run: exiting"));
    console.log(`production bindings:\n${bindings.trim()}\nbundle ${(bundle.length / 1024).toFixed(0)} KiB, gzip ${(gzipSync(bundle).length / 1024).toFixed(0)} KiB`);
    expect(bindings).toContain("env.CLUSTER (ClusterObject)");
    expect(bindings).toContain("env.DB (chime-ha)");
    expect(bindings).not.toMatch(/ECHO|EchoObject/);
    expect(bundle).not.toContain("/v1/bench/echo");
    expect(bundle).not.toContain("EchoObject");
  });

  it("the bench environment adds the echo baseline", { timeout: 120_000 }, async () => {
    const { output, bundle } = await dryRun("bench");
    expect(output).toContain("env.ECHO (EchoObject)");
    expect(bundle).toContain("/v1/bench/echo");
  });
});
