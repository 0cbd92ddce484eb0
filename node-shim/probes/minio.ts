// minio probe: /minio/health/live (the process), /minio/health/cluster (this node's cluster has
// write quorum) and /minio/health/cluster/read (read quorum). Healthy = live with write quorum;
// the report carries all three so the control plane can say which one failed.
import type { MinioReport } from "../../protocol/heartbeat.js";
import { httpErrorDetail, httpRequest } from "../http-client.js";
import type { ProbeFactory } from "./types.js";

async function ok200(url: string, signal: AbortSignal): Promise<{ ok: boolean; why: string }> {
  try {
    const r = await httpRequest(url, { signal, headers: { "user-agent": "chime-ha-shim" }, discardBody: true });
    return { ok: r.status === 200, why: `http ${r.status}` };
  } catch (err) {
    return { ok: false, why: httpErrorDetail(err, signal) };
  }
}

export const minioProbe: ProbeFactory<"minio"> = (spec, ctx) => ({
  async run(signal) {
    const base = `${spec.scheme}://${ctx.host}:${spec.port}/minio/health`;
    const [live, write, read] = await Promise.all([ok200(`${base}/live`, signal), ok200(`${base}/cluster`, signal), ok200(`${base}/cluster/read`, signal)]);
    const minio: MinioReport = { live: live.ok, writeQuorum: live.ok && write.ok, readQuorum: live.ok && read.ok };
    if (!live.ok) return { ok: false, detail: `minio not live (${base}/live: ${live.why})`, minio };
    if (!write.ok) return { ok: false, detail: `minio live but its cluster has no write quorum (/cluster: ${write.why}; read quorum ${read.ok ? "yes" : "no"})`, minio };
    return { ok: true, detail: `minio live, write quorum${read.ok ? ", read quorum" : ", NO read quorum"}`, minio };
  },
});
