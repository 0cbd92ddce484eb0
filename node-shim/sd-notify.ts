// systemd notifications without a native dependency: `systemd-notify --pid=<ours>` (root may
// speak for its own pid; the unit sets NotifyAccess=all) through the CommandRunner. READY=1 at
// start, WATCHDOG=1 from the event loop every third of WatchdogSec while the control loop is
// alive, STOPPING=1 on stop. Outside systemd (no NOTIFY_SOCKET) nothing is sent.
import type { CommandRunner } from "./command-runner.js";
import { log } from "./log.js";

export class SdNotify {
  private timer: NodeJS.Timeout | null = null;
  readonly enabled: boolean;
  /** Watchdog interval asked by systemd (WATCHDOG_USEC), ms; null without a watchdog. */
  readonly watchdogMs: number | null;

  constructor(
    private readonly runner: CommandRunner,
    env: NodeJS.ProcessEnv = process.env,
    private readonly pid: number = process.pid,
  ) {
    this.enabled = Boolean(env.NOTIFY_SOCKET);
    const usec = Number(env.WATCHDOG_USEC);
    // WATCHDOG_PID, when set, names the process the watchdog is for: only that one pings.
    const forUs = env.WATCHDOG_PID === undefined || Number(env.WATCHDOG_PID) === pid;
    this.watchdogMs = this.enabled && forUs && Number.isFinite(usec) && usec > 0 ? usec / 1000 : null;
  }

  private async send(...fields: string[]): Promise<boolean> {
    if (!this.enabled) return false;
    const r = await this.runner.run("systemd-notify", [`--pid=${this.pid}`, ...fields], { mutates: false, timeoutMs: 2000, quiet: fields[0] === "WATCHDOG=1" });
    if (r.code !== 0) log("sd_notify failed", { fields, code: r.code, stderr: r.stderr.trim().slice(0, 200) });
    return r.code === 0;
  }

  /**
   * READY=1, then WATCHDOG=1 every third of the watchdog interval as long as `alive()` says the
   * control loop is making progress (a stalled loop sends nothing, and systemd restarts the shim).
   */
  start(alive: () => boolean): void {
    void this.send("READY=1", `STATUS=chime-ha shim running`);
    if (this.watchdogMs === null) return;
    this.timer = setInterval(() => {
      if (alive()) void this.send("WATCHDOG=1");
      else log("watchdog: control loop not progressing, not notifying", {});
    }, Math.max(100, Math.floor(this.watchdogMs / 3)));
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.send("STOPPING=1");
  }
}
