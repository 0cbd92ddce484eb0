// `chime-ha token rotate CLUSTER NODE` / `token create --role ROLE` / `token revoke ID`: the new
// token alone goes to stdout (so `> /etc/chime-ha/node-token` just works), what it is to stderr.
import type { Command } from "commander";
import { NodeTokenRotated, TokenCreated } from "../../protocol/api.js";
import { ApiClient, clusterPath, NoBody } from "./client.js";
import { resolveConnection } from "./contexts.js";
import { note, out, parseDuration, UsageError } from "./output.js";

export function registerToken(program: Command): void {
  const token = program.command("token").description("rotate a node token, create or revoke an API token");
  token
    .command("rotate")
    .description("a new token for a node, printed once; the old one keeps working for --grace (the shim re-reads its token file)")
    .argument("<cluster>", "cluster id (site.name) or name")
    .argument("<node>", "the node")
    .option("--grace <duration>", "how long the old token keeps working (0: ends now, for a leaked token; default: the control plane's, 1h)")
    .action(async (clusterArg: string, node: string, o: { grace?: string }) => {
      const client = new ApiClient(resolveConnection(program.opts()));
      const cluster = (await client.resolveCluster(clusterArg)).id;
      const body = o.grace === undefined ? undefined : { graceSeconds: Math.round(parseDuration(o.grace, "--grace") / 1000) };
      const r = await client.post(`${clusterPath(cluster)}/nodes/${encodeURIComponent(node)}/token`, body, NodeTokenRotated);
      const old = r.previousValidUntil === null ? "the old one no longer works" : `the old one works until ${new Date(r.previousValidUntil).toISOString()}`;
      note(`new token for ${node} of ${cluster} (shown once; ${old}): write it to that node's tokenFile (the shim picks it up)`);
      out(r.token);
    });
  token
    .command("create")
    .description("an admin, operator or viewer API token, optionally for one site; printed once")
    .requiredOption("--role <role>", "admin, operator or viewer")
    .option("--site <site>", "only this site")
    .option("--label <text>", "what it is for", "")
    .option("--expires <duration>", "lifetime, e.g. 30d (default: until revoked)")
    .action(async (o: { role: string; site?: string; label: string; expires?: string }) => {
      if (!["admin", "operator", "viewer"].includes(o.role)) throw new UsageError(`--role: expected admin, operator or viewer, got '${o.role}'`);
      const client = new ApiClient(resolveConnection(program.opts()));
      const body = {
        role: o.role,
        label: o.label,
        ...(o.site ? { site: o.site } : {}),
        ...(o.expires ? { expiresInSeconds: Math.round(parseDuration(o.expires, "--expires") / 1000) } : {}),
      };
      const r = await client.post("/v1/tokens", body, TokenCreated);
      note(`${r.info.kind} token ${r.info.id}${r.info.site ? ` for site ${r.info.site}` : ""} (shown once; revoke with: chime-ha token revoke ${r.info.id})`);
      out(r.token);
    });
  token
    .command("revoke")
    .description("revoke an API or node token by id (see get tokens)")
    .argument("<id>", "token id")
    .action(async (id: string) => {
      const client = new ApiClient(resolveConnection(program.opts()));
      await client.request("DELETE", `/v1/tokens/${encodeURIComponent(id)}`, NoBody);
      out(`token ${id} revoked`);
    });
}
