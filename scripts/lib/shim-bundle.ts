// The node agent as one ESM file (esbuild): what `npm run build:shim` installs on the nodes and
// what `npm start`'s demo runs, so both run the same bundle (no tsx at run time).
import { join } from "node:path";
import { build } from "esbuild";
import { REPO_ROOT } from "./control-plane.js";

/** The bundled shim's code, without a hashbang. */
export async function bundleShim(): Promise<string> {
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
  // The source's dev hashbang (tsx) goes; callers add the one they need.
  return out.outputFiles[0]!.text.replace(/^#![^\n]*\n/, "");
}
