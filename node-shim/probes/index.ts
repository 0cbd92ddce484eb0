// Probe registry by spec type. Data-service probes register here too (one line each).
import type { ProbeSpec } from "../../protocol/spec.js";
import { execProbe } from "./exec.js";
import { httpProbe } from "./http.js";
import { influxdbProbe } from "./influxdb.js";
import { minioProbe } from "./minio.js";
import { tcpProbe } from "./tcp.js";
import type { Probe, ProbeContext, ProbeFactory } from "./types.js";

const registry = new Map<ProbeSpec["type"], ProbeFactory>();

export function registerProbe<T extends ProbeSpec["type"]>(type: T, factory: ProbeFactory<T>): void {
  registry.set(type, factory as unknown as ProbeFactory);
}

registerProbe("tcp", tcpProbe);
registerProbe("http", httpProbe);
registerProbe("exec", execProbe);
registerProbe("influxdb", influxdbProbe);
registerProbe("minio", minioProbe);
// mysql2 is ~10 MB of resident memory: load it only on nodes that probe MySQL.
registerProbe("mysql", (spec, ctx) => lazyProbe(() => import("./mysql.js").then((m) => m.mysqlProbe(spec, ctx))));

function lazyProbe(load: () => Promise<Probe>): Probe {
  let probe: Promise<Probe> | null = null;
  return {
    run: async (signal) => (await (probe ??= load())).run(signal),
    close: async () => {
      if (probe) await (await probe).close?.();
    },
  };
}

export function createProbe(spec: ProbeSpec, ctx: ProbeContext): Probe {
  const factory = registry.get(spec.type);
  if (!factory) {
    // Without the probe the service can never be reported healthy: say so on every run.
    return { run: async () => ({ ok: false, detail: `no '${spec.type}' probe is available in this shim` }) };
  }
  return factory(spec, ctx);
}
