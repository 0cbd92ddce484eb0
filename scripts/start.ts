// `npm start`: the whole control plane on this machine, with a live demo cluster. Applies the D1
// migrations locally, makes sure .dev.vars has an ADMIN_TOKEN, runs `wrangler dev` on 127.0.0.1,
// loads examples/chimestack.yaml as cluster dc1.chimestack (or updates it with If-Match when the
// file changed since, printing what changed), starts one dry-run shim per node against stand-in
// services (scripts/lib/demo.ts; `--no-demo` skips it), prints the console URL, the tokens and
// how to make a node fail, and stays in the foreground until Ctrl-C (which stops the shims,
// then wrangler and its workerd).
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join, relative } from "node:path";
import { Command } from "commander";
import { z } from "zod";
import { groupHealthy } from "../protocol/rollup.js";
import { type ClusterSpec, validateSpec } from "../protocol/spec.js";
import type { ClusterStatus } from "../protocol/status.js";
import { api, ApiCallError, apiWithHeaders, applyMigrations, createCluster, loadSpecFile, REPO_ROOT, WRANGLER_BIN, WRANGLER_ENV } from "./lib/control-plane.js";
import { Demo } from "./lib/demo.js";
import { DEMO_COMMANDS, serveDemoControl } from "./lib/demo-control.js";
import { probeHostLb, specForDemoHost } from "./lib/demo-host.js";
import { specChanges } from "./lib/spec-diff.js";
import { newSecretKeyEntry } from "./secret-key.js";

const startedAt = performance.now();
const program = new Command()
  .name("npm start --")
  .description("run the chime-ha control plane locally (wrangler dev) with the example cluster loaded and live")
  .option("--ip <address>", "address to listen on", "127.0.0.1")
  .option("--port <port>", "port to listen on", (v) => Number.parseInt(v, 10), 8787)
  .option("--site <id>", "site for the example cluster", "dc1")
  .option("--spec <file>", "cluster spec to load", join(REPO_ROOT, "examples/chimestack.yaml"))
  .option("--no-example", "do not load a cluster (and run no demo)")
  .option("--no-demo", "do not start the demo shims and stand-in services")
  .parse();
const opts = z
  .object({ ip: z.string(), port: z.number().int().min(1).max(65535), site: z.string(), spec: z.string(), example: z.boolean(), demo: z.boolean() })
  .parse(program.opts());

const DEV_VARS = join(REPO_ROOT, ".dev.vars");
const STATE_DIR = join(REPO_ROOT, ".wrangler/state");
const DEMO_DIR = join(REPO_ROOT, ".wrangler/demo");
const DEMO_CONTROL = join(REPO_ROOT, ".wrangler/chime-ha-demo.json");
/** Node tokens are shown once by the API; locally we keep them here (gitignored) to reprint them. */
const LOCAL_TOKENS = join(REPO_ROOT, ".wrangler/chime-ha-node-tokens.json");
const NodeTokenFile = z.record(z.string(), z.record(z.string(), z.string()));
const rel = (p: string) => relative(process.cwd(), p) || p;
const elapsed = () => `${((performance.now() - startedAt) / 1000).toFixed(1)} s`;

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

const StoredCluster = z.object({ specVersion: z.number(), spec: z.unknown() });
const Updated = z.object({ cluster: z.object({ specVersion: z.number() }).passthrough(), nodeTokens: z.record(z.string(), z.string()) });

/**
 * A loaded cluster whose spec file changed since: the stored spec is replaced (If-Match on the
 * version read, so a concurrent change is not overwritten), and each change is printed.
 */
async function syncSpec(url: string, token: string, clusterId: string, fileSpec: unknown, lines: string[]): Promise<{ spec: ClusterSpec; added: Record<string, string> }> {
  const path = `/v1/clusters/${encodeURIComponent(clusterId)}`;
  const got = await apiWithHeaders(url, token, "GET", path);
  const stored = StoredCluster.parse(got.body);
  const current = validateSpec(stored.spec);
  if (!current.ok) throw new Error(`cluster ${clusterId}: its stored spec does not validate any more: ${current.problems.map((p) => `${p.path}: ${p.message}`).join("; ")}`);
  const wanted = validateSpec(fileSpec);
  if (!wanted.ok) {
    lines.push(`${rel(opts.spec)} has ${wanted.problems.length} problem(s); cluster ${clusterId} keeps spec version ${stored.specVersion}:`);
    for (const p of wanted.problems) lines.push(`  ${p.path}: ${p.message}`);
    return { spec: current.spec, added: {} };
  }
  const changes = specChanges(current.spec, wanted.spec);
  if (changes.length === 0) {
    lines.push(`cluster ${clusterId}: already loaded, spec version ${stored.specVersion} matches ${rel(opts.spec)}`);
    return { spec: current.spec, added: {} };
  }
  const etag = got.headers.get("etag") ?? `"v${stored.specVersion}"`;
  const updated = Updated.parse(await api(url, token, "PUT", `${path}/spec`, { spec: fileSpec }, { "if-match": etag }));
  lines.push(`cluster ${clusterId}: ${rel(opts.spec)} changed; spec version ${stored.specVersion} -> ${updated.cluster.specVersion}:`);
  for (const c of changes) lines.push(`  ${c}`);
  return { spec: wanted.spec, added: updated.nodeTokens };
}

/** Loads the spec as a cluster, or brings a loaded one up to date; returns its spec and node tokens. */
async function loadExample(url: string, token: string, lines: string[]): Promise<{ clusterId: string; spec: ClusterSpec; nodeTokens: Record<string, string> }> {
  let fileSpec = loadSpecFile(opts.spec);
  if (opts.demo) {
    // The demo's dry-run directors read this host's balancer table: load what this host can read.
    const adapted = specForDemoHost(fileSpec, probeHostLb());
    fileSpec = adapted.spec;
    for (const n of adapted.notes) lines.push(`demo: ${n}`);
  }
  const name = (fileSpec as { name?: unknown } | null)?.name;
  const clusterId = `${opts.site}.${String(name)}`;
  try {
    await api(url, token, "GET", `/v1/clusters/${encodeURIComponent(clusterId)}`);
  } catch (err) {
    if (!(err instanceof ApiCallError && err.status === 404)) throw err;
    const made = await createCluster(url, token, fileSpec, opts.site);
    saveTokens(made.clusterId, made.nodeTokens);
    lines.push(`cluster ${made.clusterId}: created from ${rel(opts.spec)}`);
    const v = validateSpec(fileSpec);
    if (!v.ok) throw new Error("the control plane accepted a spec that does not validate here");
    return { clusterId: made.clusterId, spec: v.spec, nodeTokens: made.nodeTokens };
  }
  const synced = await syncSpec(url, token, clusterId, fileSpec, lines);
  const known = { ...(readTokenFile()[clusterId] ?? {}), ...synced.added };
  for (const node of synced.spec.nodes.map((n) => n.name).filter((n) => !(n in known))) {
    // The registry keeps only hashes: a token we no longer have is rotated so it can be printed.
    const r = z.object({ token: z.string() }).parse(await api(url, token, "POST", `/v1/clusters/${encodeURIComponent(clusterId)}/nodes/${node}/token`));
    known[node] = r.token;
  }
  const nodeTokens = Object.fromEntries(synced.spec.nodes.map((n) => [n.name, known[n.name]!]));
  saveTokens(clusterId, nodeTokens);
  return { clusterId, spec: synced.spec, nodeTokens };
}


/** Bounded wait until every group has a holder; prints when it happened. */
async function reportLive(url: string, token: string, clusterId: string, isRunning: () => boolean): Promise<void> {
  const until = performance.now() + 60_000;
  let first = false;
  while (isRunning() && performance.now() < until) {
    try {
      const st = (await api(url, token, "GET", `/v1/clusters/${encodeURIComponent(clusterId)}/status`)) as ClusterStatus;
      // Held by a node that heartbeats and passes its probe (not a holder remembered from the last run).
      const held = st.groups.filter((g) => groupHealthy(st, g));
      if (!first && held.length) {
        first = true;
        console.log(`chime-ha: first live holder after ${elapsed()} (${held.map((g) => `${g.name}: ${g.holder}`).join(", ")})`);
      }
      if (held.length === st.groups.length) {
        console.log(`chime-ha: cluster ${clusterId} is live: every group held by a healthy node, ${elapsed()} after npm start`);
        const g = st.groups[0];
        if (g?.holder) console.log(`chime-ha: ${g.name} (VIP ${g.vip}) is on ${g.holder}; make it fail with \`npm run demo -- kill ${g.holder}\` and watch the VIP move in the console`);
        return;
      }
    } catch {
      // the control plane is busy starting: ask again
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  if (isRunning()) console.log(`chime-ha: not every group of ${clusterId} has a holder after a minute; the console shows why`);
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
    [WRANGLER_BIN, "dev", "--ip", opts.ip, "--port", String(opts.port), "--persist-to", STATE_DIR, "--show-interactive-dev-session=false", "--env="],
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
  let demo: Demo | null = null;
  let control: { close(): Promise<void> } | null = null;
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    // The shims first (they release their groups), then the control plane.
    await control?.close().catch(() => undefined);
    await demo?.close().catch(() => undefined);
    if (!running || !wrangler.pid) return;
    try {
      process.kill(-wrangler.pid, "SIGTERM");
    } catch {
      // already gone
    }
    // Bounded: if wrangler ignores SIGTERM, SIGKILL its group after 5 s.
    setTimeout(() => {
      if (running && wrangler.pid) process.kill(-wrangler.pid, "SIGKILL");
    }, 5_000).unref();
  };
  process.on("SIGINT", () => void stop());
  process.on("SIGTERM", () => void stop());
  process.on("SIGHUP", () => void stop());

  try {
    await waitHealthy(url, () => running);
    const lines = [`chime-ha control plane: ${url}   (API under ${url}/v1)`, `console:    ${url}/   (sign in with the admin token)`, `admin token: ${token}   (from .dev.vars)`];
    let clusterId: string | null = null;
    if (opts.example) {
      const ex = await loadExample(url, token, lines);
      clusterId = ex.clusterId;
      lines.push(`node tokens (also in ${rel(LOCAL_TOKENS)}):`);
      for (const [node, t] of Object.entries(ex.nodeTokens)) lines.push(`  ${node.padEnd(10)} ${t}`);
      if (opts.demo) {
        demo = await Demo.start({ url, clusterId: ex.clusterId, spec: ex.spec, nodeTokens: ex.nodeTokens, dir: DEMO_DIR });
        control = await serveDemoControl(demo, DEMO_CONTROL);
        lines.push(
          "",
          `demo: ${ex.spec.nodes.length} shims in dry-run mode (they change nothing on this host) against stand-in services on 127.0.0.1; logs in ${rel(DEMO_DIR)}/`,
          "  make a node fail and watch its VIPs move:   npm run demo -- kill <node>   (the holder is named below once the cluster is live)",
          "  bring it back:                              npm run demo -- revive <node>",
          "  every demo command:                         npm run demo -- help",
          ...Object.values(DEMO_COMMANDS).map((l) => `      ${l}`),
          "  (npm start -- --no-demo runs no shims)",
        );
      }
    }
    lines.push("", `try: curl -H "authorization: Bearer ${token}" ${url}/v1/fleet`, "Ctrl-C stops it.");
    console.log(`\n${lines.join("\n")}\n`);
    if (demo && clusterId) void reportLive(url, token, clusterId, () => running && !stopping);
  } catch (err) {
    await stop();
    await exited;
    throw err;
  }
  process.exitCode = await exited;
}

main().catch((err: unknown) => {
  console.error(`chime-ha: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
