// `chime-ha get clusters|sites|tokens|webhooks [NAME] [-o table|json|yaml]`: the registry as
// tables; `get cluster NAME -o yaml` prints its spec, ready to edit and `apply -f` again.
import type { Command } from "commander";
import { stringify } from "yaml";
import { z } from "zod";
import { Cluster, Site, Token, Webhook } from "../../protocol/api.js";
import { ApiClient, CliNotFound, clusterPath } from "./client.js";
import { resolveConnection } from "./contexts.js";
import { out, UsageError } from "./output.js";
import { textTable } from "./table.js";

const KINDS = ["clusters", "sites", "tokens", "webhooks"] as const;
type Kind = (typeof KINDS)[number];
const SINGULAR: Record<string, Kind> = { cluster: "clusters", site: "sites", token: "tokens", webhook: "webhooks" };
export const GET_KINDS = [...KINDS, ...Object.keys(SINGULAR)];

const day = (ms: number | null) => (ms === null ? "-" : new Date(ms).toISOString().slice(0, 16).replace("T", " "));

/** Every page of a cursor-paginated list. */
async function allPages<T>(client: ApiClient, path: string, key: string, item: z.ZodType<T>): Promise<T[]> {
  const page = z.object({ [key]: z.array(item), nextCursor: z.string().nullable() });
  const rows: T[] = [];
  let cursor: string | null = null;
  for (let i = 0; i < 1000; i++) {
    const p = (await client.get(`${path}?limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, page)) as Record<string, unknown> & { nextCursor: string | null };
    rows.push(...(p[key] as T[]));
    cursor = p.nextCursor;
    if (!cursor) break;
  }
  return rows;
}

function render(format: string, rows: unknown, table: () => string): string {
  if (format === "json") return JSON.stringify(rows, null, 2);
  if (format === "yaml") return stringify(rows).trimEnd();
  return table();
}

export function registerGet(program: Command): void {
  program
    .command("get")
    .description("list clusters, sites, tokens or webhooks; `get cluster NAME -o yaml` prints its spec")
    .argument("<kind>", `one of ${KINDS.join(", ")}`)
    .argument("[name]", "only this one")
    .option("-o, --output <format>", "table, json or yaml", "table")
    .action(async (kindArg: string, name: string | undefined, o: { output: string }) => {
      const kind = (KINDS as readonly string[]).includes(kindArg) ? (kindArg as Kind) : SINGULAR[kindArg];
      if (!kind) throw new UsageError(`get: unknown kind '${kindArg}' (one of ${KINDS.join(", ")})`);
      if (!["table", "json", "yaml"].includes(o.output)) throw new UsageError(`-o: expected table, json or yaml, got '${o.output}'`);
      const client = new ApiClient(resolveConnection(program.opts()));
      const one = <T extends { id: string }>(rows: T[]): T[] => {
        if (name === undefined) return rows;
        const hit = rows.filter((r) => r.id === name);
        if (hit.length === 0) throw new CliNotFound(`no ${kind.slice(0, -1)} '${name}'`);
        return hit;
      };
      switch (kind) {
        case "clusters": {
          if (name !== undefined) {
            const c = await client.resolveCluster(name);
            const full = await client.get(clusterPath(c.id), Cluster);
            // The spec alone in YAML/JSON: what `apply -f` takes back.
            if (o.output !== "table") return out(render(o.output, full.spec, () => ""));
            return out(textTable(["CLUSTER", "SITE", "SPEC", "UPDATED"], [[full.id, full.site, `v${full.specVersion}`, day(full.updatedAt)]]));
          }
          const rows = await client.clusters();
          return out(render(o.output, rows, () => (rows.length ? textTable(["CLUSTER", "SITE", "NAME", "SPEC", "UPDATED"], rows.map((c) => [c.id, c.site, c.name, `v${c.specVersion}`, day(c.updatedAt)])) : "no clusters")));
        }
        case "sites": {
          const rows = one((await client.get("/v1/sites", z.object({ sites: z.array(Site) }))).sites);
          return out(render(o.output, rows, () => (rows.length ? textTable(["SITE", "DESCRIPTION", "CREATED"], rows.map((s) => [s.id, s.description, day(s.createdAt)])) : "no sites")));
        }
        case "tokens": {
          const rows = one(await allPages(client, "/v1/tokens", "tokens", Token));
          return out(
            render(o.output, rows, () =>
              textTable(
                ["ID", "KIND", "SCOPE", "LABEL", "CREATED", "EXPIRES", "REVOKED"],
                rows.map((t) => [t.id, t.kind, t.node ? `${t.cluster}/${t.node}` : (t.site ?? "all sites"), t.label, day(t.createdAt), day(t.expiresAt), day(t.revokedAt)]),
              ),
            ),
          );
        }
        case "webhooks": {
          const rows = one(await allPages(client, "/v1/webhooks", "webhooks", Webhook));
          return out(
            render(o.output, rows, () =>
              rows.length
                ? textTable(
                    ["ID", "FORMAT", "URL", "SCOPE", "MIN SEVERITY", "ENABLED"],
                    rows.map((w) => [w.id, w.format, w.url, w.cluster ?? w.site ?? "all", w.minSeverity, w.enabled ? "yes" : "no"]),
                  )
                : "no webhooks",
            ),
          );
        }
      }
    });
}
