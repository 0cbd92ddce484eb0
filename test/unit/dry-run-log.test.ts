// Dry-run logs changes, not passes (issue 17): a skipped command that differs from one logged in
// the last minute only by its numbers (a lease timeout, an address lifetime) is left out and
// counted; reads that succeed are not logged; failures always are.
import { afterEach, describe, expect, it } from "vitest";
import { CommandRunner } from "../../node-shim/command-runner.js";
import { setLogSink } from "../../node-shim/log.js";

describe("dry-run log", () => {
  afterEach(() => setLogSink(null));

  it("one line per change, not per renewal; no line for a read that worked", async () => {
    const lines: Record<string, unknown>[] = [];
    setLogSink((l) => lines.push(JSON.parse(l) as Record<string, unknown>));
    const runner = new CommandRunner("dry-run");
    for (let i = 0; i < 5; i++) await runner.run("ip", ["addr", "replace", "10.0.0.10/24", "dev", "eth0", "valid_lft", String(3 + i)]);
    await runner.run("ip", ["addr", "del", "10.0.0.10/24", "dev", "eth0"]);
    await runner.run("true", [], { mutates: false });
    await runner.run("false", [], { mutates: false });
    const cmds = lines.filter((l) => l.msg === "command").map((l) => [l.cmd, ...(l.args as string[])].join(" "));
    expect(cmds).toEqual(["ip addr replace 10.0.0.10/24 dev eth0 valid_lft 3", "ip addr del 10.0.0.10/24 dev eth0", "false"]);
    // Real mode logs every command, as before.
    lines.length = 0;
    const real = new CommandRunner("real");
    await real.run("true", [], { mutates: false });
    await real.run("true", [], { mutates: false });
    expect(lines.filter((l) => l.msg === "command")).toHaveLength(2);
  });
});
