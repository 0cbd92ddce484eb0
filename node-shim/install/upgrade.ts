// `chime-ha-shim upgrade --binary NEW`: replace the installed executable and restart the service
// without moving a VIP. The new executable must run (`--version`) before anything changes; it
// replaces the old one atomically (the running process keeps its file); then the running shim is
// told to hand over (handover.ts) and the service is restarted: the old process stops without
// releasing, the new one adopts its VIPs on its first heartbeat. That heartbeat must reach the
// control plane within the lease (TTL + margin after the last renewal), or the group moves
// (never to two hosts at once: the old process is gone and the lease rules hold).
import { execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, renameSync } from "node:fs";
import type { CommandRunner } from "../command-runner.js";
import { log } from "../log.js";
import { InstallError } from "./install.js";
import { runtimeDir, writeHandover } from "./handover.js";
import { layout, PATHS, UNIT_NAME } from "./layout.js";

export interface UpgradeOptions {
  binary: string;
  root: string;
}

export async function upgrade(o: UpgradeOptions, runner: CommandRunner): Promise<string[]> {
  const L = layout(o.root);
  if (!existsSync(o.binary)) throw new InstallError(`--binary ${o.binary} does not exist`);
  if (!existsSync(L.binary)) throw new InstallError(`no shim is installed at ${PATHS.binary}; run install first`);
  let version: string;
  try {
    version = execFileSync(o.binary, ["--version"], { encoding: "utf8", timeout: 15_000 }).trim();
  } catch (err) {
    throw new InstallError(`${o.binary} does not run (${(err as Error).message.split("\n")[0]}); nothing was changed`);
  }
  if (!version.startsWith("chime-ha-shim ")) throw new InstallError(`${o.binary} is not chime-ha-shim (it printed '${version.split("\n")[0]!.slice(0, 80)}'); nothing was changed`);
  const tmp = `${L.binary}.new-${process.pid}`;
  copyFileSync(o.binary, tmp);
  chmodSync(tmp, 0o755);
  renameSync(tmp, L.binary);
  const done = [`binary ${PATHS.binary} is now ${version}`];
  if (o.root === "/") {
    const pid = Number((await runner.check("systemctl", ["show", "-p", "MainPID", "--value", UNIT_NAME], { mutates: false })).stdout.trim());
    if (pid > 0) writeHandover(runtimeDir(), pid);
    await runner.check("systemctl", ["restart", UNIT_NAME]);
    done.push(pid > 0 ? `service restarted with handover from pid ${pid} (VIPs kept)` : "service was not running: started");
  } else {
    done.push(`installed under ${o.root} (not restarted)`);
  }
  for (const d of done) log("upgraded", { what: d });
  return done;
}
