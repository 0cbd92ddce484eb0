// The upgrade handover marker (node-shim/install/handover.ts): a SIGTERM keeps the VIPs only for
// the process it names, only while it is fresh, and only once. The unit's stop hook (cleanup.ts,
// ExecStopPost) agrees with it: it leaves the VIPs alone only after a handover the shim honoured.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { cleanupAfterStop } from "../../node-shim/cleanup.js";
import { CommandRunner } from "../../node-shim/command-runner.js";
import { HANDOVER_TTL_MS, noteHandoverKept, takeHandover, takeHandoverKept, writeHandover } from "../../node-shim/install/handover.js";

const dir = mkdtempSync(join(tmpdir(), "chime-handover-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("upgrade handover marker", () => {
  it("is honoured by the PID it names, once, within its lifetime", () => {
    expect(takeHandover(dir, 100, 1000)).toBe(false);
    writeHandover(dir, 100, 1000);
    expect(takeHandover(dir, 101, 1000)).toBe(false);
    expect(takeHandover(dir, 100, 1000 + HANDOVER_TTL_MS + 1)).toBe(false);
    expect(takeHandover(dir, 100, 999)).toBe(false);
    expect(takeHandover(dir, 100, 2000)).toBe(true);
    // Consumed: the next stop of the same process (or its PID reused) releases as usual.
    expect(takeHandover(dir, 100, 2000)).toBe(false);
  });

  it("the stop hook keeps the VIPs only after a handover the shim honoured, once, while the note is fresh", () => {
    expect(takeHandoverKept(dir, 1000)).toBe(false);
    noteHandoverKept(dir, 100, 1000);
    expect(takeHandoverKept(dir, 1000 + HANDOVER_TTL_MS + 1)).toBe(false);
    // A stale note is consumed all the same: it never keeps a VIP later.
    expect(takeHandoverKept(dir, 2000)).toBe(false);
    noteHandoverKept(dir, 100, 1000);
    expect(takeHandoverKept(dir, 2000)).toBe(true);
    expect(takeHandoverKept(dir, 2000)).toBe(false);
  });

  const stateDir = mkdtempSync(join(tmpdir(), "chime-state-"));
  afterAll(() => rmSync(stateDir, { recursive: true, force: true }));
  const recording = () =>
    new CommandRunner("recording")
      .respond(["nft", "list", "table"], { code: 0 })
      .respond(["ip", "-j", "addr", "show"], { stdout: JSON.stringify([{ ifname: "eth1", addr_info: [{ family: "inet", local: "10.0.0.5", prefixlen: 24, label: "eth1" }, { family: "inet", local: "10.0.0.10", prefixlen: 24, label: "eth1:cha" }] }]) });

  it("the stop hook after a plain stop or a kill: VIPs inert first, then only the shim's labelled addresses removed", async () => {
    const r = recording();
    const done = await cleanupAfterStop(r, { stateDir, runtimeDir: dir, settings: {} });
    expect(r.lines().filter((l) => !l.includes("list") && !l.includes("show"))).toEqual([
      "nft flush set ip chime_ha_lease leased; flush set arp chime_ha_lease leased",
      "ip addr del 10.0.0.10/24 dev eth1",
    ]);
    expect(done).toContain("address 10.0.0.10/24 on eth1");
  });

  it("the stop hook after an upgrade handover (the shim honoured the marker naming its PID): nothing touched", async () => {
    writeHandover(dir, process.pid);
    // What the shim does on SIGTERM (node-shim/bin/chime-ha-shim.ts).
    expect(takeHandover(dir, process.pid)).toBe(true);
    noteHandoverKept(dir, process.pid);
    expect(JSON.parse(readFileSync(join(dir, "handover-kept"), "utf8"))).toMatchObject({ pid: process.pid });
    const r = recording();
    expect(await cleanupAfterStop(r, { stateDir, runtimeDir: dir, settings: {} })).toEqual(["upgrade handover: VIPs kept for the new process"]);
    expect(r.lines()).toEqual([]);
    // The next stop (no new handover) cleans up again.
    const r2 = recording();
    await cleanupAfterStop(r2, { stateDir, runtimeDir: dir, settings: {} });
    expect(r2.lines()).toContain("ip addr del 10.0.0.10/24 dev eth1");
  });
});
