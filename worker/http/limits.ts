// 1 MiB request body limit for the whole API (413 problem+json), checked on the stream too, so a
// body without Content-Length cannot get past it.
import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { problem } from "./problem.js";

export const MAX_BODY_BYTES = 1024 * 1024;

export const limitBody = (): MiddlewareHandler =>
  bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError: (c) => problem(c, 413, "Payload too large", { detail: `request bodies are limited to ${MAX_BODY_BYTES} bytes (1 MiB)` }),
  });
