// Where the CLI finds its control plane: named contexts in $XDG_CONFIG_HOME/chime-ha/config.yaml
// (default ~/.config/chime-ha/config.yaml), like kubectl's, each a URL and a token FILE (the token
// never sits in the config). Flags beat environment variables, which beat the context:
//   --url / CHIME_HA_URL, --token / CHIME_HA_TOKEN, --token-file / CHIME_HA_TOKEN_FILE,
//   --context / CHIME_HA_CONTEXT (else the file's current-context), CHIME_HA_CONFIG (the file).
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { Document, parseDocument } from "yaml";
import { z } from "zod";
import { formatPath } from "../../protocol/spec.js";
import { UsageError } from "./output.js";

export const Context = z.strictObject({
  url: z.url(),
  /** File holding the API token (absolute, `~/...`, or relative to the config file). */
  tokenFile: z.string().min(1),
  /** Default site for `apply` when a cluster is created. */
  site: z.string().min(1).optional(),
});
export type Context = z.infer<typeof Context>;

export const ConfigFile = z.strictObject({
  "current-context": z.string().optional(),
  contexts: z.record(z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, "context names are letters, digits, '.', '_' and '-'"), Context).default({}),
});
export type ConfigFile = z.infer<typeof ConfigFile>;

export interface GlobalFlags {
  url?: string;
  token?: string;
  tokenFile?: string;
  context?: string;
}

export interface Connection {
  url: string;
  token: string;
  /** The context used, if any (for messages and apply's default site). */
  context?: string;
  site?: string;
}

export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CHIME_HA_CONFIG) return env.CHIME_HA_CONFIG;
  const base = env.XDG_CONFIG_HOME && isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : join(env.HOME ?? homedir(), ".config");
  return join(base, "chime-ha", "config.yaml");
}

/** The config file, or an empty one when it does not exist; a broken file is a one-line error naming it. */
export function readConfig(file = configPath()): ConfigFile {
  if (!existsSync(file)) return { contexts: {} };
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const doc = parseDocument(text);
  if (doc.errors.length > 0) throw new UsageError(`${file}: ${doc.errors[0]!.message.split("\n")[0]}`);
  const r = ConfigFile.safeParse(doc.toJS() ?? {});
  if (!r.success) throw new UsageError(`${file}: ${r.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`).join("; ")}`);
  return r.data;
}

/** Edit the file in place (comments and order kept), 0600, creating its folder. */
export function editConfig(edit: (doc: Document, current: ConfigFile) => void, file = configPath()): void {
  const current = readConfig(file);
  const doc = existsSync(file) ? parseDocument(readFileSync(file, "utf8")) : new Document({ contexts: {} });
  if (!doc.has("contexts")) doc.set("contexts", doc.createNode({}));
  edit(doc, current);
  const r = ConfigFile.safeParse(doc.toJS() ?? {});
  if (!r.success) throw new UsageError(`${r.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`).join("; ")}`);
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, String(doc), { mode: 0o600 });
  chmodSync(file, 0o600);
}

export function expandPath(p: string, relativeTo: string, env: NodeJS.ProcessEnv = process.env): string {
  if (p === "~" || p.startsWith("~/")) return join(env.HOME ?? homedir(), p.slice(1));
  return isAbsolute(p) ? p : resolve(relativeTo, p);
}

function readToken(file: string, where: string): string {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new UsageError(`cannot read the token file ${file} (${where}): ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const token = text.trim();
  if (!token) throw new UsageError(`the token file ${file} (${where}) is empty`);
  return token;
}

export function resolveConnection(flags: GlobalFlags, env: NodeJS.ProcessEnv = process.env): Connection {
  const file = configPath(env);
  const cfg = readConfig(file);
  const explicit = flags.context ?? env.CHIME_HA_CONTEXT;
  const name = explicit || cfg["current-context"];
  let ctx: Context | undefined;
  if (name) {
    ctx = cfg.contexts[name];
    if (!ctx && (explicit || !(flags.url ?? env.CHIME_HA_URL))) {
      const known = Object.keys(cfg.contexts);
      throw new UsageError(`no context '${name}' in ${file} (${known.length ? `contexts: ${known.join(", ")}` : "it has none"})`);
    }
  }
  const url = flags.url ?? (env.CHIME_HA_URL || undefined) ?? ctx?.url;
  if (!url) {
    throw new UsageError(`no control plane URL: pass --url, set CHIME_HA_URL, or add a context (chime-ha config set-context NAME --url URL --token-file FILE) to ${file}`);
  }
  if (!/^https?:\/\/[^/\s]+/.test(url)) {
    const from = flags.url ? "--url" : env.CHIME_HA_URL ? "CHIME_HA_URL" : `context ${name}`;
    throw new UsageError(`${from}: '${url}' is not an http:// or https:// URL`);
  }
  let token = flags.token ?? (env.CHIME_HA_TOKEN || undefined);
  if (token === undefined) {
    const tokenFile = flags.tokenFile ?? (env.CHIME_HA_TOKEN_FILE || undefined);
    if (tokenFile) token = readToken(expandPath(tokenFile, process.cwd(), env), flags.tokenFile ? "--token-file" : "CHIME_HA_TOKEN_FILE");
    else if (ctx) token = readToken(expandPath(ctx.tokenFile, dirname(file), env), `context ${name} in ${file}`);
  }
  if (!token) throw new UsageError("no API token: pass --token-file, set CHIME_HA_TOKEN or CHIME_HA_TOKEN_FILE, or use a context with a tokenFile");
  const out: Connection = { url: url.replace(/\/+$/, ""), token };
  if (ctx && name) out.context = name;
  if (ctx?.site) out.site = ctx.site;
  return out;
}
