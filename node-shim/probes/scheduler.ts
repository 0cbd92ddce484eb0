// Runs one probe at its cadence and turns raw results into a reported state with fall/rise:
// `fall` consecutive failures before healthy -> unhealthy, `rise` successes before the way back.
// The first result decides at once (there is no earlier state to protect).
import type { ProbeReport } from "../../protocol/heartbeat.js";
import type { ProbeSpec } from "../../protocol/spec.js";
import { log } from "../log.js";
import type { Probe, ProbeResult } from "./types.js";

export class ProbeScheduler {
  private healthy: boolean | null = null;
  private streak = 0;
  private last: ProbeResult = { ok: false, detail: "not probed yet" };
  private lastOk: ProbeResult | null = null;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private running: Promise<void> | null = null;

  constructor(
    readonly name: string,
    readonly spec: ProbeSpec,
    private readonly probe: Probe,
    /** Called when the reported state flips (not on every run). */
    private readonly onChange: (name: string, report: ProbeReport) => void,
  ) {}

  start(): void {
    this.stopped = false;
    this.tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
    await this.probe.close?.();
  }

  /** False until the first result: nothing to report yet (never "unhealthy" by default). */
  get hasResult(): boolean { return this.healthy !== null; }

  report(): ProbeReport {
    const r: ProbeReport = { healthy: this.healthy === true, detail: this.last.detail };
    // Still healthy after a failed run (fall not reached): keep the facts of the last good run, or
    // a single blip would drop the mysql/minio report and make the node ineligible at once.
    const facts = this.healthy === true && !this.last.ok && this.lastOk ? this.lastOk : this.last;
    if (facts.mysql) r.mysql = facts.mysql;
    if (facts.minio) r.minio = facts.minio;
    return r;
  }

  /** Feed one raw result (exposed for tests of the fall/rise rule). */
  observe(result: ProbeResult): void {
    this.last = result;
    if (result.ok) this.lastOk = result;
    const before = this.healthy;
    if (this.healthy === null) {
      this.healthy = result.ok;
      this.streak = 0;
    } else if (result.ok === this.healthy) {
      this.streak = 0;
    } else {
      this.streak++;
      if (this.streak >= (result.ok ? this.spec.rise : this.spec.fall)) {
        this.healthy = result.ok;
        this.streak = 0;
      }
    }
    if (before !== this.healthy) {
      log("probe state", { probe: this.name, type: this.spec.type, healthy: this.healthy, detail: result.detail });
      this.onChange(this.name, this.report());
    }
  }

  private tick(): void {
    if (this.stopped) return;
    const started = performance.now();
    this.running = (async () => {
      const ctl = new AbortController();
      const t = setTimeout(() => ctl.abort(), this.spec.timeoutMs);
      let result: ProbeResult;
      try {
        result = await this.probe.run(ctl.signal);
      } catch (err) {
        result = { ok: false, detail: `probe failed: ${(err as Error).message}` };
      } finally {
        clearTimeout(t);
      }
      if (!this.stopped) this.observe(result);
    })();
    void this.running.finally(() => {
      if (this.stopped) return;
      const wait = Math.max(0, this.spec.intervalMs - (performance.now() - started));
      this.timer = setTimeout(() => this.tick(), wait);
      this.timer.unref?.();
    });
  }
}
