import type { ClusterObject } from "./cluster/cluster-object.js";
import type { EchoObject } from "./cluster/echo-object.js";

export interface Env {
  DB: D1Database;
  CLUSTER: DurableObjectNamespace<ClusterObject>;
  ECHO: DurableObjectNamespace<EchoObject>;
  /** Worker secret (or .dev.vars locally): the bootstrap admin token. */
  ADMIN_TOKEN?: string;
}
