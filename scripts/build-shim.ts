// `npm run build:shim` (scripts/build-shim.ts --sea): the node agent for the servers.
// - dist/chime-ha-shim.mjs: one ESM file (no node_modules or tsx at run time) for hosts that
//   have Node 20; its hashbang carries the V8 flags the agent is measured with.
// - dist/chime-ha-shim-linux-<arch> (with --sea): a Node single executable application: this
//   Node's own binary (stripped) with the agent injected (postject), so a node needs no Node
//   install. Needs glibc >= 2.28 and Linux >= 4.18 (what the Node 20 binary needs); no other
//   library than libc, libm, libstdc++ and libgcc_s. Another architecture: --node-binary with
//   that architecture's official Node binary of the same version (the blob is made without a
//   code cache, so it does not depend on the architecture) and --arch to name it.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, createReadStream, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import { Command } from "commander";
import { inject } from "postject";
import { SHIM_NODE_FLAGS } from "./build-shim-flags.js";
import { REPO_ROOT } from "./lib/control-plane.js";
import { bundleShim, bundleShimForSea } from "./lib/shim-bundle.js";

const opts = new Command()
  .option("--sea", "also build the single executable")
  .option("--node-binary <file>", "Node binary to build the single executable from (default: this Node)", process.execPath)
  .option("--arch <arch>", "architecture of --node-binary (names the file)", process.arch)
  .parse()
  .opts<{ sea?: boolean; nodeBinary: string; arch: string }>();

const DIST = join(REPO_ROOT, "dist");
mkdirSync(DIST, { recursive: true });
const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;

const code = await bundleShim();
const file = join(DIST, "chime-ha-shim.mjs");
writeFileSync(file, `#!/usr/bin/env -S node ${SHIM_NODE_FLAGS.join(" ")}\n${code}`);
chmodSync(file, 0o755);
console.log(`${file}: ${mb(code.length)}`);

if (opts.sea) {
  const t0 = performance.now();
  const work = mkdtempSync(join(tmpdir(), "chime-sea-"));
  try {
    const nodeVersion = execFileSync(opts.nodeBinary, ["--version"], { encoding: "utf8" }).trim();
    if (opts.nodeBinary !== process.execPath && nodeVersion !== process.version) {
      throw new Error(`--node-binary is Node ${nodeVersion}, this build runs Node ${process.version}: the blob must come from the same version`);
    }
    const main = join(work, "chime-ha-shim.cjs");
    writeFileSync(main, await bundleShimForSea());
    const blob = join(work, "sea-prep.blob");
    writeFileSync(join(work, "sea-config.json"), JSON.stringify({ main, output: blob, disableExperimentalSEAWarning: true, useSnapshot: false, useCodeCache: false }));
    execFileSync(process.execPath, ["--experimental-sea-config", join(work, "sea-config.json")], { stdio: "pipe" });
    const exe = join(work, "chime-ha-shim");
    copyFileSync(opts.nodeBinary, exe);
    chmodSync(exe, 0o755);
    // Symbols are not needed to run (~12 MB less); only for this machine's architecture.
    if (opts.arch === process.arch) {
      try {
        execFileSync("strip", [exe], { stdio: "pipe" });
      } catch {
        console.log("strip is not available: the executable keeps its symbols");
      }
    }
    await inject(exe, "NODE_SEA_BLOB", readFileSync(blob), { sentinelFuse: "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2" });
    const out = join(DIST, `chime-ha-shim-linux-${opts.arch}`);
    renameSync(exe, out);
    const sha = createHash("sha256").update(readFileSync(out)).digest("hex");
    writeFileSync(`${out}.sha256`, `${sha}  chime-ha-shim-linux-${opts.arch}\n`);
    let gz = 0;
    await pipeline(createReadStream(out), createGzip({ level: 6 }), new Writable({ write: (chunk: Buffer, _e, cb) => ((gz += chunk.length), cb()) }));
    const version = opts.arch === process.arch ? execFileSync(out, ["--version"], { encoding: "utf8" }).trim() : "(another architecture: not run here)";
    console.log(`${out}: ${mb(statSync(out).size)} (gzip ${mb(gz)}), built in ${((performance.now() - t0) / 1000).toFixed(1)} s; ${version}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
