// Provenance on the node (issue 18): every command's log line names the spec version the shim
// follows and who made it; an operation's commands also name the operation and who asked for it.
import { afterEach, describe, expect, it } from "vitest";
import { CommandRunner, commandOrigin } from "../../node-shim/command-runner.js";
import { setLogSink } from "../../node-shim/log.js";

describe("command provenance", () => {
  afterEach(() => setLogSink(null));

  it("desired-state commands carry the spec version and its author; an operation's also its id and requester", async () => {
    const lines: Record<string, unknown>[] = [];
    setLogSink((l) => lines.push(JSON.parse(l) as Record<string, unknown>));
    const runner = new CommandRunner("recording");
    runner.origin = { specVersion: 7, specBy: "admin:tok_abc" };
    await runner.run("ip", ["addr", "add", "10.0.0.10/24", "dev", "eth0"]);
    await commandOrigin.run({ operation: "op-3-fence-node1", requestedBy: "engine: node1 declared dead (fencing)" }, async () => {
      await new Promise((r) => setTimeout(r, 1));
      await runner.run("ipmitool", ["chassis", "power", "off"]);
    });
    await runner.run("ip", ["addr", "show"]);
    const cmds = lines.filter((l) => l.msg === "command");
    expect(cmds.map((l) => [l.cmd, l.specVersion, l.specBy, l.operation, l.requestedBy])).toEqual([
      ["ip", 7, "admin:tok_abc", undefined, undefined],
      ["ipmitool", 7, "admin:tok_abc", "op-3-fence-node1", "engine: node1 declared dead (fencing)"],
      ["ip", 7, "admin:tok_abc", undefined, undefined],
    ]);
  });
});
