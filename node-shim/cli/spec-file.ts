// Reading a cluster spec file (YAML or JSON) for `validate` and `plan`.
import { readFileSync } from "node:fs";
import { parse, YAMLParseError } from "yaml";
import { type SpecResult, validateSpec } from "../../protocol/spec.js";

export function readSpecFile(file: string): SpecResult {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    return { ok: false, problems: [{ path: "(file)", message: `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` }] };
  }
  let raw: unknown;
  try {
    // YAML is a superset of JSON, so one parser reads both.
    raw = parse(text, { prettyErrors: true });
  } catch (err) {
    const where = err instanceof YAMLParseError && err.linePos ? ` (line ${err.linePos[0].line}, column ${err.linePos[0].col})` : "";
    return { ok: false, problems: [{ path: "(yaml)", message: `${(err as Error).message.split("\n")[0]}${where}` }] };
  }
  return validateSpec(raw);
}
