// Headless Chromium from Debian (/usr/bin/chromium, or CHROMIUM_PATH) driven by playwright-core:
// no browser download, no network. A missing browser fails the suite (it is installed by .ci/run).
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { type Browser, chromium, type Page } from "playwright-core";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`the console suite needs Debian's chromium at ${CHROMIUM} (apt-get install chromium; .ci/run installs it), or CHROMIUM_PATH`);
  }
  // playwright gives every launch a fresh, temporary profile (user data dir).
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

/**
 * axe-core's WCAG 2.x A/AA and best-practice rules on the page as it is. The script is evaluated
 * through the DevTools protocol, so the page's CSP (no inline script) stays as in production.
 */
export async function axe(page: Page): Promise<AxeViolation[]> {
  await page.evaluate(AXE_SOURCE);
  // A string, evaluated in the page (the test's own TypeScript has no DOM types).
  const run = `axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] } })
    .then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target })) })))`;
  return page.evaluate<AxeViolation[]>(run);
}
