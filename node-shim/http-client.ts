// A small HTTP(S) client on node:http for the shim's hot paths (heartbeats, http probes).
// Node's global fetch loads undici on first use, which adds ~12 MB to a process whose whole
// budget is 60 MB; node:http is already part of the runtime. Keep-alive agents reuse connections.
import http from "node:http";
import https from "node:https";

export interface HttpResponse {
  status: number;
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
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
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
