// How availability figures are written, everywhere (API clients, CLI, console). zod-free: the
// console bundles it.

/** Percent to 4 decimals, rounded down: a missed target never shows as met (99.49996 -> "99.4999 %"). */
export function formatAvailability(percent: number | null): string {
  if (percent === null) return "-";
  return `${(Math.floor(percent * 10_000 + 1e-6) / 10_000).toFixed(4)} %`;
}

/** A duration for people: "0 ms", "412 ms", "1.5 s", "12.3 min", "3.6 h", "2.0 d". */
export function formatSpan(ms: number): string {
  const a = Math.abs(ms);
  const sign = ms < 0 ? "-" : "";
  if (a < 1000) return `${sign}${Math.round(a)} ms`;
  if (a < 60_000) return `${sign}${(a / 1000).toFixed(1)} s`;
  if (a < 3_600_000) return `${sign}${(a / 60_000).toFixed(1)} min`;
  if (a < 86_400_000) return `${sign}${(a / 3_600_000).toFixed(1)} h`;
  return `${sign}${(a / 86_400_000).toFixed(1)} d`;
}

/** Error budget left as a percentage of the budget ("98.2 %", "-12.0 %" when overspent). */
export function formatBudgetLeft(ratio: number): string {
  return `${(Math.floor(ratio * 1000) / 10).toFixed(1)} %`;
}
