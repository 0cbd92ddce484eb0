// `npm run deploy -- --env staging|production [--dry-run]`: put the control plane on Cloudflare.
// 1. wrangler.toml's environment must have real ids (not the all-zero placeholders).
// 2. The bundle is built by wrangler's dry run and checked against the Workers size limits.
// 3. D1 migrations are applied remotely BEFORE the new code goes live: migrations only add
//    (tables, nullable columns), so the running version keeps working on the new schema.
// 4. `wrangler deploy --env <env>`; Durable Objects pick up the new code on their next start and
//    migrate their persisted state themselves (worker/cluster/state-schema.ts).
// 5. The Worker secrets it needs are listed, and any that are missing are named.
// With --dry-run only 1 and 2 run and the commands of 3-5 are printed.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { Command } from "commander";
import { unstable_readConfig } from "wrangler";
import { REPO_ROOT, WRANGLER_ENV } from "./lib/control-plane.js";
import { dryRunBundle, sizeReport, WRANGLER_BIN } from "./worker-bundle.js";

/** Worker secrets the control plane reads (set with `wrangler secret put NAME --env <env>`). */
export const REQUIRED_SECRETS = [
  { name: "ADMIN_TOKEN", why: "the bootstrap admin token (create scoped tokens with it, then keep it offline)" },
  { name: "CHIME_SECRET_KEYS", why: "keys that encrypt webhook signing secrets and fence credentials at rest (`npm run secrets:new-key`)" },
];
const PLACEHOLDER = /^0{8}-0{4}-0{4}-0{4}-0{12}$/;

const program = new Command()
  .name("npm run deploy --")
  .requiredOption("--env <name>", "wrangler environment: staging or production")
  .option("--dry-run", "check the configuration and the bundle, print what would run, deploy nothing")
  .option("--skip-migrations", "do not apply D1 migrations (they are applied already)")
  .parse();
const opts = program.opts<{ env: string; dryRun?: boolean; skipMigrations?: boolean }>();

if (!["staging", "production"].includes(opts.env)) {
  console.error(`--env must be staging or production (wrangler.toml [env.staging] / [env.production]), not '${opts.env}'`);
  process.exit(2);
}

const config = unstable_readConfig({ config: join(REPO_ROOT, "wrangler.toml"), env: opts.env });
const problems: string[] = [];
for (const d of config.d1_databases) {
  if (!d.database_id || PLACEHOLDER.test(d.database_id)) {
    problems.push(`[env.${opts.env}] D1 database '${d.database_name}' has the placeholder id: run \`npx wrangler d1 create ${d.database_name}\` and put its database_id in wrangler.toml`);
  }
}
if (!config.durable_objects.bindings.some((b: { class_name: string }) => b.class_name === "ClusterObject")) problems.push(`[env.${opts.env}] has no ClusterObject Durable Object binding`);
if ((config.vars as Record<string, unknown>).CHIME_LOOPBACK_TEST_MODE !== undefined) problems.push(`[env.${opts.env}] sets CHIME_LOOPBACK_TEST_MODE: that is for tests and local development only`);
if (!config.queues.producers?.some((q: { binding: string }) => q.binding === "ALERTS")) problems.push(`[env.${opts.env}] has no ALERTS queue producer`);

console.log(`chime-ha deploy: Worker '${config.name}' (env ${opts.env})`);
const bundle = await dryRunBundle(opts.env);
const size = sizeReport(bundle);
console.log(`  ${size.line}`);
problems.push(...size.problems);

const wrangler = (...args: string[]) => [process.execPath, WRANGLER_BIN, ...args, `--env=${opts.env}`];
const steps: { what: string; argv: string[] }[] = [
  ...(opts.skipMigrations ? [] : [{ what: "apply D1 migrations remotely", argv: wrangler("d1", "migrations", "apply", "DB", "--remote") }]),
  { what: "deploy the Worker", argv: wrangler("deploy") },
];

if (problems.length) {
  for (const p of problems) console.error(`  refused: ${p}`);
  if (!opts.dryRun) process.exit(2);
}
if (opts.dryRun) {
  for (const s of steps) console.log(`  would ${s.what}: wrangler ${s.argv.slice(2).join(" ")}`);
  for (const s of REQUIRED_SECRETS) console.log(`  needs secret ${s.name}: ${s.why}`);
  process.exit(0);
}

for (const s of steps) {
  console.log(`  ${s.what}: wrangler ${s.argv.slice(2).join(" ")}`);
  const r = spawnSync(s.argv[0]!, s.argv.slice(1), { cwd: REPO_ROOT, stdio: "inherit", env: { ...process.env, ...WRANGLER_ENV } });
  if (r.status !== 0) {
    console.error(`  failed: ${s.what} (exit ${r.status}); nothing after it ran`);
    process.exit(1);
  }
}

// Secrets can only be listed once the Worker exists, so this check comes last.
const listed = spawnSync(process.execPath, [WRANGLER_BIN, "secret", "list", "--format", "json", `--env=${opts.env}`], { cwd: REPO_ROOT, encoding: "utf8", env: { ...process.env, ...WRANGLER_ENV } });
let have: string[] = [];
try {
  have = (JSON.parse(listed.stdout) as { name: string }[]).map((s) => s.name);
} catch {
  console.error("  could not list the Worker's secrets; check them with `npx wrangler secret list`");
}
for (const s of REQUIRED_SECRETS) {
  if (!have.includes(s.name)) console.error(`  missing secret ${s.name} (${s.why}): npx wrangler secret put ${s.name} --env ${opts.env}`);
}
console.log(`chime-ha deploy: done (${config.name})`);
