// http(s) probe: expected status, optional body match, within the timeout.
import type { ProbeFactory } from "./types.js";

export const httpProbe: ProbeFactory<"http"> = (spec, ctx) => ({
  async run(signal) {
    const url = `${spec.scheme}://${ctx.host}:${spec.port}${spec.path}`;
    const started = performance.now();
    try {
      const res = await fetch(url, { signal, redirect: "manual", headers: { "user-agent": "chime-ha-shim" } });
      const body = spec.bodyMatch !== undefined ? await res.text() : (await res.body?.cancel(), "");
      const ms = Math.round(performance.now() - started);
      if (!spec.expectStatus.includes(res.status)) return { ok: false, detail: `http ${res.status} from ${url} (want ${spec.expectStatus.join("/")})` };
      if (spec.bodyMatch !== undefined && !body.includes(spec.bodyMatch)) return { ok: false, detail: `http ${res.status} from ${url} without '${spec.bodyMatch}' in the body` };
      return { ok: true, detail: `http ${res.status} in ${ms} ms` };
    } catch (err) {
      const e = err as Error & { cause?: { code?: string } };
      const why = signal.aborted ? `timed out after ${spec.timeoutMs} ms` : (e.cause?.code ?? e.message);
      return { ok: false, detail: `http ${url} ${why}` };
    }
  },
});
