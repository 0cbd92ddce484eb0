// Shadow mode on the node: which shadow groups' VIPs are on this host right now (put there by the
// HA system in place, keepalived), and since when. It only reads: one `ip -o -4 addr show` through
// the CommandRunner to start (and again every resyncSeconds, in case an event was missed), and one
// long-lived `ip -o -4 monitor address` that prints each address change as it happens, so a move
// is reported the moment it happens (onChange: the agent heartbeats at once).
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import type { ObservedVip } from "../protocol/heartbeat.js";
import type { CommandRunner } from "./command-runner.js";
import { log } from "./log.js";

const ADDRESS = /\binet (\d{1,3}(?:\.\d{1,3}){3})\/\d+/;

export class VipObserver {
  /** group -> its VIP, for the shadow groups being watched. */
  private groups = new Map<string, string>();
  /** VIP -> present, since (shim clock). */
  private state = new Map<string, { present: boolean; since: number }>();
  private monitor: ChildProcess | null = null;
  private resync: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly runner: CommandRunner,
    private readonly clock: () => number,
    private readonly onChange: () => void,
    private readonly resyncMs: number,
  ) {}

  /** Watch these shadow groups (none: stop watching). */
  watch(groups: { name: string; vip: string }[]): void {
    const next = new Map(groups.map((g) => [g.name, g.vip]));
    const same = next.size === this.groups.size && [...next].every(([k, v]) => this.groups.get(k) === v);
    if (same) return;
    this.groups = next;
    if (next.size === 0) return this.stopWatching();
    if (!this.resync && !this.stopped) {
      void this.read();
      this.resync = setInterval(() => void this.read(), this.resyncMs);
      this.startMonitor();
    }
  }

  /** What the heartbeat reports: per watched group, whether its VIP is here and for how long. */
  observed(now: number): ObservedVip[] {
    return [...this.groups].map(([group, vip]) => {
      const s = this.state.get(vip);
      return { group, present: s?.present ?? false, forMs: s ? Math.max(0, Math.round(now - s.since)) : 0 };
    });
  }

  stop(): void {
    this.stopped = true;
    this.stopWatching();
  }

  private stopWatching(): void {
    if (this.resync) clearInterval(this.resync);
    this.resync = null;
    const m = this.monitor;
    this.monitor = null;
    if (m?.pid && m.exitCode === null) m.kill("SIGTERM");
  }

  private set(vip: string, present: boolean): void {
    const cur = this.state.get(vip);
    if (cur && cur.present === present) return;
    this.state.set(vip, { present, since: this.clock() });
    if ([...this.groups.values()].includes(vip)) {
      log("shadow: VIP " + (present ? "appeared" : "went away"), { vip });
      this.onChange();
    }
  }

  /** The whole picture, read back (start, and drift repair). */
  private async read(): Promise<void> {
    const r = await this.runner.run("ip", ["-o", "-4", "addr", "show"], { mutates: false, timeoutMs: 3000 });
    if (r.code !== 0) return;
    const here = new Set<string>();
    for (const line of r.stdout.split("\n")) {
      const m = ADDRESS.exec(line);
      if (m) here.add(m[1]!);
    }
    for (const vip of this.groups.values()) this.set(vip, here.has(vip));
  }

  /** Address changes as they happen (restarted if it ends while watching). */
  private startMonitor(): void {
    if (this.runner.mode === "recording" || this.stopped || this.monitor) return;
    const child = spawn("ip", ["-o", "-4", "monitor", "address"], { stdio: ["ignore", "pipe", "ignore"] });
    this.monitor = child;
    log("shadow: watching addresses", { pid: child.pid });
    createInterface({ input: child.stdout! }).on("line", (line) => {
      const m = ADDRESS.exec(line);
      if (!m) return;
      this.set(m[1]!, !/^Deleted\b/.test(line));
    });
    child.on("error", () => undefined);
    child.on("exit", () => {
      if (this.monitor !== child) return;
      this.monitor = null;
      if (this.resync && !this.stopped) {
        setTimeout(() => {
          if (this.resync && !this.stopped) {
            void this.read();
            this.startMonitor();
          }
        }, 1000);
      }
    });
  }
}
