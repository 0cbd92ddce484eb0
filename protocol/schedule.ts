// Durations ("7d", "90s") and weekly time windows ("Sun 02:00-04:00 UTC") for scheduled failover
// drills. Pure and zod-free: the spec validates with it, the engine evaluates windows against the
// `now` it is given (it reads no clock), the console may bundle it.

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
export const DAY_MS = UNIT_MS.d;

/** "90s", "5m", "24h", "7d", "2w" -> milliseconds; null when it is not one of those. */
export function parseDurationText(text: string): number | null {
  const m = /^(\d{1,6})(s|m|h|d|w)$/.exec(text.trim());
  return m ? Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS] : null;
}

const DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"] as const;

/** A window that opens on some weekdays at a UTC time and lasts `lengthMs` (it may run past midnight). */
export interface TimeWindow {
  /** Weekdays (0 = Sunday) on which it opens. */
  days: boolean[];
  /** Minutes after midnight UTC at which it opens. */
  startMinute: number;
  lengthMs: number;
}

/**
 * `[days] HH:MM-HH:MM UTC`, days as `Sun`, `Sat,Sun`, `Mon-Fri` (absent: every day). The end may be
 * earlier than the start: the window then runs past midnight. Returns the window or why not.
 */
export function parseWindow(text: string): { ok: true; window: TimeWindow } | { ok: false; message: string } {
  const m = /^\s*(?:([A-Za-z,\- ]+?)\s+)?(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s+(\S+)\s*$/.exec(text);
  if (!m) return { ok: false, message: `'${text}' is not a window like "Sun 02:00-04:00 UTC" ([days] HH:MM-HH:MM UTC; days like Sun, Sat,Sun or Mon-Fri)` };
  if (m[6]!.toUpperCase() !== "UTC") return { ok: false, message: `windows are in UTC: write '${m[6]}' times as UTC and end the window with 'UTC'` };
  const [h1, m1, h2, m2] = [m[2], m[3], m[4], m[5]].map(Number) as [number, number, number, number];
  if (h1 > 23 || m1 > 59 || h2 > 24 || m2 > 59 || (h2 === 24 && m2 > 0)) return { ok: false, message: `'${text}': times must be 00:00-23:59 (24:00 as an end)` };
  const start = h1 * 60 + m1;
  const end = h2 * 60 + m2;
  if (start === end % 1440) return { ok: false, message: `'${text}': the window must not be empty or a whole day` };
  const days = new Array<boolean>(7).fill(m[1] === undefined);
  for (const part of (m[1] ?? "").split(",").map((p) => p.trim().toLowerCase()).filter(Boolean)) {
    const range = part.split("-").map((p) => p.trim().slice(0, 3));
    const idx = range.map((d) => DAYS.indexOf(d as (typeof DAYS)[number]));
    if (range.length > 2 || idx.some((i) => i < 0)) return { ok: false, message: `'${part}' is not a weekday or a range of them (Sun, Mon, ..., Sat; Mon-Fri)` };
    for (let i = idx[0]!; ; i = (i + 1) % 7) {
      days[i] = true;
      if (i === idx[idx.length - 1]) break;
    }
  }
  const lengthMs = (((end - start) % 1440) + 1440) % 1440 * 60_000;
  return { ok: true, window: { days, startMinute: start, lengthMs } };
}

const cache = new Map<string, TimeWindow | null>();
/** parseWindow, remembered (the engine asks on every step). */
export function windowOf(text: string): TimeWindow | null {
  let w = cache.get(text);
  if (w === undefined) {
    const r = parseWindow(text);
    w = r.ok ? r.window : null;
    if (cache.size > 1000) cache.clear();
    cache.set(text, w);
  }
  return w;
}

/** 0 = Sunday, for the UTC day that contains `ms` (1970-01-01 was a Thursday). */
export const weekdayOf = (ms: number): number => (((Math.floor(ms / DAY_MS) + 4) % 7) + 7) % 7;

/** The occurrence of `w` that contains `t` ([start, end)), or null. */
export function occurrenceAt(w: TimeWindow, t: number): { start: number; end: number } | null {
  const day = Math.floor(t / DAY_MS) * DAY_MS;
  // It may have opened today, or yesterday and run past midnight.
  for (const d of [day, day - DAY_MS]) {
    if (!w.days[weekdayOf(d)]) continue;
    const start = d + w.startMinute * 60_000;
    if (t >= start && t < start + w.lengthMs) return { start, end: start + w.lengthMs };
  }
  return null;
}

/** The first occurrence of `w` that opens after `t` (strictly). */
export function nextOpening(w: TimeWindow, t: number): number | null {
  const day = Math.floor(t / DAY_MS) * DAY_MS;
  for (let i = 0; i <= 7; i++) {
    const d = day + i * DAY_MS;
    const start = d + w.startMinute * 60_000;
    if (w.days[weekdayOf(d)] && start > t) return start;
  }
  return null;
}
