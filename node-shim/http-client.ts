// The shim's one HTTP(S) client, on node:http: heartbeats, probes, operations. Never the global
// fetch: it loads undici on first use (~12 MB in a process whose budget is 60 MB), and under the
// installed shim's flags (--lite-mode, no WebAssembly) undici cannot even load its parser, so a
// fetch crashes the process. Keep-alive agents reuse connections.
import http from "node:http";
import https from "node:https";

export interface HttpResponse {
  status: number;
  /** Response headers, names in lower case. */
  headers: http.IncomingHttpHeaders;
  /** The body as text; empty when `discardBody` was set. */
  text: string;
}

export interface HttpRequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
  /** Read and drop the body (probes that only look at the status). */
  discardBody?: boolean;
  /** At most this many bytes of body are kept (default 4 MiB); a larger body is an error. */
  maxBodyBytes?: number;
}

/** An error with the system code (ECONNREFUSED, ETIMEDOUT, ...) or "aborted". */
export class HttpError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const agents = {
  "http:": new http.Agent({ keepAlive: true, maxSockets: 4 }),
  "https:": new https.Agent({ keepAlive: true, maxSockets: 4 }),
};

export function httpRequest(url: string, opts: HttpRequestOptions = {}): Promise<HttpResponse> {
  const u = new URL(url);
  const mod = u.protocol === "https:" ? https : u.protocol === "http:" ? http : null;
  if (!mod) return Promise.reject(new HttpError("EPROTO", `unsupported URL scheme ${u.protocol}`));
  const limit = opts.maxBodyBytes ?? 4 * 1024 * 1024;
  return new Promise<HttpResponse>((resolve, reject) => {
    if (opts.signal?.aborted) return reject(new HttpError("aborted", "aborted"));
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.body !== undefined) headers["content-length"] = String(Buffer.byteLength(opts.body));
    const req = mod.request(u, { method: opts.method ?? "GET", headers, agent: agents[u.protocol as "http:" | "https:"] }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (c: Buffer) => {
        if (opts.discardBody) return;
        size += c.length;
        if (size > limit) {
          req.destroy(new HttpError("EMSGSIZE", `response body larger than ${limit} bytes`));
          return;
        }
        chunks.push(c);
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", (err) => reject(toHttpError(err)));
    });
    const onAbort = () => req.destroy(new HttpError("aborted", "aborted"));
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    req.on("close", () => opts.signal?.removeEventListener("abort", onAbort));
    req.on("error", (err) => reject(toHttpError(err)));
    req.end(opts.body);
  });
}

function toHttpError(err: Error & { code?: string }): HttpError {
  if (err instanceof HttpError) return err;
  return new HttpError(err.code ?? "EIO", err.message);
}

/** One short phrase for a failed request: the system code, "timed out" or the message. */
export function httpErrorDetail(err: unknown, signal?: AbortSignal): string {
  if (signal?.aborted) return "timed out";
  if (err instanceof HttpError) return err.code === "aborted" ? "timed out" : err.code;
  return err instanceof Error ? err.message : String(err);
}
