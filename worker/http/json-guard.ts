// One body guard for every route that takes JSON: a body nested deeper than MAX_JSON_DEPTH is
// refused with 400 before any handler parses it. Parsing, zod and the structured clone of a
// Durable Object RPC all recurse once per level, so a few hundred levels would end in a
// "Maximum call stack size exceeded" (a 500) somewhere inward. The size limit is limitBody's.
import type { MiddlewareHandler } from "hono";
import { problem } from "./problem.js";

/** Deeper than any body the API takes (a cluster spec is under 10 levels). */
export const MAX_JSON_DEPTH = 32;

/**
 * Nesting depth of a JSON text, counted without parsing or recursion. Brackets inside strings do
 * not count; a malformed text gets a number too (the handler's own parse then refuses it).
 */
export function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 92) i++; // backslash: skip the escaped character
      else if (ch === 34) inString = false;
    } else if (ch === 34) inString = true;
    else if (ch === 123 || ch === 91) max = Math.max(max, ++depth);
    else if (ch === 125 || ch === 93) depth--;
  }
  return max;
}

const BODY_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/**
 * Refuses JSON bodies nested deeper than MAX_JSON_DEPTH. Bodies with no content type count as
 * JSON too (the node routes parse whatever they get). The text is read through HonoRequest, so
 * it is cached and handlers parse the same bytes.
 */
export const guardJsonDepth = (): MiddlewareHandler => async (c, next) => {
  if (!BODY_METHODS.has(c.req.method)) return next();
  const type = c.req.header("content-type");
  if (type !== undefined && !/^application\/([\w.-]+\+)?json\s*(;|$)/i.test(type)) return next();
  const depth = jsonDepth(await c.req.text());
  if (depth > MAX_JSON_DEPTH) {
    return problem(c, 400, "Invalid request", { detail: `the JSON body is nested ${depth} levels deep; the limit is ${MAX_JSON_DEPTH}`, limit: MAX_JSON_DEPTH });
  }
  return next();
};
