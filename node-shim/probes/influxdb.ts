// influxdb probe: /health (InfluxDB 2.x and 1.8+: 200 with status "pass"), falling back to /ping
// (1.x: 204) when /health does not exist, as on Debian's influxdb 1.6.
import { httpErrorDetail, httpRequest } from "../http-client.js";
import type { ProbeFactory } from "./types.js";

export const influxdbProbe: ProbeFactory<"influxdb"> = (spec, ctx) => ({
  async run(signal) {
    const base = `http://${ctx.host}:${spec.port}`;
    const started = performance.now();
    try {
      const health = await httpRequest(`${base}/health`, { signal, headers: { "user-agent": "chime-ha-shim" }, maxBodyBytes: 64 * 1024 });
      const text = health.text;
      const version = String(health.headers["x-influxdb-version"] ?? "");
      if (health.status === 200) {
        let status = "";
        try {
          status = String((JSON.parse(text) as { status?: unknown }).status ?? "");
        } catch {
          // not JSON: not a health answer we understand
        }
        const ms = Math.round(performance.now() - started);
        if (status === "pass") return { ok: true, detail: `influxdb ${version} /health pass in ${ms} ms`.replace("  ", " ") };
        return { ok: false, detail: `influxdb ${base}/health: status '${status || text.slice(0, 80)}'` };
      }
      if (health.status !== 404) return { ok: false, detail: `influxdb ${base}/health: http ${health.status}` };
      const ping = await httpRequest(`${base}/ping`, { signal, headers: { "user-agent": "chime-ha-shim" }, discardBody: true });
      const ms = Math.round(performance.now() - started);
      if (ping.status === 204) return { ok: true, detail: `influxdb ${ping.headers["x-influxdb-version"] ?? "1.x"} /ping 204 in ${ms} ms` };
      return { ok: false, detail: `influxdb ${base}/ping: http ${ping.status} (want 204)` };
    } catch (err) {
      return { ok: false, detail: `influxdb ${base} ${signal.aborted ? `timed out after ${spec.timeoutMs} ms` : httpErrorDetail(err)}` };
    }
  },
});
