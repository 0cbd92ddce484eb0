// HTTP client for the control plane API, used by every CLI command. Base URL and token come from
// flags or CHIME_HA_URL / CHIME_HA_TOKEN; errors (application/problem+json) become ApiError with
// the server's title, detail and path-precise errors.
import type { z } from "zod";

export interface ClientOptions {
  url: string;
  token: string;
  timeoutMs?: number;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string | undefined,
    readonly errors: { path: string; message: string }[] = [],
  ) {
    super(
      [`${status} ${title}${detail ? `: ${detail}` : ""}`, ...errors.map((e) => `  ${e.path}: ${e.message}`)].join("\n"),
    );
  }
}

/** CLI input problem (missing URL/token, bad argument): printed without a stack, exit 2. */
export class UsageError extends Error {}

export function clientOptionsFromEnv(flags: { url?: string; token?: string }, env: NodeJS.ProcessEnv = process.env): ClientOptions {
  const url = flags.url ?? env.CHIME_HA_URL;
  const token = flags.token ?? env.CHIME_HA_TOKEN;
  if (!url) throw new UsageError("no control plane URL: set CHIME_HA_URL or pass --url");
  if (!token) throw new UsageError("no API token: set CHIME_HA_TOKEN or pass --token");
  return { url: url.replace(/\/+$/, ""), token };
}

export class ApiClient {
  constructor(private readonly opts: ClientOptions) {}

  async get<T>(path: string, schema: z.ZodType<T>): Promise<T> {
    return this.request("GET", path, undefined, schema);
  }

  async post<T>(path: string, body: unknown, schema: z.ZodType<T>): Promise<T> {
    return this.request("POST", path, body, schema);
  }

  private async request<T>(method: string, path: string, body: unknown, schema: z.ZodType<T>): Promise<T> {
    let res: Response;
    try {
      res = await fetch(this.opts.url + path, {
        method,
        headers: { authorization: `Bearer ${this.opts.token}`, accept: "application/json", ...(body === undefined ? {} : { "content-type": "application/json" }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.opts.timeoutMs ?? 10_000),
      });
    } catch (err) {
      const e = err as Error & { cause?: { code?: string } };
      throw new Error(`cannot reach the control plane at ${this.opts.url}: ${e.cause?.code ?? e.message}`);
    }
    const text = await res.text();
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    if (!res.ok) {
      const p = (json ?? {}) as { title?: string; detail?: string; errors?: { path: string; message: string }[] };
      throw new ApiError(res.status, p.title ?? res.statusText, p.detail ?? (json === null ? text.slice(0, 300) : undefined), Array.isArray(p.errors) ? p.errors : []);
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) throw new Error(`unexpected reply from ${method} ${path}: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
    return parsed.data;
  }
}

export const clusterPath = (id: string) => `/v1/clusters/${encodeURIComponent(id)}`;
