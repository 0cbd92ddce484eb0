// A probe checks one local service once; the ProbeScheduler runs it at its cadence and applies
// fall/rise. Probes for data services (mysql, influxdb, minio) add their reports.
import type { MinioReport, MysqlReport } from "../../protocol/heartbeat.js";
import type { ProbeSpec } from "../../protocol/spec.js";
import type { CommandRunner } from "../command-runner.js";

export interface ProbeResult {
  ok: boolean;
  /** Short human text: "http 200 in 3 ms", "connect ECONNREFUSED 127.0.0.1:8801". */
  detail: string;
  mysql?: MysqlReport;
  minio?: MinioReport;
}

export interface Probe {
  run(signal: AbortSignal): Promise<ProbeResult>;
  close?(): Promise<void>;
}

export interface ProbeContext {
  /** Address the local services answer on (default 127.0.0.1). */
  host: string;
  runner: CommandRunner;
  /** Extra settings from the shim config for probes that need credentials (mysql). */
  settings: Record<string, unknown>;
}

export type ProbeFactory<T extends ProbeSpec["type"] = ProbeSpec["type"]> = (spec: Extract<ProbeSpec, { type: T }>, ctx: ProbeContext) => Probe;
