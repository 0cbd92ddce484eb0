// Shell completion: `chime-ha completion bash` prints a script that asks `chime-ha __complete`
// for candidates — commands and options from the program itself, and cluster, group and node
// names from the control plane (short timeout; nothing on error). zsh can use the same script
// after `autoload -U +X bashcompinit && bashcompinit`.
import type { Command, Option } from "commander";
import { z } from "zod";
import { Cluster } from "../../protocol/api.js";
import { ApiClient, clusterPath } from "./client.js";
import { type GlobalFlags, readConfig, resolveConnection } from "./contexts.js";
import { DELETE_KINDS } from "./delete.js";
import { GET_KINDS } from "./get.js";
import { out, UsageError } from "./output.js";

export const BASH_SCRIPT = `# bash completion for chime-ha. Install: chime-ha completion bash > ~/.local/share/bash-completion/completions/chime-ha
# (or: source <(chime-ha completion bash) in ~/.bashrc)
_chime_ha() {
  local IFS=$'\\n'
  COMPREPLY=( $(chime-ha __complete "$COMP_CWORD" "\${COMP_WORDS[@]:1}" 2>/dev/null) )
}
complete -o default -o nosort -F _chime_ha chime-ha
`;

export function registerCompletion(program: Command): void {
  program
    .command("completion")
    .description("print a shell completion script (bash; zsh with bashcompinit)")
    .argument("<shell>", "bash")
    .action((shell: string) => {
      if (shell !== "bash" && shell !== "zsh") throw new UsageError(`completion: only bash (and zsh through bashcompinit) is supported, not '${shell}'`);
      out(shell === "zsh" ? `autoload -U +X bashcompinit && bashcompinit\n${BASH_SCRIPT}` : BASH_SCRIPT);
    });
}

const takesValue = (o: Option) => o.required || o.optional;
const optionNames = (cmd: Command) => cmd.options.flatMap((o) => [o.long, o.short].filter((x): x is string => Boolean(x)));
const findOption = (cmd: Command, name: string) => cmd.options.find((o) => o.long === name || o.short === name);

/** Cluster ids and names, groups and nodes of a cluster: from the API, quickly, or nothing. */
async function fromApi(flags: GlobalFlags, what: "clusters" | "groups" | "nodes", cluster?: string): Promise<string[]> {
  try {
    const client = new ApiClient(resolveConnection(flags));
    const all = (await client.request("GET", "/v1/clusters", z.object({ clusters: z.array(Cluster) }), { timeoutMs: 2000 })).body.clusters;
    if (what === "clusters") return [...all.map((c) => c.id), ...all.map((c) => c.name)];
    const c = all.find((x) => x.id === cluster) ?? all.find((x) => x.name === cluster);
    if (!c) return [];
    const spec = (await client.request("GET", clusterPath(c.id), Cluster, { timeoutMs: 2000 })).body.spec as { nodes?: { name: string }[]; groups?: { name: string }[] };
    return (what === "groups" ? spec.groups : spec.nodes)?.map((x) => x.name) ?? [];
  } catch {
    return [];
  }
}

/** Candidates for the word at `cword` (1-based, after the program name) of `words`. */
export async function complete(program: Command, cword: number, words: string[]): Promise<string[]> {
  const current = words[cword - 1] ?? "";
  const prior = words.slice(0, Math.max(0, cword - 1));
  let cmd = program;
  const positionals: string[] = [];
  const flags: GlobalFlags = {};
  let pendingOption: Option | undefined;
  for (let i = 0; i < prior.length; i++) {
    const w = prior[i]!;
    if (w.startsWith("-")) {
      const opt = findOption(cmd, w.split("=")[0]!) ?? findOption(program, w.split("=")[0]!);
      if (opt && takesValue(opt) && !w.includes("=")) {
        if (i + 1 < prior.length) {
          const v = prior[++i]!;
          if (opt.long === "--context") flags.context = v;
          if (opt.long === "--url") flags.url = v;
        } else pendingOption = opt;
      }
      continue;
    }
    const sub = positionals.length === 0 ? cmd.commands.find((c) => c.name() === w || c.aliases().includes(w)) : undefined;
    if (sub) cmd = sub;
    else positionals.push(w);
  }
  const match = (xs: string[]) => [...new Set(xs)].filter((x) => x.startsWith(current));
  if (pendingOption) {
    switch (pendingOption.long) {
      case "--context":
        return match(Object.keys(readConfig().contexts));
      case "--output":
        return match(["table", "json", "yaml"]);
      case "--to":
      case "--node":
        return match(await fromApi(flags, "nodes", positionals[0]));
      case "--group":
        return match(await fromApi(flags, "groups", positionals[0]));
      default:
        return [];
    }
  }
  if (current.startsWith("-")) return match([...optionNames(cmd), ...(cmd === program ? [] : optionNames(program)), "--help"]);
  const subs = cmd.commands.filter((c) => !(c as Command & { _hidden?: boolean })._hidden).map((c) => c.name());
  if (subs.length > 0 && positionals.length === 0) return match(subs);
  const arg = cmd.registeredArguments[positionals.length]?.name();
  switch (arg) {
    case "cluster":
      return match(await fromApi(flags, "clusters"));
    case "group":
      return match(await fromApi(flags, "groups", positionals[0]));
    case "node":
      return match(await fromApi(flags, "nodes", positionals[0]));
    case "state":
      return match(["on", "off"]);
    case "kind":
      return match(cmd.name() === "get" ? GET_KINDS : DELETE_KINDS);
    case "shell":
      return match(["bash", "zsh"]);
    case "name":
      if (cmd.parent?.name() === "config") return match(Object.keys(readConfig().contexts));
      return cmd.name() === "delete" && positionals[0] === "cluster" ? match(await fromApi(flags, "clusters")) : [];
    default:
      return [];
  }
}
