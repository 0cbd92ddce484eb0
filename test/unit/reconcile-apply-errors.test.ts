// The shim's side of truthful status (issue 17): a director that cannot program its balancer says
// so in its heartbeat (command, exit code, stderr tail) until a pass succeeds.
import { describe, expect, it } from "vitest";
import type { DesiredGroup } from "../../protocol/heartbeat.js";
import { CommandRunner } from "../../node-shim/command-runner.js";
import { ShimConfig } from "../../node-shim/config.js";
import { setLogSink } from "../../node-shim/log.js";
import { NodeReconciler } from "../../node-shim/reconcile.js";

const portal: DesiredGroup = {
  name: "portal",
  mode: "active-active-lb",
  vip: "10.0.0.20",
  prefix: 24,
  interface: "eth0",
  ports: [{ port: 80, realPort: 8033, protocol: "tcp" }],
  probe: { type: "tcp", port: 8033, intervalMs: 1000, timeoutMs: 800, fall: 2, rise: 2 },
  member: true,
  role: "holder",
  epoch: 1,
  holder: "server1",
  lb: { backend: "ipvs", scheduler: "rr", realServers: [{ node: "server1", ip: "10.0.0.11", weight: 1 }] },
};

describe("apply errors from load balancing", () => {
  it("an ipvsadm failure is reported until a pass succeeds", async () => {
    setLogSink(null);
    const runner = new CommandRunner("recording");
    let broken = true;
    runner.respond((c) => (c.cmd === "ipvsadm" && broken ? { code: 2, stderr: "Can't initialize ipvs: Protocol not available\nAre you sure that IP Virtual Server is built in the kernel or as module?" } : undefined));
    const cfg = ShimConfig.parse({ controlPlaneUrl: "http://127.0.0.1:1", cluster: "dc1.c", node: "server1", token: "t", resyncSeconds: 1 });
    let now = 0;
    const r = new NodeReconciler(runner, cfg, () => now, () => true);
    await r.enqueue(() => ({ groups: [portal], holding: [portal] }));
    const [e] = r.applyErrors();
    expect(e).toMatchObject({ group: "portal", target: "lb", exitCode: 2 });
    expect(e!.command).toMatch(/^ipvsadm/);
    expect(e!.stderrTail).toContain("Are you sure that IP Virtual Server is built in the kernel");
    broken = false;
    now = 2000;
    await r.enqueue(() => ({ groups: [portal], holding: [portal] }));
    expect(r.applyErrors()).toEqual([]);
  });
});
