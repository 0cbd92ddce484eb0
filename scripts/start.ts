// `npm start`: the whole control plane on this machine. Applies the D1 migrations locally, makes
// sure .dev.vars has an ADMIN_TOKEN, runs `wrangler dev` on 127.0.0.1, loads
// examples/chimestack.yaml as cluster dc1.chimestack (once), prints the URL and tokens, and stays
// in the foreground until Ctrl-C (which stops wrangler and its workerd).
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { Command } from "commander";
import { z } from "zod";
import { newSecretKeyEntry } from "./secret-key.js";
import { api, ApiCallError, applyMigrations, createCluster, loadSpecFile, REPO_ROOT, WRANGLER_ENV } from "../test/support/control-plane.js";

const program = new Command()
  .name("npm start --")
  .description("run the chime-ha control plane locally (wrangler dev) with the example cluster loaded")
  .option("--ip <address>", "address to listen on", "127.0.0.1")
  .option("--port <port>", "port to listen on", (v) => Number.parseInt(v, 10), 8787)
  .option("--site <id>", "site for the example cluster", "dc1")
  .option("--spec <file>", "cluster spec to load", join(REPO_ROOT, "examples/chimestack.yaml"))
  .option("--no-example", "do not load a cluster")
  .parse();
const opts = z
  .object({ ip: z.string(), port: z.number().int().min(1).max(65535), site: z.string(), spec: z.string(), example: z.boolean() })
  .parse(program.opts());

const DEV_VARS = join(REPO_ROOT, ".dev.vars");
const STATE_DIR = join(REPO_ROOT, ".wrangler/state");
/** Node tokens are shown once by the API; locally we keep them here (gitignored) to reprint them. */
const LOCAL_TOKENS = join(REPO_ROOT, ".wrangler/chime-ha-node-tokens.json");
const NodeTokenFile = z.record(z.string(), z.record(z.string(), z.string()));

/** ADMIN_TOKEN from .dev.vars, generated and appended when absent. */
function adminToken(): string {
  const text = existsSync(DEV_VARS) ? readFileSync(DEV_VARS, "utf8") : "";
  const m = /^ADMIN_TOKEN\s*=\s*"?([^"\n]+)"?\s*$/m.exec(text);
  if (m?.[1]) return m[1].trim();
  const token = `adm_${randomBytes(24).toString("base64url")}`;
  writeFileSync(DEV_VARS, `${text}${text && !text.endsWith("\n") ? "\n" : ""}ADMIN_TOKEN=${token}\n`, { mode: 0o600 });
  console.log(`chime-ha: wrote a new ADMIN_TOKEN to ${DEV_VARS}`);
  return token;
}

/** CHIME_SECRET_KEYS in .dev.vars (seals webhook secrets and fence credentials), added when absent. */
function ensureSecretKey(): void {
  const text = existsSync(DEV_VARS) ? readFileSync(DEV_VARS, "utf8") : "";
  if (/^CHIME_SECRET_KEYS\s*=/m.test(text)) return;
  writeFileSync(DEV_VARS, `${text}${text && !text.endsWith("\n") ? "\n" : ""}CHIME_SECRET_KEYS=${newSecretKeyEntry()}\n`, { mode: 0o600 });
  console.log(`chime-ha: wrote a new CHIME_SECRET_KEYS to ${DEV_VARS}`);
}

async function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

async function waitHealthy(url: string, isRunning: () => boolean): Promise<void> {
  for (let i = 0; i < 600 && isRunning(); i++) {
    try {
      const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(isRunning() ? `${url}/healthz did not answer within 2 minutes` : "wrangler dev exited");
}

function readTokenFile(): z.infer<typeof NodeTokenFile> {
  try {
    return NodeTokenFile.parse(JSON.parse(readFileSync(LOCAL_TOKENS, "utf8")));
  } catch {
    return {};
  }
}

function saveTokens(clusterId: string, tokens: Record<string, string>): void {
  const all = readTokenFile();
  all[clusterId] = { ...(all[clusterId] ?? {}), ...tokens };
  mkdirSync(join(REPO_ROOT, ".wrangler"), { recursive: true });
  writeFileSync(LOCAL_TOKENS, `${JSON.stringify(all, null, 2)}\n`, { mode: 0o600 });
}

/** Loads the spec as a cluster unless it exists; returns its node tokens (from creation, the local file, or a rotation). */
async function loadExample(url: string, token: string): Promise<{ clusterId: string; nodeTokens: Record<string, string>; created: boolean }> {
  const spec = loadSpecFile(opts.spec) as { name?: unknown; nodes?: { name?: unknown }[] };
  const clusterId = `${opts.site}.${String(spec.name)}`;
  try {
    await api(url, token, "GET", `/v1/clusters/${encodeURIComponent(clusterId)}`);
  } catch (err) {
    if (!(err instanceof ApiCallError && err.status === 404)) throw err;
    const made = await createCluster(url, token, spec, opts.site);
    saveTokens(made.clusterId, made.nodeTokens);
    return { ...made, created: true };
  }
  const known = readTokenFile()[clusterId] ?? {};
  const names = (spec.nodes ?? []).map((n) => String(n.name));
  for (const node of names.filter((n) => !(n in known))) {
    // The registry keeps only hashes: a token we no longer have is rotated so it can be printed.
    const r = z.object({ token: z.string() }).parse(await api(url, token, "POST", `/v1/clusters/${encodeURIComponent(clusterId)}/nodes/${node}/token`));
    known[node] = r.token;
  }
  saveTokens(clusterId, known);
  return { clusterId, nodeTokens: known, created: false };
}

async function main(): Promise<void> {
  const token = adminToken();
  ensureSecretKey();
  if (!(await portFree(opts.ip, opts.port))) {
    throw new Error(`${opts.ip}:${opts.port} is in use (another npm start?); pass --port <n> to use another port`);
  }
  console.log("chime-ha: applying D1 migrations (local)...");
  await applyMigrations(STATE_DIR);

  const url = `http://${opts.ip}:${opts.port}`;
  const wrangler = spawn(
    process.execPath,
    [join(REPO_ROOT, "node_modules/wrangler/bin/wrangler.js"), "dev", "--ip", opts.ip, "--port", String(opts.port), "--persist-to", STATE_DIR, "--show-interactive-dev-session=false", "--env="],
    // Own process group so Ctrl-C / SIGTERM reach wrangler and its workerd children together.
    { cwd: REPO_ROOT, env: { ...process.env, ...WRANGLER_ENV }, stdio: ["ignore", "inherit", "inherit"], detached: true },
  );
  let running = true;
  const exited = new Promise<number>((resolve) =>
    wrangler.once("exit", (code, signal) => {
      running = false;
      resolve(code ?? (signal ? 1 : 0));
    }),
  );
  const stop = (sig: NodeJS.Signals) => {
    if (!running || !wrangler.pid) return;
    try {
      process.kill(-wrangler.pid, sig);
    } catch {
      // already gone
    }
    // Bounded: if wrangler ignores SIGTERM, SIGKILL its group after 5 s.
    setTimeout(() => {
      if (running && wrangler.pid) process.kill(-wrangler.pid, "SIGKILL");
    }, 5_000).unref();
  };
  process.on("SIGINT", () => stop("SIGTERM"));
  process.on("SIGTERM", () => stop("SIGTERM"));

  try {
    await waitHealthy(url, () => running);
    const lines = [`chime-ha control plane: ${url}   (API under ${url}/v1)`, `admin token: ${token}   (from .dev.vars)`];
    if (opts.example) {
      const ex = await loadExample(url, token);
      lines.push(`cluster ${ex.clusterId}: ${ex.created ? "created from" : "already loaded; spec"} ${opts.spec}`);
      lines.push(`node tokens (also in ${LOCAL_TOKENS}):`);
      for (const [node, t] of Object.entries(ex.nodeTokens)) lines.push(`  ${node.padEnd(10)} ${t}`);
    }
    lines.push(`try: curl -H "authorization: Bearer ${token}" ${url}/v1/clusters`, "Ctrl-C stops it.");
    console.log(`\n${lines.join("\n")}\n`);
  } catch (err) {
    stop("SIGTERM");
    await exited;
    throw err;
  }
  process.exitCode = await exited;
}

main().catch((err: unknown) => {
  console.error(`chime-ha: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
