// minio-heal: `mc admin heal -r --json <alias>` through the CommandRunner (the alias is configured
// for mc on the node). Healing a large deployment takes a while: a generous timeout.
import type { OperationHandler } from "../apply/types.js";

export const minioHeal: OperationHandler<"minio-heal"> = async (op, ctx) => {
  if (!/^[A-Za-z0-9_.-]+$/.test(op.alias)) return { ok: false, detail: `'${op.alias}' is not an mc alias name` };
  const r = await ctx.runner.run("mc", ["admin", "heal", "-r", "--json", op.alias], { timeoutMs: 3_600_000 });
  const lines = r.stdout.trim().split("\n").filter(Boolean);
  const last = lines.at(-1) ?? "";
  if (r.code !== 0) return { ok: false, detail: `mc admin heal ${op.alias} exited ${r.code}: ${(r.stderr || last).trim().slice(0, 300)}` };
  return { ok: true, detail: `mc admin heal ${op.alias}: ${lines.length} status lines${last ? `; last: ${last.slice(0, 300)}` : ""}` };
};
