// YAML documents from untrusted text (spec bodies sent as application/yaml) and from spec files,
// shared by the Worker and the CLI: nesting and aliases are bounded BEFORE anything recursive
// runs (building the document, toJS, zod, a Durable Object's structured clone all recurse once
// per level, like JSON — see worker/http/json-guard.ts), and every problem can name its line.
//
// The bound is checked in two passes that do not recurse: the yaml lexer's flow brackets (stops
// at the first level too deep, so 1 MiB of "[" costs microseconds), then the concrete syntax
// tree's block and flow nesting with an explicit stack.
import { Composer, CST, LineCounter, Lexer, Parser } from "yaml";

export interface YamlLimits {
  /** Deepest nesting of maps and sequences (same as MAX_JSON_DEPTH for JSON bodies). */
  maxDepth: number;
  /** Alias nodes (`*name`), and the yaml library's weighted alias expansion limit. */
  maxAliases: number;
}

export const YAML_LIMITS: YamlLimits = { maxDepth: 32, maxAliases: 100 };

export interface YamlProblem {
  path: string;
  message: string;
  line?: number;
  column?: number;
}

export type YamlParse =
  | { ok: true; value: unknown; locate(path: readonly PropertyKey[]): { line: number; column: number } | undefined }
  | { ok: false; limit?: keyof YamlLimits; problems: YamlProblem[] };

type AnyToken = CST.Token | undefined;

/**
 * Nesting depth and alias count of parsed tokens, or the first limit they break. Never recurses.
 * Returns the limit broken, or null.
 */
function checkTokens(tokens: readonly CST.Token[], limits: YamlLimits): keyof YamlLimits | null {
  let aliases = 0;
  for (const doc of tokens) {
    if (doc.type !== "document") continue;
    const stack: [AnyToken, number][] = [[doc.value, 0]];
    while (stack.length > 0) {
      const [tok, d] = stack.pop()!;
      if (!tok) continue;
      if (tok.type === "alias" && ++aliases > limits.maxAliases) return "maxAliases";
      if (tok.type !== "block-map" && tok.type !== "block-seq" && tok.type !== "flow-collection") continue;
      if (d + 1 > limits.maxDepth) return "maxDepth";
      for (const it of tok.items as { key?: AnyToken | null; value?: AnyToken }[]) {
        stack.push([it.key ?? undefined, d + 1]);
        stack.push([it.value, d + 1]);
      }
    }
  }
  return null;
}

/** Flow brackets as the lexer sees them (it knows quotes, comments and block scalars); stops early. */
function flowTooDeep(text: string, limits: YamlLimits): boolean {
  let flow = 0;
  for (const tok of new Lexer().lex(text)) {
    const t = CST.tokenType(tok);
    if (t === "flow-map-start" || t === "flow-seq-start") {
      if (++flow > limits.maxDepth) return true;
    } else if (t === "flow-map-end" || t === "flow-seq-end") flow = Math.max(0, flow - 1);
  }
  return false;
}

/**
 * Depth of a plain value (aliases may share one node at several places, so the value can be
 * deeper than its text): explicit stack, bounded work.
 */
function valueTooDeep(value: unknown, maxDepth: number, maxNodes = 100_000): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  let seen = 0;
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== "object") continue;
    if (d + 1 > maxDepth || ++seen > maxNodes) return true;
    for (const c of Object.values(v)) stack.push([c, d + 1]);
  }
  return false;
}

const limitProblem = (limit: keyof YamlLimits, limits: YamlLimits): YamlParse => ({
  ok: false,
  limit,
  problems: [
    {
      path: "(yaml)",
      message:
        limit === "maxDepth"
          ? `the document is nested more than ${limits.maxDepth} levels deep; the limit is ${limits.maxDepth}`
          : `the document uses more than ${limits.maxAliases} aliases; the limit is ${limits.maxAliases}`,
    },
  ],
});

/** One YAML document (JSON is YAML too), bounded; problems carry line and column. */
export function parseYamlDocument(text: string, limits: YamlLimits = YAML_LIMITS): YamlParse {
  if (flowTooDeep(text, limits)) return limitProblem("maxDepth", limits);
  const lines = new LineCounter();
  const tokens = [...new Parser(lines.addNewLine).parse(text)];
  const broken = checkTokens(tokens, limits);
  if (broken) return limitProblem(broken, limits);
  const at = (offset: number) => lines.linePos(offset);
  const docs = [...new Composer({ uniqueKeys: true }).compose(tokens, true, text.length)];
  const doc = docs[0]!;
  const problems: YamlProblem[] = doc.errors.map((e) => {
    const p = at(e.pos[0]);
    return { path: "(yaml)", message: e.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, ""), line: p.line, column: p.col };
  });
  if (docs.length > 1) {
    const p = at(docs[1]!.range[0]);
    problems.push({ path: "(yaml)", message: "only one YAML document is allowed", line: p.line, column: p.col });
  }
  if (problems.length > 0) return { ok: false, problems };
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: limits.maxAliases });
  } catch (err) {
    return { ok: false, limit: "maxAliases", problems: [{ path: "(yaml)", message: (err as Error).message.split("\n")[0]! }] };
  }
  if (valueTooDeep(value, limits.maxDepth)) return limitProblem("maxDepth", limits);
  return {
    ok: true,
    value,
    locate(path) {
      // The deepest node on the path that exists (a missing field points at its parent; the
      // document itself is no help, so a top-level field that is missing gets no line).
      for (let n = path.length; n >= 1; n--) {
        const node = doc.getIn(path.slice(0, n) as unknown[], true) as { range?: [number, number, number] } | undefined;
        if (node && typeof node === "object" && node.range) {
          const p = at(node.range[0]);
          return { line: p.line, column: p.col };
        }
      }
      return undefined;
    },
  };
}
