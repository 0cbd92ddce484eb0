// The systemd unit the installer writes: node-shim/systemd/chime-ha-shim.service, embedded into
// the bundle and the single executable at build time (scripts/build-shim.ts defines
// CHIME_SHIM_UNIT), read from the source tree when run from source.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

declare const CHIME_SHIM_UNIT: string | undefined;

export function unitText(): string {
  if (typeof CHIME_SHIM_UNIT === "string") return CHIME_SHIM_UNIT;
  return readFileSync(fileURLToPath(new URL("../systemd/chime-ha-shim.service", import.meta.url)), "utf8");
}
