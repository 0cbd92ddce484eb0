// http(s) probe: expected status, optional body match, within the timeout.
import { HttpError, httpRequest } from "../http-client.js";
import type { ProbeFactory } from "./types.js";

export const httpProbe: ProbeFactory<"http"> = (spec, ctx) => ({
  async run(signal) {
    const url = `${spec.scheme}://${ctx.host}:${spec.port}${spec.path}`;
    const started = performance.now();
    try {
      const res = await httpRequest(url, { signal, headers: { "user-agent": "chime-ha-shim" }, discardBody: spec.bodyMatch === undefined, maxBodyBytes: 1024 * 1024 });
      const ms = Math.round(performance.now() - started);
      if (!spec.expectStatus.includes(res.status)) return { ok: false, detail: `http ${res.status} from ${url} (want ${spec.expectStatus.join("/")})` };
      if (spec.bodyMatch !== undefined && !res.text.includes(spec.bodyMatch)) return { ok: false, detail: `http ${res.status} from ${url} without '${spec.bodyMatch}' in the body` };
      return { ok: true, detail: `http ${res.status} in ${ms} ms` };
    } catch (err) {
      const why = signal.aborted ? `timed out after ${spec.timeoutMs} ms` : err instanceof HttpError ? err.code : (err as Error).message;
      return { ok: false, detail: `http ${url} ${why}` };
    }
  },
});
