// `chime-ha apply -f SPEC [--site SITE] [--dry-run]`: create the cluster the spec names, or update
// it — the diff first, then a PUT with If-Match on the version the diff was made against, so a
// change someone else made meanwhile is never overwritten unseen. The file goes to the API as the
// YAML it is (problems come back with their line). New node tokens are printed once.
import type { Command } from "commander";
import { z } from "zod";
import { Cluster, ClusterCreated, Site } from "../../protocol/api.js";
import type { ClusterSpec } from "../../protocol/spec.js";
import { ApiClient, ApiError, clusterPath, formatProblem } from "./client.js";
import { resolveConnection } from "./contexts.js";
import { diffValues, formatChange } from "./diff.js";
import { CommandFailed, colourEnabled, out, painter, UsageError } from "./output.js";
import { readSpecFile } from "./spec-file.js";

function printTokens(tokens: Record<string, string>): void {
  const names = Object.keys(tokens);
  if (names.length === 0) return;
  out("node tokens (shown this once: put each in its node's tokenFile, e.g. /etc/chime-ha/node-token, mode 0600):");
  const w = Math.max(...names.map((n) => n.length));
  for (const n of names) out(`  ${n.padEnd(w)}  ${tokens[n]}`);
}

const summary = (s: ClusterSpec) => `${s.nodes.length} nodes (${s.nodes.map((n) => n.name).join(", ")}), ${s.groups.length} groups (${s.groups.map((g) => g.name).join(", ")})`;

export function registerApply(program: Command): void {
  program
    .command("apply")
    .description("create or update a cluster from its spec file: prints the diff, then applies it (If-Match)")
    .requiredOption("-f, --file <spec>", "cluster spec (YAML or JSON)")
    .option("--site <site>", "site of the cluster (default: the context's site; needed to create a cluster)")
    .option("--dry-run", "print what would change and stop")
    .option("--json", "print the API's reply as JSON")
    .action(async (o: { file: string; site?: string; dryRun?: boolean; json?: boolean }) => {
      const r = readSpecFile(o.file);
      if (!r.ok) throw new CommandFailed(`${o.file}: ${r.problems.length} problem${r.problems.length === 1 ? "" : "s"}: ${r.problems.map(formatProblem).join("; ")}`);
      const spec = r.spec;
      const conn = resolveConnection(program.opts());
      const client = new ApiClient(conn);
      const paint = painter(colourEnabled());
      const site = o.site ?? conn.site;
      const all = await client.clusters();
      const same = all.filter((c) => c.name === spec.name && (site === undefined || c.site === site));
      if (same.length > 1) throw new UsageError(`cluster '${spec.name}' exists in several sites (${same.map((c) => c.site).join(", ")}): pass --site`);
      if (same.length === 1) {
        const id = same[0]!.id;
        const cur = await client.request("GET", clusterPath(id), Cluster);
        const etag = cur.headers.get("etag") ?? "*";
        const changes = diffValues(cur.body.spec, spec);
        if (changes.length === 0) return out(`${id}: no changes (spec v${cur.body.specVersion})`);
        out(`${id}: spec v${cur.body.specVersion} -> v${cur.body.specVersion + 1}, ${changes.length} change${changes.length === 1 ? "" : "s"}:`);
        for (const c of changes) out(`  ${paint(c.op === "+" ? "green" : c.op === "-" ? "red" : "yellow", formatChange(c))}`);
        if (o.dryRun) return out("dry run: nothing sent");
        try {
          const up = await client.request("PUT", `${clusterPath(id)}/spec`, ClusterCreated, { yaml: r.text ?? JSON.stringify(spec), headers: { "if-match": etag } });
          if (o.json) return out(JSON.stringify(up.body, null, 2));
          out(`${id}: spec v${up.body.cluster.specVersion} applied`);
          printTokens(up.body.nodeTokens);
        } catch (err) {
          if (err instanceof ApiError && err.status === 412) throw new CommandFailed(`${id}: the spec changed while this diff was made (${err.detail ?? "newer version"}); run apply again to see the new diff`);
          throw err;
        }
        return;
      }
      if (site === undefined) {
        const sites = (await client.get("/v1/sites", z.object({ sites: z.array(Site) }))).sites.map((s) => s.id);
        throw new UsageError(`no cluster '${spec.name}' yet: pass --site SITE to create it${sites.length ? ` (sites: ${sites.join(", ")})` : ""}`);
      }
      const sites = (await client.get("/v1/sites", z.object({ sites: z.array(Site) }))).sites.map((s) => s.id);
      const newSite = !sites.includes(site);
      out(`+ ${newSite ? `site ${site}, ` : ""}cluster ${site}.${spec.name}: ${summary(spec)}`);
      if (o.dryRun) return out("dry run: nothing sent");
      if (newSite) await client.post("/v1/sites", { id: site }, Site);
      const made = await client.request("POST", `/v1/clusters?site=${encodeURIComponent(site)}`, ClusterCreated, { yaml: r.text ?? JSON.stringify(spec) });
      if (o.json) return out(JSON.stringify(made.body, null, 2));
      out(`${made.body.cluster.id}: created (spec v${made.body.cluster.specVersion})`);
      printTokens(made.body.nodeTokens);
    });
}
