// Long-lived sessions (issue 13, takeover speed): a line for an idle session is written in the
// caller's own turn, so a takeover's first nft/ip command is not held back by what the agent does
// synchronously after asking for it (a state file's fsync, building a heartbeat). Lines queued
// behind a running one still go one at a time, in order.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { CommandRunner, type SessionProtocol } from "../../node-shim/command-runner.js";
import { setLogSink } from "../../node-shim/log.js";

// A tool that notes each line with the time it read it, and acknowledges the sentinel on stderr.
const TOOL = `while IFS= read -r l; do case "$l" in ack*) echo "$l" >&2 ;; *) echo "$l $(date +%s%3N)" >> "$OUT" ;; esac; done`;
const PROTOCOL: SessionProtocol = {
  sentinel: (n) => `ack ${n}`,
  isAck: (line, n) => line === `ack ${n}`,
  failed: () => false,
  clean: (stderr) => stderr,
};

describe("command sessions", () => {
  const dirs: string[] = [];
  afterEach(() => {
    setLogSink(null);
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  function tool(): { runner: CommandRunner; out: string; seen: () => { line: string; at: number }[] } {
    const dir = mkdtempSync(join(tmpdir(), "chime-session-"));
    dirs.push(dir);
    const out = join(dir, "lines");
    process.env.OUT = out;
    setLogSink(() => undefined);
    const runner = new CommandRunner("real");
    const seen = () =>
      readFileSync(out, "utf8")
        .trim()
        .split("\n")
        .map((l) => ({ line: l.slice(0, l.lastIndexOf(" ")), at: Number(l.slice(l.lastIndexOf(" ") + 1)) }));
    return { runner, out, seen };
  }

  it("an idle session gets the line before the caller yields", async () => {
    const { runner, seen } = tool();
    try {
      await runner.session("sh", ["-c", TOOL], PROTOCOL, "warm-up");
      const asked = runner.session("sh", ["-c", TOOL], PROTOCOL, "takeover");
      // The caller goes on synchronously for a while (as the agent does after asking).
      const busyUntil = Date.now() + 400;
      while (Date.now() < busyUntil) {
        /* a synchronous fsync and heartbeat, stretched */
      }
      const r = await asked;
      expect(r.code).toBe(0);
      const takeover = seen().find((s) => s.line === "takeover")!;
      // Written in the caller's turn, the tool read it while the caller was still busy.
      expect(takeover.at).toBeLessThan(busyUntil);
    } finally {
      runner.closeSessions();
    }
  });

  it("lines asked for while one runs go one at a time, in order", async () => {
    const { runner, seen } = tool();
    try {
      const results = await Promise.all(["one", "two", "three", "four"].map((l) => runner.session("sh", ["-c", TOOL], PROTOCOL, l)));
      expect(results.map((r) => r.code)).toEqual([0, 0, 0, 0]);
      const after = await runner.session("sh", ["-c", TOOL], PROTOCOL, "five");
      expect(after.code).toBe(0);
      expect(seen().map((s) => s.line)).toEqual(["one", "two", "three", "four", "five"]);
    } finally {
      runner.closeSessions();
    }
  });
});
