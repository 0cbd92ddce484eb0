// tcp probe: the service accepts a connection.
import { connect } from "node:net";
import type { ProbeFactory } from "./types.js";

export const tcpProbe: ProbeFactory<"tcp"> = (spec, ctx) => ({
  run: (signal) =>
    new Promise((resolve) => {
      const started = performance.now();
      const sock = connect({ host: ctx.host, port: spec.port });
      const done = (ok: boolean, detail: string) => {
        signal.removeEventListener("abort", onAbort);
        sock.destroy();
        resolve({ ok, detail });
      };
      const onAbort = () => done(false, `tcp ${ctx.host}:${spec.port} timed out after ${spec.timeoutMs} ms`);
      signal.addEventListener("abort", onAbort);
      sock.once("connect", () => done(true, `tcp ${ctx.host}:${spec.port} open in ${Math.round(performance.now() - started)} ms`));
      sock.once("error", (e) => done(false, `tcp ${ctx.host}:${spec.port} ${(e as NodeJS.ErrnoException).code ?? e.message}`));
    }),
});
