// GET /v1/openapi.json: the OpenAPI 3.1 document, generated from the same zod schemas the routes
// validate with. Public (no token): it describes the API, not any data.
import type { App } from "./app.js";

export function registerOpenApi(app: App): void {
  app.doc31("/v1/openapi.json", (c) => ({
    openapi: "3.1.0",
    info: {
      title: "chime-ha control plane",
      version: "1.0.0",
      description:
        "High availability for ChimeStack clusters. Errors are application/problem+json (RFC 9457). Every POST accepts an Idempotency-Key header; spec updates need If-Match with the cluster's ETag; request bodies are limited to 1 MiB.",
    },
    servers: [{ url: new URL(c.req.url).origin }],
    security: [{ bearer: [] }],
  }));
}
