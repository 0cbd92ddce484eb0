// `npm run build:cli`: the operator CLI as one file, dist/chime-ha.mjs (no node_modules, no tsx at
// run time), so `npm install -g` of a clone or of the packed tarball gives a `chime-ha` that
// works in any directory and starts in a fraction of the time tsx needs. Minified: V8 compiles
// the whole file at every start, so fewer bytes is a faster start. `--out FILE` writes elsewhere
// (tests build their own copy); the file is written under a temporary name and renamed, so a
// reader never sees half of it.
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = fileURLToPath(new URL("../", import.meta.url));
const version = (JSON.parse(readFileSync(`${root}package.json`, "utf8")) as { version: string }).version;

const out = await build({
  entryPoints: [`${root}node-shim/bin/chime-ha.ts`],
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  minify: true,
  write: false,
  define: { CHIME_HA_VERSION: JSON.stringify(version) },
  // CommonJS dependencies (yaml, commander) call require(): give the ESM bundle one.
  banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
  logLevel: "warning",
});
// Replace the source's dev hashbang (tsx) with a plain one.
const code = out.outputFiles[0]!.text.replace(/^#![^\n]*\n/, "");
const outArg = process.argv.indexOf("--out");
const file = outArg > 0 && process.argv[outArg + 1] ? process.argv[outArg + 1]! : `${root}dist/chime-ha.mjs`;
mkdirSync(dirname(file), { recursive: true });
const tmp = `${file}.${process.pid}.tmp`;
writeFileSync(tmp, `#!/usr/bin/env node\n${code}`);
chmodSync(tmp, 0o755);
renameSync(tmp, file);
console.log(`${file}: ${(code.length / 1024).toFixed(0)} KiB`);
