// The Worker as the benchmarks run it (wrangler.toml `[env.bench]`): the production Worker plus
// - the bare echo route and its EchoObject, the baseline `npm run bench:heartbeat` measures against;
// - a count of every Worker invocation (each one a billed Workers request), read by
//   `npm run bench:cost` at GET /v1/bench/usage?clusters=a,b (admin token), with each listed
//   cluster object's own counters (one request, so a loaded machine answers it in time).
// `wrangler deploy` (no --env) bundles worker/index.ts and never contains these.
import { clusterStub } from "../../../worker/cluster/placement.js";
import worker, { app } from "../../../worker/index.js";
import type { Env } from "../../../worker/env.js";
import type { EchoObject } from "./echo-object.js";
import { registerBenchEcho } from "./echo-route.js";

registerBenchEcho(app, (env) => (env as { ECHO: DurableObjectNamespace<EchoObject> }).ECHO);

const usage = { workerRequests: 0 };

export { ClusterObject, RateLimiter } from "../../../worker/index.js";
export { EchoObject } from "./echo-object.js";
export default {
  ...worker,
  fetch(request: Request, env: Env, ctx: ExecutionContext): Response | Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/v1/bench/usage") {
      if (request.headers.get("authorization") !== `Bearer ${env.ADMIN_TOKEN}`) return new Response("admin token required", { status: 401 });
      const ids = (url.searchParams.get("clusters") ?? "").split(",").filter(Boolean);
      const workerRequests = usage.workerRequests;
      return Promise.all(ids.map(async (id) => [id, (await (await clusterStub(env, id)).status())?.usage ?? null] as const)).then((rows) => Response.json({ workerRequests, clusters: Object.fromEntries(rows) }));
    }
    usage.workerRequests++;
    return worker.fetch(request, env, ctx);
  },
};
