// `chime-ha-shim install`: put this node's agent in place and start it. Writes the binary (this
// single executable itself, or --binary), the config, the token file (0600, directory 0700) and
// the systemd unit, then enables and starts the service. Everything it runs goes through the
// CommandRunner (logged). With --root it installs into a directory instead of the live system:
// the unit is enabled offline (`systemctl --root`) and nothing is started.
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { dirname, relative } from "node:path";
import { stringify } from "yaml";
import type { CommandRunner } from "../command-runner.js";
import { parseShimConfig } from "../config.js";
import { log } from "../log.js";
import { runtimeDir, writeHandover } from "./handover.js";
import { layout, PATHS, UNIT_NAME } from "./layout.js";
import { unitText } from "./unit-text.js";

export interface InstallOptions {
  controlPlane: string;
  cluster: string;
  node: string;
  /** A file holding the node token (as shown once by the API); copied to /etc/chime-ha/node-token. */
  tokenFile: string;
  /** The executable to install (default: the running single executable). */
  binary: string;
  interface?: string;
  root: string;
  /** Replace an existing config (default: keep it; an install over an install only updates the binary and unit). */
  force: boolean;
  /** Enable but do not start (or restart) the service. */
  noStart: boolean;
}

export class InstallError extends Error {}

/** Write a file atomically (temp file, then rename) with a mode. */
export function writeAtomic(path: string, data: string | Buffer, mode: number): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.new-${process.pid}`;
  writeFileSync(tmp, data, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, path);
}

export async function install(o: InstallOptions, runner: CommandRunner): Promise<string[]> {
  const L = layout(o.root);
  const done: string[] = [];
  let url: URL;
  try {
    url = new URL(o.controlPlane);
  } catch {
    throw new InstallError(`--control-plane must be a URL, not '${o.controlPlane}'`);
  }
  if (url.protocol !== "https:" && !["127.0.0.1", "localhost", "[::1]"].includes(url.hostname)) {
    log("warning: the control plane URL is not https; node tokens and leases would cross the network in clear", { url: o.controlPlane });
  }
  if (!existsSync(o.tokenFile)) throw new InstallError(`--token-file ${o.tokenFile} does not exist`);
  const token = readFileSync(o.tokenFile, "utf8").trim();
  if (!token || /\s/.test(token)) throw new InstallError(`--token-file ${o.tokenFile} must hold the node token (one line)`);
  if (!existsSync(o.binary) || !statSync(o.binary).isFile()) throw new InstallError(`the executable to install (${o.binary}) does not exist; pass --binary`);

  // The config names real paths (relative token file: next to the config wherever the root is).
  const config = {
    controlPlaneUrl: o.controlPlane,
    cluster: o.cluster,
    node: o.node,
    tokenFile: relative(PATHS.configDir, PATHS.token),
    ...(o.interface ? { interface: o.interface } : {}),
  };
  const text = `# chime-ha-shim config, written by \`chime-ha-shim install\` (examples/shim.yaml lists every setting).\n${stringify(config)}`;
  parseShimConfig(text, L.config); // the same validation the agent runs; throws with the field at fault

  mkdirSync(L.configDir, { recursive: true, mode: 0o700 });
  chmodSync(L.configDir, 0o700);
  writeAtomic(L.token, `${token}\n`, 0o600);
  done.push(`token ${PATHS.token} (0600)`);
  if (existsSync(L.config) && !o.force) done.push(`config ${PATHS.config} kept (exists; --force replaces it)`);
  else {
    writeAtomic(L.config, text, 0o600);
    done.push(`config ${PATHS.config}`);
  }
  mkdirSync(dirname(L.binary), { recursive: true });
  const tmp = `${L.binary}.new-${process.pid}`;
  copyFileSync(o.binary, tmp);
  chmodSync(tmp, 0o755);
  renameSync(tmp, L.binary);
  done.push(`binary ${PATHS.binary}`);
  writeAtomic(L.unit, unitText(), 0o644);
  done.push(`unit ${PATHS.unit}`);

  if (o.root === "/") {
    await runner.check("systemctl", ["daemon-reload"]);
    await runner.check("systemctl", ["enable", UNIT_NAME]);
    if (!o.noStart) {
      // Installing over a running shim is an upgrade: hand over, so no VIP moves.
      const pid = Number((await runner.run("systemctl", ["show", "-p", "MainPID", "--value", UNIT_NAME], { mutates: false })).stdout.trim()) || 0;
      if (pid > 0) writeHandover(runtimeDir(), pid);
      await runner.check("systemctl", ["restart", UNIT_NAME]);
    }
    done.push(o.noStart ? "service enabled" : "service enabled and (re)started");
  } else {
    // Offline: systemctl only creates the WantedBy link under the root.
    await runner.check("systemctl", [`--root=${o.root}`, "enable", UNIT_NAME]);
    done.push(`service enabled under ${o.root} (not started)`);
  }
  for (const d of done) log("installed", { what: d });
  return done;
}
