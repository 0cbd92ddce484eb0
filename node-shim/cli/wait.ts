// Waiting for an operator action's outcome (`switchover --wait`, `maintenance --wait`): poll the
// cluster's status until a condition holds, or give up after the timeout with what is in the way.
import type { ClusterStatus } from "../../protocol/status.js";
import { ClusterStatus as ClusterStatusSchema } from "../../protocol/status.js";
import { type ApiClient, clusterPath, NetworkError } from "./client.js";
import { CommandFailed, sleep } from "./output.js";

export interface WaitResult {
  status: ClusterStatus;
  elapsedMs: number;
}

/**
 * Polls every `everyMs` until `done(status)` returns a truthy message (the outcome), or throws
 * CommandFailed after `timeoutMs` with `stuck(status)`: why it did not happen.
 */
export async function waitForStatus(
  client: ApiClient,
  cluster: string,
  done: (s: ClusterStatus) => boolean,
  stuck: (s: ClusterStatus | null) => string,
  timeoutMs: number,
  everyMs = 200,
): Promise<WaitResult> {
  const start = performance.now();
  let last: ClusterStatus | null = null;
  for (;;) {
    try {
      last = await client.get(`${clusterPath(cluster)}/status`, ClusterStatusSchema);
      if (done(last)) return { status: last, elapsedMs: performance.now() - start };
    } catch (err) {
      // A control plane restarting mid-wait is waited out too (until the timeout).
      if (!(err instanceof NetworkError)) throw err;
    }
    if (performance.now() - start >= timeoutMs) throw new CommandFailed(stuck(last));
    await sleep(everyMs);
  }
}

export const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
