// The console at / : one HTML page that loads the bundled script and stylesheet from
// /console/<name>-<hash>.<ext> (bundle.gen.ts, built from console/ by `npm run build:console`).
// Everything is served by this Worker: no CDN, works offline. The page runs no inline script or
// style (CSP), cannot be framed, and sends no referrer; the token never travels in a URL.
import type { Context } from "hono";
import type { App } from "../api/app.js";
import { CONSOLE_ASSETS, CONSOLE_ENTRY } from "./bundle.gen.js";

export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const SECURITY_HEADERS: Record<string, string> = {
  "content-security-policy": CONSOLE_CSP,
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
  "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
};

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>chime-ha</title>
<link rel="icon" href="${CONSOLE_ENTRY.icon}" type="image/svg+xml">
<link rel="stylesheet" href="${CONSOLE_ENTRY.css}">
<script type="module" src="${CONSOLE_ENTRY.js}"></script>
</head>
<body>
<div id="app"><noscript>The chime-ha console needs JavaScript. The API is at /v1 (see /v1/openapi.json).</noscript></div>
</body>
</html>
`;

/** A browser asks for HTML; API clients (curl) get the service description as before. */
const wantsHtml = (c: Context) => /text\/html/.test(c.req.header("accept") ?? "");

export function registerConsole(app: App): void {
  app.get("/", (c) => {
    c.header("vary", "accept");
    if (!wantsHtml(c)) return c.json({ service: "chime-ha", console: "/", api: "/v1", openapi: "/v1/openapi.json", health: "/healthz" });
    return new Response(PAGE, { headers: { ...SECURITY_HEADERS, "content-type": "text/html; charset=utf-8", "cache-control": "no-cache", vary: "accept" } });
  });
  app.get("/console/:file", (c) => {
    const asset = CONSOLE_ASSETS[c.req.path];
    if (!asset) return new Response("not found\n", { status: 404, headers: { ...SECURITY_HEADERS, "content-type": "text/plain; charset=utf-8" } });
    // Names carry the content hash: cache forever.
    return new Response(asset.body, { headers: { ...SECURITY_HEADERS, "content-type": asset.type, "cache-control": "public, max-age=31536000, immutable" } });
  });
}
