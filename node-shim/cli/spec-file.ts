// Reading a cluster spec file (YAML or JSON) for `validate`, `plan`, `apply` and `export`: every
// problem with its path and line.
import { readFileSync } from "node:fs";
import { type SpecProblem, type SpecResult, validateSpec } from "../../protocol/spec.js";
import { parseYamlDocument } from "../../protocol/yaml-doc.js";

export type SpecFileResult = SpecResult & { text?: string };

export function readSpecFile(file: string): SpecFileResult {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    return { ok: false, problems: [{ path: "(file)", message: `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` }] };
  }
  // YAML is a superset of JSON, so one parser reads both.
  const doc = parseYamlDocument(text);
  if (!doc.ok) return { ok: false, problems: doc.problems };
  return { ...validateSpec(doc.value, doc.locate), text };
}

/** `nodes[1].ip (line 14): must be ...` */
export const formatSpecProblem = (p: SpecProblem) => `${p.path}${p.line ? ` (line ${p.line})` : ""}: ${p.message}`;
