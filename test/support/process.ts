// Ending a server process a test started (by its handle, never by name).
import type { ChildProcess } from "node:child_process";

const running = (c: ChildProcess | null): c is ChildProcess => c !== null && c.exitCode === null && c.signalCode === null;

/** SIGKILL (a crash: no shutdown, nothing flushed) and wait for the exit. */
export async function killProcess(c: ChildProcess | null): Promise<void> {
  if (!running(c)) return;
  const gone = new Promise((r) => c.once("exit", r));
  c.kill("SIGKILL");
  await gone;
}

/** SIGTERM, SIGKILL after `graceMs`, and wait for the exit. */
export async function stopProcess(c: ChildProcess | null, graceMs: number): Promise<void> {
  if (!running(c)) return;
  const gone = new Promise((r) => c.once("exit", r));
  c.kill("SIGTERM");
  const t = setTimeout(() => c.kill("SIGKILL"), graceMs);
  await gone;
  clearTimeout(t);
}
