// The Worker as `npm run bench:heartbeat` runs it (wrangler.toml `[env.bench]`): the production
// Worker plus the bare echo route and its EchoObject, the baseline the heartbeat path is measured
// against. `wrangler deploy` (no --env) bundles worker/index.ts and never contains these.
import worker, { app } from "../../../worker/index.js";
import type { EchoObject } from "./echo-object.js";
import { registerBenchEcho } from "./echo-route.js";

registerBenchEcho(app, (env) => (env as { ECHO: DurableObjectNamespace<EchoObject> }).ECHO);

export { ClusterObject } from "../../../worker/index.js";
export { EchoObject } from "./echo-object.js";
export default worker;
