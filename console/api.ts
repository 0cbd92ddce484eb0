// The console's one way to the API: the token from session storage as a bearer header (never in
// a URL), JSON in and out, problem+json turned into an error that carries the server's words.
import type { ClusterStatus } from "../protocol/status.js";
import type { ClusterAvailability, FleetAvailability } from "../protocol/availability.js";
import type { Fleet, WhoAmI } from "../protocol/fleet.js";

const KEY = "chime-ha.token";

export const session = {
  token: (): string | null => sessionStorage.getItem(KEY),
  save: (token: string) => sessionStorage.setItem(KEY, token),
  clear: () => sessionStorage.removeItem(KEY),
};

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string,
  ) {
    super(detail || title);
  }
}

/** Any 401 ends the session: the console listens and goes back to sign-in with the reason. */
let onUnauthorized: (detail: string) => void = () => {};
export const setUnauthorizedHandler = (fn: (detail: string) => void) => (onUnauthorized = fn);

export interface Reply<T> {
  status: number;
  body: T | null;
  etag: string | null;
}

export async function call<T>(method: string, path: string, opts: { body?: unknown; token?: string; headers?: Record<string, string> } = {}): Promise<Reply<T>> {
  const token = opts.token ?? session.token();
  const headers: Record<string, string> = { accept: "application/json", ...opts.headers };
  if (token) headers.authorization = `Bearer ${token}`;
  if (opts.body !== undefined) headers["content-type"] = "application/json";
  // A retried click must not act twice.
  if (method === "POST") headers["idempotency-key"] = crypto.randomUUID();
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body), cache: "no-store", credentials: "omit" });
  } catch {
    throw new ApiError(0, "Unreachable", "cannot reach the control plane");
  }
  if (res.status === 304) return { status: 304, body: null, etag: res.headers.get("etag") };
  const text = await res.text();
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!res.ok) {
    const p = (json ?? {}) as { title?: string; detail?: string; errors?: { path: string; message: string }[] };
    const detail = [p.detail, ...(p.errors ?? []).map((e) => `${e.path}: ${e.message}`)].filter(Boolean).join("; ");
    const err = new ApiError(res.status, p.title ?? `HTTP ${res.status}`, detail);
    if (res.status === 401 && opts.token === undefined) onUnauthorized(detail);
    throw err;
  }
  return { status: res.status, body: json as T, etag: res.headers.get("etag") };
}

export const api = {
  whoami: (token?: string) => call<WhoAmI>("GET", "/v1/whoami", token ? { token } : {}),
  fleet: (etag: string | null) => call<Fleet>("GET", "/v1/fleet", etag ? { headers: { "if-none-match": etag } } : {}),
  status: (id: string) => call<ClusterStatus & { cluster: string; site: string }>("GET", `/v1/clusters/${encodeURIComponent(id)}/status`),
  cluster: (id: string) => call<ClusterInfo>("GET", `/v1/clusters/${encodeURIComponent(id)}`),
  /** The ledger this month so far (budgets: the month and the last 30 days). */
  availability: (id: string) => call<ClusterAvailability>("GET", `/v1/clusters/${encodeURIComponent(id)}/availability`),
  /** Every cluster's groups, this month and the last 30 days, in one request. */
  fleetAvailability: () => call<FleetAvailability>("GET", "/v1/availability"),
  events: (id: string, q: string) => call<EventPage>("GET", `/v1/clusters/${encodeURIComponent(id)}/events?${q}`),
  post: (path: string, body?: unknown) => call<{ ok: true; detail: string; decisions?: string[] }>("POST", path, body === undefined ? {} : { body }),
};

/** What the console reads of a cluster's spec (GET /v1/clusters/:id). */
export interface ClusterInfo {
  id: string;
  site: string;
  name: string;
  specVersion: number;
  spec: {
    description?: string;
    policy: { leaseTtlMs: number; heartbeatIntervalMs: number };
    nodes: { name: string; label?: string; hostname: string; ip: string; role: "server" | "compute"; priority?: number }[];
    groups: { name: string; service: string; mode: string; vip: string; members?: string[]; ports: { port: number; realPort?: number; label?: string }[] }[];
  };
}

export interface EventRow {
  id: number;
  at: number;
  kind: string;
  severity: "info" | "warning" | "critical";
  group: string | null;
  node: string | null;
  epoch: number | null;
  reason: string;
  actor: string;
}
export interface EventPage {
  events: EventRow[];
  nextCursor: string | null;
}
