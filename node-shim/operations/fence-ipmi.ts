// fence-ipmi: power a dead compute node off out of band, from the chime-server holder, through the
// CommandRunner. The password never appears in argv: it comes from the environment variable the
// spec names and reaches ipmitool as IPMI_PASSWORD (-E). Success means the BMC then reports the
// chassis power off; anything else is a failed fence (and no evacuation follows).
import type { OperationHandler } from "../apply/types.js";

const STATUS_TRIES = 5;
const STATUS_WAIT_MS = 1000;
const COMMAND_TIMEOUT_MS = 20_000;

/** The command's own output, one line (what the alert shows). */
const output = (r: { stdout: string; stderr: string }) => (r.stderr || r.stdout).trim().replace(/\s*\n\s*/g, " / ").slice(0, 300);
const outcome = (code: number) => (code === 124 ? `timed out after ${COMMAND_TIMEOUT_MS / 1000} s` : `exited ${code}`);

export function ipmiInterface(settings: Record<string, unknown>): string {
  const s = settings.ipmi as { interface?: unknown } | undefined;
  return typeof s?.interface === "string" ? s.interface : "lanplus";
}

export const fenceIpmi: OperationHandler<"fence-ipmi"> = async (op, ctx) => {
  // The control plane's copy (v2 operations) or the node's own environment variable.
  const password = op.password ?? (op.passwordEnv ? process.env[op.passwordEnv] : undefined);
  if (!password) {
    return { ok: false, detail: op.passwordEnv ? `cannot fence ${op.target}: environment variable ${op.passwordEnv} (its IPMI password) is not set for the shim` : `cannot fence ${op.target}: no IPMI password was sent (the control plane could not open it)` };
  }
  const base = ["-I", ipmiInterface(ctx.settings), "-H", op.host, "-U", op.user, "-E"];
  const env = { IPMI_PASSWORD: password };
  const off = await ctx.runner.run("ipmitool", [...base, "chassis", "power", "off"], { env, timeoutMs: COMMAND_TIMEOUT_MS });
  if (off.code !== 0) return { ok: false, detail: `ipmitool chassis power off on ${op.host} ${outcome(off.code)}: ${output(off) || "no output"}` };
  // Proof, not hope: the BMC must report the chassis off (bounded retries) before anyone evacuates.
  const seen: string[] = [];
  for (let i = 0; i < STATUS_TRIES; i++) {
    const st = await ctx.runner.run("ipmitool", [...base, "chassis", "power", "status"], { env, timeoutMs: COMMAND_TIMEOUT_MS, mutates: false });
    const said = st.code === 0 ? output(st) : `${outcome(st.code)}: ${output(st) || "no output"}`;
    if (st.code === 0 && /power is off/i.test(st.stdout)) return { ok: true, detail: `${op.target} powered off through IPMI ${op.host} (${said})` };
    seen.push(said);
    if (i < STATUS_TRIES - 1) await new Promise((r) => setTimeout(r, STATUS_WAIT_MS));
  }
  return { ok: false, detail: `power off sent to ${op.host}, but the BMC does not report it off after ${STATUS_TRIES} checks: ${[...new Set(seen)].join(" | ").slice(0, 300) || "no answer"}` };
};
