// The shim's YAML config, validated with zod; every error is one line naming the file, the exact
// path and line (`/etc/chime-ha/shim.yaml: probes.portal.port (line 21): ...`).
import { readFileSync, statSync } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";
import { z } from "zod";
import { formatPath, Name, ProbeSpec } from "../protocol/spec.js";
import { parseYamlDocument } from "../protocol/yaml-doc.js";
import { LimitsConfig } from "./limits.js";
import { MysqlSettings } from "./probes/mysql-settings.js";

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
  /**
   * How heartbeats travel: as messages on the watch WebSocket (a twentieth of the control plane's
   * cost per heartbeat; HTTP while the socket is down), or always as HTTP POSTs.
   */
  transport: z.enum(["websocket", "http"]).default("websocket"),
  /** Heartbeat request timeout; default: 80% of the heartbeat interval. */
  heartbeatTimeoutMs: z.number().int().min(50).max(60_000).optional(),
  /**
   * Failsafe (whenever the spec has it on, the default with two or more members per group): this
   * shim listens for promise requests on `listen` (default: the node's IP from the spec, port
   * 7480) and asks every other server node the control plane lists, at http://<its IP>:<the same
   * port> unless `peers` names another URL for it. Requests and replies are HMAC-SHA256 signed
   * with the shared secret, by default keys the control plane derives for the cluster (then
   * nothing needs setting here); `secret`/`secretFile` override them (all nodes alike).
   */
  failsafe: z
    .strictObject({
      listen: z.string().regex(/^[^\s:]+:\d{1,5}$/, "must be host:port").optional(),
      peers: z.record(Name, z.url()).default({}),
      secret: z.string().min(16).optional(),
      secretFile: z.string().min(1).optional(),
    })
    .refine((f) => f.secret === undefined || f.secretFile === undefined, { message: "set at most one of secret or secretFile", path: ["secret"] })
    .default({ peers: {} }),
  /**
   * Where the shim keeps what must survive its restart (failsafe promises it gave, the groups it
   * held for the unit's stop hook): `<stateDir>/state.json`, written atomically and fsynced.
   */
  stateDir: z.string().min(1).default("/var/lib/chime-ha"),
  /** Settings for data-service probes/appliers (mysql credentials, influxdb/minio endpoints). */
  settings: z.record(z.string(), z.unknown()).default({}),
  /**
   * Local limits (README, Hardening): what the control plane may make this node do. Absent: it
   * applies whatever it is sent. Every list is an allowlist; an empty one turns that feature off.
   * `chime-ha-shim limits --spec FILE --node NAME` prints a tight block for this node.
   */
  limits: LimitsConfig.optional(),
}).refine((c) => (c.token === undefined) !== (c.tokenFile === undefined), { message: "set exactly one of token or tokenFile", path: ["token"] });
export type ShimConfig = z.infer<typeof ShimConfig>;

/** A config problem, as one line naming the file and the field: `/etc/chime-ha/shim.yaml: probes.portal.port: ...`. */
export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: { path: string; message: string; line?: number }[],
  ) {
    super(`${file}: ${problems.map((p) => `${p.path ? `${p.path}${p.line ? ` (line ${p.line})` : ""}: ` : ""}${p.message}`).join("; ")}`);
  }
}

export function parseShimConfig(text: string, file = "config"): ShimConfig {
  const doc = parseYamlDocument(text);
  if (!doc.ok) throw new ConfigError(file, doc.problems);
  const r = ShimConfig.safeParse(doc.value ?? {});
  if (!r.success) {
    throw new ConfigError(
      file,
      r.error.issues.map((i) => {
        const at = doc.locate(i.path);
        return { path: formatPath(i.path), message: i.message, ...(at ? { line: at.line } : {}) };
      }),
    );
  }
  // Data-service settings are checked here too, so a typo stops the shim at start, not later in a probe.
  if (r.data.settings.mysql !== undefined) {
    const m = MysqlSettings.safeParse(r.data.settings.mysql);
    if (!m.success) throw new ConfigError(file, m.error.issues.map((i) => ({ path: `settings.mysql${i.path.length ? `.${formatPath(i.path)}` : ""}`, message: i.message })));
  }
  return r.data;
}

export function loadShimConfig(file: string): ShimConfig {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError(file, [{ path: "", message: `cannot read it: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` }]);
  }
  const cfg = parseShimConfig(text, file);
  // Relative file names are relative to the config's own directory (an installed config says
  // `tokenFile: node-token`: /etc/chime-ha/node-token, or the same under an install root).
  const near = (p: string) => (isAbsolute(p) ? p : join(dirname(file), p));
  if (cfg.tokenFile) cfg.tokenFile = near(cfg.tokenFile);
  if (cfg.failsafe?.secretFile) cfg.failsafe.secretFile = near(cfg.failsafe.secretFile);
  return cfg;
}

/** The node token, from the config or its tokenFile (a missing or empty file names both). */
export function resolveToken(cfg: ShimConfig, file = "config"): string {
  if (cfg.token) return cfg.token;
  let text: string;
  try {
    text = readFileSync(cfg.tokenFile!, "utf8");
  } catch (err) {
    throw new ConfigError(file, [{ path: "tokenFile", message: `cannot read ${cfg.tokenFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` }]);
  }
  const token = text.trim();
  if (!token) throw new ConfigError(file, [{ path: "tokenFile", message: `${cfg.tokenFile} is empty` }]);
  return token;
}

/**
 * The node token as a function: with `tokenFile`, the file is re-read whenever it changes (size,
 * mtime or inode), so a rotated token written there is used from the next heartbeat on, without
 * a restart. While the file is missing or empty the last good token is kept.
 */
export function tokenSource(cfg: ShimConfig, onReload: (file: string) => void = () => {}, configFile = "config"): () => string {
  if (cfg.token) {
    const fixed = cfg.token;
    return () => fixed;
  }
  const file = cfg.tokenFile!;
  const key = () => {
    const st = statSync(file);
    return `${st.ino}:${st.size}:${st.mtimeMs}`;
  };
  // The first read names the config file and the field when it fails (a ConfigError).
  let current = resolveToken(cfg, configFile);
  let seen = key();
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
