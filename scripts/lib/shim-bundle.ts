// The node agent bundled by esbuild: one ESM file (what `npm run build:shim` ships for hosts with
// Node, and what `npm start`'s demo runs, so both run the same bundle), and the CommonJS script a
// single executable embeds (scripts/build-shim.ts). Both carry the systemd unit `install` writes
// and the build `--version` reports.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { build, type BuildOptions } from "esbuild";
import { REPO_ROOT } from "./control-plane.js";

function buildId(): string {
  const date = new Date().toISOString().slice(0, 10);
  try {
    const sha = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: REPO_ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], { cwd: REPO_ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim() !== "";
    return `${sha}${dirty ? "+changes" : ""} ${date}`;
  } catch {
    return `unknown ${date}`;
  }
}

const common = (): BuildOptions => ({
  entryPoints: [join(REPO_ROOT, "node-shim/bin/chime-ha-shim.ts")],
  bundle: true,
  platform: "node",
  target: "node20",
  write: false,
  logLevel: "warning",
  define: {
    CHIME_SHIM_UNIT: JSON.stringify(readFileSync(join(REPO_ROOT, "node-shim/systemd/chime-ha-shim.service"), "utf8")),
    CHIME_SHIM_BUILD: JSON.stringify(buildId()),
  },
});

// The source's dev hashbang (tsx) goes; callers add the one they need.
const noHashbang = (text: string) => text.replace(/^#![^\n]*\n/, "");

/** The bundled shim's code (ESM), without a hashbang. */
export async function bundleShim(): Promise<string> {
  const out = await build({
    ...common(),
    format: "esm",
    // CommonJS dependencies (ws, yaml, mysql2) call require(): give the ESM bundle one.
    banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
  });
  return noHashbang(out.outputFiles![0]!.text);
}

/**
 * The script a single executable runs: one CommonJS file whose require() only loads built-in
 * modules, so everything is bundled and ws is told not to look for its optional native add-ons.
 * Minified: a smaller source to hold in memory (~5 MB less RSS than unminified).
 */
export async function bundleShimForSea(): Promise<string> {
  const c = common();
  const out = await build({
    ...c,
    format: "cjs",
    minify: true,
    define: { ...c.define, "import.meta.url": JSON.stringify("file:///opt/chime-ha/bin/chime-ha-shim") },
    banner: { js: 'process.env.WS_NO_BUFFER_UTIL ??= "1"; process.env.WS_NO_UTF_8_VALIDATE ??= "1";' },
  });
  return noHashbang(out.outputFiles![0]!.text);
}
