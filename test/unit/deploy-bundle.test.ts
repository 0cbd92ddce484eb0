// What `wrangler deploy` would upload: the production and staging Workers have only the
// production bindings, none of the benchmark's parts, and stay under the Workers size limits
// (scripts/worker-bundle.ts says which); the `bench` environment adds the echo baseline.
// Runs wrangler's own dry run, so the checks follow wrangler.toml as wrangler reads it.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { dryRunBundle, sizeReport, WORKER_LIMITS } from "../../scripts/worker-bundle.js";
import { REPO_ROOT, WRANGLER_ENV } from "../support/control-plane.js";

const run = promisify(execFile);
const bindingsOf = (output: string) => output.slice(output.indexOf("Binding"), output.indexOf("--dry-run: exiting"));

describe("wrangler deploy --dry-run", () => {
  for (const [env, db, queue] of [
    ["", "chime-ha", "chime-ha-alerts"],
    ["staging", "chime-ha-staging", "chime-ha-alerts-staging"],
    ["production", "chime-ha-production", "chime-ha-alerts-production"],
  ] as const) {
    it(`${env || "the local (top-level)"} Worker: its own D1 and queue, no benchmark parts, under the size limit`, { timeout: 120_000 }, async () => {
      const d = await dryRunBundle(env);
      const bindings = bindingsOf(d.output);
      const size = sizeReport(d);
      console.log(`${env || "top-level"}: ${size.line}\n${bindings.trim()}`);
      expect(size.problems).toEqual([]);
      expect(d.gzipBytes).toBeGreaterThan(0);
      expect(d.gzipBytes).toBeLessThanOrEqual(WORKER_LIMITS.gzipBytes);
      expect(bindings).toContain("env.CLUSTER (ClusterObject)");
      expect(bindings).toContain(`env.DB (${db})`);
      expect(bindings).toContain(`env.ALERTS (${queue})`);
      expect(bindings).not.toMatch(/ECHO|EchoObject/);
      expect(d.bundle).not.toContain("/v1/bench/echo");
      expect(d.bundle).not.toContain("EchoObject");
    });
  }

  it("the size check refuses a bundle over either limit", () => {
    expect(sizeReport({ rawBytes: 1000, gzipBytes: WORKER_LIMITS.gzipBytes + 1 }).problems).toHaveLength(1);
    expect(sizeReport({ rawBytes: WORKER_LIMITS.rawBytes + 1, gzipBytes: 10 }).problems).toHaveLength(1);
  });

  it("the bench environment adds the echo baseline", { timeout: 120_000 }, async () => {
    const d = await dryRunBundle("bench");
    expect(d.output).toContain("env.ECHO (EchoObject)");
    expect(d.bundle).toContain("/v1/bench/echo");
  });

  it("npm run deploy refuses placeholder ids before uploading anything, and --dry-run prints the plan", { timeout: 120_000 }, async () => {
    const tsx = join(REPO_ROOT, "node_modules/tsx/dist/cli.mjs");
    const deploy = (...args: string[]) => run(process.execPath, [tsx, "scripts/deploy.ts", ...args], { cwd: REPO_ROOT, env: { ...process.env, ...WRANGLER_ENV }, timeout: 90_000 });
    const err = await deploy("--env", "production").then(
      () => null,
      (e: { code: number; stderr: string }) => e,
    );
    expect(err?.code).toBe(2);
    expect(err?.stderr).toContain("D1 database 'chime-ha-production' has the placeholder id: run `npx wrangler d1 create chime-ha-production`");
    const plan = await deploy("--env", "staging", "--dry-run");
    expect(plan.stdout).toContain("Worker 'chime-ha-staging'");
    expect(plan.stdout).toContain("would apply D1 migrations remotely: wrangler d1 migrations apply DB --remote --env=staging");
    expect(plan.stdout).toContain("would deploy the Worker: wrangler deploy --env=staging");
    expect(plan.stdout).toMatch(/needs secret ADMIN_TOKEN/);
    const bad = await deploy("--env", "dev").then(
      () => null,
      (e: { code: number; stderr: string }) => e,
    );
    expect(bad?.code).toBe(2);
    expect(bad?.stderr).toContain("--env must be staging or production");
  });
});
