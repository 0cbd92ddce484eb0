// Spec bodies as YAML (`content-type: application/yaml`): the cluster spec file as written, e.g.
// `curl --data-binary @examples/chimestack.yaml -H 'content-type: application/yaml'`. Parsed with
// the same bounds as JSON bodies (nesting, aliases: protocol/yaml-doc.ts) before anything
// recursive runs; every problem names its path and line. YAML is costly to parse, so YAML bodies
// are limited to 64 KiB (a spec is a few KiB).
import type { Context } from "hono";
import { z } from "@hono/zod-openapi";
import type { Locate } from "../../protocol/spec.js";
import { parseYamlDocument, YAML_LIMITS } from "../../protocol/yaml-doc.js";
import { MAX_JSON_DEPTH } from "./json-guard.js";
import { ApiError } from "./problem.js";
import { issuesToErrors } from "./validation.js";

export const MAX_YAML_BYTES = 64 * 1024;
const YAML_TYPE = /^(application|text)\/yaml\s*(;|$)/i;

export const isYamlRequest = (c: Context): boolean => YAML_TYPE.test(c.req.header("content-type") ?? "");

/** The media types a spec body may come in (for the route's OpenAPI description). */
const yamlSchema = z.string().openapi({ description: "the cluster spec file itself (or the same fields as the JSON body)" });
export const YAML_MEDIA = { "application/yaml": { schema: yamlSchema }, "text/yaml": { schema: yamlSchema } };

export interface YamlBody {
  value: unknown;
  locate: Locate;
}

/** The request's YAML document, or a 400/413 problem naming the line (nothing is stored). */
export async function readYamlBody(c: Context): Promise<YamlBody> {
  // Bytes, not .text(): workerd warns about reading a body it does not take for text.
  const bytes = await c.req.arrayBuffer();
  if (bytes.byteLength > MAX_YAML_BYTES) {
    throw new ApiError(413, "Payload too large", { detail: `YAML bodies are limited to ${MAX_YAML_BYTES} bytes (64 KiB); send JSON for anything larger` });
  }
  const r = parseYamlDocument(new TextDecoder().decode(bytes), { ...YAML_LIMITS, maxDepth: MAX_JSON_DEPTH });
  if (!r.ok) {
    const limit = r.limit === "maxDepth" ? { limit: MAX_JSON_DEPTH } : r.limit === "maxAliases" ? { limit: YAML_LIMITS.maxAliases } : {};
    throw new ApiError(400, "Invalid YAML", { detail: r.problems.map((p) => (p.line ? `line ${p.line}: ${p.message}` : p.message)).join("; "), errors: r.problems, ...limit });
  }
  return { value: r.value, locate: r.locate };
}

/**
 * A YAML spec body in the shape of the route's JSON body: either the spec itself (the usual
 * case: `envelope(spec)` builds the rest) or a document with the JSON body's own fields.
 */
export async function yamlSpecBody<T>(c: Context, schema: z.ZodType<T>, envelope: (spec: unknown) => unknown): Promise<{ body: T; locateSpec: Locate }> {
  const doc = await readYamlBody(c);
  const isEnvelope = doc.value !== null && typeof doc.value === "object" && !Array.isArray(doc.value) && "spec" in doc.value;
  const parsed = schema.safeParse(isEnvelope ? doc.value : envelope(doc.value));
  if (!parsed.success) {
    throw new ApiError(400, "Invalid request", {
      detail: "the YAML body does not match the API schema",
      errors: issuesToErrors(parsed.error.issues).map((e, i) => {
        const at = isEnvelope ? doc.locate(parsed.error.issues[i]!.path) : undefined;
        return at ? { ...e, line: at.line, column: at.column } : e;
      }),
    });
  }
  return { body: parsed.data, locateSpec: isEnvelope ? (p) => doc.locate(["spec", ...p]) : doc.locate };
}
