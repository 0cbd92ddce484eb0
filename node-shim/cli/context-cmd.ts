// `chime-ha config set-context|use-context|get-contexts|current-context|delete-context|path`:
// the named control planes in the config file (see contexts.ts).
import type { Command } from "commander";
import { Context, configPath, editConfig, readConfig } from "./contexts.js";
import { CliNotFound } from "./client.js";
import { out, UsageError } from "./output.js";
import { textTable } from "./table.js";

export function registerConfig(program: Command): void {
  const cfg = program.command("config").description(`named control planes (contexts) in ${configPath().replace(process.env.HOME ?? "\0", "~")}`);
  cfg
    .command("set-context")
    .description("add or change a context: the control plane's URL and the file holding its token")
    .argument("<name>", "context name")
    // --url and --token-file are the program's own options (see --help): they name the context's.
    .option("--site <site>", "default site for apply")
    .option("--use", "make it the current context")
    .addHelpText("after", "\nGive the URL and token file with the global --url and --token-file, e.g.\n  chime-ha config set-context prod --url https://chime-ha.example.workers.dev --token-file ~/.config/chime-ha/prod.token --use")
    .action((name: string, local: { site?: string; use?: boolean }) => {
      const g = program.opts<{ url?: string; tokenFile?: string }>();
      const o = { ...local, url: g.url, tokenFile: g.tokenFile };
      editConfig((doc, current) => {
        const prev = current.contexts[name];
        const next = { ...prev, ...(o.url ? { url: o.url } : {}), ...(o.tokenFile ? { tokenFile: o.tokenFile } : {}), ...(o.site ? { site: o.site } : {}) };
        const r = Context.safeParse(next);
        if (!r.success) throw new UsageError(`context ${name}: ${r.error.issues.map((i) => `${i.path.join(".") || "(context)"}: ${i.message}`).join("; ")}${prev ? "" : " (a new context needs --url and --token-file)"}`);
        doc.setIn(["contexts", name], doc.createNode(r.data));
        if (o.use || !current["current-context"]) doc.set("current-context", name);
      });
      out(`context ${name} saved in ${configPath()}`);
    });
  cfg
    .command("use-context")
    .description("make a context the current one")
    .argument("<name>", "context name")
    .action((name: string) => {
      editConfig((doc, current) => {
        if (!current.contexts[name]) throw new CliNotFound(`no context '${name}' (contexts: ${Object.keys(current.contexts).join(", ") || "none"})`);
        doc.set("current-context", name);
      });
      out(`current context: ${name}`);
    });
  cfg
    .command("delete-context")
    .description("remove a context")
    .argument("<name>", "context name")
    .action((name: string) => {
      editConfig((doc, current) => {
        if (!current.contexts[name]) throw new CliNotFound(`no context '${name}'`);
        doc.deleteIn(["contexts", name]);
        if (current["current-context"] === name) doc.delete("current-context");
      });
      out(`context ${name} removed`);
    });
  cfg
    .command("get-contexts")
    .description("list the contexts (* = current)")
    .action(() => {
      const c = readConfig();
      const names = Object.keys(c.contexts);
      if (names.length === 0) return out(`no contexts in ${configPath()} (add one: chime-ha config set-context NAME --url URL --token-file FILE)`);
      out(textTable(["", "NAME", "URL", "TOKEN FILE", "SITE"], names.map((n) => [c["current-context"] === n ? "*" : "", n, c.contexts[n]!.url, c.contexts[n]!.tokenFile, c.contexts[n]!.site ?? "-"])));
    });
  cfg
    .command("current-context")
    .description("print the current context's name")
    .action(() => {
      const name = process.env.CHIME_HA_CONTEXT || readConfig()["current-context"];
      if (!name) throw new CliNotFound(`no current context in ${configPath()}`);
      out(name);
    });
  cfg
    .command("path")
    .description("print the config file's path")
    .action(() => out(configPath()));
}
