// Small helpers: polling that survives errors, hash routing, and how times are written.
import { useEffect, useRef, useState } from "preact/hooks";

/**
 * Runs `tick` now and then every `everyMs` after the previous run finished (never overlapping),
 * until the component goes away or `key` changes. Errors are kept for display, not thrown.
 * `kick()` runs it again at once (after an action, so its effect shows without waiting).
 */
export function usePoll(tick: (signal: { stopped: boolean }) => Promise<void>, everyMs: number, key: unknown): { error: string | null; lastOk: number | null; kick: () => void } {
  const [error, setError] = useState<string | null>(null);
  const [lastOk, setLastOk] = useState<number | null>(null);
  const tickRef = useRef(tick);
  tickRef.current = tick;
  const kickRef = useRef<() => void>(() => {});
  useEffect(() => {
    const state = { stopped: false };
    let timer: ReturnType<typeof setTimeout> | undefined;
    let running = false;
    let again = false;
    const run = async () => {
      clearTimeout(timer);
      if (running) return void (again = true);
      running = true;
      try {
        await tickRef.current(state);
        if (!state.stopped) {
          setError(null);
          setLastOk(Date.now());
        }
      } catch (err) {
        if (!state.stopped) setError((err as Error).message);
      }
      running = false;
      if (state.stopped) return;
      if (again) {
        again = false;
        void run();
      } else timer = setTimeout(run, everyMs);
    };
    kickRef.current = () => void run();
    void run();
    return () => {
      state.stopped = true;
      clearTimeout(timer);
    };
  }, [key, everyMs]);
  return { error, lastOk, kick: () => kickRef.current() };
}

/** Re-renders every `ms` (for "3 s ago" texts and lease bars between polls). */
export function useNow(ms: number): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}

export type Route = { view: "fleet" } | { view: "cluster"; id: string };

export function parseRoute(hash: string): Route {
  const m = /^#\/clusters\/([^/?#]+)/.exec(hash);
  return m ? { view: "cluster", id: decodeURIComponent(m[1]!) } : { view: "fleet" };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const on = () => setRoute(parseRoute(location.hash));
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return route;
}

export const clusterHref = (id: string) => `#/clusters/${encodeURIComponent(id)}`;

export function secs(ms: number): string {
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 120_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)} min`;
  return `${Math.round(ms / 3_600_000)} h`;
}

const pad = (n: number) => String(n).padStart(2, "0");
/** Local time of day, with the date when it is not today. */
export function clock(at: number): string {
  const d = new Date(at);
  const t = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return d.toDateString() === new Date().toDateString() ? t : `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${t}`;
}

export const STATE_LABEL: Record<string, string> = { "no-holder": "no holder", unknown: "unknown", degraded: "degraded", healthy: "healthy" };
