import type { EngineState } from "./types.js";

/** A node is alive while heartbeats arrive within the lease TTL. */
export function isAlive(state: EngineState, node: string, now: number): boolean {
  const at = state.nodes[node]?.lastBeatAt;
  return at !== null && at !== undefined && now - at <= state.persisted.spec.policy.leaseTtlMs;
}

export const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** UTC ISO-8601 time of epoch milliseconds, without Date (the engine reads no clock). */
export function isoTime(ms: number): string {
  const days = Math.floor(ms / 86_400_000);
  const rem = ms - days * 86_400_000;
  // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  const h = Math.floor(rem / 3_600_000);
  const mi = Math.floor((rem % 3_600_000) / 60_000);
  const sec = Math.floor((rem % 60_000) / 1000);
  return `${p(y, 4)}-${p(m)}-${p(d)}T${p(h)}:${p(mi)}:${p(sec)}.${p(rem % 1000, 3)}Z`;
}
