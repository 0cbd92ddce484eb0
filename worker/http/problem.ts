// RFC 9457 problem+json: every API error leaves through here with a clear title and detail.
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";

export interface ProblemFields {
  detail?: string;
  /** Path-precise validation errors: [{ path: "nodes[1].ip", message: "..." }]. */
  errors?: { path: string; message: string }[];
  [extra: string]: unknown;
}

const TITLES: Record<number, string> = {
  400: "Bad request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not found",
  405: "Method not allowed",
  409: "Conflict",
  412: "Precondition failed",
  413: "Payload too large",
  415: "Unsupported media type",
  422: "Unprocessable content",
  428: "Precondition required",
  429: "Too many requests",
  500: "Internal error",
  503: "Unavailable",
};

export function problemBody(status: number, title: string | undefined, fields: ProblemFields = {}) {
  return { type: "about:blank", title: title ?? TITLES[status] ?? "Error", status, ...fields };
}

export function problem(c: Context, status: ContentfulStatusCode, title?: string, fields: ProblemFields = {}): Response {
  return new Response(JSON.stringify(problemBody(status, title, fields)), {
    status,
    headers: { "content-type": "application/problem+json" },
  });
}

/** Thrown anywhere below a route; turned into problem+json by the app's error handler. */
export class ApiError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly title: string,
    readonly fields: ProblemFields = {},
  ) {
    super(fields.detail ? `${title}: ${fields.detail}` : title);
  }
}
