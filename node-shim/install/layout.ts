// Where an installed shim lives. `root` is "/" on a real node; tests (and image builds) install
// into a directory instead: every path below is then under it, while the files themselves name
// the real paths (the unit says /opt/chime-ha/bin/chime-ha-shim, as it will be on the node).
import { join } from "node:path";

export const PATHS = {
  binary: "/opt/chime-ha/bin/chime-ha-shim",
  configDir: "/etc/chime-ha",
  config: "/etc/chime-ha/shim.yaml",
  token: "/etc/chime-ha/node-token",
  unit: "/etc/systemd/system/chime-ha-shim.service",
  wants: "/etc/systemd/system/multi-user.target.wants/chime-ha-shim.service",
  /** Runtime directory (systemd RuntimeDirectory=chime-ha): the upgrade handover marker. */
  runtimeDir: "/run/chime-ha",
} as const;

export const UNIT_NAME = "chime-ha-shim.service";

export type Layout = { root: string } & { [K in keyof typeof PATHS]: string };

export function layout(root = "/"): Layout {
  const at = (p: string) => (root === "/" ? p : join(root, p));
  return { root, ...(Object.fromEntries(Object.entries(PATHS).map(([k, v]) => [k, at(v)])) as { [K in keyof typeof PATHS]: string }) };
}
