import type { Context } from "hono";
import type { z } from "zod";
import { formatPath } from "../../protocol/spec.js";
import { problem } from "./problem.js";

/** zod issues as `[{path, message}]`, paths like `spec.nodes[1].ip`. */
export function issuesToErrors(issues: readonly z.core.$ZodIssue[], prefix: PropertyKey[] = []) {
  return issues.map((i) => ({ path: formatPath([...prefix, ...i.path]), message: i.message }));
}

/** OpenAPIHono's hook: a request that fails its schema becomes a 400 problem with every path. */
export function validationHook(result: { success: boolean; error?: z.ZodError; target?: string }, c: Context) {
  if (result.success || !result.error) return undefined;
  const where = result.target === "json" ? [] : result.target ? [result.target] : [];
  return problem(c, 400, "Invalid request", {
    detail: `the request ${result.target ?? "input"} does not match the API schema`,
    errors: issuesToErrors(result.error.issues, where),
  });
}
