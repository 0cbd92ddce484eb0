// Pure analysis of what the lab recorded: client probe results and VIP samples.
//
// Definitions (issue 4):
// - downtime: from the first failed client request after the fault to the first successful one
//   that starts a stable run (request start times, 20 ms resolution); 0 without a failure.
// - split-brain instant: a sample tick at which the VIP is EFFECTIVE on two hosts at once (each
//   host's sample compared with the other's latest sample), or an answer that flips back to a
//   host the client had already left (X, then Y, then X again within `flipBackMs`). Effective:
//   configured and not fenced by the kernel's lease filter (keepalived has none: effective ==
//   configured). The configured-only count is reported beside it, and the client's ARP prober
//   gives an outside view: a round in which two MACs answer for one VIP.

export interface ClientResult {
  /** Start of the request, wall-clock ms. */
  t: number;
  ok: boolean;
  /** Answering node's name, or the error code. */
  who: string;
}

export interface VipSample {
  t: number;
  /** Bit i set: the i-th VIP is configured on this host. */
  mask: number;
  /** Bit i set: the i-th VIP is effective (configured, and the kernel lets it answer). */
  effective: number;
}

/** One round of the client's ARP prober: the MACs that answered for VIP `vip` (index). */
export interface ArpRound {
  t: number;
  vip: number;
  macs: string[];
}

/** Rounds in [from, to] in which two or more MACs answered for VIP `vip`. */
export function dualMac(rounds: ArpRound[], vip: number, from: number, to: number): number {
  return rounds.filter((r) => r.vip === vip && r.t >= from && r.t <= to && r.macs.length >= 2).length;
}

export interface Outage {
  /** Requests started in the window that failed (all of them, also after the service was back). */
  failures: number;
  requests: number;
  firstFailAt: number | null;
  /** Start of the first good request of the first stable run after the first failure; null when none. */
  backAt: number | null;
  /** backAt - firstFailAt (0 without failures; null while still down). */
  downtimeMs: number | null;
  /** Failed requests after backAt (isolated blips once the service was stable again). */
  laterFailures: number;
}

/**
 * The outage a fault caused: from the first failed request to the first good one that starts a
 * stable run (`stableRun` good requests in a row, 200 ms at 20 ms cadence). A lone failure after
 * that is counted in `laterFailures`, not stretched into the downtime.
 */
export function outage(results: ClientResult[], from: number, to: number, stableRun = 10): Outage {
  const inWin = results.filter((r) => r.t >= from && r.t <= to).sort((a, b) => a.t - b.t);
  const firstFail = inWin.findIndex((r) => !r.ok);
  const failures = inWin.filter((r) => !r.ok).length;
  if (firstFail < 0) return { failures: 0, requests: inWin.length, firstFailAt: null, backAt: null, downtimeMs: 0, laterFailures: 0 };
  const first = inWin[firstFail]!.t;
  let backIdx = -1;
  for (let i = firstFail + 1, run = 0; i < inWin.length; i++) {
    run = inWin[i]!.ok ? run + 1 : 0;
    // A stable run, or good answers up to the end of the window (nothing more to see).
    if (run >= stableRun || (run > 0 && i === inWin.length - 1)) {
      backIdx = i - run + 1;
      break;
    }
  }
  if (backIdx < 0) return { failures, requests: inWin.length, firstFailAt: first, backAt: null, downtimeMs: null, laterFailures: 0 };
  const back = inWin[backIdx]!.t;
  const laterFailures = inWin.slice(backIdx).filter((r) => !r.ok).length;
  return { failures, requests: inWin.length, firstFailAt: first, backAt: back, downtimeMs: back - first, laterFailures };
}

/** Latest sample at or before t (binary search over samples sorted by t). */
function at(samples: VipSample[], t: number): VipSample | null {
  let lo = 0;
  let hi = samples.length - 1;
  let best: VipSample | null = null;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (samples[mid]!.t <= t) {
      best = samples[mid]!;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return best;
}

export interface DualVip {
  /** Sample ticks (of either host) at which both hosts had the VIP. */
  instants: number;
  /** First and last such tick. */
  first: number | null;
  last: number | null;
}

/**
 * Ticks in [from, to] at which `bit` was set on host A and on host B's latest sample (no older
 * than `staleMs`, so a stalled sampler is not read as "still configured"), counted from both sides.
 */
export function dualVip(a: VipSample[], b: VipSample[], bit: number, from: number, to: number, staleMs = 100, field: "effective" | "mask" = "effective"): DualVip {
  let instants = 0;
  let first: number | null = null;
  let last: number | null = null;
  const side = (mine: VipSample[], other: VipSample[]) => {
    for (const s of mine) {
      if (s.t < from || s.t > to || !(s[field] & (1 << bit))) continue;
      const o = at(other, s.t);
      if (o && s.t - o.t <= staleMs && o[field] & (1 << bit)) {
        instants++;
        first = first === null ? s.t : Math.min(first, s.t);
        last = last === null ? s.t : Math.max(last, s.t);
      }
    }
  };
  side(a, b);
  side(b, a);
  return { instants, first, last };
}

/** Successful answers that flip back to a host the client had left less than `flipBackMs` before. */
export function interleavedAnswers(results: ClientResult[], from: number, to: number, flipBackMs = 2000): number {
  const oks = results.filter((r) => r.ok && r.t >= from && r.t <= to).sort((a, b) => a.t - b.t);
  const runs: { who: string; first: number; last: number; n: number }[] = [];
  for (const r of oks) {
    const cur = runs[runs.length - 1];
    if (cur && cur.who === r.who) {
      cur.last = r.t;
      cur.n++;
    } else runs.push({ who: r.who, first: r.t, last: r.t, n: 1 });
  }
  let count = 0;
  for (let i = 2; i < runs.length; i++) {
    const back = runs[i]!;
    const left = runs[i - 2]!;
    if (back.who === left.who && back.first - left.last <= flipBackMs) count += back.n;
  }
  return count;
}

/** Hosts that answered, in order of first answer, within the window. */
export function answerers(results: ClientResult[], from: number, to: number): string[] {
  const out: string[] = [];
  for (const r of [...results].sort((a, b) => a.t - b.t)) if (r.ok && r.t >= from && r.t <= to && !out.includes(r.who)) out.push(r.who);
  return out;
}

export function stats(xs: number[]): { min: number; median: number; max: number } | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { min: s[0]!, median, max: s[s.length - 1]! };
}
