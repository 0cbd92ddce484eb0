// HTTP client for the control plane API, used by every CLI command. Errors
// (application/problem+json) become ApiError, one line with the server's title, detail and
// path-precise problems; an unreachable control plane is a NetworkError (what --follow and
// --watch retry); replies are checked with the same zod schemas the Worker answers with.
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import type { z } from "zod";
import { type Cluster, Cluster as ClusterSchema } from "../../protocol/api.js";
import { z as zod } from "zod";
import type { Connection } from "./contexts.js";
import { UsageError } from "./output.js";

declare const CHIME_HA_VERSION: string | undefined;
export const CLI_VERSION = typeof CHIME_HA_VERSION === "string" ? CHIME_HA_VERSION : "dev";

export interface Problem {
  path: string;
  message: string;
  line?: number;
}

/** `spec.nodes[1].ip (line 14): must be ...` */
export const formatProblem = (p: Problem) => `${p.path}${p.line ? ` (line ${p.line})` : ""}: ${p.message}`;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string | undefined,
    readonly errors: Problem[] = [],
  ) {
    super(`${title}${detail ? `: ${detail}` : ""}${errors.length ? ` (${errors.map(formatProblem).join("; ")})` : ""} [HTTP ${status}]`);
  }
}

/** The control plane could not be reached, answered 5xx, or asked to slow down (429): worth retrying. */
export class NetworkError extends Error {
  /** How long the control plane asked to wait (429 Retry-After), if it did. */
  retryAfterMs?: number;
}

export interface Reply<T> {
  status: number;
  body: T;
  headers: Headers;
}

export interface RequestOptions {
  /** JSON body. */
  json?: unknown;
  /** Raw YAML body (sent as application/yaml). */
  yaml?: string;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

/**
 * One HTTP request with node:http(s): a short-lived CLI would spend ~80 ms of CPU loading fetch's
 * implementation (undici) for a single call.
 */
function send(method: string, url: string, headers: Record<string, string>, body: string | undefined, timeoutMs: number) {
  return new Promise<{ status: number; statusText: string; headers: Headers; text: string }>((resolve, reject) => {
    const u = new URL(url);
    if (u.protocol !== "http:" && u.protocol !== "https:") return reject(new Error(`the URL must start with http:// or https://, not ${u.protocol}//`));
    const req = (u.protocol === "https:" ? httpsRequest : httpRequest)(u, { method, headers: body === undefined ? headers : { ...headers, "content-length": String(Buffer.byteLength(body)) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", reject);
      res.on("end", () => {
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) h.set(k, Array.isArray(v) ? v.join(", ") : v);
        resolve({ status: res.statusCode ?? 0, statusText: res.statusMessage ?? "", headers: h, text: Buffer.concat(chunks).toString("utf8") });
      });
    });
    req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error("timed out"), { name: "TimeoutError" })));
    req.on("error", reject);
    req.end(body);
  });
}

export class ApiClient {
  constructor(readonly conn: Connection) {}

  get url(): string {
    return this.conn.url;
  }

  async get<T>(path: string, schema: z.ZodType<T>): Promise<T> {
    return (await this.request("GET", path, schema)).body;
  }

  async post<T>(path: string, body: unknown, schema: z.ZodType<T>): Promise<T> {
    return (await this.request("POST", path, schema, body === undefined ? {} : { json: body })).body;
  }

  async request<T>(method: string, path: string, schema: z.ZodType<T>, opts: RequestOptions = {}): Promise<Reply<T>> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.conn.token}`, accept: "application/json", "user-agent": `chime-ha-cli/${CLI_VERSION}`, ...opts.headers };
    let body: string | undefined;
    if (opts.yaml !== undefined) {
      headers["content-type"] = "application/yaml";
      body = opts.yaml;
    } else if (opts.json !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(opts.json);
    }
    let res: { status: number; statusText: string; headers: Headers; text: string };
    try {
      res = await send(method, this.conn.url + path, headers, body, opts.timeoutMs ?? 15_000);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const why = e.name === "TimeoutError" ? `no answer within ${Math.round((opts.timeoutMs ?? 15_000) / 1000)} s` : (e.code ?? e.message);
      throw new NetworkError(`cannot reach the control plane at ${this.conn.url}: ${why}`);
    }
    const text = res.text;
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    if (res.status < 200 || res.status > 299) {
      const p = (json ?? {}) as { title?: string; detail?: string; errors?: Problem[] };
      const err = new ApiError(res.status, p.title ?? res.statusText, p.detail ?? (json === null ? text.slice(0, 200) || undefined : undefined), Array.isArray(p.errors) ? p.errors : []);
      if (res.status >= 500) throw new NetworkError(`the control plane at ${this.conn.url} failed: ${err.message}`);
      if (res.status === 429) {
        const rate = new NetworkError(`the control plane at ${this.conn.url} asks to slow down: ${err.message}`);
        const after = Number(res.headers.get("retry-after"));
        if (Number.isFinite(after) && after > 0) rate.retryAfterMs = after * 1000;
        throw rate;
      }
      throw err;
    }
    const parsed = schema.safeParse(res.status === 204 ? null : json);
    if (!parsed.success) throw new Error(`unexpected reply from ${method} ${path}: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
    return { status: res.status, body: parsed.data, headers: res.headers };
  }

  async clusters(): Promise<Cluster[]> {
    return (await this.get("/v1/clusters", zod.object({ clusters: zod.array(ClusterSchema) }))).clusters;
  }

  /**
   * A cluster named by id (`dc1.chimestack`) or bare name (`chimestack`, if only one site has it),
   * as every command accepts it.
   */
  async resolveCluster(name: string): Promise<Cluster> {
    const all = await this.clusters();
    const exact = all.find((c) => c.id === name);
    if (exact) return exact;
    const byName = all.filter((c) => c.name === name);
    if (byName.length === 1) return byName[0]!;
    if (byName.length > 1) throw new UsageError(`cluster '${name}' exists in several sites: say which (${byName.map((c) => c.id).join(", ")})`);
    throw new CliNotFound(`no cluster '${name}'${all.length ? ` (clusters: ${all.map((c) => c.id).join(", ")})` : " (there are none yet: chime-ha apply -f SPEC --site SITE)"}`);
  }
}

/** Something named on the command line does not exist: exit 1. */
export class CliNotFound extends Error {}

export const clusterPath = (id: string) => `/v1/clusters/${encodeURIComponent(id)}`;
export const NoBody = zod.null();
