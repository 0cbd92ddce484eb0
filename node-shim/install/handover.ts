// Upgrade handover. `chime-ha-shim upgrade` (or the lab, doing the same by hand) writes a marker
// naming the running shim's PID, then restarts it. That shim, on SIGTERM, finds the marker meant
// for it and stops WITHOUT releasing: its VIPs stay configured and the control plane's lease runs
// on, and the new process adopts them with its first heartbeat (the engine renews the holder).
// Any other SIGTERM (systemctl stop, a shutdown) releases as usual. A marker is honoured only by
// the PID it names and only for HANDOVER_TTL_MS, so a stale one never keeps a VIP by accident.
// The shim consumes the marker, so it leaves a second note (handover-kept) for the unit's stop
// hook (`chime-ha-shim cleanup`, ExecStopPost): that hook removes the VIPs however the shim ended,
// except after a handover the shim honoured. Without the note (the shim was killed before it
// could honour the marker) the hook cleans up: the next process takes the VIPs again.
import { readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { PATHS } from "./layout.js";

export const HANDOVER_TTL_MS = 60_000;

export const runtimeDir = (): string => process.env.CHIME_HA_RUNTIME_DIR || PATHS.runtimeDir;
const markerPath = (dir: string) => join(dir, "handover");
const keptPath = (dir: string) => join(dir, "handover-kept");

export function writeHandover(dir: string, pid: number, now = Date.now()): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(markerPath(dir), JSON.stringify({ pid, at: now }), { mode: 0o600 });
}

/** True (and the marker is consumed) when a fresh marker names `pid`. */
export function takeHandover(dir: string, pid: number, now = Date.now()): boolean {
  let m: { pid?: unknown; at?: unknown };
  try {
    m = JSON.parse(readFileSync(markerPath(dir), "utf8")) as typeof m;
  } catch {
    return false;
  }
  if (m.pid !== pid || typeof m.at !== "number" || now - m.at > HANDOVER_TTL_MS || now < m.at) return false;
  rmSync(markerPath(dir), { force: true });
  return true;
}

/** Left by the shim `pid` that honoured a handover: its VIPs stay for the next process. */
export function noteHandoverKept(dir: string, pid: number, now = Date.now()): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(keptPath(dir), JSON.stringify({ pid, at: now }), { mode: 0o600 });
}

/** For the stop hook: true (and the note is consumed) when a fresh handover-kept note is there. */
export function takeHandoverKept(dir: string, now = Date.now()): boolean {
  let m: { pid?: unknown; at?: unknown };
  try {
    m = JSON.parse(readFileSync(keptPath(dir), "utf8")) as typeof m;
  } catch {
    return false;
  }
  rmSync(keptPath(dir), { force: true });
  return typeof m.pid === "number" && typeof m.at === "number" && now >= m.at && now - m.at <= HANDOVER_TTL_MS;
}
