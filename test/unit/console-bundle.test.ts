// The console as the Worker ships it (worker/console/bundle.gen.ts): built from the current
// console/ sources (a stale bundle fails here: run `npm run build:console`), small, and free of
// anything fetched from elsewhere.
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { BUNDLE_MODULE, buildConsoleAssets, bundleModule } from "../../scripts/lib/console-bundle.js";

/** Gzipped budget for script + stylesheet: a handful of views need no framework weight. */
const BUDGET_GZIP_BYTES = 30 * 1024;

describe("console bundle", () => {
  it("matches a fresh build of console/ (run `npm run build:console` after editing it)", async () => {
    const fresh = bundleModule(await buildConsoleAssets());
    expect(readFileSync(BUNDLE_MODULE, "utf8") === fresh, "worker/console/bundle.gen.ts is stale: run `npm run build:console`").toBe(true);
  }, 30_000);

  it(`stays within ${BUDGET_GZIP_BYTES / 1024} KiB gzipped and loads nothing from other origins`, async () => {
    const a = await buildConsoleAssets();
    const gz = gzipSync(a.js.body).length + gzipSync(a.css.body).length;
    console.log(`console bundle: js ${(a.js.body.length / 1024).toFixed(1)} KiB (${(gzipSync(a.js.body).length / 1024).toFixed(1)} gzip), css ${(a.css.body.length / 1024).toFixed(1)} KiB (${(gzipSync(a.css.body).length / 1024).toFixed(1)} gzip)`);
    expect(gz).toBeLessThan(BUDGET_GZIP_BYTES);
    // The SVG namespace is a name, not a fetch; any other absolute URL would be a dependency on the network.
    const urls = `${a.js.body}\n${a.css.body}`.match(/https?:\/\/[^\s"'`)]+/g) ?? [];
    expect(urls.filter((u) => !u.startsWith("http://www.w3.org/"))).toEqual([]);
    expect(a.css.body).not.toMatch(/@import|url\(/);
  }, 30_000);
});
