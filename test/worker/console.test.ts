// The console's Worker side: the page and its assets (security headers, no inline script, cache
// rules), and the service description API clients still get at /.
import { describe, expect, it } from "vitest";
import { CONSOLE_ASSETS, CONSOLE_ENTRY } from "../../worker/console/bundle.gen.js";
import { worker } from "./helpers.js";

async function page(accept = "text/html,application/xhtml+xml") {
  const res = await worker.fetch(new Request("http://chime-ha.test/", { headers: { accept } }));
  return { res, text: await res.text() };
}

describe("the console page", () => {
  it("is served at / to browsers with a strict CSP, no inline script or style, and links to its bundled assets", async () => {
    const { res, text } = await page();
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|https?:/);
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("referrer-policy")).toBe("no-referrer");
    // Every script has a src (nothing inline), no style element or attribute, nothing off-site.
    for (const tag of text.match(/<script\b[^>]*>/g) ?? []) expect(tag).toMatch(/\ssrc="\/console\//);
    expect(text).not.toMatch(/<script\b[^>]*>[^<]+<\/script>/);
    expect(text).not.toMatch(/<style|\sstyle=/);
    expect(text).not.toMatch(/(src|href)="(https?:)?\/\//);
    expect(text).toContain(`src="${CONSOLE_ENTRY.js}"`);
    expect(text).toContain(`href="${CONSOLE_ENTRY.css}"`);
  });

  it("serves each asset with its type, immutable caching and the same headers; unknown ones are 404", async () => {
    for (const [path, type] of [
      [CONSOLE_ENTRY.js, "text/javascript; charset=utf-8"],
      [CONSOLE_ENTRY.css, "text/css; charset=utf-8"],
      [CONSOLE_ENTRY.icon, "image/svg+xml"],
    ] as const) {
      const res = await worker.fetch(new Request(`http://chime-ha.test${path}`));
      expect(res.status, path).toBe(200);
      expect(res.headers.get("content-type")).toBe(type);
      expect(res.headers.get("cache-control")).toContain("immutable");
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
      expect(await res.text()).toBe(CONSOLE_ASSETS[path]!.body);
    }
    const missing = await worker.fetch(new Request("http://chime-ha.test/console/app-000000000000.js"));
    expect(missing.status).toBe(404);
    await missing.text();
  });

  it("still answers API clients at / with the service description", async () => {
    const { res, text } = await page("application/json");
    expect(res.status).toBe(200);
    expect(JSON.parse(text)).toMatchObject({ service: "chime-ha", api: "/v1", console: "/" });
    expect(res.headers.get("vary")).toContain("accept");
  });
});
