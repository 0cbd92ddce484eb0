// `chime-ha events CLUSTER [--follow]`: the event log, oldest first; --follow keeps polling with
// the cursor the API hands back, so no event is shown twice or skipped.
import type { Command } from "commander";
import { type EventPage, EventPage as EventPageSchema, type EventRow } from "../../protocol/api.js";
import { ApiClient, clientOptionsFromEnv, clusterPath } from "./client.js";

export function formatEvent(e: EventRow): string {
  const at = new Date(e.at).toISOString();
  const where = [e.group ? `group=${e.group}` : "", e.node ? `node=${e.node}` : "", e.epoch !== null ? `epoch=${e.epoch}` : ""].filter(Boolean).join(" ");
  return `${at} ${e.severity.toUpperCase().padEnd(8)} ${e.kind}${where ? ` ${where}` : ""} (${e.actor}): ${e.reason}`;
}

export interface FollowOptions {
  cursor?: string;
  limit: number;
  follow: boolean;
  intervalMs: number;
  signal?: AbortSignal;
}

/** Pages through events, calling `emit` for each; with `follow`, polls until the signal aborts. */
export async function streamEvents(client: ApiClient, cluster: string, opts: FollowOptions, emit: (e: EventRow) => void): Promise<string | undefined> {
  let cursor = opts.cursor;
  for (;;) {
    const q = new URLSearchParams({ limit: String(opts.limit) });
    if (cursor !== undefined) q.set("cursor", cursor);
    const page: EventPage = await client.get(`${clusterPath(cluster)}/events?${q}`, EventPageSchema);
    for (const e of page.events) emit(e);
    if (page.nextCursor !== null) cursor = page.nextCursor;
    if (page.events.length === opts.limit) continue; // more waiting: fetch at once
    if (!opts.follow || opts.signal?.aborted) return cursor;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, opts.intervalMs);
      opts.signal?.addEventListener("abort", () => (clearTimeout(t), resolve()), { once: true });
    });
    if (opts.signal?.aborted) return cursor;
  }
}

export function registerEvents(program: Command): void {
  program
    .command("events")
    .description("the cluster's events (failovers, grants, probe changes, ...), oldest first")
    .argument("<cluster>", "cluster id (site.name)")
    .option("-f, --follow", "keep polling for new events")
    .option("--cursor <cursor>", "start after this cursor")
    .option("--limit <n>", "events per request", "100")
    .option("--interval <ms>", "poll interval with --follow", "1000")
    .option("--json", "one JSON object per line")
    .action(async (cluster: string, o: { follow?: boolean; cursor?: string; limit: string; interval: string; json?: boolean }) => {
      const client = new ApiClient(clientOptionsFromEnv(program.opts()));
      const ctl = new AbortController();
      process.once("SIGINT", () => ctl.abort());
      await streamEvents(
        client,
        cluster,
        { cursor: o.cursor, limit: Number(o.limit), follow: o.follow === true, intervalMs: Number(o.interval), signal: ctl.signal },
        (e) => process.stdout.write((o.json ? JSON.stringify(e) : formatEvent(e)) + "\n"),
      );
    });
}
