// `chime-ha events [CLUSTER]`: the event log, oldest first — by default the last 20 (`-n`), or
// those since a time (`--since 10m`), or all (`--all`). `--follow` then keeps polling with the
// cursor the API hands back (nothing shown twice or skipped) and rides out connection errors and
// control-plane restarts with a bounded backoff, saying so on stderr.
import type { Command } from "commander";
import { type EventPage, EventPage as EventPageSchema, type EventRow } from "../../protocol/api.js";
import { ApiClient, clusterPath, NetworkError } from "./client.js";
import { resolveConnection } from "./contexts.js";
import { type Colour, colourEnabled, interruptSignal, note, oneLine, painter, parseDuration, parseTime, positiveInt, sleep, UsageError } from "./output.js";

const SEVERITY: Record<EventRow["severity"], Colour> = { info: "grey", warning: "yellow", critical: "red" };

export function formatEvent(e: EventRow, paint: (c: Colour, t: string) => string = (_c, t) => t, withCluster = false): string {
  const at = new Date(e.at).toISOString();
  const where = [withCluster && e.cluster ? e.cluster : "", e.group ? `group=${e.group}` : "", e.node ? `node=${e.node}` : "", e.epoch !== null ? `epoch=${e.epoch}` : ""].filter(Boolean).join(" ");
  return `${at} ${paint(SEVERITY[e.severity], e.severity.toUpperCase().padEnd(8))} ${e.kind}${where ? ` ${where}` : ""} (${e.actor}): ${e.reason}`;
}

export interface StreamOptions {
  /** Start after this cursor (else from `last` / `since`). */
  cursor?: string;
  last?: number;
  since?: number;
  follow: boolean;
  intervalMs: number;
  signal?: AbortSignal;
  /** Longest wait between retries after connection errors. */
  maxBackoffMs?: number;
  onRetry?: (err: Error, waitMs: number) => void;
  onRecovered?: () => void;
}

/** Pages through events, calling `emit` for each; with `follow`, polls until the signal aborts. */
export async function streamEvents(client: ApiClient, base: string, opts: StreamOptions, emit: (e: EventRow) => void): Promise<string | undefined> {
  const limit = 500;
  let cursor = opts.cursor;
  let first = cursor === undefined;
  let failures = 0;
  for (;;) {
    const q = new URLSearchParams();
    if (cursor !== undefined) q.set("cursor", cursor);
    if (first && opts.last !== undefined) q.set("last", String(opts.last));
    else q.set("limit", String(limit));
    if (opts.since !== undefined) q.set("since", String(opts.since));
    let page: EventPage;
    try {
      page = await client.get(`${base}?${q}`, EventPageSchema);
    } catch (err) {
      if (!(err instanceof NetworkError) || !opts.follow) throw err;
      failures++;
      const wait = Math.max(err.retryAfterMs ?? 0, Math.min(opts.maxBackoffMs ?? 5000, 500 * 2 ** (failures - 1)));
      opts.onRetry?.(err, wait);
      await sleep(wait, opts.signal);
      if (opts.signal?.aborted) return cursor;
      continue;
    }
    if (failures > 0) opts.onRecovered?.();
    failures = 0;
    const wasFirst = first;
    first = false;
    for (const e of page.events) emit(e);
    if (page.nextCursor !== null) cursor = page.nextCursor;
    if (!wasFirst || opts.last === undefined) {
      if (page.events.length === limit) continue; // more waiting: fetch at once
    }
    if (!opts.follow || opts.signal?.aborted) return cursor;
    await sleep(opts.intervalMs, opts.signal);
    if (opts.signal?.aborted) return cursor;
  }
}

export function registerEvents(program: Command): void {
  program
    .command("events")
    .description("events (failovers, grants, probe changes, API changes), oldest first; every cluster without an argument")
    .argument("[cluster]", "cluster id (site.name) or name")
    .option("-n, --last <count>", "the newest COUNT events (default 20 unless --since or --all)")
    .option("--since <when>", "events since a time: 10m, 2h, 1d ago, or an ISO time")
    .option("--all", "the whole history")
    .option("-f, --follow", "keep printing new events until Ctrl-C (rides out connection errors)")
    .option("--interval <duration>", "poll interval with --follow", "1s")
    .option("--json", "one JSON object per line")
    .action(async (cluster: string | undefined, o: { last?: string; since?: string; all?: boolean; follow?: boolean; interval: string; json?: boolean }) => {
      if (o.all && (o.last !== undefined || o.since !== undefined)) throw new UsageError("--all cannot be combined with -n or --since");
      const client = new ApiClient(resolveConnection(program.opts()));
      const base = cluster === undefined ? "/v1/events" : `${clusterPath((await client.resolveCluster(cluster)).id)}/events`;
      const last = o.last !== undefined ? positiveInt(o.last, "-n") : o.since === undefined && !o.all ? 20 : undefined;
      if (last !== undefined && last > 500) throw new UsageError("-n: at most 500 (use --since or --all for more)");
      const paint = painter(colourEnabled());
      const signal = interruptSignal();
      await streamEvents(
        client,
        base,
        {
          ...(last !== undefined ? { last } : {}),
          ...(o.since !== undefined ? { since: parseTime(o.since, "--since") } : {}),
          follow: o.follow === true,
          intervalMs: parseDuration(o.interval, "--interval"),
          signal,
          onRetry: (err, wait) => note(`chime-ha: ${oneLine(err.message)}; retrying in ${(wait / 1000).toFixed(1)} s`),
          onRecovered: () => note("chime-ha: reconnected; continuing where it stopped"),
        },
        (e) => process.stdout.write(`${o.json ? JSON.stringify(e) : formatEvent(e, paint, cluster === undefined)}\n`),
      );
    });
}
