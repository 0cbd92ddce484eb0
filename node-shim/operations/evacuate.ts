// evacuate: ask the active chime-server (the request in the spec, filled in by the control plane)
// to migrate a fenced compute node's VMs. The control plane only sends this after a successful
// fence or an operator's ack. Only a 2xx answer counts as accepted. The Idempotency-Key header is
// the same for every re-issue of one death's evacuation (the executor may change while a request
// is in flight), so chime-server evacuates the node once.
import type { OperationHandler } from "../apply/types.js";
import { httpErrorDetail, httpRequest } from "../http-client.js";
import { authHeaders } from "./http-auth.js";

export const evacuate: OperationHandler<"evacuate"> = async (op, ctx) => {
  try {
    const r = await httpRequest(op.url, {
      method: op.method,
      headers: { "content-type": "application/json", "user-agent": "chime-ha-shim", ...(op.idempotencyKey ? { "idempotency-key": op.idempotencyKey } : {}), ...authHeaders(ctx.settings, "evacuation") },
      body: op.body,
      signal: AbortSignal.timeout(30_000),
    });
    const text = r.text.slice(0, 300);
    if (r.status >= 200 && r.status < 300) return { ok: true, detail: `http ${r.status}${text ? `: ${text}` : ""}` };
    return { ok: false, detail: `evacuation request ${op.method} ${op.url} answered ${r.status}${text ? `: ${text}` : ""}` };
  } catch (err) {
    return { ok: false, detail: `evacuation request ${op.method} ${op.url}: ${httpErrorDetail(err)}` };
  }
};
