// Helpers for the Worker suites: requests against the real Worker (same isolate as the test),
// the example spec, and a shorthand for a heartbeat body.
import { env, exports } from "cloudflare:workers";
import type { HeartbeatReply, HeartbeatRequestInput } from "../../protocol/heartbeat.js";
import type { ClusterSpecInput } from "../../protocol/spec.js";
import exampleYaml from "../../examples/chimestack.yaml?raw";
import { parse } from "yaml";

export const ADMIN = "test-admin-token";
/** The Worker under test (same isolate): `exports.default` of worker/index.ts. */
export const worker = (exports as unknown as { default: Fetcher }).default;

export async function call(method: string, path: string, opts: { token?: string | null; body?: unknown; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...opts.headers };
  const token = opts.token === undefined ? ADMIN : opts.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  let body: string | undefined;
  if (opts.body !== undefined) {
    headers["content-type"] = "application/json";
    body = typeof opts.body === "string" ? opts.body : JSON.stringify(opts.body);
  }
  const res = await worker.fetch(new Request(`http://chime-ha.test${path}`, { method, headers, body }));
  const text = await res.text();
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = text;
  }
  return { status: res.status, json: json as Record<string, unknown> & Record<string, never>, headers: res.headers };
}

export function exampleSpec(overrides: (s: ClusterSpecInput) => void = () => {}): ClusterSpecInput {
  const spec = structuredClone(parse(exampleYaml) as ClusterSpecInput);
  overrides(spec);
  return spec;
}

let sites = 0;
/** A fresh site and cluster (tests share D1 within a file), returning node tokens. */
export async function newCluster(overrides?: (s: ClusterSpecInput) => void) {
  const site = `site${++sites}-${Math.floor(Math.random() * 1e6)}`;
  const s = await call("POST", "/v1/sites", { body: { id: site } });
  if (s.status !== 201) throw new Error(`site create failed: ${JSON.stringify(s.json)}`);
  const spec = exampleSpec(overrides);
  const r = await call("POST", "/v1/clusters", { body: { site, spec } });
  if (r.status !== 201) throw new Error(`cluster create failed: ${r.status} ${JSON.stringify(r.json)}`);
  const out = r.json as unknown as { cluster: { id: string }; nodeTokens: Record<string, string> };
  return { site, id: out.cluster.id, tokens: out.nodeTokens };
}

export function beat(overrides: Partial<HeartbeatRequestInput> = {}, healthy: Record<string, boolean> = {}): HeartbeatRequestInput {
  const probes: HeartbeatRequestInput["probes"] = {};
  for (const [g, h] of Object.entries(healthy)) probes[g] = { healthy: h, detail: h ? "ok" : "down" };
  return { bootId: "boot-1", seq: 1, probes, holding: [], released: [], operations: [], ...overrides };
}

export async function heartbeat(cluster: string, node: string, token: string, body: HeartbeatRequestInput) {
  const r = await call("POST", `/v1/clusters/${cluster}/nodes/${node}/heartbeat`, { token, body });
  return { status: r.status, reply: r.json as unknown as HeartbeatReply, raw: r.json };
}

export const ALL_HEALTHY = { "server-api": true, portal: true, mysql: true, influxdb: true, minio: true };

/**
 * Everything an API call could change, as one string: registry rows (API events only: the engine
 * writes its own) and the cluster's live state. `outbox` adds the alert outbox; `probes` adds each
 * node's probe reports to the live state.
 */
export async function stateFingerprint(clusterId: string, opts: { outbox: boolean; probes: boolean }): Promise<string> {
  const tables = [
    "SELECT * FROM sites ORDER BY id",
    "SELECT * FROM clusters ORDER BY id",
    "SELECT * FROM nodes ORDER BY cluster_id, name",
    "SELECT * FROM tokens ORDER BY id",
    "SELECT * FROM events WHERE actor <> 'engine' ORDER BY id",
    "SELECT * FROM webhooks ORDER BY id",
    ...(opts.outbox ? ["SELECT * FROM alert_outbox ORDER BY id"] : []),
    "SELECT * FROM dead_letters ORDER BY id",
    "SELECT * FROM idempotency_keys ORDER BY token_id, key",
  ];
  // One D1 round trip for all tables.
  const results = await env.DB.batch(tables.map((q) => env.DB.prepare(q)));
  const st = (await env.CLUSTER.get(env.CLUSTER.idFromName(clusterId)).status())!;
  return JSON.stringify([
    ...results.map((r) => r.results),
    {
      specVersion: st.specVersion,
      maintenance: st.maintenance,
      groups: st.groups.map((g) => [g.name, g.holder, g.epoch, g.phase]),
      nodes: st.nodes.map((n) => (opts.probes ? [n.name, n.maintenance, n.probes] : [n.name, n.maintenance])),
    },
  ]);
}
