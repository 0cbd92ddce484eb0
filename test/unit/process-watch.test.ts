// A group's service process watched by name (node-shim/probes/process-watch.ts): its exit is seen
// within milliseconds, and the probe scheduler then confirms the death with `fall` quick runs
// instead of waiting `fall` intervals. Real processes (children of this test, stopped by PID).
import { type ChildProcess, spawn } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { findProcesses, POLL_MS, ProcessWatch, pollTimers } from "../../node-shim/probes/process-watch.js";
import { ProbeScheduler } from "../../node-shim/probes/scheduler.js";
import { ProbeSpec } from "../../protocol/spec.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const children: ChildProcess[] = [];
const watches: ProcessWatch[] = [];
afterEach(() => {
  for (const w of watches.splice(0)) w.stop();
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
});

/** A child process named `name` (process.title sets /proc/PID/comm). */
async function named(name: string): Promise<ChildProcess> {
  const c = spawn(process.execPath, ["-e", `process.title = ${JSON.stringify(name)}; setTimeout(() => {}, 30000)`], { stdio: "ignore" });
  children.push(c);
  for (let i = 0; i < 100 && !findProcesses(name).includes(c.pid!); i++) await sleep(20);
  return c;
}

describe("ProcessWatch", () => {
  it("sees the last process of the name exit at once (one call per death), and a restarted one again", async () => {
    const name = `chw${process.pid % 100000}`;
    const first = await named(name);
    const second = await named(name);
    const gone: { at: number; detail: string }[] = [];
    const w = new ProcessWatch(name, (detail) => gone.push({ at: performance.now(), detail }));
    watches.push(w);
    w.start();
    expect([...w.watching].sort()).toEqual([first.pid, second.pid].sort());
    // One of two exits: the service still runs.
    first.kill("SIGKILL");
    await sleep(200);
    expect(gone).toEqual([]);
    const killedAt = performance.now();
    second.kill("SIGKILL");
    for (let i = 0; i < 100 && gone.length === 0; i++) await sleep(5);
    expect(gone).toHaveLength(1);
    expect(gone[0]!.detail).toBe(`process ${name} (pid ${second.pid}) exited`);
    // Polled every POLL_MS: well under a probe interval (bounded loosely: a busy machine).
    expect(gone[0]!.at - killedAt).toBeLessThan(500);
    await sleep(100);
    expect(gone).toHaveLength(1);
    // Restarted under a new PID: found at the next rescan (1 s), and its exit seen too.
    const third = await named(name);
    for (let i = 0; i < 60 && !w.watching.includes(third.pid!); i++) await sleep(50);
    expect(w.watching).toEqual([third.pid]);
    third.kill("SIGKILL");
    for (let i = 0; i < 100 && gone.length < 2; i++) await sleep(5);
    expect(gone).toHaveLength(2);
  });

  it("every watch is polled on one shared timer, which stops with the last watch", async () => {
    expect(POLL_MS).toBeLessThanOrEqual(5);
    const a = `cha${process.pid % 100000}`;
    const b = `chb${process.pid % 100000}`;
    const pa = await named(a);
    const pb = await named(b);
    const gone: string[] = [];
    const wa = new ProcessWatch(a, () => gone.push(a));
    const wb = new ProcessWatch(b, () => gone.push(b));
    watches.push(wa, wb);
    expect(pollTimers()).toBe(0);
    wa.start();
    wb.start();
    expect(pollTimers()).toBe(1);
    pb.kill("SIGKILL");
    for (let i = 0; i < 100 && gone.length === 0; i++) await sleep(5);
    pa.kill("SIGKILL");
    for (let i = 0; i < 100 && gone.length < 2; i++) await sleep(5);
    expect(gone).toEqual([b, a]);
    wa.stop();
    expect(pollTimers()).toBe(1);
    wb.stop();
    expect(pollTimers()).toBe(0);
  });

  it("finds nothing for a name no process has, and never this process", () => {
    expect(findProcesses("no-such-procxx")).toEqual([]);
    expect(findProcesses(process.title.slice(0, 15))).not.toContain(process.pid);
  });
});

describe("ProbeScheduler.expedite", () => {
  it("fall 2 at a 10 s interval: a death is confirmed by two quick runs, not in 20 s; then the usual cadence", async () => {
    const spec = ProbeSpec.parse({ type: "tcp", port: 1, intervalMs: 10_000, timeoutMs: 100, fall: 2, rise: 1 });
    let ok = true;
    let runs = 0;
    const changes: boolean[] = [];
    const s = new ProbeScheduler("svc", spec, { run: async () => (runs++, { ok, detail: ok ? "open" : "ECONNREFUSED" }) }, (_n, r) => changes.push(r.healthy));
    s.start();
    for (let i = 0; i < 50 && !s.hasResult; i++) await sleep(10);
    expect(s.report().healthy).toBe(true);
    ok = false;
    const at = performance.now();
    s.expedite();
    for (let i = 0; i < 100 && s.report().healthy; i++) await sleep(5);
    expect(s.report().healthy).toBe(false);
    expect(performance.now() - at).toBeLessThan(2000);
    expect(runs).toBe(3);
    // Down is reported: back to the 10 s cadence (no more runs now).
    await sleep(200);
    expect(runs).toBe(3);
    expect(changes).toEqual([true, false]);
    await s.stop();
  });
});
