// What `chime-ha-shim --version` prints: the shim version, the build (commit and date, set by
// scripts/build-shim.ts), the runtime, and whether this is the single executable.
import { SHIM_VERSION } from "./core/shim-core.js";

declare const CHIME_SHIM_BUILD: string | undefined;

export function isSingleExecutable(): boolean {
  try {
    // process.getBuiltinModule (Node >= 20.16) works the same from ESM and from the SEA's CommonJS.
    const get = (process as unknown as { getBuiltinModule?: (m: string) => { isSea?: () => boolean } | undefined }).getBuiltinModule;
    return get?.("node:sea")?.isSea?.() ?? false;
  } catch {
    return false;
  }
}

export function versionLine(): string {
  const build = typeof CHIME_SHIM_BUILD === "string" ? CHIME_SHIM_BUILD : "source";
  return `chime-ha-shim ${SHIM_VERSION} (build ${build}; node ${process.version} ${process.platform}-${process.arch}${isSingleExecutable() ? ", single executable" : ""})`;
}
