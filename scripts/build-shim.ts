// `npm run build:shim`: the node agent as one file, dist/chime-ha-shim.mjs, for /opt/chime-ha on
// each node (no node_modules or tsx at run time). Its hashbang carries the same V8 flags as the
// systemd unit, so `./chime-ha-shim.mjs --config ...` runs it the way it was measured.
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SHIM_NODE_FLAGS } from "./build-shim-flags.js";
import { REPO_ROOT } from "./lib/control-plane.js";
import { bundleShim } from "./lib/shim-bundle.js";

const code = await bundleShim();
const file = join(REPO_ROOT, "dist/chime-ha-shim.mjs");
mkdirSync(join(REPO_ROOT, "dist"), { recursive: true });
writeFileSync(file, `#!/usr/bin/env -S node ${SHIM_NODE_FLAGS.join(" ")}\n${code}`);
chmodSync(file, 0o755);
console.log(`${file}: ${(code.length / 1024 / 1024).toFixed(1)} MB`);
