// What `wrangler deploy` would upload for one wrangler.toml environment, built by wrangler's own
// dry run, and the Workers size limits it must stay under. Used by `npm run deploy` (before it
// uploads anything) and by test/unit/deploy-bundle.test.ts (in CI).
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import { REPO_ROOT, WRANGLER_ENV } from "./lib/control-plane.js";

const run = promisify(execFile);
export const WRANGLER_BIN = join(REPO_ROOT, "node_modules/wrangler/bin/wrangler.js");

/**
 * Worker size limits (developers.cloudflare.com/workers/platform/limits). chime-ha needs the
 * Workers Paid plan (Queues, Durable Objects at fleet scale), whose compressed limit was 10 MB;
 * we hold the bundle to the strictest limit either plan has had, the Free plan's 3 MiB after
 * compression, and to the 64 MiB uncompressed limit that now applies to every plan. Today's
 * bundle is far below both (README "Deploying").
 */
export const WORKER_LIMITS = { gzipBytes: 3 * 1024 * 1024, rawBytes: 64 * 1024 * 1024 } as const;

export interface DryRun {
  /** wrangler's own output (bindings table, its size line). */
  output: string;
  /** The uploaded JavaScript (every .js module, joined). */
  bundle: string;
  rawBytes: number;
  gzipBytes: number;
}

export async function dryRunBundle(env: string): Promise<DryRun> {
  const outdir = mkdtempSync(join(tmpdir(), "chime-deploy-"));
  try {
    const { stdout, stderr } = await run(process.execPath, [WRANGLER_BIN, "deploy", "--dry-run", "--outdir", outdir, `--env=${env}`], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...WRANGLER_ENV },
      timeout: 90_000,
      maxBuffer: 8 * 1024 * 1024,
    });
    const files = readdirSync(outdir).filter((f) => f.endsWith(".js") || f.endsWith(".mjs"));
    const buffers = files.map((f) => readFileSync(join(outdir, f)));
    const rawBytes = buffers.reduce((n, b) => n + b.length, 0);
    // Cloudflare compresses the whole upload; per-file gzip sums are a close upper bound.
    const gzipBytes = buffers.reduce((n, b) => n + gzipSync(b, { level: 9 }).length, 0);
    return { output: `${stdout}\n${stderr}`, bundle: buffers.map((b) => b.toString("utf8")).join("\n"), rawBytes, gzipBytes };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

const kib = (n: number) => `${(n / 1024).toFixed(0)} KiB`;

/** One line for logs; `problems` is empty when the bundle fits. */
export function sizeReport(d: Pick<DryRun, "rawBytes" | "gzipBytes">): { line: string; problems: string[] } {
  const problems: string[] = [];
  if (d.gzipBytes > WORKER_LIMITS.gzipBytes) problems.push(`compressed size ${kib(d.gzipBytes)} is over the ${kib(WORKER_LIMITS.gzipBytes)} limit`);
  if (d.rawBytes > WORKER_LIMITS.rawBytes) problems.push(`uncompressed size ${kib(d.rawBytes)} is over the ${kib(WORKER_LIMITS.rawBytes)} limit`);
  const pct = ((100 * d.gzipBytes) / WORKER_LIMITS.gzipBytes).toFixed(1);
  return { line: `bundle ${kib(d.rawBytes)}, gzip ${kib(d.gzipBytes)} (${pct}% of the ${kib(WORKER_LIMITS.gzipBytes)} compressed limit)`, problems };
}
