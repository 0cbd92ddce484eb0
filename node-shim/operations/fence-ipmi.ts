// fence-ipmi: power a dead compute node off out of band, from the chime-server holder, through the
// CommandRunner. The password never appears in argv: it comes from the environment variable the
// spec names and reaches ipmitool as IPMI_PASSWORD (-E). Success means the BMC then reports the
// chassis power off; anything else is a failed fence (and no evacuation follows).
import type { OperationHandler } from "../apply/types.js";

const STATUS_TRIES = 5;
const STATUS_WAIT_MS = 1000;

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
  const off = await ctx.runner.run("ipmitool", [...base, "chassis", "power", "off"], { env, timeoutMs: 20_000 });
  if (off.code !== 0) return { ok: false, detail: `ipmitool chassis power off on ${op.host} exited ${off.code}: ${(off.stderr || off.stdout).trim().slice(0, 300)}` };
  let last = "";
  for (let i = 0; i < STATUS_TRIES; i++) {
    const st = await ctx.runner.run("ipmitool", [...base, "chassis", "power", "status"], { env, timeoutMs: 20_000, mutates: false });
    last = (st.stdout || st.stderr).trim();
    if (st.code === 0 && /power is off/i.test(st.stdout)) return { ok: true, detail: `${op.target} powered off through IPMI ${op.host} (${last})` };
    if (i < STATUS_TRIES - 1) await new Promise((r) => setTimeout(r, STATUS_WAIT_MS));
  }
  return { ok: false, detail: `power off sent to ${op.host}, but the BMC does not report it off: ${last.slice(0, 200) || "no answer"}` };
};
