// Runs the real chime-ha Worker in workerd (through `wrangler dev`) for node-side tests, labs and
// benchmarks, with the D1 migrations applied to a private persistence dir, optionally inside a
// network namespace. Only the process group this module started is ever signalled.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { applyMigrations, freePort, REPO_ROOT, WRANGLER_BIN, WRANGLER_ENV } from "../../scripts/lib/control-plane.js";

// The shared, non-test parts live in scripts/lib/control-plane.ts (npm start uses them too).
export { api, ApiCallError, applyMigrations, createCluster, ensureSite, loadSpecFile, REPO_ROOT, WRANGLER_ENV } from "../../scripts/lib/control-plane.js";

const execFileAsync = promisify(execFile);

export interface ControlPlaneOptions {
  /** Address to listen on (default 127.0.0.1). Inside a netns, the namespace host's address. */
  host?: string;
  /** Port (default: a free one on 127.0.0.1; 8787 inside a netns). */
  port?: number;
  /** Run `ip netns exec <netns> ...` (root only). The namespace's `lo` is brought up. */
  netns?: string;
  /** Keep D1/DO state here (not removed by stop()); default: a fresh temp dir removed by stop(). */
  persistDir?: string;
  /** Admin token (default: a random one). */
  adminToken?: string;
  /** wrangler's log level; "warn" drops the per-request log lines (benchmarks). Default "info". */
  logLevel?: "debug" | "info" | "log" | "warn" | "error" | "none";
  /** How long to wait until /healthz answers (default 60 s). */
  readyTimeoutMs?: number;
  /** A wrangler.toml environment (`bench` adds the benchmark's echo baseline); default: the production Worker. */
  wranglerEnv?: string;
}

export interface ControlPlane {
  url: string;
  adminToken: string;
  /** PID of the wrangler process (leader of its own process group; workerd is in that group). */
  pid: number;
  persistDir: string;
  /** wrangler/workerd output so far (for failure messages). */
  logTail(lines?: number): string;
  /** SIGTERM the process group, SIGKILL after 5 s; removes the temp dir if this module made it. Idempotent. */
  stop(): Promise<void>;
  /** SIGKILL the process group now (crash); state on disk is kept, so restart() recovers it. */
  kill(): Promise<void>;
  /** Stop (or after kill) and start again on the same address with the same persisted state. */
  restart(): Promise<void>;
}

const randomToken = () => `adm_${Buffer.from(crypto.getRandomValues(new Uint8Array(24))).toString("base64url")}`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function alive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Waits (bounded) until the process group has no members left. */
async function waitGone(pid: number, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (!alive(pid)) return true;
    await sleep(50);
  }
  return !alive(pid);
}

async function healthy(url: string, netns: string | undefined): Promise<boolean> {
  if (netns) {
    // The caller may have no route into the namespace; ask from inside it.
    try {
      const probe = `fetch(${JSON.stringify(`${url}/healthz`)}, { signal: AbortSignal.timeout(2000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))`;
      await execFileAsync("ip", ["netns", "exec", netns, process.execPath, "-e", probe], { timeout: 5_000 });
      return true;
    } catch {
      return false;
    }
  }
  try {
    const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2_000) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}

export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const host = opts.host ?? "127.0.0.1";
  const netns = opts.netns;
  const port = opts.port ?? (netns ? 8787 : await freePort());
  const adminToken = opts.adminToken ?? randomToken();
  const ownDir = opts.persistDir === undefined;
  const persistDir = opts.persistDir ?? mkdtempSync(join(tmpdir(), "chime-cp-"));
  const readyTimeoutMs = opts.readyTimeoutMs ?? 60_000;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  // The admin token goes in an env file: passing --env-file also keeps wrangler from loading the
  // repo's .dev.vars (written by `npm start`), so the token is exactly ours.
  const envFile = join(persistDir, "control-plane.env");
  const logPath = join(persistDir, "wrangler.log");
  // A fresh key for secrets at rest (worker/secrets/keyring.ts), like a deployment's Worker secret.
  const secretKey = `test:${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64")}`;
  writeFileSync(envFile, `ADMIN_TOKEN=${adminToken}\nCHIME_SECRET_KEYS=${secretKey}\n`, { mode: 0o600 });

  if (netns) await execFileAsync("ip", ["-n", netns, "link", "set", "lo", "up"]);
  await applyMigrations(persistDir, opts.wranglerEnv);

  let child: ChildProcess | null = null;
  let stopped = false;

  const launch = async (): Promise<void> => {
    const args = [
      WRANGLER_BIN,
      "dev",
      "--ip",
      host,
      "--port",
      String(port),
      "--persist-to",
      persistDir,
      "--env-file",
      envFile,
      "--show-interactive-dev-session=false",
      "--inspector-port",
      "0",
      "--log-level",
      opts.logLevel ?? "info",
      // Explicit, so wrangler never guesses: "" is the top-level (production) Worker.
      `--env=${opts.wranglerEnv ?? ""}`,
    ];
    const [cmd, argv] = netns ? ["ip", ["netns", "exec", netns, process.execPath, ...args]] : [process.execPath, args];
    const log = createWriteStream(logPath, { flags: "a" });
    const proc = spawn(cmd, argv, {
      cwd: REPO_ROOT,
      env: { ...process.env, ...WRANGLER_ENV, CI: "true" },
      // Own process group: stop()/kill() signal wrangler AND its workerd/esbuild children.
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    child = proc;
    const onData = (b: Buffer) => log.write(b);
    proc.stdout?.on("data", onData);
    proc.stderr?.on("data", onData);
    const exited = new Promise<never>((_, reject) => {
      proc.once("exit", (code, sig) => {
        log.end();
        reject(new Error(`wrangler dev exited (code ${code}, signal ${sig})`));
      });
      proc.once("error", reject);
    });
    exited.catch(() => undefined); // only interesting while starting
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`wrangler dev not ready within ${readyTimeoutMs} ms`)), readyTimeoutMs);
    });
    // Ready = the Worker itself answers /healthz (works at any --log-level, unlike the "Ready" line).
    const answering = (async () => {
      for (let i = 0; i < 10_000 && child === proc; i++) {
        if (await healthy(url, netns)) return;
        await sleep(150);
      }
      throw new Error("stopped while starting");
    })();
    answering.catch(() => undefined); // reported through the race below
    try {
      await Promise.race([answering, exited, timeout]);
    } catch (err) {
      if (child === proc) child = null;
      if (proc.pid) await killGroup(proc.pid, "SIGKILL");
      throw new Error(`${(err as Error).message}\n--- wrangler log ---\n${tail(logPath, 40)}`);
    } finally {
      clearTimeout(timer);
    }
  };

  const killGroup = async (pid: number, sig: NodeJS.Signals): Promise<void> => {
    try {
      process.kill(-pid, sig);
    } catch {
      return; // already gone
    }
    if (sig === "SIGKILL") {
      await waitGone(pid, 5_000);
      return;
    }
    if (!(await waitGone(pid, 5_000))) {
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        // gone meanwhile
      }
      await waitGone(pid, 5_000);
    }
  };

  const halt = async (sig: NodeJS.Signals) => {
    const pid = child?.pid;
    child = null;
    if (pid) await killGroup(pid, sig);
  };

  const cleanupDir = () => {
    if (ownDir && existsSync(persistDir)) rmSync(persistDir, { recursive: true, force: true });
  };

  try {
    await launch();
  } catch (err) {
    cleanupDir();
    throw err;
  }

  const cp: ControlPlane = {
    url,
    adminToken,
    get pid() {
      return child?.pid ?? -1;
    },
    persistDir,
    logTail: (lines = 40) => tail(logPath, lines),
    async stop() {
      if (stopped) return;
      stopped = true;
      await halt("SIGTERM");
      cleanupDir();
    },
    async kill() {
      await halt("SIGKILL");
    },
    async restart() {
      if (stopped) throw new Error("control plane was stopped; start a new one");
      await halt("SIGTERM");
      await launch();
    },
  };
  return cp;
}

function tail(path: string, lines: number): string {
  try {
    return readFileSync(path, "utf8").split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}
