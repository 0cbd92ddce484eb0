// exec probe: a command that exits 0 when the service is fine (like keepalived's vrrp_script).
// Runs through the CommandRunner as a read, so dry-run still probes.
import type { ProbeFactory } from "./types.js";

export const execProbe: ProbeFactory<"exec"> = (spec, ctx) => ({
  async run() {
    const [cmd, ...args] = spec.command;
    const r = await ctx.runner.run(cmd!, args, { timeoutMs: spec.timeoutMs, mutates: false });
    const out = (r.stdout.trim() || r.stderr.trim()).split("\n")[0]?.slice(0, 200) ?? "";
    return r.code === 0 ? { ok: true, detail: `exec ok${out ? `: ${out}` : ""}` } : { ok: false, detail: `exec exited ${r.code}${out ? `: ${out}` : ""}` };
  },
});
