// What `npm start`, the demo and the test suites share about a local control plane: where the
// repo is, how wrangler is run offline, the D1 migrations, and a small JSON API client. Test
// support (test/support/control-plane.ts) builds on this; production scripts never import tests.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { parse as parseYaml } from "yaml";
import { z } from "zod";

const execFileAsync = promisify(execFile);

export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const WRANGLER_BIN = join(REPO_ROOT, "node_modules/wrangler/bin/wrangler.js");

/** Offline use: no metrics, no request.cf lookup, no update check noise. */
export const WRANGLER_ENV: NodeJS.ProcessEnv = {
  WRANGLER_SEND_METRICS: "false",
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
  WRANGLER_LOG_SANITIZE: "false",
  NO_UPDATE_NOTIFIER: "1",
  FORCE_COLOR: "0",
};

/**
 * A free port to listen on later (a stand-in, a shim's failsafe listener, wrangler dev). Chosen
 * below the kernel's ephemeral range: a port from that range (what `listen(0)` hands out) can be
 * taken as the source port of any outgoing connection between this check and the later listen,
 * which made a busy CI run fail with EADDRINUSE. Falls back to `listen(0)` when the range below
 * is unusable.
 */
export async function freePort(host = "127.0.0.1"): Promise<number> {
  const [low] = ephemeralRange();
  const from = 20_000;
  if (low - from >= 1000) {
    for (let i = 0; i < 50; i++) {
      const port = from + Math.floor(Math.random() * (low - from));
      if (await canListen(port, host)) return port;
    }
  }
  return listenOnce(0, host);
}

/** The kernel's ephemeral port range (Linux default 32768-60999). */
export function ephemeralRange(): [number, number] {
  try {
    const [a, b] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/).map(Number);
    if (Number.isInteger(a) && Number.isInteger(b)) return [a!, b!];
  } catch {
    // not Linux: the IANA dynamic range
  }
  return [49152, 65535];
}

const canListen = (port: number, host: string) =>
  listenOnce(port, host).then(
    () => true,
    () => false,
  );

function listenOnce(port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(port, host, () => {
      const addr = srv.address();
      const got = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(got));
    });
  });
}

/** `wrangler d1 migrations apply DB --local` into persistDir (idempotent). */
export async function applyMigrations(persistDir: string, wranglerEnv = ""): Promise<void> {
  try {
    await execFileAsync(process.execPath, [WRANGLER_BIN, "d1", "migrations", "apply", "DB", "--local", "--persist-to", persistDir, `--env=${wranglerEnv}`], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...WRANGLER_ENV, CI: "true" },
      timeout: 60_000,
      maxBuffer: 4 * 1024 * 1024,
    });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`wrangler d1 migrations apply failed: ${e.message}\n${e.stdout ?? ""}\n${e.stderr ?? ""}`);
  }
}

/** A spec file (YAML or JSON), parsed; validation happens in the Worker (or validateSpec). */
export function loadSpecFile(path = join(REPO_ROOT, "examples/chimestack.yaml")): unknown {
  return parseYaml(readFileSync(path, "utf8"));
}

const Problem = z.object({ title: z.string().optional(), detail: z.string().optional(), errors: z.array(z.object({ path: z.string(), message: z.string() })).optional() }).passthrough();
const Created = z.object({ cluster: z.object({ id: z.string() }).passthrough(), nodeTokens: z.record(z.string(), z.string()) });

/** Raised for any non-2xx API reply, with the problem+json body when there is one. */
export class ApiCallError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    what: string,
  ) {
    const p = Problem.safeParse(body);
    const text = p.success ? [p.data.title, p.data.detail, ...(p.data.errors ?? []).map((e) => `${e.path}: ${e.message}`)].filter(Boolean).join("; ") : JSON.stringify(body);
    super(`${what}: HTTP ${status}: ${text}`);
  }
}

/** One JSON call to the API with a bearer token; throws ApiCallError on non-2xx. */
export async function api(url: string, token: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<unknown> {
  return (await apiWithHeaders(url, token, method, path, body, headers)).body;
}

/** Like api(), with the reply's headers (ETag). */
export async function apiWithHeaders(url: string, token: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ body: unknown; headers: Headers }> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: keep the text
  }
  if (!res.ok) throw new ApiCallError(res.status, parsed, `${method} ${path}`);
  return { body: parsed, headers: res.headers };
}

/** Creates the site if it does not exist yet (a 409 means someone else just did). */
export async function ensureSite(url: string, adminToken: string, site: string): Promise<void> {
  try {
    await api(url, adminToken, "POST", "/v1/sites", { id: site });
  } catch (err) {
    if (!(err instanceof ApiCallError && err.status === 409)) throw err;
  }
}

/**
 * Creates a cluster from a spec (an object, or YAML/JSON text) in `site` (created if missing).
 * Node tokens are returned once by the API; keep them.
 */
export async function createCluster(url: string, adminToken: string, spec: unknown, site = "dc1"): Promise<{ clusterId: string; nodeTokens: Record<string, string> }> {
  const specObject = typeof spec === "string" ? parseYaml(spec) : spec;
  await ensureSite(url, adminToken, site);
  const created = Created.parse(await api(url, adminToken, "POST", "/v1/clusters", { site, spec: specObject }));
  return { clusterId: created.cluster.id, nodeTokens: created.nodeTokens };
}
