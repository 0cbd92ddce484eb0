// The compute node's chime-agent probe: `systemctl is-active chime-agent` through the runner.
import { describe, expect, it } from "vitest";
import { CommandRunner } from "../../node-shim/command-runner.js";
import { chimeAgentProbeSpec } from "../../node-shim/probes/chime-agent.js";
import { createProbe } from "../../node-shim/probes/index.js";

describe("chime-agent probe", () => {
  it("is healthy only while the unit is active, and runs exactly systemctl is-active", async () => {
    const runner = new CommandRunner("recording").respond(["systemctl", "is-active", "chime-agent"], { code: 3, stdout: "failed\n" });
    const probe = createProbe(chimeAgentProbeSpec(), { host: "127.0.0.1", runner, settings: {} });
    expect(await probe.run(AbortSignal.timeout(1000))).toEqual({ ok: false, detail: "exec exited 3: failed" });
    runner.respond(["systemctl", "is-active", "chime-agent"], { code: 0, stdout: "active\n" });
    expect(await probe.run(AbortSignal.timeout(1000))).toEqual({ ok: true, detail: "exec ok: active" });
    expect(runner.lines()).toEqual(["systemctl is-active chime-agent", "systemctl is-active chime-agent"]);
    expect(() => chimeAgentProbeSpec("x; reboot")).toThrow(/not a systemd unit name/);
  });
});
