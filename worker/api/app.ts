// The one OpenAPIHono type every resource registers its routes on.
import { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../http/auth.js";
import { validationHook } from "../http/validation.js";

export type App = OpenAPIHono<AppEnv>;
export const newApp = (): App => new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

export const problemResponse = (description: string) => ({
  description,
  content: { "application/problem+json": { schema: { type: "object" as const } } },
});
export const SECURITY = [{ bearer: [] }];
