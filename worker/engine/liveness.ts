import type { EngineState } from "./types.js";

/** A node is alive while heartbeats arrive within the lease TTL. */
export function isAlive(state: EngineState, node: string, now: number): boolean {
  const at = state.nodes[node]?.lastBeatAt;
  return at !== null && at !== undefined && now - at <= state.persisted.spec.policy.leaseTtlMs;
}

export const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/**
 * UTC ISO-8601 time of epoch milliseconds. Formatting a given time reads no clock, so the engine
 * stays pure. A time outside Date's range (a shim may report any integer) is printed as a number
 * rather than failing the step.
 */
export function isoTime(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? `${ms} ms after 1970-01-01T00:00:00.000Z` : d.toISOString();
}
