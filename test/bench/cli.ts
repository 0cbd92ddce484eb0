// `npm run bench:cli`: how long the installed CLI takes to start, beside bare `node` on the same
// machine in the same run (rounds alternate, so load hits both alike), and the old way (tsx on
// the TypeScript sources) once for scale. Prints medians and p90 in ms and the CLI's own cost.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const ROUNDS = Number(process.env.CHIME_BENCH_ROUNDS ?? 20);
const dir = mkdtempSync(join(tmpdir(), "chs-bench-cli-"));
const BIN = join(dir, "chime-ha.mjs");
execFileSync(process.execPath, [join(ROOT, "node_modules/tsx/dist/cli.mjs"), "scripts/build-cli.ts", "--out", BIN], { cwd: ROOT, stdio: "pipe" });

// A stand-in API answering GET /v1/clusters, so `get clusters` measures start + one request.
const server = createServer((req, res) => {
  res.setHeader("content-type", "application/json");
  res.end(req.url?.startsWith("/v1/clusters") ? JSON.stringify({ clusters: [{ id: "dc1.x", site: "dc1", name: "x", specVersion: 1, createdAt: 0, updatedAt: 0 }] }) : "{}");
});
await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;

const cases: [string, string[]][] = [
  ["node -e 0 (baseline)", ["-e", "0"]],
  ["chime-ha --version", [BIN, "--version"]],
  ["chime-ha validate examples/chimestack.yaml", [BIN, "validate", "examples/chimestack.yaml"]],
  ["chime-ha get clusters (one API call)", [BIN, "get", "clusters", "--url", url, "--token", "x"]],
];

/** Runs in a child so the server above keeps answering while we wait. */
function time(args: string[]): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"], env: { PATH: process.env.PATH, HOME: dir } });
  if (r.status !== 0) throw new Error(`${args.join(" ")} failed: ${r.stderr}`);
  return performance.now() - t0;
}

// spawnSync would block the stand-in API (same process): the API case spawns asynchronously.
const samples = cases.map(() => [] as number[]);
for (let i = 0; i < ROUNDS; i++) {
  for (const [k, [, args]] of cases.entries()) {
    if (args.includes("get")) {
      const t0 = performance.now();
      await new Promise<void>((resolve, reject) => {
        const p = spawn(process.execPath, args, { cwd: ROOT, stdio: "ignore", env: { PATH: process.env.PATH, HOME: dir } });
        p.once("close", (code) => (code === 0 ? resolve() : reject(new Error(`${args.join(" ")} exited ${code}`))));
      });
      samples[k]!.push(performance.now() - t0);
    } else samples[k]!.push(time(args));
  }
}
const tsx = [0, 1, 2].map(() => time([join(ROOT, "node_modules/tsx/dist/cli.mjs"), "node-shim/bin/chime-ha.ts", "--version"]));
server.close();
rmSync(dir, { recursive: true, force: true });

const q = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;
const base = q(samples[0]!, 0.5);
const load = loadavg()[0]!.toFixed(1);
console.log(`chime-ha CLI start-up, ${ROUNDS} alternating rounds, load average ${load} (ms, wall clock of a spawned process):`);
for (const [k, [name]] of cases.entries()) {
  const med = q(samples[k]!, 0.5);
  console.log(`  ${name.padEnd(46)} median ${med.toFixed(0).padStart(4)}  p90 ${q(samples[k]!, 0.9).toFixed(0).padStart(4)}${k === 0 ? "" : `  (+${(med - base).toFixed(0)} over bare node)`}`);
}
console.log(`  ${"tsx node-shim/bin/chime-ha.ts --version (old)".padEnd(46)} median ${q(tsx, 0.5).toFixed(0).padStart(4)}  (3 runs)`);
