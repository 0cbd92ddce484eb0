// The shim's YAML config, validated with zod; errors name the exact path (`probes.portal.port`).
import { readFileSync, statSync } from "node:fs";
import { parse } from "yaml";
import { z } from "zod";
import { formatPath, Name, ProbeSpec } from "../protocol/spec.js";

export const ShimConfig = z.strictObject({
  /** Base URL of the control plane (the Worker). */
  controlPlaneUrl: z.url(),
  /** Cluster id as the API names it (`<site>.<cluster>`, e.g. dc1.chimestack). */
  cluster: z.string().min(1),
  node: Name,
  /** The node token (shown once at cluster creation) or a file holding it. */
  token: z.string().min(1).optional(),
  tokenFile: z.string().min(1).optional(),
  /** Interface for every VIP on this node, overriding the spec's per-group interface. */
  interface: z.string().regex(/^[A-Za-z0-9_.:@-]{1,11}$/, "must be an interface name of at most 11 characters (the VIP label adds ':cha')").optional(),
  /** Where local services answer probes. */
  probeHost: z.string().min(1).default("127.0.0.1"),
  /** Per-group probe overrides (else the spec's probe for the group). */
  probes: z.record(z.string(), ProbeSpec).default({}),
  dryRun: z.boolean().default(false),
  /** Safety margin subtracted from each lease on this node (covers the time to drop a VIP). */
  localLeaseMarginMs: z.number().int().min(0).max(10_000).default(200),
  releaseOnSigterm: z.boolean().default(true),
  reannounceSeconds: z.number().min(1).max(3600).default(10),
  /**
   * VIPs and LB tables are re-read and re-applied at once when the desired state changes, and at
   * least this often otherwise (drift repair: someone removed the VIP or flushed the table).
   */
  resyncSeconds: z.number().min(1).max(3600).default(5),
  lbDrainSeconds: z.number().min(0).max(3600).default(10),
  /** Heartbeat request timeout; default: 80% of the heartbeat interval. */
  heartbeatTimeoutMs: z.number().int().min(50).max(60_000).optional(),
  /**
   * Failsafe peers (used when the spec's policy.failsafe is on): this shim listens for promise
   * requests on `listen` (host:port on the node's address) and asks every peer listed. All server
   * nodes of the cluster must be listed on each of them; requests are HMAC-SHA256 signed.
   */
  failsafe: z
    .strictObject({
      listen: z.string().regex(/^[^\s:]+:\d{1,5}$/, "must be host:port"),
      peers: z.record(Name, z.url()),
      secret: z.string().min(16).optional(),
      secretFile: z.string().min(1).optional(),
    })
    .refine((f) => (f.secret === undefined) !== (f.secretFile === undefined), { message: "set exactly one of secret or secretFile", path: ["secret"] })
    .optional(),
  /** Settings for data-service probes/appliers (mysql credentials, influxdb/minio endpoints). */
  settings: z.record(z.string(), z.unknown()).default({}),
}).refine((c) => (c.token === undefined) !== (c.tokenFile === undefined), { message: "set exactly one of token or tokenFile", path: ["token"] });
export type ShimConfig = z.infer<typeof ShimConfig>;

export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: { path: string; message: string }[],
  ) {
    super(`${file}: invalid shim config\n${problems.map((p) => `  ${p.path}: ${p.message}`).join("\n")}`);
  }
}

export function parseShimConfig(text: string, file = "config"): ShimConfig {
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (err) {
    throw new ConfigError(file, [{ path: "(yaml)", message: (err as Error).message }]);
  }
  const r = ShimConfig.safeParse(raw);
  if (!r.success) throw new ConfigError(file, r.error.issues.map((i) => ({ path: formatPath(i.path), message: i.message })));
  return r.data;
}

export function loadShimConfig(file: string): ShimConfig {
  return parseShimConfig(readFileSync(file, "utf8"), file);
}

export function resolveToken(cfg: ShimConfig): string {
  if (cfg.token) return cfg.token;
  return readFileSync(cfg.tokenFile!, "utf8").trim();
}

/**
 * The node token as a function: with `tokenFile`, the file is re-read whenever it changes (size,
 * mtime or inode), so a rotated token written there is used from the next heartbeat on, without
 * a restart. While the file is missing or empty the last good token is kept.
 */
export function tokenSource(cfg: ShimConfig, onReload: (file: string) => void = () => {}): () => string {
  if (cfg.token) {
    const fixed = cfg.token;
    return () => fixed;
  }
  const file = cfg.tokenFile!;
  const key = () => {
    const st = statSync(file);
    return `${st.ino}:${st.size}:${st.mtimeMs}`;
  };
  let seen = key();
  let current = readFileSync(file, "utf8").trim();
  return () => {
    try {
      const k = key();
      if (k !== seen) {
        const next = readFileSync(file, "utf8").trim();
        if (next) {
          seen = k;
          if (next !== current) onReload(file);
          current = next;
        }
      }
    } catch {
      // keep the last good token
    }
    return current;
  };
}
