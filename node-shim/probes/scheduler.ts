// Runs one probe at its cadence and turns raw results into a reported state with fall/rise:
// `fall` consecutive failures before healthy -> unhealthy, `rise` successes before the way back.
// The first result decides at once (there is no earlier state to protect).
import type { ProbeReport } from "../../protocol/heartbeat.js";
import type { ProbeSpec } from "../../protocol/spec.js";
import { log } from "../log.js";
import type { Probe, ProbeResult } from "./types.js";

/** One probe run: its result, when it started (monotonic ms) and how long it took. */
interface Run {
  result: ProbeResult;
  startedAt: number;
  ms: number;
}

/** The decisive part of a result's facts (not positions, which change with every write). */
function factsKey(r: ProbeResult): string | null {
  const m = r.mysql;
  if (m) return `${m.readOnly}/${m.caughtUp}/${m.ioRunning}/${m.sqlRunning}/${m.errantTransactions}/${m.galeraSynced}/${m.semiSync?.masterStatus}/${m.semiSync?.clients}`;
  if (r.minio) return `${r.minio.live}/${r.minio.writeQuorum}/${r.minio.readQuorum}`;
  return null;
}

/** How soon an expedited probe runs again while it fails and `fall` is not reached yet. */
export const HURRY_MS = 10;

export class ProbeScheduler {
  private healthy: boolean | null = null;
  private streak = 0;
  private last: Run = { result: { ok: false, detail: "not probed yet" }, startedAt: 0, ms: 0 };
  private lastOk: Run | null = null;
  private factsKey: string | null = null;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private running: Promise<void> | null = null;
  /** Set by expedite() (when): run again soon after a failure until the state flips (fall reached) or a run started since passes. */
  private hurrySince: number | null = null;
  private inFlight = false;

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

  /**
   * Something says the service just died (its process exited): probe now rather than at the next
   * interval, and while it fails and is still reported healthy (fall not reached) probe again
   * after HURRY_MS, so `fall` confirms a death in milliseconds instead of `fall` intervals.
   */
  expedite(): void {
    if (this.stopped) return;
    this.hurrySince = performance.now();
    if (this.inFlight) return; // a run under way (it may have started before the death): the next follows it at once
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.tick();
  }

  /** False until the first result: nothing to report yet (never "unhealthy" by default). */
  get hasResult(): boolean { return this.healthy !== null; }

  report(now = performance.now()): ProbeReport {
    const r: ProbeReport = { healthy: this.healthy === true, detail: this.last.result.detail };
    // Still healthy after a failed run (fall not reached): keep the facts of the last good run, or
    // a single blip would drop the mysql/minio report and make the node ineligible at once.
    const facts = this.healthy === true && !this.last.result.ok && this.lastOk ? this.lastOk : this.last;
    if (facts.result.mysql) r.mysql = facts.result.mysql;
    if (facts.result.minio) r.minio = facts.result.minio;
    if (r.mysql || r.minio) {
      // How old the facts are: the control plane orders reports of different nodes by it.
      r.factsAgeMs = Math.max(0, Math.round(now - facts.startedAt));
      r.factsRunMs = Math.round(facts.ms);
    }
    // The outage began after the last successful run started: the control plane dates it so.
    if (!r.healthy && this.lastOk) r.downForMs = Math.max(0, Math.round(now - this.lastOk.startedAt));
    return r;
  }

  /** Feed one raw result (exposed for tests of the fall/rise rule). */
  observe(result: ProbeResult, startedAt = performance.now(), ms = 0): void {
    this.last = { result, startedAt, ms };
    if (result.ok) this.lastOk = this.last;
    const before = this.healthy;
    const factsBefore = this.factsKey;
    if (result.ok) this.factsKey = factsKey(result);
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
    // A pass that began before the death was seen says nothing about it.
    // Reported down already (fall reached, now or before): the usual cadence again.
    if (this.hurrySince !== null && ((result.ok && startedAt >= this.hurrySince) || this.healthy !== true)) this.hurrySince = null;
    if (before !== this.healthy) {
      log("probe state", { probe: this.name, type: this.spec.type, healthy: this.healthy, detail: result.detail });
      this.onChange(this.name, this.report());
    } else if (this.healthy && factsBefore !== null && factsBefore !== this.factsKey) {
      // A fact the control plane decides on changed (a standby caught up, a writer fenced): say so now.
      this.onChange(this.name, this.report());
    }
  }

  private tick(): void {
    if (this.stopped) return;
    const started = performance.now();
    this.inFlight = true;
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
      if (!this.stopped) this.observe(result, started, performance.now() - started);
    })();
    void this.running.finally(() => {
      this.inFlight = false;
      if (this.stopped) return;
      // Expedited during this run: the next one now; still failing toward `fall`: soon.
      const hurry = this.hurrySince;
      const wait = hurry === null ? Math.max(0, this.spec.intervalMs - (performance.now() - started)) : hurry > started ? 0 : HURRY_MS;
      this.timer = setTimeout(() => this.tick(), wait);
      this.timer.unref?.();
    });
  }
}
