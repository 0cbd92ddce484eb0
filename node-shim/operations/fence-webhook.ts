// fence-webhook: ask an external fencing service (PDU, cloud API, hypervisor manager) to power a
// dead compute node off. Only a 2xx answer counts as fenced.
import type { OperationHandler } from "../apply/types.js";
import { httpErrorDetail, httpRequest } from "../http-client.js";
import { authHeaders } from "./http-auth.js";

export const fenceWebhook: OperationHandler<"fence-webhook"> = async (op, ctx) => {
  const body = JSON.stringify({ action: "power-off", node: op.target, requestId: op.id });
  try {
    const r = await httpRequest(op.url, {
      method: "POST",
      // The control plane's credential (v2 operations) or the node's own (settings.fenceWebhook.tokenEnv).
      headers: { "content-type": "application/json", "user-agent": "chime-ha-shim", ...(op.authorization ? { authorization: op.authorization } : authHeaders(ctx.settings, "fenceWebhook")) },
      body,
      signal: AbortSignal.timeout(15_000),
    });
    const text = r.text.slice(0, 300);
    if (r.status >= 200 && r.status < 300) return { ok: true, detail: `fence webhook ${r.status}${text ? `: ${text}` : ""}` };
    return { ok: false, detail: `fence webhook ${op.url} answered ${r.status}${text ? `: ${text}` : ""}` };
  } catch (err) {
    return { ok: false, detail: `fence webhook ${op.url}: ${httpErrorDetail(err)}` };
  }
};
