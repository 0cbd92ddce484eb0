// `npm run build:shim`: the node agent as one file, dist/chime-ha-shim.mjs, for /opt/chime-ha on
// each node (no node_modules or tsx at run time). Its hashbang carries the same V8 flags as the
// systemd unit, so `./chime-ha-shim.mjs --config ...` runs it the way it was measured.
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";
import { REPO_ROOT } from "../test/support/control-plane.js";
import { SHIM_NODE_FLAGS } from "./build-shim-flags.js";


const out = await build({
  entryPoints: [join(REPO_ROOT, "node-shim/bin/chime-ha-shim.ts")],
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  write: false,
  // CommonJS dependencies (ws, yaml, mysql2) call require(): give the ESM bundle one.
  banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
  logLevel: "warning",
});
// Replace the source's dev hashbang (tsx) with the production one.
const code = out.outputFiles[0]!.text.replace(/^#![^\n]*\n/, "");
const file = join(REPO_ROOT, "dist/chime-ha-shim.mjs");
mkdirSync(join(REPO_ROOT, "dist"), { recursive: true });
writeFileSync(file, `#!/usr/bin/env -S node ${SHIM_NODE_FLAGS.join(" ")}\n${code}`);
chmodSync(file, 0o755);
console.log(`${file}: ${(code.length / 1024 / 1024).toFixed(1)} MB`);
